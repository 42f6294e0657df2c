-- The audit's check that every bag-event leaf of the custody log still has
-- its bag_events row looks rows up by log_entry; without an index that
-- anti-join depended on fresh planner statistics and timed out on large
-- logs (issue 9). See custody/chain.go.

-- +goose Up
CREATE INDEX bag_events_log_entry_idx ON bag_events (log_entry);

-- +goose Down
DROP INDEX bag_events_log_entry_idx;
