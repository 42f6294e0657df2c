-- Diplomatic mail reference data: by-law settings (durations are not in the
-- law, so they are data), per-unit-per-year counters for registry and sheet
-- numbers, and the versioned list of authorized senders (Art. 6(27-11), DM-07).

-- +goose Up
CREATE TABLE pouch_settings (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z_.]+$'),
    value      interval NOT NULL CHECK (value > interval '0'),
    basis      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Defaults until a by-law fixes them (law-digest §7: not in the law).
INSERT INTO pouch_settings (key, value, basis) VALUES
    ('breach.notify_within',   '4 hours',  'default; not in the law, set by by-law or order'),
    ('breach.close_within',    '30 days',  'default; not in the law, set by by-law or order'),
    ('incident.notify_within', '24 hours', 'default; not in the law, set by by-law or order'),
    ('incident.close_within',  '30 days',  'default; not in the law, set by by-law or order'),
    ('bag.due_after_dispatch', '3 days',   'default expected transit time when the plan gives no arrival date');

-- Counters give human-readable numbers that are unique and never reused:
-- a row per unit, series and year; the number is taken in the same
-- transaction as the row it names.
CREATE TABLE registry_counters (
    unit_id uuid    NOT NULL REFERENCES units (id),
    series  text    NOT NULL CHECK (series IN ('bag', 'sheet')),
    year    integer NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    last    integer NOT NULL CHECK (last BETWEEN 1 AND 999999),
    PRIMARY KEY (unit_id, series, year)
);

-- The authorized senders list. Every change is a new row (version n+1 for
-- the organization); rows are never updated or deleted.
CREATE TABLE authorized_senders (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    unit_id      uuid NOT NULL REFERENCES units (id),
    version      integer NOT NULL CHECK (version >= 1),
    status       text NOT NULL CHECK (status IN ('active', 'withdrawn')),
    legal_basis  text NOT NULL CHECK (length(legal_basis) BETWEEN 1 AND 500),
    valid_from   date NOT NULL,
    valid_to     date CHECK (valid_to IS NULL OR valid_to > valid_from),
    ceiling      smallint NOT NULL CHECK (ceiling BETWEEN 0 AND 4),
    submitters   text[] NOT NULL DEFAULT '{}',
    approved_by  text NOT NULL CHECK (length(approved_by) BETWEEN 1 AND 200),
    note         text NOT NULL DEFAULT '',
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (unit_id, version)
);

-- +goose StatementBegin
CREATE FUNCTION pouch_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
-- +goose StatementEnd

CREATE TRIGGER authorized_senders_append_only BEFORE UPDATE OR DELETE ON authorized_senders
    FOR EACH ROW EXECUTE FUNCTION pouch_refuse_change();

-- +goose Down
DROP TABLE authorized_senders;
DROP FUNCTION pouch_refuse_change();
DROP TABLE registry_counters;
DROP TABLE pouch_settings;
