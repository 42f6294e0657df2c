-- Personnel core, part 3 (issue 15): diplomatic and service passports under
-- Presidential Decree No. 722 of 13.01.2014 (the Rules, R§1-R§21, and the
-- List), and who may carry the mail (Law Art. 1(3), DM-04).
--
-- A passport is kept under a staff record: held by the person themself or by
-- one of their family members (the List's family items, HR-38's spouse).
-- Every change is a row of staff_events of that record (who, when, why, act)
-- written in the same transaction as these projection tables.

-- +goose Up
-- The reference kinds passport_list, passport and courier_service fit the
-- kind check of migration 00540 (any snake_case list name).

-- Leave (issue 15: a courier on leave does not carry the mail). Not one of
-- the eight counted Art. 12(2) types, so it never counts toward time in rank.

CREATE TABLE passports (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id         uuid NOT NULL REFERENCES staff (id),
    family_member_id uuid REFERENCES family_members (id),
    holder_name      text NOT NULL CHECK (length(holder_name) BETWEEN 1 AND 200),
    passport_type    text NOT NULL CHECK (passport_type IN ('diplomatic', 'service')),
    -- the entitlement: a List item code (dl_27, sl_6, ...), minister_exception (R§5 part 2) or lifelong (Art. 19(1-1))
    basis            text NOT NULL,
    basis_detail     jsonb NOT NULL DEFAULT '{}',
    -- workflow status (passports-digest §4.2); validity and location are separate (§4.1)
    status           text NOT NULL CHECK (status IN ('applied', 'issued', 'in_archive', 'surrender_demanded',
                         'border_alert', 'lost', 'invalid_in_mfa', 'destroyed')),
    invalid_reason   text CHECK (invalid_reason IN ('missing_data', 'expired', 'unidentifiable', 'lost',
                         'status_mismatch', 'gender_change', 'surrender_delayed', 'technical_mistake')),
    invalid_from     date,
    location         text NOT NULL CHECK (location IN ('mfa_processing', 'with_holder', 'archive', 'lost',
                         'border_service', 'destroyed')),
    number           text UNIQUE CHECK (number ~ '^[A-Z0-9]{5,20}$'),
    destination      text NOT NULL DEFAULT '',          -- R§18 "country of departure": where the person travels
    received_on      date NOT NULL,                     -- the full R§9 set received (R§12 clock)
    prepare_by       date NOT NULL,                     -- received_on + 5 working days (R§12)
    documents        jsonb NOT NULL,                    -- the R§9 set and the App.1 request letter
    second_ground    text CHECK (second_ground IN ('visa_obstacle', 'several_visas', 'written_instruction')),
    second_detail    jsonb,
    replaces         uuid UNIQUE REFERENCES passports (id),
    issued_on        date,
    expires_on       date,                              -- issued_on + 5 years (R§6), the last valid day
    return_date      date,                              -- the holder's return from the trip (R§17)
    surrender_basis  text CHECK (surrender_basis IN ('return', 'demand')),
    surrender_due    date,                              -- the last day to surrender (R§16, R§17)
    surrendered_on   date,
    destruction_act  uuid,
    version          integer NOT NULL DEFAULT 1,
    CHECK ((status = 'applied') = (issued_on IS NULL)),
    CHECK (issued_on IS NULL OR (number IS NOT NULL AND expires_on IS NOT NULL))
);
CREATE INDEX passports_staff_idx ON passports (staff_id);
CREATE INDEX passports_status_idx ON passports (status, expires_on);

-- R§13: the passport issuance journal, signed by the authorized person on every hand-out.
CREATE TABLE passport_journal (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    passport_id    uuid NOT NULL REFERENCES passports (id),
    handed_on      date NOT NULL,
    from_archive   boolean NOT NULL,                   -- R§14 issue from the archive
    recipient      text NOT NULL,
    recipient_doc  jsonb NOT NULL,                     -- the RK identity card or passport presented
    authorized_by  text NOT NULL DEFAULT '',           -- the sending body's authorization, when not the owner
    signed         boolean NOT NULL CHECK (signed),
    event_id       uuid NOT NULL
);
CREATE INDEX passport_journal_passport_idx ON passport_journal (passport_id);
CREATE TRIGGER passport_journal_append_only BEFORE UPDATE OR DELETE ON passport_journal
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- R§21, App.2: destruction acts, signed by the commission.
CREATE SEQUENCE passport_act_seq;
CREATE TABLE passport_destruction_acts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number      text NOT NULL UNIQUE,
    act_date    date NOT NULL,
    approved_by jsonb NOT NULL,      -- the head of the structural unit issuing passports
    commission  jsonb NOT NULL,      -- [{position, full_name}], each signed
    order_ref   jsonb NOT NULL,      -- the Minister's order on the commission
    passports   jsonb NOT NULL,      -- [{passport_id, number, type, holder, ground}]
    form_copies jsonb NOT NULL,      -- the attached copies of the destroyed forms
    executor    text NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TRIGGER passport_destruction_acts_append_only BEFORE UPDATE OR DELETE ON passport_destruction_acts
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- The courier sheet prints the passport the eligibility check used.
ALTER TABLE courier_sheets ADD COLUMN passport_id uuid REFERENCES passports (id);

