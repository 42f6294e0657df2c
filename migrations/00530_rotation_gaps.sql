-- Rotation Rules gaps of issue 14 (rotation-digest §4.1 V05, V16, V20; R§6,
-- R§29(1), R§30-34, R§31). As in 00521: every change is a row of
-- staff_events, written in the same transaction as these tables.

-- +goose Up
-- R§6: a spouse who holds a diplomatic-service position has their own staff
-- record; the family member names it.
ALTER TABLE family_members ADD COLUMN staff_ref uuid REFERENCES staff (id);
CREATE INDEX family_members_staff_ref_idx ON family_members (staff_ref) WHERE staff_ref IS NOT NULL;

-- R§29: the exceptional case admitting a parent unable to work, with what it
-- rests on (the siblings of the sibling-income test, the spouse's statement).
ALTER TABLE rotation_case_family ADD COLUMN exception jsonb;

-- R§31: a pregnancy of an officer abroad, as certified (gestational age on a
-- date; a later certificate is a new row, the latest counts); recall_by is
-- the day the pregnancy completes 26 weeks.
CREATE TABLE posting_pregnancies (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    posting_id   uuid NOT NULL REFERENCES postings (id),
    staff_id     uuid NOT NULL REFERENCES staff (id),
    certified_on date NOT NULL,
    weeks        integer NOT NULL CHECK (weeks BETWEEN 0 AND 45),
    days         integer NOT NULL CHECK (days BETWEEN 0 AND 6),
    recall_by    date NOT NULL,
    event_id     uuid NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX posting_pregnancies_posting_idx ON posting_pregnancies (posting_id, recorded_at);

-- R§30, R§32-34: maternity, adoption, unpaid childcare and educational
-- leave, granted only after recall and employment in the ministry.
CREATE TABLE staff_leaves (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id         uuid NOT NULL REFERENCES staff (id),
    kind             text NOT NULL CHECK (kind IN ('maternity', 'adoption', 'childcare_unpaid', 'educational_postgraduate')),
    from_date        date NOT NULL,
    until            date,
    child_birth_date date,
    event_id         uuid NOT NULL
);
CREATE INDEX staff_leaves_staff_idx ON staff_leaves (staff_id);
CREATE TRIGGER posting_pregnancies_append_only BEFORE UPDATE OR DELETE ON posting_pregnancies
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();
CREATE TRIGGER staff_leaves_append_only BEFORE UPDATE OR DELETE ON staff_leaves
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- +goose Down
DROP TABLE staff_leaves;
DROP TABLE posting_pregnancies;
ALTER TABLE rotation_case_family DROP COLUMN exception;
DROP INDEX family_members_staff_ref_idx;
ALTER TABLE family_members DROP COLUMN staff_ref;
