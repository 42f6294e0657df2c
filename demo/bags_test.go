package demo_test

import (
	"context"
	"testing"

	"valise/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestDemoMail loads the demo twice and checks that the bags stand where the
// demo says, on the three routes, with their sheets, incidents and events
// written through the lifecycle (each event a custody log leaf).
func TestDemoMail(t *testing.T) {
	t.Parallel()
	d := loadedTwice(t)
	ctx := context.Background()
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
	// Every bag past assembly carries one signed seal per package, every
	// sheet a signed QR, and the revoked sheet's QR is revoked.
	var unsealed, unsigned, revokedQR int
	err = d.Pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM bags b WHERE b.package_count IS NOT NULL AND b.package_count <>
			(SELECT count(*) FROM seals s WHERE s.bag_id = b.id AND s.superseded_at IS NULL)),
		(SELECT count(*) FROM courier_sheets cs WHERE NOT EXISTS (SELECT 1 FROM seals s WHERE s.bag_id = cs.id)),
		(SELECT count(*) FROM courier_sheets cs JOIN seals s ON s.bag_id = cs.id JOIN seal_revocations r USING (serial)
			WHERE cs.status = 'revoked')`).Scan(&unsealed, &unsigned, &revokedQR)
	if err != nil {
		t.Fatal(err)
	}
	if unsealed != 0 || unsigned != 0 || revokedQR != 1 {
		t.Errorf("bags without their seals %d, sheets without a signed QR %d, revoked sheet QRs %d (want 0, 0, 1)", unsealed, unsigned, revokedQR)
	}
	if sheets != 5 || revoked != 1 || incidents != 1 || awaiting != 1 || unlogged != 0 || overdue != 1 {
		t.Fatalf("sheets %d (revoked %d), incidents %d, awaiting agreement %d, events without a log leaf %d, overdue %d",
			sheets, revoked, incidents, awaiting, unlogged, overdue)
	}
}
