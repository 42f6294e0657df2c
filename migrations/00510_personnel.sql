-- Personnel core, part 1 (issue 13): staff records, positions held, service
-- periods, diplomatic ranks, discipline and termination, family, personnel
-- reserve, Art. 17 study, and the by-law reference data (positions with their
-- nominal ranks, civil-service exclusion grounds, probation length,
-- appointing authorities) kept with history.
--
-- Every change is a row of staff_events (who, when, why, legal act), which
-- is append-only; the other tables are the projection the rules read, written
-- in the same transaction. Corrections are new events.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION personnel_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never changed or deleted', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
-- +goose StatementEnd

-- By-law reference data: one row per version; the newest row of (kind, code) is current.
CREATE TABLE personnel_reference (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('position', 'exclusion_ground', 'probation', 'appointing_authority', 'fluency')),
    code        text NOT NULL CHECK (code ~ '^[a-z0-9_]{1,64}$'),
    value       jsonb NOT NULL,
    reason      text NOT NULL,
    act_number  text NOT NULL,
    act_date    date NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX personnel_reference_current_idx ON personnel_reference (kind, code, id DESC);
CREATE TRIGGER personnel_reference_append_only BEFORE UPDATE OR DELETE ON personnel_reference
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

CREATE TABLE staff (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    personnel_number text NOT NULL UNIQUE,
    full_name        text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    birth_date       date NOT NULL,
    citizenships     text[] NOT NULL,
    languages        jsonb NOT NULL DEFAULT '[]',
    education        jsonb NOT NULL DEFAULT '[]',
    health           jsonb NOT NULL,
    special_check    jsonb NOT NULL,
    probation_start  date,
    probation_end    date,
    -- One person, one record: an account links to at most one staff record.
    user_id          uuid UNIQUE REFERENCES users (id),
    -- The projection of the current (or, once terminated, last) position:
    -- the unit whose personnel officers see the record, and the staff kind (HR-01).
    unit_id          uuid NOT NULL REFERENCES units (id),
    staff_kind       text NOT NULL CHECK (staff_kind IN ('diplomatic', 'admin_technical')),
    admitted_on      date NOT NULL,
    terminated_on    date,
    termination      jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    version          integer NOT NULL DEFAULT 1
);

