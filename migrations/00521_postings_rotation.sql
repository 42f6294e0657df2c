-- Postings abroad, the annual external rotation plan, individual rotation
-- cases, recall and attestation after return (issue 14, law-digest §2.3,
-- §2.5, §2.7, §2.11; rotation-digest §3, §4, annexes 1-4).
--
-- As in 00510: every change is a row of staff_events (or, for the plan,
-- rotation_plan_events), written in the same transaction as these tables.

-- +goose Up
-- Reference kinds are checked by the Go code (personnel.refKinds): the
-- CHECK becomes a pattern so each feature adds its lists without altering it.
ALTER TABLE personnel_reference DROP CONSTRAINT personnel_reference_kind_check;
ALTER TABLE personnel_reference ADD CONSTRAINT personnel_reference_kind_check CHECK (kind ~ '^[a-z_]{1,64}$');

-- A period of work abroad (HR-19: a chain of inter-mission transfers is one
-- period, erratum 9) or in an international organisation (HR-27).
CREATE TABLE postings (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id         uuid NOT NULL REFERENCES staff (id),
    kind             text NOT NULL CHECK (kind IN ('foreign_institution', 'international_organisation')),
    -- HR-19 / Art. 15(4) sub-items: head_of_mission (1), consul_general (2), senior (3), other (4).
    category         text CHECK (category IN ('head_of_mission', 'consul_general', 'senior', 'other')),
    rare_language    text,
    organisation     text,
    unit_id          uuid REFERENCES units (id),
    start_date       date NOT NULL,
    term_end         date,           -- start + the category's maximum (reached on that day)
    end_date         date,           -- term_end plus the extensions; the last day the posting may run
    planned_end      date,
    rotation_type    text NOT NULL CHECK (rotation_type IN ('external', 'internal')),
    exemption        jsonb,          -- HR-18: {code, note, since}
    allowance        jsonb,          -- HR-24: {amount, currency, paid_on, act}
    home_position    jsonb,          -- the MFA position held before leaving (HR-26, HR-27)
    political_before boolean NOT NULL DEFAULT false,
    in_service_before boolean NOT NULL DEFAULT true,
    raises           smallint NOT NULL DEFAULT 0,
    returned_on      date,           -- return to RK / release from the organisation
    notice           jsonb,          -- Annex 2, R§10
    notice_extended_until date,
    appointed_on     date,           -- appointment in the ministry after return (R§12, HR-26, HR-27)
    reserve_referral date,
    CHECK ((kind = 'foreign_institution') = (category IS NOT NULL)),
    CHECK (returned_on IS NULL OR returned_on >= start_date)
);
CREATE INDEX postings_staff_idx ON postings (staff_id, start_date);
CREATE INDEX postings_open_idx ON postings (end_date) WHERE returned_on IS NULL;
CREATE INDEX postings_returned_idx ON postings (returned_on) WHERE appointed_on IS NULL;

CREATE TABLE posting_extensions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    posting_id  uuid NOT NULL REFERENCES postings (id),
    until       date NOT NULL,
    authority   text NOT NULL,
    service_need text NOT NULL,
    event_id    uuid NOT NULL
);
CREATE INDEX posting_extensions_posting_idx ON posting_extensions (posting_id);

-- HR-23: refusals of a posting, with their reason.
CREATE TABLE posting_refusals (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id    uuid NOT NULL REFERENCES staff (id),
    offered     text NOT NULL,
    refused_on  date NOT NULL,
    reason_code text NOT NULL,
    reason_text text NOT NULL,
    valid       boolean NOT NULL,
    case_id     uuid REFERENCES disciplinary_cases (id),
    event_id    uuid NOT NULL
);

