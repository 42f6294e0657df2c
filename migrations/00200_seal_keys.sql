-- Seal-signing keys (a root that signs trust lists, one active key per
-- issuing office that signs seals), the seals issued to bags, revoked seal
-- serials and the published trust lists. Private keys are stored only as
-- crypto/secret ciphertexts bound to their kid. Keys, seals, revocations and
-- trust lists are never deleted: they are the evidence a seal is judged by.
-- (seals.bag_id has no foreign key: bags arrive in migration 00302.)

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION seal_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.kid <> OLD.kid OR NEW.public_key <> OLD.public_key OR NEW.private_key <> OLD.private_key
       OR NEW.not_before <> OLD.not_before OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'a key''s identity, material and start are immutable' USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_TABLE_NAME = 'seal_keys' THEN
        IF NEW.office_id <> OLD.office_id THEN
            RAISE EXCEPTION 'a key''s office is immutable' USING ERRCODE = 'restrict_violation';
        END IF;
        -- Status only moves forward: active -> retired -> revoked.
        IF (OLD.status = 'retired' AND NEW.status = 'active') OR (OLD.status = 'revoked' AND NEW.status <> 'revoked') THEN
            RAISE EXCEPTION 'key status cannot go from % to %', OLD.status, NEW.status USING ERRCODE = 'restrict_violation';
        END IF;
        -- A signing window can only shrink.
        IF NEW.not_after > OLD.not_after THEN
            RAISE EXCEPTION 'a key''s signing window cannot be extended' USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION seal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
-- +goose StatementEnd

-- The root key signs trust lists and nothing else. Exactly one is current.
CREATE TABLE seal_root_keys (
    kid         text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{11}$'),
    public_key  bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    private_key bytea NOT NULL,            -- secret.Seal(master, seed, "seal_root_key:"+kid)
    not_before  timestamptz NOT NULL,
    retired_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX seal_root_keys_current_idx ON seal_root_keys ((true)) WHERE retired_at IS NULL;
CREATE TRIGGER seal_root_keys_guard BEFORE UPDATE OR DELETE ON seal_root_keys
    FOR EACH ROW EXECUTE FUNCTION seal_keys_guard();

-- Office seal keys. not_before..not_after is the window in which the key may
-- sign; listed_until is how long a retired key stays in the trust list so
-- that seals it signed keep verifying until they expire (the overlap).
CREATE TABLE seal_keys (
    kid            text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{11}$'),
    office_id      uuid NOT NULL REFERENCES units (id),
    public_key     bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    private_key    bytea NOT NULL,         -- secret.Seal(master, seed, "seal_key:"+kid)
    not_before     timestamptz NOT NULL,
    not_after      timestamptz NOT NULL,
    status         text NOT NULL CHECK (status IN ('active', 'retired', 'revoked')),
    listed_until   timestamptz,
    revoked_at     timestamptz,
    revoked_reason text,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (not_after > not_before),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK (status <> 'retired' OR listed_until IS NOT NULL)
);
CREATE UNIQUE INDEX seal_keys_one_active_idx ON seal_keys (office_id) WHERE status = 'active';
CREATE TRIGGER seal_keys_guard BEFORE UPDATE OR DELETE ON seal_keys
    FOR EACH ROW EXECUTE FUNCTION seal_keys_guard();

-- One row per seal printed for a package. A re-seal supersedes the bag's
-- current seals (superseded_at) and revokes their serials.
CREATE TABLE seals (
    serial          bytea PRIMARY KEY CHECK (length(serial) = 8),
    bag_id          uuid NOT NULL,
    k               integer NOT NULL CHECK (k BETWEEN 1 AND 99),
    n               integer NOT NULL CHECK (n BETWEEN 1 AND 99 AND k <= n),
    registry_number text NOT NULL,
    physical_serial text NOT NULL DEFAULT '',
    kid             text NOT NULL REFERENCES seal_keys (kid),
    text            text NOT NULL UNIQUE CHECK (text LIKE 'VS1:%'),
    issued_at       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL CHECK (expires_at > issued_at),
    superseded_at   timestamptz
);
CREATE UNIQUE INDEX seals_current_idx ON seals (bag_id, k) WHERE superseded_at IS NULL;
CREATE INDEX seals_bag_idx ON seals (bag_id, k);
CREATE TRIGGER seals_never_deleted BEFORE DELETE ON seals
    FOR EACH ROW EXECUTE FUNCTION seal_append_only();

-- Revoked seal serials; they travel in every trust list until the seal expires.
CREATE TABLE seal_revocations (
    serial     bytea PRIMARY KEY REFERENCES seals (serial),
    reason     text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    revoked_by text NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER seal_revocations_append_only BEFORE UPDATE OR DELETE ON seal_revocations
    FOR EACH ROW EXECUTE FUNCTION seal_append_only();

-- Every trust list ever published, exactly as signed. The newest is served.
CREATE TABLE trust_lists (
    sequence    bigint PRIMARY KEY CHECK (sequence >= 1),
    root_kid    text NOT NULL REFERENCES seal_root_keys (kid),
    issued_at   timestamptz NOT NULL,
    stale_after timestamptz NOT NULL CHECK (stale_after > issued_at),
    document    bytea NOT NULL,
    etag        text NOT NULL
);
CREATE TRIGGER trust_lists_append_only BEFORE UPDATE OR DELETE ON trust_lists
    FOR EACH ROW EXECUTE FUNCTION seal_append_only();

-- +goose Down
DROP TABLE trust_lists;
DROP TABLE seal_revocations;
DROP TABLE seals;
DROP TABLE seal_keys;
DROP TABLE seal_root_keys;
DROP FUNCTION seal_append_only();
DROP FUNCTION seal_keys_guard();
