package personnel_test

import (
	"context"
	"testing"

	"valise/internal/dbtest"
	"valise/personnel"
	"valise/policy"
)

// BenchmarkEligibleOn10k measures "who is eligible for the next rank on date
// D" over 10,000 generated diplomatic officers (ranks 1-10, each with two
// counted service periods and a gap, one in ten under a rank delay), in the
// scope of a personnel officer of every unit; it reports p50 and p99.
//
//	go test -run '^$' -bench EligibleOn10k -benchtime 50x ./personnel
func BenchmarkEligibleOn10k(b *testing.B) {
	d := dbtest.New(b)
	ctx := context.Background()
	_, err := d.Pool.Exec(ctx, `
		INSERT INTO units (code, name, kind, country) VALUES ('MFA', 'MFA', 'ministry', 'KZ'), ('DE-BER', 'Berlin', 'embassy', 'DE');
		INSERT INTO staff (personnel_number, full_name, birth_date, citizenships, health, special_check, unit_id, staff_kind, admitted_on)
		SELECT 'G-' || i, 'Generated ' || i, '1980-01-01', '{KZ}', '{}', '{}',
		       (SELECT id FROM units WHERE code = CASE WHEN i % 3 = 0 THEN 'DE-BER' ELSE 'MFA' END), 'diplomatic', '2010-01-01'
		FROM generate_series(1, 10000) i;
		INSERT INTO service_periods (staff_id, period_type, counted, start_date, end_date)
		SELECT id, 'mfa', true, '2010-01-01', date '2018-01-01' + (hashtext(id::text) % 300) FROM staff;
		INSERT INTO service_periods (staff_id, period_type, counted, start_date)
		SELECT id, 'foreign_institution', true, date '2018-03-01' + (hashtext(id::text) % 300) FROM staff;
		INSERT INTO staff_ranks (staff_id, change, rank, effective_date, authority, event_id)
		SELECT id, 'assign', 1 + abs(hashtext(id::text)) % 10, date '2019-01-01' + abs(hashtext(id::text)) % 2000, 'minister', gen_random_uuid() FROM staff;
		INSERT INTO penalties (staff_id, kind, ordinal, imposed_on, delay_until, event_id)
		SELECT id, 'rank_delay', 4, '2024-06-01', '2025-05-01', gen_random_uuid() FROM staff WHERE abs(hashtext(id::text)) % 10 = 0;
		ANALYZE;`)
	if err != nil {
		b.Fatal(err)
	}
	svc := personnel.New(d.Pool)
	on := personnel.D(2025, 3, 1)
	sc := policy.Scope{All: true}
	el, err := svc.EligibleOn(ctx, sc, policy.Subject{}, on)
	if err != nil || len(el) == 0 {
		b.Fatalf("%v %d", err, len(el))
	}
	b.ReportMetric(float64(len(el)), "eligible")
	percentiles(b, func() error {
		_, err := svc.EligibleOn(ctx, sc, policy.Subject{}, on)
		return err
	})
}
