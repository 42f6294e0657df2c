-- The audit's check that every bag-event leaf of the custody log still has
-- its bag_events row looks rows up by log_entry; without an index that
-- anti-join depended on fresh planner statistics and timed out on large
-- logs (issue 9). See custody/chain.go.

-- +goose Up
-- Building it on millions of existing events takes longer than the
-- connection's statement timeout; this transaction only builds the index.
SET LOCAL statement_timeout = 0;
CREATE INDEX bag_events_log_entry_idx ON bag_events (log_entry);

-- +goose Down
DROP INDEX bag_events_log_entry_idx;
