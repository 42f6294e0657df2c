-- Finds the bag event behind a custody log entry, so /log/entries can show
-- each leaf only to callers cleared for its bag (issue 10).

-- +goose Up
CREATE INDEX bag_events_log_entry_idx ON bag_events (log_entry);

-- +goose Down
DROP INDEX bag_events_log_entry_idx;
