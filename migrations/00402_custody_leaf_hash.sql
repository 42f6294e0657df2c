-- Each bag event keeps its own custody-log leaf hash, so the next event of
-- the bag finds its chain link (prev_hash) on the bag's own index entries
-- instead of reading tlog_entries, whose newest btree page every writer
-- touches: reading it under SERIALIZABLE made transactions of different bags
-- conflict (see docs/decisions.md, "Custody").

-- +goose Up
ALTER TABLE bag_events ADD COLUMN leaf_hash bytea CHECK (length(leaf_hash) = 32);
-- Events recorded before this migration get theirs from the log.
ALTER TABLE bag_events DISABLE TRIGGER bag_events_append_only;
UPDATE bag_events e SET leaf_hash = t.leaf_hash FROM tlog_entries t WHERE t.id = e.log_entry;
ALTER TABLE bag_events ENABLE TRIGGER bag_events_append_only;

-- +goose Down
ALTER TABLE bag_events DROP COLUMN leaf_hash;
