package personnel_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"valise/internal/dbtest"
	"valise/personnel"
)

// passportWorld generates 10,000 staff of the courier service, each with an
// account, a position, a diplomatic passport (issued, due after a return,
// overdue after a demand, in the archive, expiring within the lead time, by
// turns) and, for one in ten, a leave period.
func passportWorld(b *testing.B) *dbtest.Database {
	d := dbtest.New(b)
	_, err := d.Pool.Exec(context.Background(), `
		INSERT INTO units (code, name, kind, country) VALUES ('MFA', 'MFA', 'ministry', 'KZ');
		INSERT INTO users (username, full_name, unit_id, roles, clearance, courier_kind)
		SELECT 'gen' || i, 'G ' || i, (SELECT id FROM units WHERE code = 'MFA'), '{courier}', 3, 'career' FROM generate_series(1, 10000) i;
		INSERT INTO staff (personnel_number, full_name, birth_date, citizenships, health, special_check, unit_id, staff_kind, admitted_on, user_id)
		SELECT 'G-' || substr(u.username, 4), u.full_name, '1980-01-01', '{KZ}', '{}', '{}', u.unit_id, 'diplomatic', '2010-01-01', u.id FROM users u;
		INSERT INTO staff_positions (staff_id, position_code, title, staff_kind, category, unit_id, start_date, authority)
		SELECT id, 'diplomatic_courier', 'Diplomatic Courier', 'diplomatic', 'other', unit_id, '2010-01-01', 'minister' FROM staff;
		INSERT INTO service_periods (staff_id, period_type, counted, start_date, end_date)
		SELECT id, 'leave', false, current_date + abs(hashtext(id::text)) % 60, current_date + abs(hashtext(id::text)) % 60 + 14
		FROM staff WHERE abs(hashtext(id::text)) % 10 = 0;
		INSERT INTO passports (staff_id, holder_name, passport_type, basis, status, location, number, received_on, prepare_by, documents,
		                       issued_on, expires_on, surrender_basis, surrender_due)
		SELECT s.id, s.full_name, 'diplomatic', 'dl_27', CASE WHEN k = 3 THEN 'in_archive' WHEN k = 2 THEN 'surrender_demanded' ELSE 'issued' END,
		       CASE WHEN k = 3 THEN 'archive' ELSE 'with_holder' END, 'G' || lpad(substr(s.personnel_number, 3), 7, '0'),
		       current_date - 400, current_date - 395, '{}', current_date - 395,
		       CASE WHEN k = 4 THEN current_date + 30 ELSE current_date + 1400 END,
		       CASE k WHEN 1 THEN 'return' WHEN 2 THEN 'demand' END,
		       CASE k WHEN 1 THEN current_date + 5 WHEN 2 THEN current_date - 3 END
		FROM (SELECT s.*, abs(hashtext(s.id::text)) % 5 AS k FROM staff s) s;
		ANALYZE;`)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// report adds the p50 and p99 of times to the benchmark's figures.
func report(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkCourierEligibility measures the bearer check a courier sheet runs
// (staff record, position, passport, every conflict source) for couriers
// drawn from 10,000; the sheet's 20 bags add only their highest level, which
// Issue computes while it locks them, so the check's cost does not grow with
// them. It reports p50 and p99.
//
//	go test -run '^$' -bench CourierEligibility -benchtime 200x ./personnel
func BenchmarkCourierEligibility(b *testing.B) {
	d := passportWorld(b)
	ctx := context.Background()
	var ids []string
	rows, err := d.Pool.Query(ctx, `SELECT id::text FROM users ORDER BY username LIMIT 500`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	from := time.Now()
	until := from.Add(72 * time.Hour)
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := personnel.CourierEligibility(ctx, d.Pool, ids[i%len(ids)], from, until); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	report(b, times)
}

// BenchmarkPassportAlerts10k measures the passport alert source (surrender
// overdue, expiry ahead, preparation overdue) over 10,000 staff with a
// passport each; it reports the alerts found, p50 and p99.
//
//	go test -run '^$' -bench PassportAlerts10k -benchtime 20x ./personnel
func BenchmarkPassportAlerts10k(b *testing.B) {
	d := passportWorld(b)
	ctx := context.Background()
	as, err := personnel.PassportAlerts(ctx, d.Pool, nil, time.Now())
	if err != nil || len(as) == 0 {
		b.Fatalf("%v %d", err, len(as))
	}
	b.ReportMetric(float64(len(as)), "alerts")
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := personnel.PassportAlerts(ctx, d.Pool, nil, time.Now()); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	report(b, times)
}