-- Positions held (HR-01: the staff kind is the position's; HR-35, HR-49, HR-50).
CREATE TABLE staff_positions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id        uuid NOT NULL REFERENCES staff (id),
    position_code   text NOT NULL,
    title           text NOT NULL,
    staff_kind      text NOT NULL CHECK (staff_kind IN ('diplomatic', 'admin_technical')),
    category        text NOT NULL,
    unit_id         uuid NOT NULL REFERENCES units (id),
    start_date      date NOT NULL,
    end_date        date,
    authority       text NOT NULL,
    political       boolean NOT NULL DEFAULT false,
    located_in_rk   boolean NOT NULL DEFAULT false,
    accreditations  text[] NOT NULL DEFAULT '{}',
    nominal_rank    smallint,
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX staff_positions_staff_idx ON staff_positions (staff_id, start_date);
CREATE UNIQUE INDEX staff_positions_one_open ON staff_positions (staff_id) WHERE end_date IS NULL;

-- Service periods classified by type (HR-08): only the eight Art. 12(2) types count.
CREATE TABLE service_periods (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id    uuid NOT NULL REFERENCES staff (id),
    period_type text NOT NULL,
    counted     boolean NOT NULL,
    start_date  date NOT NULL,
    end_date    date,
    note        text NOT NULL DEFAULT '',
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX staff_unit_idx ON staff (unit_id);
CREATE INDEX service_periods_staff_idx ON service_periods (staff_id, start_date);

-- Every rank change (HR-09): the newest row is the current rank; rank NULL = none.
CREATE SEQUENCE rank_certificate_seq;
CREATE TABLE staff_ranks (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id       uuid NOT NULL REFERENCES staff (id),
    change         text NOT NULL CHECK (change IN ('assign', 'lower', 'deprive', 'restore')),
    from_rank      smallint CHECK (from_rank BETWEEN 1 AND 11),
    rank           smallint CHECK (rank BETWEEN 1 AND 11),
    effective_date date NOT NULL,
    early          boolean NOT NULL DEFAULT false,
    out_of_turn    boolean NOT NULL DEFAULT false,
    grounds        text NOT NULL DEFAULT '',
    warnings       jsonb NOT NULL DEFAULT '[]',
    authority      text NOT NULL,
    certificate    text UNIQUE,
    event_id       uuid NOT NULL
);
CREATE INDEX staff_ranks_staff_idx ON staff_ranks (staff_id, id DESC);
CREATE TRIGGER staff_ranks_append_only BEFORE UPDATE OR DELETE ON staff_ranks
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

CREATE TABLE disciplinary_cases (
    id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id  uuid NOT NULL REFERENCES staff (id),
    offence   text NOT NULL CHECK (offence IN ('corruption', 'discrediting', 'other')),
    opened_on date NOT NULL,
    closed_on date,
    summary   text NOT NULL
);
CREATE INDEX disciplinary_cases_staff_idx ON disciplinary_cases (staff_id);

-- Disciplinary penalties (HR-36), ordinal = statutory order 1..8.
CREATE TABLE penalties (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id    uuid NOT NULL REFERENCES staff (id),
    kind        text NOT NULL,
    ordinal     smallint NOT NULL CHECK (ordinal BETWEEN 1 AND 8),
    imposed_on  date NOT NULL,
    delay_until date,
    demotion_of text CHECK (demotion_of IN ('position', 'rank')),
    case_id     uuid REFERENCES disciplinary_cases (id),
    event_id    uuid NOT NULL,
    CHECK ((kind = 'rank_delay') = (delay_until IS NOT NULL)),
    CHECK ((kind = 'demotion') = (demotion_of IS NOT NULL))
);
CREATE INDEX penalties_staff_idx ON penalties (staff_id);

-- Family members (HR-39).
CREATE TABLE family_members (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id           uuid NOT NULL REFERENCES staff (id),
    relation           text NOT NULL CHECK (relation IN ('spouse', 'child', 'adopted_child', 'parent')),
    full_name          text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    birth_date         date NOT NULL,
    documents          jsonb NOT NULL DEFAULT '[]',
    medical_conclusion jsonb,
    unable_to_work     boolean NOT NULL DEFAULT false
);
CREATE INDEX family_members_staff_idx ON family_members (staff_id);

-- Personnel reserve (HR-31, erratum 4).
CREATE TABLE personnel_reserve (
    id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id  uuid NOT NULL REFERENCES staff (id),
    basis     text NOT NULL CHECK (basis IN ('termination', 'own_will', 'study_completed', 'application')),
    added_on  date NOT NULL,
    automatic boolean NOT NULL,
    event_id  uuid NOT NULL
);
CREATE INDEX personnel_reserve_staff_idx ON personnel_reserve (staff_id);

-- Art. 17 study (HR-32).
CREATE TABLE staff_studies (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id     uuid NOT NULL REFERENCES staff (id),
    institution  text NOT NULL,
    purpose      text NOT NULL CHECK (purpose IN ('professional_training', 'scientific_study')),
    start_date   date NOT NULL,
    end_date     date NOT NULL CHECK (end_date >= start_date),
    consent_date date NOT NULL,
    period_id    uuid NOT NULL REFERENCES service_periods (id),
    completed_on date
);

-- The history: one row per change, never edited.
CREATE TABLE staff_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    staff_id    uuid NOT NULL REFERENCES staff (id),
    kind        text NOT NULL,
    data        jsonb NOT NULL,
    reason      text NOT NULL,
    act_number  text NOT NULL,
    act_date    date NOT NULL,
    corrects    uuid REFERENCES staff_events (id),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX staff_events_staff_idx ON staff_events (staff_id, seq);
CREATE TRIGGER staff_events_append_only BEFORE UPDATE OR DELETE ON staff_events
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- Seed reference data: every value is a by-law's, editable through the API with history.
INSERT INTO personnel_reference (kind, code, value, reason, act_number, act_date, recorded_by) VALUES
  ('probation', 'months', '{"months": 6}', 'initial value; the length is set under the civil-service legislation (Art. 9(5))', 'seed', '2025-01-22', 'system'),
  ('fluency', 'min_level', '{"level": "C1"}', 'initial value: "freely commands" read as CEFR C1 or above (Art. 9(1))', 'seed', '2025-01-22', 'system'),
  ('appointing_authority', 'minister_of_foreign_affairs', '{"authority": "president"}', 'Art. 9(2)', 'Law 299-II', '2002-03-07', 'system'),
  ('appointing_authority', 'ambassador', '{"authority": "president"}', 'Art. 9(2)', 'Law 299-II', '2002-03-07', 'system'),
  ('appointing_authority', 'permanent_representative', '{"authority": "president"}', 'Art. 9(2)', 'Law 299-II', '2002-03-07', 'system'),
  ('appointing_authority', 'deputy_minister', '{"authority": "government"}', 'Art. 9(2): "in accordance with the laws"; set here by the laws on the civil service', 'seed', '2025-01-22', 'system'),
  ('appointing_authority', 'head_of_agency', '{"authority": "government"}', 'Art. 9(2): "in accordance with the laws"', 'seed', '2025-01-22', 'system'),
  ('appointing_authority', 'other', '{"authority": "minister"}', 'Art. 9(2): other positions in the MFA and foreign institutions', 'Law 299-II', '2002-03-07', 'system'),
  ('exclusion_ground', 'criminal_record_corruption', '{"label": "previously convicted of a corruption crime", "active": true}', 'civil-service legislation (Art. 9(6))', 'seed', '2025-01-22', 'system'),
  ('exclusion_ground', 'legal_incapacity', '{"label": "declared legally incapable or of limited capacity by a court", "active": true}', 'civil-service legislation (Art. 9(6))', 'seed', '2025-01-22', 'system'),
  ('exclusion_ground', 'barred_by_court', '{"label": "barred by a court from holding state positions", "active": true}', 'civil-service legislation (Art. 9(6))', 'seed', '2025-01-22', 'system'),
  ('position', 'minister', '{"title": "Minister of Foreign Affairs", "staff_kind": "diplomatic", "category": "minister_of_foreign_affairs", "nominal_rank": 11, "political": true}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'ambassador', '{"title": "Ambassador Extraordinary and Plenipotentiary", "staff_kind": "diplomatic", "category": "ambassador", "nominal_rank": 11, "political": true}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'permanent_representative', '{"title": "Permanent Representative", "staff_kind": "diplomatic", "category": "permanent_representative", "nominal_rank": 10, "political": true}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'consul_general', '{"title": "Consul General", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 8}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'department_director', '{"title": "Director of Department", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 9}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'minister_counsellor', '{"title": "Minister-Counsellor", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 8}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'counsellor', '{"title": "Counsellor", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 7}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'first_secretary', '{"title": "First Secretary", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 5}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'second_secretary', '{"title": "Second Secretary", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 3}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'third_secretary', '{"title": "Third Secretary", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 2}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'attache', '{"title": "Attaché", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 1}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'diplomatic_courier', '{"title": "Diplomatic Courier", "staff_kind": "diplomatic", "category": "other", "nominal_rank": 2}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'registry_officer', '{"title": "Registry Officer", "staff_kind": "admin_technical", "category": "other"}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'accountant', '{"title": "Accountant", "staff_kind": "admin_technical", "category": "other"}', 'staff list', 'seed', '2025-01-22', 'system'),
  ('position', 'driver', '{"title": "Driver", "staff_kind": "admin_technical", "category": "other"}', 'staff list', 'seed', '2025-01-22', 'system');

-- +goose Down
DROP TABLE staff_events CASCADE;
DROP TABLE staff_studies;
DROP TABLE personnel_reserve;
DROP TABLE family_members;
DROP TABLE penalties;
DROP TABLE disciplinary_cases;
DROP TABLE staff_ranks;
DROP SEQUENCE rank_certificate_seq;
DROP TABLE service_periods;
DROP TABLE staff_positions;
DROP TABLE staff;
DROP TABLE personnel_reference;
DROP FUNCTION personnel_append_only();
