-- Settings people change through the API (issue 11): pouch_settings holds
-- every editable setting (durations in value, counts in count; both NULL
-- for an operational setting left to the process's configuration), with a
-- version for If-Match; setting_changes is the append-only history (who,
-- when, why, old and new value). Dispatch plans gain their DM-14 review
-- (pending, approved, refused) and an append-only plan_events history; a
-- bag on a flagged plan that is not approved cannot be sealed or dispatched.

-- +goose Up
ALTER TABLE pouch_settings
    ALTER COLUMN value DROP NOT NULL,
    ADD COLUMN count      integer CHECK (count > 0),
    ADD COLUMN version    integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN updated_by text NOT NULL DEFAULT 'migration',
    ADD CHECK (value IS NULL OR count IS NULL);
-- A loss report's own deadlines (until now it took the breach ones).
INSERT INTO pouch_settings (key, value, basis) VALUES
    ('loss.notify_within', '4 hours', 'default; not in the law, set by by-law or order'),
    ('loss.close_within',  '30 days', 'default; not in the law, set by by-law or order')
ON CONFLICT (key) DO NOTHING;
-- Operational settings: NULL until an administrator sets one, meaning the
-- value the process was started with (flag or environment variable).
INSERT INTO pouch_settings (key, value, count, basis) VALUES
    ('login.max_failures',     NULL, NULL, 'configuration: the default 5'),
    ('login.lock_for',         NULL, NULL, 'configuration: the default 15 minutes'),
    ('seal.lifetime',          NULL, NULL, 'configuration: VALISE_SEAL_LIFETIME'),
    ('trust_list.stale_after', NULL, NULL, 'configuration: VALISE_TRUST_STALE_AFTER')
ON CONFLICT (key) DO NOTHING;

CREATE TABLE setting_changes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             text NOT NULL REFERENCES pouch_settings (key),
    old_value       text,
    new_value       text,
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    changed_by      text NOT NULL,
    changed_by_name text NOT NULL DEFAULT '',
    version         integer NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (key, version)
);
CREATE TRIGGER setting_changes_append_only BEFORE UPDATE OR DELETE ON setting_changes
    FOR EACH ROW EXECUTE FUNCTION pouch_refuse_change();

-- DM-14 review of a plan: pending while flagged and undecided.
ALTER TABLE dispatch_plans
    ADD COLUMN review_status text CHECK (review_status IN ('pending', 'approved', 'refused')),
    ADD COLUMN reviewed_by   text,
    ADD COLUMN reviewed_at   timestamptz,
    ADD COLUMN version       integer NOT NULL DEFAULT 1;
UPDATE dispatch_plans SET review_status = 'pending' WHERE needs_review;
ALTER TABLE dispatch_plans ADD CHECK ((review_status IS NOT NULL) = needs_review);

-- What happened to a plan after it was made: reviews and custody-window changes.
CREATE TABLE plan_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES dispatch_plans (id),
    kind        text NOT NULL CHECK (kind IN ('review_approved', 'review_refused', 'custody_window_set')),
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    data        jsonb NOT NULL DEFAULT '{}',
    actor       text NOT NULL,
    actor_name  text NOT NULL DEFAULT '',
    actor_unit  text NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX plan_events_plan_idx ON plan_events (plan_id, id);
CREATE TRIGGER plan_events_append_only BEFORE UPDATE OR DELETE ON plan_events
    FOR EACH ROW EXECUTE FUNCTION pouch_refuse_change();

-- DM-14 gate, whatever code path moves the bag: a bag on a plan flagged for
-- review is sealed or dispatched only once the plan is approved. SQLSTATE
-- VL409 is a rule refusal that internal/db turns into a 409 with this message.
-- +goose StatementBegin
CREATE FUNCTION bags_plan_review_gate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    st text;
BEGIN
    SELECT review_status INTO st FROM dispatch_plans WHERE id = NEW.plan_id AND needs_review;
    IF FOUND AND st IS DISTINCT FROM 'approved' THEN
        RAISE EXCEPTION 'the bag''s dispatch plan is flagged for review (DM-14) and is %: it can be % only after a security officer or a ministry dispatcher approves the plan (POST /api/v1/plans/%/review)',
            st, NEW.state, NEW.plan_id
            USING ERRCODE = 'VL409', HINT = 'plan_review';
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER bags_plan_review_gate BEFORE UPDATE OF state ON bags
    FOR EACH ROW WHEN (NEW.state IN ('sealed', 'dispatched') AND NEW.state IS DISTINCT FROM OLD.state AND NEW.plan_id IS NOT NULL)
    EXECUTE FUNCTION bags_plan_review_gate();

-- +goose Down
DROP TRIGGER bags_plan_review_gate ON bags;
DROP FUNCTION bags_plan_review_gate();
DROP TABLE plan_events;
ALTER TABLE dispatch_plans DROP COLUMN version, DROP COLUMN reviewed_at, DROP COLUMN reviewed_by, DROP COLUMN review_status;
DROP TABLE setting_changes;
DELETE FROM pouch_settings WHERE key IN ('loss.notify_within', 'loss.close_within', 'login.max_failures', 'login.lock_for', 'seal.lifetime', 'trust_list.stale_after');
ALTER TABLE pouch_settings DROP COLUMN updated_by, DROP COLUMN version, DROP COLUMN count;
ALTER TABLE pouch_settings ALTER COLUMN value SET NOT NULL;
