package tlog_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/tlog"
)

// Benchmarks (not part of the default run):
//
//	go test ./tlog -run '^$' -bench . -benchtime 5s
//
// BenchmarkAppend and BenchmarkRawInsert run the same shape of work (one
// transaction, one inserted row) from 64 connections on the same database,
// so their ns/op ratio is Append's cost over a bare insert.
// BenchmarkInclusionProof builds a log of VALISE_BENCH_LOG_SIZE leaves
// (default 1,048,576) with COPY and one integration round, then times proofs.

const benchConns = 64

func benchPool(b *testing.B) (*dbtest.Database, *pgxpool.Pool) {
	d := dbtest.New(b)
	p, err := db.Open(context.Background(), d.URL, db.Options{MaxConns: benchConns})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return d, p
}

func benchTx(b *testing.B, p *pgxpool.Pool, fn func(ctx context.Context, tx pgx.Tx, i int) error) {
	ctx := context.Background()
	b.SetParallelism(benchConns / max(1, testingProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			err := pgx.BeginTxFunc(ctx, p, pgx.TxOptions{}, func(tx pgx.Tx) error { return fn(ctx, tx, i) })
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

func testingProcs() int {
	n, _ := strconv.Atoi(os.Getenv("GOMAXPROCS"))
	if n == 0 {
		return 2
	}
	return n
}

func BenchmarkAppend(b *testing.B) {
	_, p := benchPool(b)
	benchTx(b, p, func(ctx context.Context, tx pgx.Tx, i int) error {
		_, err := tlog.Append(ctx, tx, leafOf(i))
		return err
	})
}

func BenchmarkRawInsert(b *testing.B) {
	_, p := benchPool(b)
	if _, err := p.Exec(context.Background(), `CREATE TABLE bench_raw (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v bytea NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	benchTx(b, p, func(ctx context.Context, tx pgx.Tx, i int) error {
		_, err := tx.Exec(ctx, `INSERT INTO bench_raw (v) VALUES ($1)`, leafOf(i))
		return err
	})
}

// copyLeaves bulk-loads n leaves straight into tlog_entries (as Append
// would write them, minus the per-transaction cost).
func copyLeaves(b testing.TB, p *pgxpool.Pool, first, n int) {
	rows := make([][]any, 0, n)
	for i := first; i < first+n; i++ {
		leaf := make([]byte, 64)
		binary.BigEndian.PutUint64(leaf, uint64(i))
		rows = append(rows, []any{leaf, tlog.LeafHash(leaf)})
	}
	if _, err := p.CopyFrom(context.Background(), pgx.Identifier{"tlog_entries"}, []string{"leaf", "leaf_hash"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIntegrate measures one integrator round of 10,000 new leaves on
// top of a growing tree.
func BenchmarkIntegrate(b *testing.B) {
	d, p := benchPool(b)
	key, err := tlog.LoadOrCreateKey(context.Background(), p, tlog.DefaultOrigin, master(b))
	if err != nil {
		b.Fatal(err)
	}
	_ = d
	g := tlog.NewIntegrator(p, key, tlog.IntegratorOptions{Batch: 10000})
	const per = 10000
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		copyLeaves(b, p, i*per, per)
		b.StartTimer()
		t0 := time.Now()
		n, err := g.IntegrateOnce(context.Background())
		total += time.Since(t0)
		if err != nil || n != per {
			b.Fatalf("integrated %d: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*per)/total.Seconds(), "leaves/s")
}

func BenchmarkInclusionProof(b *testing.B) {
	size := 1 << 20
	if s := os.Getenv("VALISE_BENCH_LOG_SIZE"); s != "" {
		size, _ = strconv.Atoi(s)
	}
	_, p := benchPool(b)
	ctx := context.Background()
	key, err := tlog.LoadOrCreateKey(ctx, p, tlog.DefaultOrigin, master(b))
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	for done := 0; done < size; done += 100000 {
		copyLeaves(b, p, done, min(100000, size-done))
	}
	copied := time.Since(t0)
	g := tlog.NewIntegrator(p, key, tlog.IntegratorOptions{Batch: size})
	t1 := time.Now()
	if n, err := g.IntegrateOnce(ctx); err != nil || n != size {
		b.Fatalf("integrated %d: %v", n, err)
	}
	b.Logf("built a log of %d leaves: COPY %v, one integration round %v", size, copied, time.Since(t1))
	if _, err := p.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			idx := uint64(i*7919) % uint64(size)
			if _, err := tlog.InclusionProof(ctx, p, idx, uint64(size)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
