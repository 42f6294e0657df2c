package custody_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"valise/custody"
	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/internal/historygen"
	"valise/pouch"
	"valise/tlog"
)

// queryCounter counts the statements a pool sends.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// agedBags is a database holding one bag of each of the given ages (events
// per bag), bulk-loaded (historygen), and a pool on it counting statements.
func agedBags(t testing.TB, ages ...int) (map[int]string, *pgxpool.Pool, *queryCounter, *tlog.Key) {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	key, err := historygen.Prepare(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	bags := map[int]string{}
	for _, n := range ages {
		if _, err := historygen.Generate(ctx, d.Pool, historygen.Options{Events: n, PerBag: n, Key: key}); err != nil {
			t.Fatal(err)
		}
		var id string
		if err := d.Pool.QueryRow(ctx, `SELECT bag_id::text FROM bag_events GROUP BY bag_id HAVING count(*) = $1`, n).Scan(&id); err != nil {
			t.Fatal(err)
		}
		bags[n] = id
	}
	qc := &queryCounter{}
	pool, err := db.Open(ctx, d.URL, db.Options{MaxConns: 2, Tracer: qc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return bags, pool, qc, key
}

// TestTrailPagesCostTheSame: a bag of 1,000 events is read in pages of 50
// with the same number of statements for every page (none per event), each
// event's leaf hashing to its leaf hash and its inclusion proof verifying
// against the page's signed checkpoint, and the chain holding across pages;
// a bag of 10 events is one page with no cursor.
func TestTrailPagesCostTheSame(t *testing.T) {
	bags, pool, qc, key := agedBags(t, 10, 1000)
	ctx := context.Background()
	svc := custody.New(pool)
	per := int64(-1)
	var after, lastID int64
	seen, pages := 0, 0
	for {
		before := qc.n.Load()
		tr, err := svc.BagTrail(ctx, bags[1000], after, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := qc.n.Load() - before
		if per >= 0 && n != per {
			t.Fatalf("page %d took %d statements, the first %d", pages, n, per)
		}
		per = n
		pages++
		cp, _, err := tlog.OpenCheckpoint([]byte(tr.Checkpoint), key.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tr.Events {
			if e.ID <= lastID || !e.ChainOK || e.Index == nil {
				t.Fatalf("event %d after %d: chain_ok %v, index %v", e.ID, lastID, e.ChainOK, e.Index)
			}
			if !bytes.Equal(tlog.LeafHash(e.Leaf), e.LeafHash) {
				t.Fatalf("event %d: its leaf does not hash to its leaf hash", e.ID)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, *e.Index, cp.Size, e.LeafHash, e.Proof, cp.Root); err != nil {
				t.Fatalf("event %d: %v", e.ID, err)
			}
			lastID = e.ID
			seen++
		}
		if tr.After == 0 {
			break
		}
		if len(tr.Events) != 50 || tr.After != lastID {
			t.Fatalf("page %d: %d events, after %d", pages, len(tr.Events), tr.After)
		}
		after = tr.After
	}
	if seen != 1000 || pages != 20 {
		t.Fatalf("read %d events in %d pages", seen, pages)
	}
	t.Logf("%d statements per page of 50 events", per)
	before := qc.n.Load()
	tr, err := svc.BagTrail(ctx, bags[10], 0, 0)
	if err != nil || len(tr.Events) != 10 || tr.After != 0 {
		t.Fatalf("10-event bag: %v, %d events, after %d", err, len(tr.Events), tr.After)
	}
	if n := qc.n.Load() - before; n != per {
		t.Fatalf("the 10-event bag's page took %d statements, a 1,000-event bag's %d", n, per)
	}
}

// BenchmarkTrailPage: one page of 50 events with their proofs costs about
// the same on a bag of 10 events and on a bag of 1,000 (first page, last
// page):
//
//	go test ./custody -run '^$' -bench TrailPage
func BenchmarkTrailPage(b *testing.B) {
	bags, pool, _, _ := agedBags(b, 10, 1000)
	ctx := context.Background()
	svc := custody.New(pool)
	var last int64
	if err := pool.QueryRow(ctx, `SELECT id FROM bag_events WHERE bag_id = $1 ORDER BY id OFFSET 949 LIMIT 1`, bags[1000]).Scan(&last); err != nil { // the last 50 follow it
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		bag   string
		after int64
		limit int
	}{
		{"events=10/page=10", bags[10], 0, 0},
		{"events=1000/first/page=10", bags[1000], 0, 10},
		{"events=1000/last/page=10", bags[1000], last + 40, 10},
		{"events=1000/first/page=50", bags[1000], 0, 0},
		{"events=1000/last/page=50", bags[1000], last, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				tr, err := svc.BagTrail(ctx, c.bag, c.after, c.limit)
				if err != nil || len(tr.Events) == 0 {
					b.Fatal(err, fmt.Sprint(len(tr.Events)))
				}
			}
		})
	}
}

// TestRegeneratedLeavesAreTheLoggedOnes: the log keeps only the hash of a
// bag event stored once, and every reader that serves its bytes (the log's
// leaves, the leaves with their bags, a receipt) gives bytes that hash to
// the leaf the checkpoint commits to; a receipt verifies offline.
func TestRegeneratedLeavesAreTheLoggedOnes(t *testing.T) {
	_, pool, _, key := agedBags(t, 10)
	ctx := context.Background()
	var kept int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tlog_entries WHERE leaf IS NOT NULL`).Scan(&kept); err != nil || kept != 0 {
		t.Fatalf("%d entries keep their bytes (%v), want none", kept, err)
	}
	hashes, err := tlog.LeafHashes(ctx, pool, 0, 10)
	if err != nil || len(hashes) != 10 {
		t.Fatalf("leaf hashes: %d, %v", len(hashes), err)
	}
	leaves, err := tlog.Leaves(ctx, pool, 0, 10, pouch.LeafSource)
	if err != nil {
		t.Fatal(err)
	}
	logged, err := pouch.LogLeaves(ctx, pool, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range hashes {
		if !bytes.Equal(tlog.LeafHash(leaves[i]), hashes[i]) || !bytes.Equal(logged[i].Leaf, leaves[i]) || !logged[i].Known {
			t.Fatalf("leaf %d: regenerated bytes do not hash to the logged leaf: %s", i, leaves[i])
		}
	}
	var entry int64
	if err := pool.QueryRow(ctx, `SELECT entry_id FROM tlog_index WHERE idx = 7`).Scan(&entry); err != nil {
		t.Fatal(err)
	}
	rec, idx, err := tlog.EntryReceipt(ctx, pool, tlog.EntryID(entry), pouch.LeafSource)
	if err != nil || idx != 7 {
		t.Fatalf("receipt: %d, %v", idx, err)
	}
	v, err := tlog.VerifyReceipt(rec, nil, key.Verifier)
	if err != nil || !bytes.Equal(v.Extra, leaves[7]) {
		t.Fatalf("receipt does not verify with the regenerated leaf: %v", err)
	}
	// Without the source the bytes are not there to serve.
	if _, _, err := tlog.EntryReceipt(ctx, pool, tlog.EntryID(entry), nil); err == nil {
		t.Fatal("a receipt without the leaf source")
	}
}
