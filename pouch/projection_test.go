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

// TestOneStatementManyEvents: events of several bags written by one INSERT
// (a phone's run of scans is one such statement, migration 00430) project
// like one INSERT each: every bag's state and custodian are those after
// its last event, its version counts every event, and the custodian's
// since_event is the event that made that custodian so.
func TestOneStatementManyEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	pool := w.svc.Pool()
	a, b := w.dispatchedBag("many-a"), w.dispatchedBag("many-b")
	version := func(id string) (v int64, state, unit string, since int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT b.version, b.state, c.custodian_unit, c.since_event FROM bags b
			JOIN bag_custody c ON c.bag_id = b.id WHERE b.id = $1`, id).Scan(&v, &state, &unit, &since); err != nil {
			t.Fatal(err)
		}
		return
	}
	va, _, _, sinceA := version(a.ID)
	vb, _, _, _ := version(b.ID)
	// Bag a: a scan, a hand-over to the Berlin registry, a scan there.
	// Bag b: two scans. One statement; each row a copy of its bag's last
	// event with its own id, link and custodian after it.
	var ids []int64
	rows, err := pool.Query(ctx, `
		WITH last AS (SELECT DISTINCT ON (bag_id) * FROM bag_events WHERE bag_id IN ($1, $2) ORDER BY bag_id, id DESC),
		plan (bag_id, n, unit, to_state) AS (VALUES ($1::uuid, 1, '', ''), ($1, 2, 'DE-BER', 'delivered'), ($1, 3, 'DE-BER', 'delivered'),
		                                           ($2::uuid, 1, '', ''), ($2, 2, '', ''))
		INSERT INTO bag_events (id, bag_id, kind, stage, from_state, to_state, actor_id, actor_username, actor_unit, place, reason,
		                        data, occurred_at, recorded_at, log_entry, prev_hash, leaf_hash, custody, custodian_before, custodian_after)
		SELECT nextval(pg_get_serial_sequence('bag_events', 'id')), l.bag_id, 'checkpoint_scan', l.stage, l.to_state,
		       coalesce(nullif(p.to_state, ''), l.to_state), l.actor_id, l.actor_username, l.actor_unit, '', '', '{}',
		       now(), now(), l.log_entry, sha256(l.leaf_hash || p.n::text::bytea), sha256(l.leaf_hash || p.n::text::bytea || 'x'),
		       NULL, l.custodian_after,
		       CASE WHEN p.unit = '' THEN l.custodian_after ELSE jsonb_build_object('kind', 'registry', 'unit', p.unit) END
		FROM plan p JOIN last l USING (bag_id) ORDER BY p.bag_id, p.n
		RETURNING id`, a.ID, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Err() != nil || len(ids) != 5 {
		t.Fatalf("inserted %v: %v", ids, rows.Err())
	}
	var handOver int64
	if err := pool.QueryRow(ctx, `SELECT min(id) FROM bag_events WHERE bag_id = $1 AND custodian_after->>'unit' = 'DE-BER'`, a.ID).Scan(&handOver); err != nil {
		t.Fatal(err)
	}
	v, state, unit, since := version(a.ID)
	if v != va+3 || state != "delivered" || unit != "DE-BER" || since != handOver {
		t.Errorf("bag a after one statement: version %d (was %d), %s, held by %q since event %d; want +3, delivered, DE-BER since %d",
			v, va, state, unit, since, handOver)
	}
	if since == sinceA {
		t.Errorf("bag a's custodian since_event did not move")
	}
	v, state, _, _ = version(b.ID)
	if v != vb+2 || state != string(pouch.Dispatched) {
		t.Errorf("bag b after one statement: version %d (was %d), %s; want +2, still dispatched", v, vb, state)
	}
	// One bag's run alone (the statement a phone's batch writes): a
	// hand-over to the Tokyo registry between two scans.
	vb, _, _, _ = version(b.ID)
	if _, err := pool.Exec(ctx, `
		WITH last AS (SELECT * FROM bag_events WHERE bag_id = $1 ORDER BY id DESC LIMIT 1),
		plan (n, unit) AS (VALUES (11, ''), (12, 'JP-TYO'), (13, 'JP-TYO'))
		INSERT INTO bag_events (id, bag_id, kind, stage, from_state, to_state, actor_id, actor_username, actor_unit, place, reason,
		                        data, occurred_at, recorded_at, log_entry, prev_hash, leaf_hash, custody, custodian_before, custodian_after)
		SELECT nextval(pg_get_serial_sequence('bag_events', 'id')), l.bag_id, 'checkpoint_scan', l.stage, l.to_state, l.to_state,
		       l.actor_id, l.actor_username, l.actor_unit, '', '', '{}', now(), now(), l.log_entry,
		       sha256(l.leaf_hash || p.n::text::bytea), sha256(l.leaf_hash || p.n::text::bytea || 'x'), NULL, l.custodian_after,
		       CASE WHEN p.unit = '' THEN l.custodian_after ELSE jsonb_build_object('kind', 'registry', 'unit', p.unit) END
		FROM plan p CROSS JOIN last l ORDER BY p.n`, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT min(id) FROM bag_events WHERE bag_id = $1 AND custodian_after->>'unit' = 'JP-TYO'`, b.ID).Scan(&handOver); err != nil {
		t.Fatal(err)
	}
	v, _, unit, since = version(b.ID)
	if v != vb+3 || unit != "JP-TYO" || since != handOver {
		t.Errorf("bag b after its own run: version %d (was %d), held by %q since event %d; want +3, JP-TYO since %d", v, vb, unit, since, handOver)
	}
}