INSERT INTO personnel_reference (kind, code, value, reason, act_number, act_date, recorded_by) VALUES
  ('passport', 'settings', '{"return_reading": "A", "surrender_days": "calendar", "commission_min": 3}',
   'R§16/R§17: the start of the 10 days after return (reading A: from the return) and calendar vs working days are not settled by the text (passports-digest §1.9); the commission size is not in the text (App.2 has three lines)', 'seed', '2025-01-22', 'system'),
  ('courier_service', 'positions', '{"positions": ["diplomatic_courier"]}',
   'positions of the diplomatic courier service (Art. 1(3), DM-04): the staff list names them', 'seed', '2025-01-22', 'system'),
  ('passport_list', 'dl_27', '{"type": "diplomatic", "label": "Employees (diplomatic officers) of the diplomatic service", "family": ["spouse", "child", "adopted_child"], "staff_kind": "diplomatic", "active": true}', 'List, diplomatic item 27', 'Decree 722', '2014-01-13', 'system'),
  ('passport_list', 'dl_28', '{"type": "diplomatic", "label": "Employees of international organisations sent from RK", "family": ["spouse", "child", "adopted_child"], "active": true}', 'List, diplomatic item 28', 'Decree 722', '2014-01-13', 'system'),
  ('passport_list', 'dl_29', '{"type": "diplomatic", "label": "Military attachés and their assistants", "family": ["spouse", "child", "adopted_child"], "active": true}', 'List, diplomatic item 29', 'Decree 722', '2014-01-13', 'system'),
  ('passport_list', 'dl_30', '{"type": "diplomatic", "label": "Dependents of a diplomatic-passport holder on a long-term trip, departing jointly", "family": ["spouse", "child", "adopted_child", "parent"], "dependents_only": true, "active": true}', 'List, diplomatic item 30', 'Decree 722', '2014-01-13', 'system'),
  ('passport_list', 'sl_6', '{"type": "service", "label": "Workers (administrative-technical) of the diplomatic service", "family": ["spouse", "child", "adopted_child", "parent"], "staff_kind": "admin_technical", "active": true}', 'List, service item 6', 'Decree 722', '2014-01-13', 'system'),
  ('passport_list', 'sl_10', '{"type": "service", "label": "Dependents of a service-passport holder on a long-term trip, departing jointly", "family": ["spouse", "child", "adopted_child", "parent"], "dependents_only": true, "active": true}', 'List, service item 10', 'Decree 722', '2014-01-13', 'system');

-- The expiry-ahead alert's lead time (not in the Decree): a personnel setting.
INSERT INTO pouch_settings (key, value, basis) VALUES
    ('personnel.passport_expiry_lead', '90 days', 'default; not in the Decree: how long before a passport expires (R§6) its alert starts')
ON CONFLICT (key) DO NOTHING;

-- +goose Down
DELETE FROM setting_changes WHERE key = 'personnel.passport_expiry_lead';
DELETE FROM pouch_settings WHERE key = 'personnel.passport_expiry_lead';
ALTER TABLE courier_sheets DROP COLUMN passport_id;
DROP TABLE passport_destruction_acts;
DROP SEQUENCE passport_act_seq;
DROP TABLE passport_journal;
DROP TABLE passports;
ALTER TABLE personnel_reference DISABLE TRIGGER personnel_reference_append_only;
DELETE FROM personnel_reference WHERE kind IN ('passport_list', 'passport', 'courier_service');
ALTER TABLE personnel_reference ENABLE TRIGGER personnel_reference_append_only;
