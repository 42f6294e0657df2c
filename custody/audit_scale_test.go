package custody_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"valise/custody"
	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/internal/historygen"
	"valise/pouch"
	"valise/tlog"
)

// rowCounter is a query tracer that keeps, per statement text, the most
// rows one execution returned.
type rowCounter struct {
	mu  sync.Mutex
	max map[string]int64
}

type sqlKey struct{}

func (c *rowCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, sqlKey{}, d.SQL)
}

func (c *rowCounter) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	sql, _ := ctx.Value(sqlKey{}).(string)
	if !strings.HasPrefix(d.CommandTag.String(), "SELECT") {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := d.CommandTag.RowsAffected(); n > c.max[sql] {
		c.max[sql] = n
	}
}

// TestAuditReadsInPages: both audits of a 20,000-event history, read in
// pages of 500 rows, pass and no statement returns more than a page,
// whatever the size of the log: memory and statement time are bounded by
// the page, not the log.
func TestAuditReadsInPages(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 20,000 events")
	}
	d := dbtest.New(t)
	ctx := context.Background()
	key, err := historygen.Prepare(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	const events, page = 20000, 500
	if _, err := historygen.Generate(ctx, d.Pool, historygen.Options{Events: events, Chunk: 4000, Key: key}); err != nil {
		t.Fatal(err)
	}
	rc := &rowCounter{max: map[string]int64{}}
	pool, err := db.Open(ctx, d.URL, db.Options{MaxConns: 2, Tracer: rc})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	o := tlog.AuditOptions{PageSize: page, Leaves: pouch.LeafSource}
	r, err := tlog.AuditWith(ctx, tx, key.Verifier, o)
	if err != nil || !r.OK() || r.Leaves != events || r.Checkpoints != 5 {
		t.Fatalf("log audit = %+v %v %v", r, r.Problem, err)
	}
	cr, err := custody.AuditChainsWith(ctx, tx, o)
	if err != nil || !cr.OK() || cr.Events != events || cr.Bags != events/10 {
		t.Fatalf("chain audit = %+v %v", cr, err)
	}
	if len(rc.max) < 8 {
		t.Fatalf("traced only %d statements", len(rc.max))
	}
	for sql, n := range rc.max {
		if n > page {
			t.Errorf("a statement returned %d rows (page %d): %s", n, page, sql)
		}
	}
}
