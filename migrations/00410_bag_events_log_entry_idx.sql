-- The audit reads bag_events in log order, (log_entry, id), beside the
-- log's entries, to check each row against its leaf and to find a leaf
-- whose row is gone; without an index that depended on fresh planner
-- statistics and timed out on large logs (issue 9). See custody/chain.go.

-- +goose Up
-- Building it on millions of existing events takes longer than the
-- connection's statement timeout; this transaction only builds the index.
SET LOCAL statement_timeout = 0;
CREATE INDEX bag_events_log_entry_idx ON bag_events (log_entry, id);

-- +goose Down
DROP INDEX bag_events_log_entry_idx;
