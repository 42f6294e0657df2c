-- Erratum 8: whether the R§29 exceptional-case test applies to every parent
-- (rotation-digest V15) or, as the text says, only to parents unable to work
-- is a reading the ministry chooses; it is reference data, off by default.

-- +goose Up
INSERT INTO personnel_reference (kind, code, value, reason, act_number, act_date, recorded_by) VALUES
  ('rotation', 'settings', '{"r29_all_parents": false}',
   'R§29: the text ties the exceptional-case test to parents unable to work only; applying it to every parent (also one admitted on R§28 documents) is an interpretation (erratum 8): off unless the ministry decides so',
   'seed', '2021-01-01', 'system');

-- +goose Down
ALTER TABLE personnel_reference DISABLE TRIGGER personnel_reference_append_only;
DELETE FROM personnel_reference WHERE kind = 'rotation';
ALTER TABLE personnel_reference ENABLE TRIGGER personnel_reference_append_only;
