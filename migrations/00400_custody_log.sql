-- The custody transparency log (RFC 6962 Merkle tree) in four append-only tables.
-- Writers insert leaves into tlog_entries inside their own transaction; one
-- integrator at a time (advisory lock) gives them contiguous indices in
-- tlog_index, stores the tree's node hashes in tlog_nodes and signs a
-- checkpoint into tlog_checkpoints, all in one transaction.
-- See custody/tlog and docs/decisions.md.

-- +goose Up
CREATE TABLE tlog_entries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    leaf       bytea NOT NULL,
    leaf_hash  bytea NOT NULL CHECK (length(leaf_hash) = 32),       -- SHA-256(0x00 || leaf), RFC 6962
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),          -- lets the integrator find new leaves without a queue
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tlog_entries_xid_idx ON tlog_entries (xid);

-- Sequencing: leaf index -> entry. Contiguous from 0; written only by the integrator.
CREATE TABLE tlog_index (
    idx      bigint PRIMARY KEY CHECK (idx >= 0),
    entry_id bigint NOT NULL UNIQUE REFERENCES tlog_entries (id)
);

-- Every node of a perfect subtree (level 0 = leaf hashes), enough for any proof.
CREATE TABLE tlog_nodes (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx   bigint NOT NULL CHECK (idx >= 0),
    hash  bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- One signed checkpoint per integration; the newest is the tree's state.
CREATE TABLE tlog_checkpoints (
    size       bigint PRIMARY KEY CHECK (size >= 0),
    root       bytea NOT NULL CHECK (length(root) = 32),
    note       text NOT NULL,                 -- the signed note as the log signed it
    xid_floor  xid8 NOT NULL,                 -- every leaf of a transaction below this is integrated
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The log's signing key; the private key is sealed (encrypted) at rest.
CREATE TABLE tlog_keys (
    origin      text PRIMARY KEY,
    vkey        text NOT NULL,
    skey_sealed bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Witnesses whose cosignatures a receipt carries.
CREATE TABLE tlog_witnesses (
    name       text PRIMARY KEY,
    vkey       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tlog_cosignatures (
    size       bigint NOT NULL REFERENCES tlog_checkpoints (size),
    witness    text NOT NULL REFERENCES tlog_witnesses (name),
    line       text NOT NULL,                 -- the note signature line, "— name base64"
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (size, witness)
);

-- +goose StatementBegin
CREATE FUNCTION tlog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER tlog_entries_append_only BEFORE UPDATE OR DELETE ON tlog_entries
    FOR EACH ROW EXECUTE FUNCTION tlog_refuse_change();
CREATE TRIGGER tlog_index_append_only BEFORE UPDATE OR DELETE ON tlog_index
    FOR EACH ROW EXECUTE FUNCTION tlog_refuse_change();
CREATE TRIGGER tlog_nodes_append_only BEFORE UPDATE OR DELETE ON tlog_nodes
    FOR EACH ROW EXECUTE FUNCTION tlog_refuse_change();
CREATE TRIGGER tlog_checkpoints_append_only BEFORE UPDATE OR DELETE ON tlog_checkpoints
    FOR EACH ROW EXECUTE FUNCTION tlog_refuse_change();
CREATE TRIGGER tlog_cosignatures_append_only BEFORE UPDATE OR DELETE ON tlog_cosignatures
    FOR EACH ROW EXECUTE FUNCTION tlog_refuse_change();
CREATE TRIGGER tlog_keys_append_only BEFORE UPDATE OR DELETE ON tlog_keys
    FOR EACH ROW EXECUTE FUNCTION tlog_refuse_change();
-- TRUNCATE bypasses row triggers; refuse it too.
CREATE TRIGGER tlog_entries_no_truncate BEFORE TRUNCATE ON tlog_entries
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_refuse_change();
CREATE TRIGGER tlog_index_no_truncate BEFORE TRUNCATE ON tlog_index
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_refuse_change();
CREATE TRIGGER tlog_nodes_no_truncate BEFORE TRUNCATE ON tlog_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_refuse_change();
CREATE TRIGGER tlog_checkpoints_no_truncate BEFORE TRUNCATE ON tlog_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_refuse_change();

-- +goose Down
DROP TABLE tlog_cosignatures;
DROP TABLE tlog_witnesses;
DROP TABLE tlog_keys;
DROP TABLE tlog_checkpoints;
DROP TABLE tlog_nodes;
DROP TABLE tlog_index;
DROP TABLE tlog_entries;
DROP FUNCTION tlog_refuse_change();
