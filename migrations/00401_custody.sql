-- Custody: every bag event carries a custody block and the hash of the
-- bag's previous event (a per-bag hash chain inside the transparency log);
-- each bag has exactly one current custodian (one row, locked to change);
-- two-party hand-offs. See custody/ and docs/decisions.md ("Custody").

-- +goose Up
-- prev_hash: RFC 6962 leaf hash of the bag's previous event (zeros for the
-- first). UNIQUE per bag: two events can never claim the same predecessor,
-- so the chain cannot fork even if a writer forgot the bag's row lock.
ALTER TABLE bag_events
    ADD COLUMN prev_hash bytea CHECK (length(prev_hash) = 32),
    ADD COLUMN custody   jsonb NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX bag_events_chain_idx ON bag_events (bag_id, prev_hash);

-- The current custodian of each bag: a unit (its registry) or one user of a
-- unit. One row per bag, so "exactly one custodian" is the primary key; a
-- hand-off changes it under FOR UPDATE.
CREATE TABLE bag_custody (
    bag_id             uuid PRIMARY KEY REFERENCES bags (id),
    custodian_unit     text NOT NULL,
    custodian_user     uuid REFERENCES users (id),
    custodian_username text,
    since_event        bigint REFERENCES bag_events (id),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((custodian_user IS NULL) = (custodian_username IS NULL))
);
CREATE INDEX bag_custody_user_idx ON bag_custody (custodian_user) WHERE custodian_user IS NOT NULL;

-- A new bag is in the custody of its origin registry.
-- +goose StatementBegin
CREATE FUNCTION custody_new_bag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bag_custody (bag_id, custodian_unit)
    SELECT NEW.id, u.code FROM units u WHERE u.id = NEW.origin_id;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER bags_custody_row AFTER INSERT ON bags FOR EACH ROW EXECUTE FUNCTION custody_new_bag();
INSERT INTO bag_custody (bag_id, custodian_unit)
SELECT b.id, u.code FROM bags b JOIN units u ON u.id = b.origin_id ON CONFLICT DO NOTHING;

-- Two-party hand-offs: released by the custodian, accepted by the named
-- receiver after a seal scan. At most one open hand-off per bag.
CREATE TABLE handoffs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bag_id           uuid NOT NULL REFERENCES bags (id),
    from_unit        text NOT NULL,
    from_user        uuid NOT NULL REFERENCES users (id),
    from_username    text NOT NULL,
    to_unit          text NOT NULL,
    to_user          uuid NOT NULL REFERENCES users (id),
    to_username      text NOT NULL,
    status           text NOT NULL CHECK (status IN ('released', 'completed', 'cancelled')),
    release_event    bigint NOT NULL REFERENCES bag_events (id),
    accept_event     bigint REFERENCES bag_events (id),
    seals_ok         boolean,
    seal_check       jsonb,
    incident_id      uuid REFERENCES incidents (id),
    released_at      timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    CHECK ((status = 'completed') = (accept_event IS NOT NULL))
);
CREATE UNIQUE INDEX handoffs_open_idx ON handoffs (bag_id) WHERE status = 'released';
CREATE INDEX handoffs_bag_idx ON handoffs (bag_id, released_at);

-- How long a bag in transit may go without a custody event before it is
-- reported overdue (per plan when the plan sets it).
INSERT INTO pouch_settings (key, value, basis) VALUES
    ('custody.silence_window', '12 hours', 'default; longest expected gap between custody events of a bag in transit')
ON CONFLICT (key) DO NOTHING;
ALTER TABLE dispatch_plans ADD COLUMN custody_window interval CHECK (custody_window > interval '0');

-- +goose Down
ALTER TABLE dispatch_plans DROP COLUMN custody_window;
DELETE FROM pouch_settings WHERE key = 'custody.silence_window';
DROP TABLE handoffs;
DROP TRIGGER bags_custody_row ON bags;
DROP FUNCTION custody_new_bag();
DROP TABLE bag_custody;
DROP INDEX bag_events_chain_idx;
ALTER TABLE bag_events DROP COLUMN custody, DROP COLUMN prev_hash;
