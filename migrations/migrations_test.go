package migrations_test

import (
	"context"
	"testing"
	"time"

	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestOneHistoryOutlastsTheStatementTimeout: 00403 writes one event per
// existing bag, which on a real registry takes longer than the connection's
// statement timeout (30 s at about 50,000 bags, measured). Here the timeout
// is cut to half a second over a few thousand bags: the migration lifts it
// for its own transaction and completes. (The test cannot fail for being
// slow: only 00403's own work is long, and it runs without the timeout.)
func TestOneHistoryOutlastsTheStatementTimeout(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Empty(t)
	m, err := migrations.New(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpTo(ctx, 402); err != nil {
		t.Fatal(err)
	}
	m.Close()
	const bags = 3000
	if _, err := d.Pool.Exec(ctx, `INSERT INTO units (code, name, kind, country)
		VALUES ('MFA', 'MFA', 'ministry', 'KZ'), ('DE-BER', 'Berlin', 'embassy', 'DE')`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `INSERT INTO bags (registry_number, origin_id, destination_id, route_codes, state)
		SELECT 'MFA-2026-' || lpad(g::text, 6, '0'), (SELECT id FROM units WHERE code = 'MFA'),
		       (SELECT id FROM units WHERE code = 'DE-BER'), '{MFA,DE-BER}', 'sealed'
		  FROM generate_series(1, $1::int) g`, bags); err != nil {
		t.Fatal(err)
	}
	short, err := db.Open(ctx, d.URL, db.Options{MaxConns: 2, StatementTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	m, err = migrations.New(short)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrating %d bags under a 500 ms statement timeout: %v", bags, err)
	}
	var n int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM bag_events WHERE kind = 'history_migrated'`).Scan(&n); err != nil || n != bags {
		t.Fatalf("%d history_migrated events (%v), want %d", n, err, bags)
	}
}
