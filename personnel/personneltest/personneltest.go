// Package personneltest gives tests of other packages the personnel facts a
// career courier needs to be issued a sheet (issue 15: Art. 1(3), DM-04): a
// staff record linked to the account, holding a diplomatic courier position
// in the account's unit, with a diplomatic passport valid for years. It
// writes the rows directly (a fixture); personnel's own tests use the service.
package personneltest

import (
	"context"
	"fmt"

	"valise/internal/db"
)

// CareerCourier enrols the user as a career courier of the diplomatic
// courier service (idempotent) and returns the staff record id.
func CareerCourier(ctx context.Context, q db.Querier, userID string) (string, error) {
	var id string
	err := q.QueryRow(ctx, `SELECT id FROM staff WHERE user_id = $1`, userID).Scan(&id)
	if err == nil {
		return id, nil
	}
	err = q.QueryRow(ctx, `
		WITH u AS (SELECT id, full_name, unit_id FROM users WHERE id = $1),
		s AS (INSERT INTO staff (personnel_number, full_name, birth_date, citizenships, health, special_check, user_id, unit_id, staff_kind, admitted_on)
		      SELECT 'T-' || u.id, u.full_name, '1985-01-01', '{KZ}', '{"result": "positive", "date": "2015-01-01"}',
		             '{"result": "positive", "date": "2015-01-01"}', u.id, u.unit_id, 'diplomatic', current_date - 3650 FROM u RETURNING id, unit_id, full_name),
		p AS (INSERT INTO staff_positions (staff_id, position_code, title, staff_kind, category, unit_id, start_date, authority)
		      SELECT s.id, 'diplomatic_courier', 'Diplomatic Courier', 'diplomatic', 'other', s.unit_id, current_date - 3650, 'minister' FROM s),
		pp AS (INSERT INTO passports (staff_id, holder_name, passport_type, basis, status, location, number, destination, received_on,
		             prepare_by, documents, issued_on, expires_on)
		      SELECT s.id, s.full_name, 'diplomatic', 'dl_27', 'issued', 'with_holder', 'DT' || upper(substr(md5(s.id::text), 1, 8)),
		             '', current_date - 370, current_date - 365, '{}', current_date - 365, current_date - 365 + interval '5 years' FROM s)
		SELECT id FROM s`, userID).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("personneltest: enrol career courier %s: %w", userID, err)
	}
	return id, nil
}
