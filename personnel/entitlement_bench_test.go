package personnel_test

import (
	"context"
	"encoding/json"
	"testing"

	"valise/internal/dbtest"
	"valise/personnel"
	"valise/policy"
)

// BenchmarkEntitlementPreview measures one preview (the 25(9) death-in-duty
// compensation: the record, its positions, 40 service periods, one salary
// table) for a person among 10,000 generated staff (one MFA period each), as a personnel officer's
// policy check would see it; it reports p50 and p99.
//
//	go test -run '^$' -bench EntitlementPreview -benchtime 200x ./personnel
func BenchmarkEntitlementPreview(b *testing.B) {
	d := dbtest.New(b)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `
		INSERT INTO units (code, name, kind, country) VALUES ('MFA', 'MFA', 'ministry', 'KZ'), ('DE-BER', 'Berlin', 'embassy', 'DE');
		INSERT INTO staff (personnel_number, full_name, birth_date, citizenships, health, special_check, unit_id, staff_kind, admitted_on)
		SELECT 'G-' || i, 'Generated ' || i, '1980-01-01', '{KZ}', '{}', '{}', (SELECT id FROM units WHERE code = 'MFA'), 'diplomatic', '2005-01-01'
		FROM generate_series(1, 10000) i;
		INSERT INTO staff_positions (staff_id, position_code, title, staff_kind, category, unit_id, start_date, end_date, authority)
		SELECT id, 'second_secretary', 'Second Secretary', 'diplomatic', 'other', (SELECT id FROM units WHERE code = 'MFA'), '2005-01-01', '2015-12-31', 'minister' FROM staff;
		INSERT INTO staff_positions (staff_id, position_code, title, staff_kind, category, unit_id, start_date, authority)
		SELECT id, 'second_secretary', 'Second Secretary', 'diplomatic', 'other', (SELECT id FROM units WHERE code = 'DE-BER'), '2016-01-01', 'minister' FROM staff;
		INSERT INTO service_periods (staff_id, period_type, counted, start_date, end_date)
		SELECT id, 'mfa', true, '2005-01-01', '2015-12-31' FROM staff WHERE personnel_number <> 'G-5000';
		INSERT INTO service_periods (staff_id, period_type, counted, start_date, end_date)
		SELECT s.id, 'mfa', true, date '2005-01-01' + g * 180, date '2005-01-01' + g * 180 + 170 FROM staff s, generate_series(0, 39) g
		WHERE s.personnel_number = 'G-5000';
		ANALYZE;`); err != nil {
		b.Fatal(err)
	}
	svc := personnel.New(d.Pool)
	po := policy.Subject{Username: "po"}
	trust := func(context.Context, string, policy.Resource) error { return nil }
	change := personnel.Change{Reason: "bench", Act: personnel.Act{Number: "B-1", Date: personnel.D(2025, 1, 1)}}
	if _, err := svc.AddEntitlementReference(ctx, trust, po, "official_salary", "second_secretary", personnel.EntRefInput{ValidFrom: personnel.D(2020, 1, 1),
		Value: json.RawMessage(`{"steps":[{"from_years":0,"amount":"300000"},{"from_years":5,"amount":"330000"},{"from_years":10,"amount":"360000"}]}`), Change: change}); err != nil {
		b.Fatal(err)
	}
	var id string
	if err := d.Pool.QueryRow(ctx, `SELECT id::text FROM staff WHERE personnel_number = 'G-5000'`).Scan(&id); err != nil {
		b.Fatal(err)
	}
	x, err := svc.RecordIncident(ctx, trust, po, id, personnel.IncidentInput{Kind: "injury", Severity: "severe", OccurredOn: personnel.D(2025, 3, 10),
		Country: "DE", Description: "bench", Change: change})
	if err != nil {
		b.Fatal(err)
	}
	in := personnel.EntitlementInput{Kind: personnel.EntDeathInDuty, IncidentID: x.ID, DiedOn: personnel.D(2025, 9, 1), Cause: "died_of_injury", On: personnel.D(2025, 9, 10)}
	if c, err := svc.PreviewEntitlement(ctx, trust, id, in); err != nil || c.Outcome != personnel.OutcomePayable {
		b.Fatalf("%v %s", err, c.Text())
	}
	percentiles(b, func() error {
		_, err := svc.PreviewEntitlement(ctx, trust, id, in)
		return err
	})
}
