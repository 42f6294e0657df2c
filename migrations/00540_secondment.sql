-- Secondment (issue 14): Government Decree No. 755 and its three rule sets
-- R1 (diplomatic service personnel to RK state bodies and other
-- organisations), R2 (civil servants of other bodies and National Bank
-- employees to RK foreign institutions, Law Art. 15-2) and R3 (civil
-- servants to state bodies, international and other organisations).
--
-- secondment_events is the history (who, when, why, act), append-only; the
-- other tables are the projection the rules read, written in the same
-- transaction.

-- +goose Up
-- The kinds of reference data are the Go code's list (personnel.refKinds);
-- the column keeps only their shape, so parts of the personnel core add
-- lists without rewriting each other's constraint.
ALTER TABLE personnel_reference DROP CONSTRAINT IF EXISTS personnel_reference_kind_check;
ALTER TABLE personnel_reference ADD CONSTRAINT personnel_reference_kind_check CHECK (kind ~ '^[a-z_]{1,64}$');

CREATE TABLE secondments (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    rule_set      text NOT NULL CHECK (rule_set IN ('r1', 'r2', 'r3')),
    -- The MFA staff record of the person (R1 always; R3 when the MFA sends),
    -- else NULL and the person is described in person (R2, R3 into the MFA).
    staff_id      uuid REFERENCES staff (id),
    person        jsonb NOT NULL,
    -- The unit whose personnel officers keep the secondment (the policy's origin).
    unit_id       uuid NOT NULL REFERENCES units (id),
    sending       jsonb NOT NULL,
    receiving     jsonb NOT NULL,
    position      jsonb NOT NULL,
    legal_basis   text NOT NULL,
    state         text NOT NULL,
    replaces      uuid REFERENCES secondments (id),
    proposed_on   date NOT NULL,
    start_date    date,
    term_end      date,   -- the last day of the term as ordered (without extensions)
    extended_to   date,   -- the last day after extensions
    override      jsonb,  -- a term or deadline override with its legal basis
    reporting     jsonb,  -- R2 §12: the reporting procedure (order, interval)
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX secondments_unit_idx ON secondments (unit_id);
CREATE INDEX secondments_staff_idx ON secondments (staff_id);
CREATE UNIQUE INDEX secondments_one_replacement ON secondments (replaces) WHERE replaces IS NOT NULL;

-- Steps done, in order: the date of the event (receipt, signature, decision),
-- its deadline as computed on the working-day calendar, and whether it was late.
CREATE TABLE secondment_steps (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secondment_id uuid NOT NULL REFERENCES secondments (id),
    step          text NOT NULL,
    on_date       date NOT NULL,
    due           date,
    late          boolean NOT NULL DEFAULT false,
    outcome       text NOT NULL DEFAULT '',
    data          jsonb NOT NULL,
    event_id      uuid NOT NULL
);
CREATE INDEX secondment_steps_idx ON secondment_steps (secondment_id, id);
CREATE TRIGGER secondment_steps_append_only BEFORE UPDATE OR DELETE ON secondment_steps
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

CREATE TABLE secondment_events (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    secondment_id uuid NOT NULL REFERENCES secondments (id),
    kind          text NOT NULL,
    data          jsonb NOT NULL,
    reason        text NOT NULL,
    act_number    text NOT NULL,
    act_date      date NOT NULL,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX secondment_events_idx ON secondment_events (secondment_id, seq);
CREATE TRIGGER secondment_events_append_only BEFORE UPDATE OR DELETE ON secondment_events
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- Reference data taken from other acts.
INSERT INTO personnel_reference (kind, code, value, reason, act_number, act_date, recorded_by) VALUES
  ('penalty_term', 'remark', '{"months": 6}', 'initial value: how long a penalty stays unexpunged is set by the civil-service legislation (law-digest §2.10); confirm', 'seed', '2025-01-22', 'system'),
  ('penalty_term', 'reprimand', '{"months": 6}', 'initial value: the civil-service legislation; confirm', 'seed', '2025-01-22', 'system'),
  ('penalty_term', 'severe_reprimand', '{"months": 12}', 'initial value: the civil-service legislation; confirm', 'seed', '2025-01-22', 'system'),
  ('penalty_term', 'other', '{"months": 12}', 'initial value for every other penalty: the civil-service legislation; confirm', 'seed', '2025-01-22', 'system'),
  ('secondment_law_term', 'ambassador', '{"years": 5, "extension_cap_days": null}', 'Law Art. 15(4)(1), applied to Art. 15-2 secondees by 15-2(2) (erratum 1); extension by the President, no cap', 'Law 299-II', '2025-01-22', 'system'),
  ('secondment_law_term', 'permanent_representative', '{"years": 5, "extension_cap_days": null}', 'Law Art. 15(4)(1) via 15-2(2) (erratum 1)', 'Law 299-II', '2025-01-22', 'system'),
  ('secondment_law_term', 'consul_general', '{"years": 4, "extension_cap_days": null}', 'Law Art. 15(4)(2) via 15-2(2) (erratum 1); extension by the Minister, no cap stated', 'Law 299-II', '2025-01-22', 'system'),
  ('secondment_law_term', 'minister_counsellor', '{"years": 4, "extension_cap_days": 365}', 'Law Art. 15(4)(3) via 15-2(2) (erratum 1); extension not more than one year', 'Law 299-II', '2025-01-22', 'system'),
  ('secondment_law_term', 'other', '{"years": 3, "extension_cap_days": 365}', 'Law Art. 15(4)(4) via 15-2(2) (erratum 1); extension not more than one year', 'Law 299-II', '2025-01-22', 'system');

-- +goose Down
ALTER TABLE personnel_reference DISABLE TRIGGER personnel_reference_append_only;
DELETE FROM personnel_reference WHERE kind IN ('penalty_term', 'secondment_law_term');
ALTER TABLE personnel_reference ENABLE TRIGGER personnel_reference_append_only;
DROP TABLE secondment_events;
DROP TABLE secondment_steps;
DROP TABLE secondments;
