package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"valise"
	"valise/internal/db"
	"valise/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestClassify: every way the database can be away or too busy becomes
// EUNAVAILABLE (503), found through any wrapping; a query that fails on its
// merits stays what it is.
func TestClassify(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	// A real session terminated by the server, as at shutdown (57P01).
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	_, terminated := conn.Exec(ctx, `SELECT 1`)
	conn.Release()
	// A closed pool, as during shutdown.
	closed := dbtest.New(t).Pool
	closed.Close()
	_, closedErr := closed.Exec(ctx, `SELECT 1`)
	// A statement that fails on its merits.
	_, syntax := d.Pool.Exec(ctx, `SELECT nonsense FROM nowhere`)

	for _, tc := range []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"terminated session", terminated, true},
		{"closed pool", closedErr, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"serialization retries exhausted", fmt.Errorf("gave up: %w", &pgconn.PgError{Code: "40001"}), true},
		{"unexpected EOF", fmt.Errorf("record hand-off: %w", io.ErrUnexpectedEOF), true},
		{"connection reset", fmt.Errorf("claim: %w", syscall.ECONNRESET), true},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"request deadline", context.DeadlineExceeded, true},
		{"undefined table", syntax, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"a bug", errors.New("nil map"), false},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error to classify", tc.name)
			continue
		}
		got := valise.ErrorCode(db.Classify(tc.err)) == valise.EUNAVAILABLE
		if got != tc.unavailable {
			t.Errorf("%s (%v): unavailable = %v, want %v", tc.name, tc.err, got, tc.unavailable)
		}
	}
	// An application error passes through even if it looks like an outage.
	if e := valise.Errorf(valise.ECONFLICT, "x"); db.Classify(e) != e {
		t.Error("Classify replaced an application error")
	}
}

// TestScope: inside a Scope, InTx calls share one transaction that only the
// scope's owner commits; a failing call rolls back its own work only; a
// serialization failure dooms the scope and asks for a retry.
func TestScope(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `CREATE TABLE scoped (n int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		_ = d.Pool.QueryRow(ctx, `SELECT count(*) FROM scoped`).Scan(&n)
		return n
	}
	insert := func(n int) func(pgx.Tx) error {
		return func(tx pgx.Tx) error { _, err := tx.Exec(ctx, `INSERT INTO scoped VALUES ($1)`, n); return err }
	}
	began := 0
	sc := db.NewScope(d.Pool, func(ctx context.Context, tx pgx.Tx) error { began++; return insert(0)(tx) })
	sctx := db.WithScope(ctx, sc)
	if err := db.InTx(sctx, d.Pool, insert(1)); err != nil {
		t.Fatal(err)
	}
	refused := valise.Errorf(valise.ECONFLICT, "no")
	if err := db.InTx(sctx, d.Pool, func(tx pgx.Tx) error { _ = insert(2)(tx); return refused }); err != refused {
		t.Fatalf("a refusal inside the scope = %v", err)
	}
	if err := db.InTxOpts(sctx, d.Pool, db.ReadCommitted, insert(3)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d rows visible before the scope committed", n)
	}
	if err := sc.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var got []int
	rows, _ := d.Pool.Query(ctx, `SELECT n FROM scoped ORDER BY n`)
	got, _ = pgx.CollectRows(rows, pgx.RowTo[int])
	if fmt.Sprint(got) != "[0 1 3]" || began != 1 {
		t.Fatalf("committed %v (OnBegin ran %d times), want [0 1 3] once", got, began)
	}
	// A serialization failure dooms the scope: later calls fail at once.
	sc = db.NewScope(d.Pool, nil)
	sctx = db.WithScope(ctx, sc)
	err := db.InTx(sctx, d.Pool, func(tx pgx.Tx) error { return &pgconn.PgError{Code: "40001"} })
	if valise.ErrorCode(err) != valise.EUNAVAILABLE || !sc.Retry() {
		t.Fatalf("serialization failure in a scope = %v, retry %v", err, sc.Retry())
	}
	if err := db.InTx(sctx, d.Pool, insert(9)); err == nil {
		t.Fatal("a doomed scope ran another call")
	}
	sc.Rollback(ctx)
	if n := count(); n != 3 {
		t.Fatalf("%d rows after the rolled-back scope, want 3", n)
	}
}
