-- Entitlements and payments (issue 15, HR-40 ... HR-46): amounts that come
-- from other law (salary tables, the monthly calculation index, Social Code
-- minimums, the Government's payment amounts, retirement ages, the
-- Minister's list of rare languages) as reference values valid from a date;
-- duty incidents abroad (HR-41 tracks their dates); and recorded entitlement
-- decisions, each with the computation it rests on. Recording a decision is
-- also a staff_events row (who, when, why, act) in the same transaction.
-- All three tables refuse UPDATE and DELETE: a new value or a new decision
-- is a new row.

-- +goose Up
CREATE TABLE entitlement_reference (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('official_salary', 'mci', 'minimum', 'payment', 'retirement_age', 'rare_language')),
    code        text NOT NULL CHECK (code ~ '^[a-z0-9_]{1,64}$'),
    valid_from  date NOT NULL,
    value       jsonb NOT NULL,
    reason      text NOT NULL,
    act_number  text NOT NULL,
    act_date    date NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX entitlement_reference_at_idx ON entitlement_reference (kind, code, valid_from DESC, id DESC);
CREATE TRIGGER entitlement_reference_append_only BEFORE UPDATE OR DELETE ON entitlement_reference
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- Injuries and illnesses received while performing official duties abroad (Art. 25(9), (12), (13)).
CREATE TABLE duty_incidents (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id    uuid NOT NULL REFERENCES staff (id),
    kind        text NOT NULL CHECK (kind IN ('injury', 'illness')),
    severity    text CHECK (severity IN ('severe', 'light')),
    occurred_on date NOT NULL,
    country     text NOT NULL CHECK (country ~ '^[A-Z]{2}$' AND country <> 'KZ'),
    description text NOT NULL,
    event_id    uuid NOT NULL REFERENCES staff_events (id),
    CHECK ((kind = 'injury') = (severity IS NOT NULL))
);
CREATE INDEX duty_incidents_staff_idx ON duty_incidents (staff_id, occurred_on);
CREATE TRIGGER duty_incidents_append_only BEFORE UPDATE OR DELETE ON duty_incidents
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

CREATE TABLE entitlement_decisions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id    uuid NOT NULL REFERENCES staff (id),
    kind        text NOT NULL,
    rule        text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('payable', 'blocked', 'not_entitled', 'determined')),
    amount      bigint CHECK (amount >= 0), -- tiyn; NULL for a decision without an amount
    incident_id uuid REFERENCES duty_incidents (id),
    computation jsonb NOT NULL,
    event_id    uuid NOT NULL REFERENCES staff_events (id),
    decided_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX entitlement_decisions_staff_idx ON entitlement_decisions (staff_id, decided_at);
CREATE TRIGGER entitlement_decisions_append_only BEFORE UPDATE OR DELETE ON entitlement_decisions
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- +goose Down
DROP TABLE entitlement_decisions;
DROP TABLE duty_incidents;
DROP TABLE entitlement_reference;
