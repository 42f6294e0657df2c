package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestAuditVerifyNamesHandEditedRows: `valise audit verify` on a generated
// history whose current-state tables were edited by hand (triggers off)
// exits 1 and names each row that disagrees with the history — the first
// 100 of them, then how many more.
func TestAuditVerifyNamesHandEditedRows(t *testing.T) {
	d, key := generated(t, 1500) // 150 bags, each ending stored at DE-BER
	ctx := context.Background()
	args := []string{"audit", "verify", "--database-url=" + d.URL, "--key", key.VerifierKey}
	if code, out, errs := runCmd(t, args...); code != 0 || !strings.Contains(out, "150 bag chains, 1500 events linked and replayed") {
		t.Fatalf("honest history = %d %q %q", code, out, errs)
	}
	var bag, reg string
	var last int64
	if err := d.Pool.QueryRow(ctx, `SELECT b.id, b.registry_number, max(e.id) FROM bags b JOIN bag_events e ON e.bag_id = b.id
		GROUP BY b.id ORDER BY b.id LIMIT 1`).Scan(&bag, &reg, &last); err != nil {
		t.Fatal(err)
	}
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`ALTER TABLE bag_custody DISABLE TRIGGER ALL`,
		`UPDATE bag_custody SET custodian_unit = 'MFA' WHERE bag_id = '` + bag + `'`,
		`ALTER TABLE bag_custody ENABLE TRIGGER ALL`} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	conn.Release()
	code, out, _ := runCmd(t, args...)
	want := fmt.Sprintf(`bag %s (%s): bag_custody.custodian_unit is "MFA", the history gives "DE-BER" (last event %d)`, bag, reg, last)
	if code != 1 || !strings.Contains(out, "INCONSISTENT: 1 rows disagree with the bags' history:\n  "+want+"\n") {
		t.Fatalf("one custodian edited = %d %q, want %q", code, out, want)
	}

	conn, err = d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`ALTER TABLE bags DISABLE TRIGGER ALL`, `UPDATE bags SET state = 'delivered'`, `ALTER TABLE bags ENABLE TRIGGER ALL`} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	conn.Release()
	code, out, _ = runCmd(t, args...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || lines[0] != "INCONSISTENT: 151 rows disagree with the bags' history:" || len(lines) != 102 ||
		lines[101] != "  ... and 51 more" || !strings.Contains(out, fmt.Sprintf(`bag %s (%s): bags.state is "delivered", the history gives "stored" (last event %d)`, bag, reg, last)) {
		t.Fatalf("every state edited = %d, %d lines:\n%s", code, len(lines), out)
	}
}
