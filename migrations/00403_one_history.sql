-- One history per bag (issue 9): every event carries the state AND the
-- custodian before and after it; bags.state and bag_custody are a
-- projection of the last event, written only by the trigger below when an
-- event is inserted. Hand-offs can name a registry (delivery) as receiver,
-- and the custodian can be a bearer who is not a Valise user (an aircraft
-- captain or an engaged carrier, recorded by the registries). Existing bags
-- get one "history_migrated" event stating where they are, so replay starts
-- from it. See docs/custody.md.

-- +goose Up
-- One event per existing bag takes longer than the connection's statement
-- timeout on a real registry (30 s at about 50,000 bags); this transaction
-- only migrates.
SET LOCAL statement_timeout = 0;
ALTER TABLE bag_events
    ADD COLUMN custodian_before jsonb,
    ADD COLUMN custodian_after  jsonb;
-- Up again after a Down: the events recorded in between by one history (v2
-- leaves) lost these columns with the Down; the log kept them. The Down
-- leaves 'migration' among the stages; the schema before never had it.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'bag_events_stage_check'
                AND pg_get_constraintdef(oid) LIKE '%migration%') THEN
        ALTER TABLE bag_events DISABLE TRIGGER bag_events_append_only;
        UPDATE bag_events e SET custodian_before = t.j->'custodian_before', custodian_after = t.j->'custodian_after'
          FROM (SELECT id, convert_from(leaf, 'UTF8')::jsonb AS j FROM tlog_entries
                 WHERE leaf LIKE '{"v":2,"type":"valise.bag_event"%') t
         WHERE t.id = e.log_entry;
        ALTER TABLE bag_events ENABLE TRIGGER bag_events_append_only;
    END IF;
END $$;
-- +goose StatementEnd
ALTER TABLE bag_events DROP CONSTRAINT bag_events_stage_check;
ALTER TABLE bag_events ADD CONSTRAINT bag_events_stage_check CHECK (stage IN ('plan', 'assemble', 'formalise',
    'send', 'deliver', 'accept', 'store', 'examine', 'loss', 'incident', 'correction', 'migration'));

ALTER TABLE bag_custody
    ADD COLUMN custodian_kind  text NOT NULL DEFAULT 'registry' CHECK (custodian_kind IN ('registry', 'person', 'bearer')),
    ADD COLUMN bearer_name     text,
    ADD COLUMN bearer_document text,
    ADD COLUMN sheet_id        uuid;
UPDATE bag_custody SET custodian_kind = 'person' WHERE custodian_user IS NOT NULL;

-- A release names a person (a courier, a clerk) or a registry (delivery to
-- the destination or a relay); purpose says which stage it is a step of,
-- from_state the state to return to if it is cancelled.
ALTER TABLE handoffs
    ALTER COLUMN to_user DROP NOT NULL,
    ALTER COLUMN to_username DROP NOT NULL,
    ADD COLUMN to_kind    text NOT NULL DEFAULT 'person' CHECK (to_kind IN ('person', 'registry')),
    ADD COLUMN purpose    text NOT NULL DEFAULT 'transit' CHECK (purpose IN ('dispatch', 'transit', 'delivery')),
    ADD COLUMN sheet_id   uuid REFERENCES courier_sheets (id),
    ADD COLUMN from_state text,
    ADD CONSTRAINT handoffs_to_check CHECK ((to_kind = 'person') = (to_user IS NOT NULL));
CREATE INDEX handoffs_to_user_idx ON handoffs (to_user) WHERE status = 'released';
CREATE INDEX handoffs_to_unit_idx ON handoffs (to_unit) WHERE status = 'released' AND to_kind = 'registry';

-- Reference data of custody that is not a duration. bearer.max_level: the
-- highest level a bearer without a clearance record (an aircraft captain, an
-- engaged carrier, an ad hoc courier without an account) may carry. The law
-- sets no such rule (law-digest §7); the default is the strict reading of
-- "every person who carries a bag is cleared for it".
CREATE TABLE custody_settings (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z_.]+$'),
    value      text NOT NULL,
    basis      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO custody_settings (key, value, basis) VALUES
    ('bearer.max_level', 'UNCLASSIFIED', 'default; not in the law: bearers without a clearance record carry only unclassified bags');

-- The version counts the bag's events: each event is a new version.
ALTER TABLE bags ALTER COLUMN version SET DEFAULT 0;
-- HOT updates for the per-event version bump: no index on updated_at.
DROP INDEX bags_state_idx;
CREATE INDEX bags_state_idx ON bags (state);
ALTER TABLE bags SET (fillfactor = 80);
ALTER TABLE bag_custody SET (fillfactor = 80);

-- +goose StatementBegin
CREATE FUNCTION bag_history_project() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p jsonb := NEW.custodian_after;
BEGIN
    IF p IS NULL OR NEW.to_state IS NULL THEN
        RAISE EXCEPTION 'bag event % carries no state or custodian after it', NEW.id;
    END IF;
    PERFORM set_config('valise.projecting', 'on', true);
    UPDATE bags SET state = NEW.to_state, version = version + 1, updated_at = NEW.recorded_at
     WHERE id = NEW.bag_id;
    UPDATE bag_custody SET custodian_kind = p->>'kind', custodian_unit = coalesce(p->>'unit', ''),
           custodian_user = (p->>'user')::uuid, custodian_username = p->>'username',
           bearer_name = p->>'name', bearer_document = p->>'document', sheet_id = (p->>'sheet_id')::uuid,
           since_event = NEW.id, updated_at = NEW.recorded_at
     WHERE bag_id = NEW.bag_id
       AND (custodian_kind, custodian_unit, custodian_user, custodian_username, bearer_name, bearer_document, sheet_id)
           IS DISTINCT FROM (p->>'kind', coalesce(p->>'unit', ''), (p->>'user')::uuid, p->>'username', p->>'name',
                             p->>'document', (p->>'sheet_id')::uuid);
    PERFORM set_config('valise.projecting', 'off', true);
    RETURN NEW;