-- HR-37 and R§21-23, R§31: recalls from a posting.
CREATE TABLE recalls (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id         uuid NOT NULL REFERENCES staff (id),
    posting_id       uuid NOT NULL REFERENCES postings (id),
    ground           text NOT NULL,
    early            boolean NOT NULL,
    family_member_id uuid REFERENCES family_members (id),
    facts            text NOT NULL,
    decided_on       date NOT NULL,
    case_id          uuid REFERENCES disciplinary_cases (id),
    event_id         uuid NOT NULL
);

-- HR-25: attestation after return.
CREATE TABLE attestations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id    uuid NOT NULL REFERENCES staff (id),
    posting_id  uuid REFERENCES postings (id),
    due_on      date NOT NULL,
    held_on     date,
    result      text CHECK (result IN ('positive', 'negative')),
    event_id    uuid NOT NULL
);
CREATE INDEX attestations_due_idx ON attestations (due_on) WHERE result IS NULL;
CREATE INDEX attestations_staff_idx ON attestations (staff_id);

-- HR-47: a spouse's position kept for the posting; HR-48: equations.
CREATE TABLE spouse_retentions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    posting_id       uuid NOT NULL REFERENCES postings (id),
    family_member_id uuid NOT NULL REFERENCES family_members (id),
    employer         text NOT NULL,
    position         text NOT NULL,
    from_date        date NOT NULL,
    until            date NOT NULL,
    event_id         uuid NOT NULL
);
CREATE TABLE io_equations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id     uuid NOT NULL REFERENCES staff (id),
    organisation text NOT NULL,
    position     text NOT NULL,
    equated_to   text NOT NULL,
    from_date    date NOT NULL,
    event_id     uuid NOT NULL
);

-- The annual external rotation plan (R§4-7, Annex 1; rotation-digest §3.1).
CREATE TABLE rotation_plans (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    year       integer NOT NULL UNIQUE CHECK (year BETWEEN 2000 AND 2200),
    state      text NOT NULL,
    -- when each step happened: {"drafting": "2026-01-30", ...}
    steps      jsonb NOT NULL DEFAULT '{}',
    version    integer NOT NULL DEFAULT 1
);
-- Per unit: when the draft reached it and its proposals came back (R§5(3)).
CREATE TABLE rotation_plan_units (
    plan_id        uuid NOT NULL REFERENCES rotation_plans (id),
    unit_id        uuid NOT NULL REFERENCES units (id),
    draft_received date NOT NULL,
    proposals_on   date,
    agreed_with    text,
    PRIMARY KEY (plan_id, unit_id)
);
CREATE TABLE rotation_plan_entries (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id           uuid NOT NULL REFERENCES rotation_plans (id),
    unit_id           uuid NOT NULL REFERENCES units (id),  -- the foreign institution (A1 section)
    staff_id          uuid REFERENCES staff (id),           -- the person to rotate, if any
    planned_rotation  text NOT NULL DEFAULT '',
    extension_term    text NOT NULL DEFAULT '',
    ministry_proposal text NOT NULL DEFAULT '',
    candidates        uuid[] NOT NULL DEFAULT '{}',
    note              text NOT NULL DEFAULT ''
);
CREATE INDEX rotation_plan_entries_plan_idx ON rotation_plan_entries (plan_id);
CREATE TABLE rotation_plan_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES rotation_plans (id),
    kind        text NOT NULL,
    data        jsonb NOT NULL,
    reason      text NOT NULL,
    act_number  text NOT NULL,
    act_date    date NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TRIGGER rotation_plan_events_append_only BEFORE UPDATE OR DELETE ON rotation_plan_events
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- Individual rotation cases (rotation-digest §3.2), their Annex 4 documents
-- and medical checks, accompanying family (§3.3) and training plan (§3.4, Annex 3).
CREATE TABLE rotation_cases (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id        uuid NOT NULL REFERENCES staff (id),
    plan_id         uuid REFERENCES rotation_plans (id),
    direction       text NOT NULL CHECK (direction IN ('outbound', 'inbound', 'inter_mission')),
    out_of_plan     text CHECK (out_of_plan IN ('business_necessity', 'family_circumstances')),
    unit_id         uuid NOT NULL REFERENCES units (id),
    position_code   text NOT NULL,
    category        text NOT NULL,
    state           text NOT NULL,
    training        jsonb,
    departure_on    date,
    posting_id      uuid REFERENCES postings (id),
    version         integer NOT NULL DEFAULT 1
);
CREATE INDEX rotation_cases_staff_idx ON rotation_cases (staff_id);
CREATE TABLE rotation_case_documents (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id     uuid NOT NULL REFERENCES rotation_cases (id),
    code        text NOT NULL,
    holder      text NOT NULL,   -- 'officer' or a family member id
    status      text NOT NULL CHECK (status IN ('received', 'not_applicable')),
    received_on date,
    note        text NOT NULL DEFAULT '',
    UNIQUE (case_id, code, holder)
);
CREATE TABLE rotation_case_family (
    case_id          uuid NOT NULL REFERENCES rotation_cases (id),
    family_member_id uuid NOT NULL REFERENCES family_members (id),
    basis            text NOT NULL,
    state            text NOT NULL,
    ground_on        date,
    PRIMARY KEY (case_id, family_member_id)
);

