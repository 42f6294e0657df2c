package personnel_test

import (
	"context"
	"slices"
	"testing"
	"time"

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

// percentiles runs op b.N times and reports its p50 and p99 in milliseconds.
func percentiles(b *testing.B, op func() error) {
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkSecondmentAlerts5k measures the secondment alert source (every
// pending deadline of every open file, on the working-day calendar) over
// 5,000 generated files: a third proposed, a third serving with their order
// dispatched, a third serving under R2 with KPIs due; it reports p50 and p99.
//
//	go test -run '^$' -bench SecondmentAlerts5k -benchtime 20x ./personnel
func BenchmarkSecondmentAlerts5k(b *testing.B) {
	d := dbtest.New(b)
	ctx := context.Background()
	_, err := d.Pool.Exec(ctx, `
		INSERT INTO units (code, name, kind, country) VALUES ('MFA', 'MFA', 'ministry', 'KZ'), ('DE-BER', 'Berlin', 'embassy', 'DE');
		INSERT INTO secondments (rule_set, person, unit_id, sending, receiving, position, legal_basis, state, proposed_on, start_date, term_end, extended_to)
		SELECT CASE i % 3 WHEN 2 THEN 'r2' ELSE 'r1' END, jsonb_build_object('full_name', 'Generated ' || i, 'category', 'civil_servant'),
		       (SELECT id FROM units WHERE code = CASE WHEN i % 3 = 2 THEN 'DE-BER' ELSE 'MFA' END),
		       '{"name": "Sender", "kind": "state_body"}', '{"name": "Receiver", "kind": "central_executive_body"}', '{"title": "Post", "vacant": true}',
		       'decree755@2025-04-03', CASE WHEN i % 3 = 0 THEN 'proposed' ELSE 'serving' END, date '2024-01-01' + i % 300,
		       CASE WHEN i % 3 <> 0 THEN date '2024-06-01' + i % 300 END, CASE WHEN i % 3 <> 0 THEN date '2027-06-01' + i % 300 END,
		       CASE WHEN i % 3 <> 0 THEN date '2027-06-01' + i % 300 END
		FROM generate_series(1, 5000) i;
		INSERT INTO secondment_steps (secondment_id, step, on_date, data, event_id)
		SELECT id, 'proposal', proposed_on, '{}', gen_random_uuid() FROM secondments;
		INSERT INTO secondment_steps (secondment_id, step, on_date, data, event_id)
		SELECT id, CASE rule_set WHEN 'r1' THEN 'order_issued' ELSE 'dispatched' END, start_date, '{}', gen_random_uuid() FROM secondments WHERE state = 'serving';
		ANALYZE;`)
	if err != nil {
		b.Fatal(err)
	}
	cal, err := personnel.LoadCalendar(ctx, d.Pool)
	if err != nil {
		b.Fatal(err)
	}
	asOf := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	alerts, err := personnel.SecondmentAlerts(ctx, d.Pool, cal, asOf)
	if err != nil || len(alerts) == 0 {
		b.Fatalf("%v %d", err, len(alerts))
	}
	b.ReportMetric(float64(len(alerts)), "alerts")
	percentiles(b, func() error {
		_, err := personnel.SecondmentAlerts(ctx, d.Pool, cal, asOf)
		return err
	})
}
