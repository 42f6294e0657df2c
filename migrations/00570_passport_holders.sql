-- Issue 15: passports of holders who are not diplomatic-service staff, and
-- the whole List of Decree 722 (Kazakh text) as reference data.
--
-- Until now a passport was kept under a staff record, so only diplomatic
-- service staff (DL-27, SL-6) and their families held one. The List names
-- many more categories (DL-2 ... DL-33, SL-1 ... SL-10): a person outside the
-- service (a deputy of Parliament, a military attaché, an airline crew
-- member) has a passport_holders record, kept by a unit of the MFA (R§8: the
-- MFA does everything), with its own history (passport_holder_events).
-- A family member or dependent of such a holder is a holder record naming
-- the principal and the relation. Each passport belongs to exactly one staff
-- record or one holder record.
--
-- The List items are versioned reference data (passport_list): the
-- excluded items (1, 14, 19, 24) are inactive, DL-27-1 is in force only
-- from 04.03.2016 to 31.12.2017, and the conditions an item states are named
-- (not_diplomatic_entitled: SL-2/3/4; rank_or_law_enforcement and
-- not_territorial_body: SL-5; principal_holds_type: DL-30, SL-10).

-- +goose Up
CREATE TABLE passport_holders (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    full_name     text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    birth_date    date NOT NULL,
    ethnicity     text NOT NULL DEFAULT '',          -- R§18 ұлты, when the person states it
    place_of_work text NOT NULL CHECK (length(place_of_work) BETWEEN 1 AND 300),
    position      text NOT NULL CHECK (length(position) BETWEEN 1 AND 300),
    principal_id  uuid REFERENCES passport_holders (id),
    relation      text CHECK (relation IN ('spouse', 'child', 'adopted_child', 'parent', 'dependent')),
    unit_id       uuid NOT NULL REFERENCES units (id),   -- the unit whose personnel officers keep it
    created_at    timestamptz NOT NULL DEFAULT now(),
    version       integer NOT NULL DEFAULT 1,
    CHECK ((principal_id IS NULL) = (relation IS NULL)),
    CHECK (principal_id IS NULL OR principal_id <> id)
);
CREATE INDEX passport_holders_unit_idx ON passport_holders (unit_id);

CREATE TABLE passport_holder_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    holder_id   uuid NOT NULL REFERENCES passport_holders (id),
    kind        text NOT NULL,
    data        jsonb NOT NULL,
    reason      text NOT NULL,
    act_number  text NOT NULL,
    act_date    date NOT NULL,
    corrects    uuid REFERENCES passport_holder_events (id),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX passport_holder_events_holder_idx ON passport_holder_events (holder_id, seq);
CREATE TRIGGER passport_holder_events_append_only BEFORE UPDATE OR DELETE ON passport_holder_events
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

ALTER TABLE passports ALTER COLUMN staff_id DROP NOT NULL;
ALTER TABLE passports ADD COLUMN holder_id uuid REFERENCES passport_holders (id);
ALTER TABLE passports ADD CONSTRAINT passports_one_owner CHECK (num_nonnulls(staff_id, holder_id) = 1);
CREATE INDEX passports_holder_idx ON passports (holder_id);

