package demo_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"valise/demo"
	"valise/internal/dbtest"
	"valise/personnel"
	"valise/policy"
)

// TestDemoPersonnel loads the demo twice and checks the personnel data the
// issue asks for: about forty staff of both kinds holding all eleven ranks in
// the ministry and three foreign institutions, one attaché a day short of the
// minimum time, a rank delay running, a pending dismissal, family with and
// without medical conclusions.
func TestDemoPersonnel(t *testing.T) {
	t.Parallel()
	d := loadedTwice(t)
	ctx := context.Background()
	var staff, kinds, ranks, units int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT staff_kind), (SELECT count(DISTINCT rank) FROM staff_ranks),
		(SELECT count(DISTINCT unit_id) FROM staff_positions) FROM staff`).Scan(&staff, &kinds, &ranks, &units); err != nil {
		t.Fatal(err)
	}
	if staff < 38 || staff > 45 || kinds != 2 || ranks != 11 || units != 5 { // MFA, its courier service, three institutions
		t.Fatalf("staff %d, kinds %d, ranks %d, units %d", staff, kinds, ranks, units)
	}
	svc := personnel.New(d.Pool)
	by := policy.Subject{Username: "t"}
	today := personnel.Today(time.Now())
	isIn := func(on personnel.Date, number string) bool {
		el, err := svc.EligibleOn(ctx, policy.Scope{All: true}, by, on)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range el {
			if e.PersonnelNumber == number {
				return true
			}
		}
		return false
	}
	if isIn(today, demo.DemoShortStaff) || !isIn(today.AddDate(0, 0, 1), demo.DemoShortStaff) {
		t.Fatal("the attaché is not one day short of the minimum time in rank")
	}
	if isIn(today, demo.DemoDelayedStaff) {
		t.Fatal("the rank delay does not run")
	}
	var pending, family, withMC int
	_ = d.Pool.QueryRow(ctx, `SELECT count(*) FROM staff WHERE terminated_on > current_date`).Scan(&pending)
	_ = d.Pool.QueryRow(ctx, `SELECT count(*), count(medical_conclusion) FROM family_members`).Scan(&family, &withMC)
	if pending != 1 || family != 4 || withMC != 1 {
		t.Fatalf("pending %d, family %d (with a medical conclusion %d)", pending, family, withMC)
	}
}

// loadedTwice is a database with the demo loaded twice (the second load must change nothing).
func loadedTwice(t *testing.T) *dbtest.Database {
	t.Helper()
	d := dbtest.New(t)
	for range 2 {
		if _, err := demo.Load(context.Background(), d.Pool, demo.Options{Password: "demo-password-1", MasterKey: bytes.Repeat([]byte{7}, 32)}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}
