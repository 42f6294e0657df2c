package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/internal/bench"
	"valise/internal/db"
	"valise/internal/historygen"
)

// benchStorage is the storage section of `valise bench`: in a scratch
// database of its own it bulk-loads a synthetic history of events (five per
// bag, as the issue measured: 100,000 events are 20,000 bags), then prints
// what the events take on disk, tables, indexes and Merkle nodes, per
// million events (bench.StorageSQL, quoted in docs/operations.md).
func benchStorage(ctx context.Context, admin *pgxpool.Pool, base string, events int, stdout io.Writer) error {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "valise_bench_storage_" + hex.EncodeToString(b[:])
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	u.Path = "/" + name
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create scratch database: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}()
	pool, err := db.Open(ctx, u.String(), db.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrateUp(ctx, pool); err != nil {
		return fmt.Errorf("migrate scratch database: %w", err)
	}
	key, err := historygen.Prepare(ctx, pool)
	if err != nil {
		return err
	}
	start := time.Now()
	r, err := historygen.Generate(ctx, pool, historygen.Options{Events: events, PerBag: 5, Key: key})
	if err != nil {
		return err
	}
	s, err := bench.MeasureStorage(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "storage: %d events of %d bags bulk-loaded in %v (stored once: %v)\n", r.Events, r.Bags,
		time.Since(start).Round(time.Second), r.Once)
	s.Print(stdout)
	return nil
}
