-- Issue 15: the ledger of passport blank forms. R§7: the forms are
-- strict-accountability documents made on the MFA's orders; R§21(2) and
-- App.2: forms spoiled in preparation are destroyed by act. The Decree keeps
-- no ledger format (passports-digest §1.11, §4.5): this one records each
-- form received (against the MFA's order), issued (personalised as a
-- passport), spoiled and destroyed. passport_blanks is the projection; every
-- change is a passport_blank_events row (append-only), in one transaction.

-- +goose Up
CREATE TABLE passport_blanks (
    number          text PRIMARY KEY CHECK (number ~ '^[A-Z0-9]{5,20}$'),
    passport_type   text NOT NULL CHECK (passport_type IN ('diplomatic', 'service')),
    status          text NOT NULL CHECK (status IN ('in_stock', 'issued', 'spoiled', 'destroyed')),
    received_on     date NOT NULL,
    order_ref       jsonb NOT NULL,                       -- the MFA's order the forms were made on (R§7)
    passport_id     uuid UNIQUE REFERENCES passports (id), -- the passport personalised on it
    spoiled_on      date,
    destruction_act uuid REFERENCES passport_destruction_acts (id),
    version         integer NOT NULL DEFAULT 1
);
CREATE INDEX passport_blanks_status_idx ON passport_blanks (passport_type, status);

CREATE TABLE passport_blank_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number      text NOT NULL REFERENCES passport_blanks (number),
    kind        text NOT NULL CHECK (kind IN ('received', 'issued', 'spoiled', 'destroyed')),
    on_date     date NOT NULL,
    data        jsonb NOT NULL,
    reason      text NOT NULL,
    act_number  text NOT NULL,
    act_date    date NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX passport_blank_events_number_idx ON passport_blank_events (number, id);
CREATE TRIGGER passport_blank_events_append_only BEFORE UPDATE OR DELETE ON passport_blank_events
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- An act may destroy spoiled forms that never became passports (App.2).
ALTER TABLE passport_destruction_acts ADD COLUMN blanks jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE passport_destruction_acts DROP COLUMN blanks;
DROP TABLE passport_blank_events;
DROP TABLE passport_blanks;