END $$;

-- Nothing but an event moves a bag's state or custodian.
CREATE FUNCTION bag_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('valise.projecting', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'a bag''s state and custodian are derived from its history: record an event instead'
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd

CREATE TRIGGER bag_events_project AFTER INSERT ON bag_events
    FOR EACH ROW EXECUTE FUNCTION bag_history_project();
CREATE TRIGGER bags_state_derived BEFORE UPDATE OF state, version ON bags
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION bag_state_guard();
CREATE TRIGGER bag_custody_derived BEFORE UPDATE ON bag_custody
    FOR EACH ROW EXECUTE FUNCTION bag_state_guard();

-- Existing bags: one event each stating their state and custodian now.
-- +goose StatementBegin
DO $$
DECLARE
    r     record;
    eid   bigint;
    at    timestamptz;
    ts    text;
    party text;
    prev  bytea;
    leaf  bytea;
    entry bigint;
BEGIN
    FOR r IN SELECT b.id, b.state, c.custodian_unit, c.custodian_user, c.custodian_username
               FROM bags b JOIN bag_custody c ON c.bag_id = b.id ORDER BY b.registry_seq LOOP
        eid := nextval(pg_get_serial_sequence('bag_events', 'id'));
        at := date_trunc('milliseconds', clock_timestamp());
        ts := to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
        party := CASE WHEN r.custodian_user IS NULL
            THEN format('{"kind":"registry","unit":%s}', to_json(r.custodian_unit))
            ELSE format('{"kind":"person","unit":%s,"user":%s,"username":%s}', to_json(r.custodian_unit),
                        to_json(r.custodian_user::text), to_json(r.custodian_username)) END;
        SELECT e.leaf_hash INTO prev FROM bag_events e WHERE e.bag_id = r.id ORDER BY e.id DESC LIMIT 1;
        prev := coalesce(prev, decode(repeat('00', 32), 'hex'));
        leaf := convert_to(format('{"v":2,"type":"valise.bag_event","event_id":%s,"bag_id":"%s","kind":"history_migrated",'
            '"stage":"migration","from_state":%s,"to_state":%s,"custodian_before":%s,"custodian_after":%s,'
            '"actor":"system","unit":"","occurred_at":"%s","recorded_at":"%s","data":{},"prev":"%s",'
            '"custody":{"custodian":%s}}',
            eid, r.id, to_json(r.state), to_json(r.state), party, party, ts, ts, encode(prev, 'hex'), party), 'UTF8');
        INSERT INTO tlog_entries (leaf, leaf_hash) VALUES (leaf, sha256('\x00'::bytea || leaf)) RETURNING id INTO entry;
        INSERT INTO bag_events (id, bag_id, kind, stage, from_state, to_state, actor_id, actor_username, actor_unit,
                                place, reason, data, occurred_at, recorded_at, log_entry, prev_hash, leaf_hash, custody,
                                custodian_before, custodian_after)
        VALUES (eid, r.id, 'history_migrated', 'migration', r.state, r.state, 'system', 'valise-migration', '',
                '', 'one history: the state and custodian of the bag when its history was unified', '{}', at, at,
                entry, prev, sha256('\x00'::bytea || leaf), jsonb_build_object('custodian', party::jsonb),
                party::jsonb, party::jsonb);
    END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE custody_settings;
DROP TRIGGER bag_custody_derived ON bag_custody;
DROP TRIGGER bags_state_derived ON bags;
DROP TRIGGER bag_events_project ON bag_events;
DROP FUNCTION bag_state_guard();
DROP FUNCTION bag_history_project();
ALTER TABLE bag_custody RESET (fillfactor);
ALTER TABLE bags RESET (fillfactor);
DROP INDEX bags_state_idx;
CREATE INDEX bags_state_idx ON bags (state, updated_at);
ALTER TABLE bags ALTER COLUMN version SET DEFAULT 1;
DROP INDEX handoffs_to_unit_idx;
DROP INDEX handoffs_to_user_idx;
DELETE FROM handoffs WHERE to_kind = 'registry';
ALTER TABLE handoffs DROP CONSTRAINT handoffs_to_check, DROP COLUMN from_state, DROP COLUMN sheet_id,
    DROP COLUMN purpose, DROP COLUMN to_kind;
ALTER TABLE handoffs ALTER COLUMN to_user SET NOT NULL, ALTER COLUMN to_username SET NOT NULL;
ALTER TABLE bag_custody DROP COLUMN sheet_id, DROP COLUMN bearer_document, DROP COLUMN bearer_name,
    DROP COLUMN custodian_kind;
-- The v2 events stay in the append-only log; their rows keep the columns' values only while the columns exist.
ALTER TABLE bag_events DROP CONSTRAINT bag_events_stage_check;
ALTER TABLE bag_events ADD CONSTRAINT bag_events_stage_check CHECK (stage IN ('plan', 'assemble', 'formalise',
    'send', 'deliver', 'accept', 'store', 'examine', 'loss', 'incident', 'correction', 'migration'));
ALTER TABLE bag_events DROP COLUMN custodian_after, DROP COLUMN custodian_before;
