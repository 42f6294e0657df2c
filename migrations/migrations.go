// Package migrations holds Valise's SQL schema as goose migrations embedded
// in the binary, and runs them. Every migration has a working Down section.
//
// Numbering: 000xx foundation, 001xx identity and policy, 002xx seals and
// keys, 003xx the bag lifecycle and couriers, 004xx custody and the log,
// 005xx personnel, 006xx alerts. Ranges keep parallel work from colliding.
package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// FS is the embedded migration files.
func FS() fs.FS { return files }

// Digest is a short hash of all migration files: two binaries with the same
// digest build the same schema (test templates are keyed by it).
func Digest() string {
	names, _ := fs.Glob(files, "*.sql")
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := files.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Migrator runs goose against a pool. Close it when done.
type Migrator struct {
	db *sql.DB
	p  *goose.Provider
}

// New returns a Migrator for pool. A PostgreSQL session lock makes
// concurrent migrations from several processes safe.
func New(pool *pgxpool.Pool) (*Migrator, error) {
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration locker: %w", err)
	}
	// Ranges per area (see the package comment) mean a new migration can
	// carry a lower number than one already applied: apply it anyway.
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker),
		goose.WithAllowOutofOrder(true))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migration provider: %w", err)
	}
	return &Migrator{db: db, p: p}, nil
}

// Close releases the migrator's handle (not the pool).
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration and returns how many ran.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate up: %w", err)
	}
	return len(res), nil
}

// UpTo applies every pending migration up to and including version and
// returns how many ran: a database at an earlier schema, as an older binary
// left it (tests of a migration over existing data).
func (m *Migrator) UpTo(ctx context.Context, version int64) (int, error) {
	res, err := m.p.UpTo(ctx, version)
	if err != nil {
		return len(res), fmt.Errorf("migrate up to %d: %w", version, err)
	}
	return len(res), nil
}

// Down rolls back the newest applied migration.
func (m *Migrator) Down(ctx context.Context) error {
	if _, err := m.p.Down(ctx); err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// DownTo rolls back to version (0 undoes everything).
func (m *Migrator) DownTo(ctx context.Context, version int64) error {
	if _, err := m.p.DownTo(ctx, version); err != nil {
		return fmt.Errorf("migrate down to %d: %w", version, err)
	}
	return nil
}

// Status is one migration's state.
type Status struct {
	Version int64
	Name    string
	Applied bool
}

// Status lists every known migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	st, err := m.p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		out = append(out, Status{Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied})
	}
	return out, nil
}

// Pending reports whether any migration is not yet applied.
func (m *Migrator) Pending(ctx context.Context) (bool, error) {
	return m.p.HasPending(ctx)
}

// Versions lists the migration versions embedded in this binary, ascending.
func Versions() []int64 {
	names, _ := fs.Glob(files, "*.sql")
	var vs []int64
	for _, n := range names {
		var v int64
		if _, err := fmt.Sscanf(n, "%d_", &v); err == nil {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return vs
}