INSERT INTO personnel_reference (kind, code, value, reason, act_number, act_date, recorded_by) VALUES
  ('rare_language', 'placeholder', '{"label": "replace with the Minister''s list of rare foreign languages", "active": false}', 'Art. 15(7) part 2: the Minister sets the list', 'seed', '2025-01-22', 'system'),
  ('refusal_reason', 'health', '{"label": "state of health (medical conclusion)", "active": true}', 'placeholder for the Minister''s list of valid reasons (Art. 15(5))', 'seed', '2025-01-22', 'system'),
  ('refusal_reason', 'family_care', '{"label": "care for a family member (documented)", "active": true}', 'placeholder for the Minister''s list of valid reasons (Art. 15(5))', 'seed', '2025-01-22', 'system'),
  ('posting_allowance', 'one_time', '{"amount": 0, "currency": "KZT", "basis": "set by RK laws (Art. 15(6)); replace with the act''s amount"}', 'Art. 15(6): the amount is set by other laws', 'seed', '2025-01-22', 'system'),
  ('medical_form', 'abroad', '{"form": "072/у", "act": "Order ҚР ДСМ-175/2020"}', 'R§25(5); Annex 4 item 8 names form 082 (rotation-digest §0.3 #12): a reference value', 'seed', '2025-01-22', 'system'),
  ('rotation_rule', 'date_deadlines', '{"inclusive": true}', 'R§5(1), R§7 «дейін»: inclusive or exclusive is not settled (erratum 11)', 'seed', '2025-01-22', 'system'),
  ('attestation', 'after_return', '{"months": 6}', 'Art. 16: the procedure and timing are set by the President; placeholder', 'seed', '2025-01-22', 'system');

INSERT INTO pouch_settings (key, value, basis) VALUES
    ('personnel.term_end_lead', '180 days', 'default; not in the law (HR-19 suggests 6 and 3 months)'),
    ('personnel.return_notice_lead', '3 days', 'default; not in the law (A10: after 3 working days)'),
    ('personnel.appointment_lead', '60 days', 'default; not in the law (A12: notice + 2 months)')
ON CONFLICT (key) DO NOTHING;

-- +goose Down
DELETE FROM setting_changes WHERE key IN ('personnel.term_end_lead', 'personnel.return_notice_lead', 'personnel.appointment_lead');
DELETE FROM pouch_settings WHERE key IN ('personnel.term_end_lead', 'personnel.return_notice_lead', 'personnel.appointment_lead');
DROP TABLE rotation_case_family, rotation_case_documents, rotation_cases, rotation_plan_events, rotation_plan_entries,
    rotation_plan_units, rotation_plans, io_equations, spouse_retentions, attestations, recalls, posting_refusals,
    posting_extensions, postings;
