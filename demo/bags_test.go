package demo_test

import (
	"context"
	"testing"

	"valise/demo"
	"valise/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestDemoMail loads the demo twice and checks that the bags stand where the
// demo says, on the three routes, with their sheets, incidents and events
// written through the lifecycle (each event a custody log leaf).
func TestDemoMail(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for range 2 {
		if _, err := demo.Load(ctx, d.Pool, demo.Options{Password: "demo-password-1"}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		"MFA DE-BER stored": "1", "MFA DE-BER in_transit": "1", "MFA JP-TYO assembling": "1",
		"MFA JP-TYO missing": "1", "DE-BER MFA delivered": "1",
	}
	rows, err := d.Pool.Query(ctx, `SELECT o.code || ' ' || d.code || ' ' || b.state, count(*)::text FROM bags b
		JOIN units o ON o.id = b.origin_id JOIN units d ON d.id = b.destination_id GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		got[k] = v
	}
	if len(got) != len(want) {
		t.Fatalf("demo bags %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s bags, want %s", k, got[k], v)
		}
	}
	var sheets, revoked, incidents, awaiting, unlogged, overdue int
	err = d.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM courier_sheets), (SELECT count(*) FROM courier_sheets WHERE status = 'revoked'),
		(SELECT count(*) FROM incidents), (SELECT count(*) FROM loss_reports WHERE status = 'awaiting_agreement'),
		(SELECT count(*) FROM bag_events e WHERE NOT EXISTS (SELECT 1 FROM tlog_entries l WHERE l.id = e.log_entry)),
		(SELECT count(*) FROM bags WHERE due_at < now() AND state = 'in_transit')`).
		Scan(&sheets, &revoked, &incidents, &awaiting, &unlogged, &overdue)
	if err != nil {
		t.Fatal(err)
	}
	if sheets != 5 || revoked != 1 || incidents != 1 || awaiting != 1 || unlogged != 0 || overdue != 1 {
		t.Fatalf("sheets %d (revoked %d), incidents %d, awaiting agreement %d, events without a log leaf %d, overdue %d",
			sheets, revoked, incidents, awaiting, unlogged, overdue)
	}
}
