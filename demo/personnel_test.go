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
	if pending != 1 || family != 5 || withMC != 1 { // the ambassador's spouse is the fifth (demo/personnel_passports.go)
		t.Fatalf("pending %d, family %d (with a medical conclusion %d)", pending, family, withMC)
	}
}

// TestDemoPassports: passports in every state, the ambassador's spouse on
// the lifelong right, the demo career courier eligible and the courier on
// leave refused for that reason (issue 15).
func TestDemoPassports(t *testing.T) {
	t.Parallel()
	d := loadedTwice(t)
	ctx := context.Background()
	var states string
	if err := d.Pool.QueryRow(ctx, `SELECT string_agg(DISTINCT CASE WHEN surrender_due < current_date THEN 'overdue'
		WHEN surrender_due IS NOT NULL THEN 'due' ELSE status END, ',') FROM passports`).Scan(&states); err != nil {
		t.Fatal(err)
	}
	if states != "destroyed,due,in_archive,issued,lost,overdue" {
		t.Fatalf("passport states: %s", states)
	}
	var lifelong int
	_ = d.Pool.QueryRow(ctx, `SELECT count(*) FROM passports p JOIN family_members f ON f.id = p.family_member_id
		WHERE f.relation = 'spouse' AND p.basis = 'lifelong' AND p.status = 'issued'`).Scan(&lifelong)
	if lifelong != 1 {
		t.Fatalf("the ambassador's spouse: %d", lifelong)
	}
	// Holders outside the diplomatic service: a deputy (DL-21), a military attaché and his child (DL-29).
	var outside string
	_ = d.Pool.QueryRow(ctx, `SELECT string_agg(p.basis || ':' || h.position, ',' ORDER BY h.full_name) FROM passports p
		JOIN passport_holders h ON h.id = p.holder_id WHERE p.status = 'issued'`).Scan(&outside)
	if outside != "dl_21:Deputy of the Mazhilis,dl_29:-,dl_29:Military attaché at the Embassy in Berlin" {
		t.Fatalf("holders outside the service: %s", outside)
	}
	// The blank-form ledger: every demo passport is on a received form; one spoiled form and the destroyed
	// passport's form are destroyed by the act.
	var untraced, destroyed, issued int
	_ = d.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM passports p WHERE number IS NOT NULL AND NOT EXISTS (SELECT 1 FROM passport_blanks b WHERE b.passport_id = p.id)),
		(SELECT count(*) FROM passport_blanks WHERE status = 'destroyed'), (SELECT count(*) FROM passport_blanks WHERE status = 'issued')`).Scan(&untraced, &destroyed, &issued)
	if untraced != 0 || destroyed != 2 || issued == 0 {
		t.Fatalf("blank ledger: %d passports untraced, %d forms destroyed, %d issued", untraced, destroyed, issued)
	}
	as, err := personnel.PassportAlerts(ctx, d.Pool, nil, time.Now())
	if err != nil || len(as) == 0 {
		t.Fatalf("alerts: %v %v", as, err)
	}
	check := func(user string) personnel.Eligibility {
		var uid string
		if err := d.Pool.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, user).Scan(&uid); err != nil {
			t.Fatal(err)
		}
		el, err := personnel.CourierEligibility(ctx, d.Pool, uid, time.Now(), time.Now().Add(72*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return el
	}
	if el := check("courier"); len(el.Failures) != 0 || el.Passport == nil {
		t.Fatalf("the demo career courier: %+v", el)
	}
	if el := check(demo.DemoLeaveCourierAcc); len(el.Failures) != 1 || el.Failures[0].Condition != "conflict_leave" {
		t.Fatalf("the courier on leave: %+v", el)
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
