package pouch_test

import (
	"context"
	"strings"
	"testing"

	"valise/pouch"
)

// TestStateAndCustodianOnlyFromHistory: a bag's state and custodian are
// the projection of its last event; the database refuses to change them
// any other way, so a direct UPDATE (a bug, or a hand in psql) cannot make
// the current-state tables disagree with the history.
func TestStateAndCustodianOnlyFromHistory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	b := w.dispatchedBag("guard")
	pool := w.svc.Pool()
	before := w.snapshot()
	for _, q := range []string{
		`UPDATE bags SET state = 'accepted' WHERE id = $1`,
		`UPDATE bags SET version = version + 1 WHERE id = $1`,
		`UPDATE bag_custody SET custodian_unit = 'DE-BER' WHERE bag_id = $1`,
		`UPDATE bag_custody SET custodian_kind = 'registry', custodian_user = NULL, custodian_username = NULL WHERE bag_id = $1`,
	} {
		_, err := pool.Exec(ctx, q, b.ID)
		if err == nil || !strings.Contains(err.Error(), "derived from its history") {
			t.Errorf("%s: %v, want the guard's refusal", q, err)
		}
	}
	if after := w.snapshot(); after != before {
		t.Fatalf("a refused UPDATE changed the database:\n%s\n---\n%s", before, after)
	}
	var custodian string
	if err := pool.QueryRow(ctx, `SELECT custodian_username FROM bag_custody WHERE bag_id = $1`, b.ID).Scan(&custodian); err != nil {
		t.Fatal(err)
	}
	got, err := w.svc.Get(ctx, b.ID, w.check(w.sec))
	if err != nil || got.State != pouch.Dispatched || custodian != "courier1" {
		t.Fatalf("after the refused UPDATEs: %v %v, held by %s", got, err, custodian)
	}
	// The bag's descriptive columns are not the history's: they may change.
	if _, err := pool.Exec(ctx, `UPDATE bags SET due_at = now() WHERE id = $1`, b.ID); err != nil {
		t.Fatalf("due date: %v", err)
	}
}
