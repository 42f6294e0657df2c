package pouch_test

import (
	"bytes"
	"context"
	"testing"

	"valise/pouch"
	"valise/tlog"
)

// TestEventsStoredOnce: an event's row regenerates its leaf, so the log
// keeps only its hash (and the default custody block is not stored); an
// event whose JSON jsonb would rewrite (an exponent, a negative zero, keys
// in any order) keeps its bytes in the log; and every event's bytes, kept or
// regenerated, hash to the leaf hash the log kept.
func TestEventsStoredOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	pool := w.svc.Pool()
	b := w.dispatchedBag("once")
	hist, _ := pouch.History(ctx, pool, b.ID)
	dispatch := hist[len(hist)-1]
	for _, data := range []string{`{"z":1,"a":{"y":"<&>","b":[1.50,-2]},"m":"é"}`, `{"n":1e3}`, `{"n":-0}`} {
		ev, err := w.svc.Correct(ctx, w.clerk, b.ID, pouch.CorrectionInput{EventID: dispatch.ID, Reason: "incorrect_data",
			Note: "data " + data, Data: []byte(data)}, w.check(w.clerk))
		if err != nil {
			t.Fatal(err)
		}
		var kept bool
		if err := pool.QueryRow(ctx, `SELECT leaf IS NOT NULL FROM tlog_entries WHERE id = $1`, *ev.LogEntry).Scan(&kept); err != nil {
			t.Fatal(err)
		}
		if want := data != `{"z":1,"a":{"y":"<&>","b":[1.50,-2]},"m":"é"}`; kept != want {
			t.Errorf("data %s: the log keeps the bytes = %v, want %v", data, kept, want)
		}
	}
	var defaults int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM bag_events WHERE bag_id = $1 AND custody IS NULL`, b.ID).Scan(&defaults); err != nil || defaults == 0 {
		t.Fatalf("%d events store no custody block (%v): the default one should not be stored", defaults, err)
	}
	all, err := pouch.History(ctx, pool, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		var leaf, hash []byte
		if err := pool.QueryRow(ctx, `SELECT leaf, leaf_hash FROM tlog_entries WHERE id = $1`, *e.LogEntry).Scan(&leaf, &hash); err != nil {
			t.Fatal(err)
		}
		if leaf == nil {
			got, err := pouch.LeafSource.LeafBytes(ctx, pool, []tlog.EntryID{tlog.EntryID(*e.LogEntry)})
			if err != nil {
				t.Fatal(err)
			}
			leaf = got[0]
		}
		if !bytes.Equal(tlog.LeafHash(leaf), hash) || len(e.Custody) == 0 {
			t.Fatalf("event %d (%s): its bytes %s do not hash to the logged leaf, or it reads no custody block", e.ID, e.Kind, leaf)
		}
	}
}