INSERT INTO personnel_reference (kind, code, value, reason, act_number, act_date, recorded_by) VALUES
  ('passport_list', 'dl_1', '{"type": "diplomatic", "label": "Excluded by Decree No. 429 of 03.01.2024", "active": false}', 'List, diplomatic item 1 (Excluded by Decree No. 429 of 03.01.2024)', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_2', '{"type": "diplomatic", "label": "President of the Republic of Kazakhstan and his family members", "active": true, "family": ["spouse", "child", "adopted_child", "parent"]}', 'List, diplomatic item 2', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_2_1', '{"type": "diplomatic", "label": "Ex-Presidents of the Republic of Kazakhstan", "active": true}', 'List, diplomatic item 2-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_3', '{"type": "diplomatic", "label": "Prime Minister", "active": true}', 'List, diplomatic item 3', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_4', '{"type": "diplomatic", "label": "Chairman of the Senate of Parliament", "active": true}', 'List, diplomatic item 4', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_5', '{"type": "diplomatic", "label": "Chairman of the Mazhilis of Parliament", "active": true}', 'List, diplomatic item 5', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_5_1', '{"type": "diplomatic", "label": "Military servicemen taking part in fulfilling international obligations to support peace and security (Kazakh text only)", "active": true}', 'List, diplomatic item 5-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_6', '{"type": "diplomatic", "label": "State Counsellor", "active": true}', 'List, diplomatic item 6', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_7', '{"type": "diplomatic", "label": "Head of the Presidential Administration", "active": true}', 'List, diplomatic item 7', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_8', '{"type": "diplomatic", "label": "Chairman of the Constitutional Court", "active": true}', 'List, diplomatic item 8', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_9', '{"type": "diplomatic", "label": "Chairman of the Supreme Court", "active": true}', 'List, diplomatic item 9', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_10', '{"type": "diplomatic", "label": "Chairman of the National Bank", "active": true}', 'List, diplomatic item 10', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_11', '{"type": "diplomatic", "label": "Chairman of the Central Election Commission", "active": true}', 'List, diplomatic item 11', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_12', '{"type": "diplomatic", "label": "Deputy Prime Ministers", "active": true}', 'List, diplomatic item 12', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_12_1', '{"type": "diplomatic", "label": "Deputy Chairman of the Constitutional Court (Kazakh text only)", "active": true}', 'List, diplomatic item 12-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_13', '{"type": "diplomatic", "label": "Secretary of the Security Council", "active": true}', 'List, diplomatic item 13', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_13_1', '{"type": "diplomatic", "label": "Head of the Office of the President", "active": true}', 'List, diplomatic item 13-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_13_2', '{"type": "diplomatic", "label": "Assistants to the President", "active": true}', 'List, diplomatic item 13-2', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_13_3', '{"type": "diplomatic", "label": "Advisers to the President", "active": true}', 'List, diplomatic item 13-3', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_14', '{"type": "diplomatic", "label": "Excluded by Decree No. 429 of 03.01.2024", "active": false}', 'List, diplomatic item 14 (Excluded by Decree No. 429 of 03.01.2024)', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_15', '{"type": "diplomatic", "label": "Chairman of the Supreme Judicial Council", "active": true}', 'List, diplomatic item 15', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_16', '{"type": "diplomatic", "label": "Special representatives of the President; Deputy Secretaries of the Security Council", "active": true}', 'List, diplomatic item 16', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_17', '{"type": "diplomatic", "label": "Head of the Office of the Government", "active": true}', 'List, diplomatic item 17', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_18', '{"type": "diplomatic", "label": "First heads of state bodies directly subordinate and accountable to the President; first heads of central executive bodies", "active": true}', 'List, diplomatic item 18', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_18_1', '{"type": "diplomatic", "label": "Head of the State Security Service and his deputies", "active": true}', 'List, diplomatic item 18-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_19', '{"type": "diplomatic", "label": "Excluded by Decree No. 555 of 03.10.2017", "active": false}', 'List, diplomatic item 19 (Excluded by Decree No. 555 of 03.10.2017)', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_20', '{"type": "diplomatic", "label": "Akims of Astana, of the cities of republican significance and of the regions", "active": true}', 'List, diplomatic item 20', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_21', '{"type": "diplomatic", "label": "Deputies (members) of Parliament", "active": true}', 'List, diplomatic item 21', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_21_1', '{"type": "diplomatic", "label": "Judges of the Constitutional Court (Kazakh text only)", "active": true}', 'List, diplomatic item 21-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_22', '{"type": "diplomatic", "label": "Commissioner for Human Rights", "active": true}', 'List, diplomatic item 22', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_23', '{"type": "diplomatic", "label": "Head of the President''s Protocol Service; Press Secretary of the President; Head of the Foreign Policy Department of the Presidential Administration", "active": true}', 'List, diplomatic item 23', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_24', '{"type": "diplomatic", "label": "Excluded by Decree No. 555 of 03.10.2017", "active": false}', 'List, diplomatic item 24 (Excluded by Decree No. 555 of 03.10.2017)', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_25', '{"type": "diplomatic", "label": "Head of the structural unit of the Office of the Government in charge of external relations", "active": true}', 'List, diplomatic item 25', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_26', '{"type": "diplomatic", "label": "Assistant to the Prime Minister", "active": true}', 'List, diplomatic item 26', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_27_1', '{"type": "diplomatic", "label": "Lapsed: in force from 04.03.2016 to 31.12.2017 (Decree No. 362 of 27.10.2016)", "active": true, "in_force_from": "2016-03-04", "in_force_until": "2017-12-31"}', 'List, diplomatic item 27-1 (Lapsed: in force from 04.03.2016 to 31.12.2017 (Decree No. 362 of 27.10.2016))', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_28', '{"type": "diplomatic", "label": "Employees of international organisations sent from RK, their spouses and children", "active": true, "family": ["spouse", "child", "adopted_child"]}', 'List, diplomatic item 28', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_29', '{"type": "diplomatic", "label": "Military attachés and their assistants, their spouses and children", "active": true, "family": ["spouse", "child", "adopted_child"]}', 'List, diplomatic item 29', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_29_1', '{"type": "diplomatic", "label": "Official representatives of RK national-security bodies in RK foreign institutions and their assistants, their spouses and children", "active": true, "family": ["spouse", "child", "adopted_child"]}', 'List, diplomatic item 29-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_30', '{"type": "diplomatic", "label": "Dependents of a diplomatic-passport holder going on a long-term foreign business trip or to work in an international organisation as an employee sent from RK, departing jointly", "active": true, "family": ["spouse", "child", "adopted_child", "parent", "dependent"], "dependents_only": true, "conditions": ["principal_holds_type"]}', 'List, diplomatic item 30', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_31', '{"type": "diplomatic", "label": "Participants in UN peacekeeping operations as UN military observers and staff officers", "active": true}', 'List, diplomatic item 31', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_32', '{"type": "diplomatic", "label": "First heads of JSC National Welfare Fund Samruk-Kazyna and of the Astana International Financial Centre", "active": true}', 'List, diplomatic item 32', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'dl_33', '{"type": "diplomatic", "label": "President of the National Olympic Committee", "active": true}', 'List, diplomatic item 33', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_1', '{"type": "service", "label": "Judges of the Supreme Court", "active": true}', 'List, service item 1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_2', '{"type": "service", "label": "Political civil servants under the Register of Positions (Decree No. 150 of 29.12.2015) not entitled to a diplomatic passport", "active": true, "conditions": ["not_diplomatic_entitled"]}', 'List, service item 2', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_3', '{"type": "service", "label": "Administrative civil servants in Corps A positions (same Register), except those entitled to a diplomatic passport", "active": true, "conditions": ["not_diplomatic_entitled"]}', 'List, service item 3', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_4', '{"type": "service", "label": "Administrative civil servants of categories A and B, and C-1, C-2, C-3 of Corps B (Kazakh text), except those entitled to a diplomatic passport", "active": true, "conditions": ["not_diplomatic_entitled"]}', 'List, service item 4', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_4_1', '{"type": "service", "label": "National Bank employees appointed to RK foreign institutions by secondment", "active": true}', 'List, service item 4-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_5', '{"type": "service", "label": "Employees of the Ministry of Defence, the State Security Service, the Prosecutor General''s Office, the NSC, the Ministry of Internal Affairs, the Anti-Corruption Agency and the Economic Investigation Service with officer ranks, class ranks, qualification classes or carrying out law-enforcement activity, except employees of territorial bodies", "active": true, "conditions": ["rank_or_law_enforcement", "not_territorial_body"]}', 'List, service item 5', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_7', '{"type": "service", "label": "First heads of state enterprises and of the executive bodies of national development institutions, national holdings, national companies and national managing holdings", "active": true}', 'List, service item 7', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_7_1', '{"type": "service", "label": "First head of the National Chamber of Entrepreneurs Atameken; first heads of the regional chambers; regional directors of KAZAKH INVEST", "active": true}', 'List, service item 7-1', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_7_2', '{"type": "service", "label": "First heads of sports federations that are members of the National Olympic Committee", "active": true}', 'List, service item 7-2', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_8', '{"type": "service", "label": "Flight and technical crew of Kazakhstani airlines engaged for international flights of official RK delegations", "active": true}', 'List, service item 8', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_9', '{"type": "service", "label": "Employees of the foreign representative offices of the SL-7 organisations, their spouses, children and dependents", "active": true, "family": ["spouse", "child", "adopted_child", "dependent"]}', 'List, service item 9', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system'),
  ('passport_list', 'sl_10', '{"type": "service", "label": "Dependents of a service-passport holder going on a long-term foreign business trip or to work in an international organisation as an employee sent from RK, departing jointly", "active": true, "family": ["spouse", "child", "adopted_child", "parent", "dependent"], "dependents_only": true, "conditions": ["principal_holds_type"]}', 'List, service item 10', 'Decree 722 (Kazakh text, amended to No. 487 of 23.02.2024)', '2024-02-23', 'system');

-- +goose Down
ALTER TABLE personnel_reference DISABLE TRIGGER personnel_reference_append_only;
DELETE FROM personnel_reference WHERE kind = 'passport_list' AND act_number LIKE 'Decree 722 (Kazakh text%';
ALTER TABLE personnel_reference ENABLE TRIGGER personnel_reference_append_only;
DROP INDEX passports_holder_idx;
ALTER TABLE passports DROP CONSTRAINT passports_one_owner;
ALTER TABLE passports DROP COLUMN holder_id;
ALTER TABLE passports ALTER COLUMN staff_id SET NOT NULL;
DROP TABLE passport_holder_events;
DROP TABLE passport_holders;
