-- Each custody event is stored once (issue 18). A bag event's leaf bytes are
-- the canonical form of its bag_events row (pouch.Event.Canonical), so new
-- events append only their leaf hash to the log (tlog.AppendHashWith) and
-- the bytes are regenerated from the row when read (pouch.LeafSource); the
-- audit hashes what is regenerated against the hash the log kept. A leaf
-- node of the Merkle tree is its entry's leaf hash, so tlog_nodes keeps the
-- interior nodes only. An event whose custody block is the default one
-- ({"custodian": custodian_before}) stores none (NULL); readers rebuild it.
-- Entries appended before this migration keep their bytes (an older leaf is
-- not always what its row regenerates: v1 leaves, nanosecond times, the
-- caller's key order). See docs/decisions.md, "Each event stored once".

-- +goose Up
SET LOCAL statement_timeout = 0;
ALTER TABLE tlog_entries ALTER COLUMN leaf DROP NOT NULL;
ALTER TABLE bag_events ALTER COLUMN custody DROP NOT NULL;
-- One statement, whatever the log's size; the space is reused by the rows
-- that follow once vacuumed.
ALTER TABLE tlog_nodes DISABLE TRIGGER tlog_nodes_append_only;
DELETE FROM tlog_nodes WHERE level = 0;
ALTER TABLE tlog_nodes ENABLE TRIGGER tlog_nodes_append_only;
ALTER TABLE tlog_nodes ADD CONSTRAINT tlog_nodes_interior CHECK (level > 0);
-- The planner must not depend on autovacuum having run, here or after the
-- backfills of 00401-00403 on an existing database.
ANALYZE bags, bag_custody, bag_events, tlog_entries, tlog_index, tlog_nodes, tlog_checkpoints;

-- +goose Down
SET LOCAL statement_timeout = 0;
-- Events recorded since keep their facts in their rows only; the schema
-- before cannot hold them (its Up of 00403 would rebuild rows from leaf
-- bytes that do not exist). Going below is refused rather than lossy:
-- restore the backup taken before the upgrade instead.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM tlog_entries WHERE leaf IS NULL) THEN
        RAISE EXCEPTION 'migration 00420 down refused: % custody log entries keep only their leaf hash (their events are stored once, in bag_events); restore the backup taken before the upgrade',
            (SELECT count(*) FROM tlog_entries WHERE leaf IS NULL);
    END IF;
END $$;
-- +goose StatementEnd
ALTER TABLE tlog_nodes DROP CONSTRAINT tlog_nodes_interior;
INSERT INTO tlog_nodes (level, idx, hash)
SELECT 0, i.idx, e.leaf_hash FROM tlog_index i JOIN tlog_entries e ON e.id = i.entry_id;
ALTER TABLE bag_events DISABLE TRIGGER bag_events_append_only;
UPDATE bag_events SET custody = jsonb_build_object('custodian', custodian_before) WHERE custody IS NULL;
ALTER TABLE bag_events ENABLE TRIGGER bag_events_append_only;
ALTER TABLE bag_events ALTER COLUMN custody SET NOT NULL;
ALTER TABLE tlog_entries ALTER COLUMN leaf SET NOT NULL;
ANALYZE tlog_nodes;
