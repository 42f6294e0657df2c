// Package dbtest gives each test its own PostgreSQL database, cloned from a
// template that is migrated once per schema version, so tests run in
// parallel against a real server without seeing each other's rows.
//
// The server is VALISE_TEST_DATABASE_URL when set, else localhost:5432 when
// it answers, else a throwaway cluster this test binary starts (packages
// that use dbtest call dbtest.Main from TestMain so it is stopped).
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/internal/db"
	"valise/internal/pgcluster"
	"valise/migrations"
)

var (
	once      sync.Once
	serverURL string // admin URL (maintenance database) of the chosen server
	setupErr  error
	cluster   *pgcluster.Cluster
	tmplName  string
)

// Main runs the package's tests and stops a throwaway cluster if one was
// started. Use it as `func TestMain(m *testing.M) { dbtest.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
		_ = os.RemoveAll(cluster.Dir)
	}
	os.Exit(code)
}

// ServerURL returns the admin URL of the test server, starting a throwaway
// cluster if needed.
func ServerURL(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if setupErr != nil {
		t.Fatalf("test database server: %v", setupErr)
	}
	return serverURL
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	candidates := []string{}
	if u := os.Getenv("VALISE_TEST_DATABASE_URL"); u != "" {
		candidates = append(candidates, u)
	} else {
		candidates = append(candidates, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3")
	}
	for _, u := range candidates {
		conn, err := pgx.Connect(ctx, u)
		if err == nil {
			conn.Close(ctx)
			serverURL = u
			break
		}
		if os.Getenv("VALISE_TEST_DATABASE_URL") != "" {
			setupErr = fmt.Errorf("VALISE_TEST_DATABASE_URL does not answer: %w", err)
			return
		}
	}
	if serverURL == "" {
		dir, err := os.MkdirTemp("", "valise-test-pg-")
		if err != nil {
			setupErr = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
		if err != nil {
			setupErr = fmt.Errorf("no server at localhost:5432 and no throwaway cluster: %w", err)
			return
		}
		serverURL = cluster.AdminURL()
	}
	tmplName, setupErr = ensureTemplate(ctx, serverURL)
}

// ensureTemplate creates and migrates the template database for this
// schema digest unless a complete one exists. An advisory lock serialises
// the packages' test binaries, which go test runs in parallel.
func ensureTemplate(ctx context.Context, admin string) (string, error) {
	name := "valise_tmpl_" + migrations.Digest()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7262347)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(7262347)")
	var isTemplate bool
	err = conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&isTemplate)
	if err == nil && isTemplate {
		return name, nil
	}
	if err == nil { // a half-built template from an interrupted run
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return "", err
		}
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	pool, err := db.Open(ctx, withDatabase(admin, name), db.Options{MaxConns: 2})
	if err != nil {
		return "", err
	}
	m, err := migrations.New(pool)
	if err == nil {
		_, err = m.Up(ctx)
		m.Close()
	}
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+name+" WITH IS_TEMPLATE true"); err != nil {
		return "", err
	}
	return name, nil
}

// withDatabase returns u with its database name replaced.
func withDatabase(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/" + name
	return p.String()
}

// Database is a fresh migrated database for one test.
type Database struct {
	Name string
	URL  string
	Pool *pgxpool.Pool
}

// New creates a database cloned from the migrated template, opens a pool on
// it, and drops it when the test ends.
func New(t testing.TB) *Database {
	t.Helper()
	ServerURL(t) // sets up the server and the template
	return open(t, "valise_t_", tmplName)
}

// Empty creates an unmigrated database and drops it when the test ends:
// for tests of the migrations themselves.
func Empty(t testing.TB) *Database {
	t.Helper()
	return open(t, "valise_e_", "")
}

// open creates a database named prefix+random from tmpl ("" for none),
// opens a pool on it, and drops it when the test ends.
func open(t testing.TB, prefix, tmpl string) *Database {
	t.Helper()
	admin := ServerURL(t)
	ctx := context.Background()
	d := &Database{Name: prefix + randHex(6)}
	if err := create(ctx, admin, d.Name, tmpl); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	d.URL = withDatabase(admin, d.Name)
	pool, err := db.Open(ctx, d.URL, db.Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	d.Pool = pool
	t.Cleanup(func() {
		pool.Close()
		Drop(admin, d.Name)
	})
	return d
}

func create(ctx context.Context, admin, name, tmpl string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	stmt := "CREATE DATABASE " + name
	if tmpl != "" {
		stmt += " TEMPLATE " + tmpl
	}
	// Concurrent clones of one template can collide briefly; retry.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, stmt)
		if err == nil || i == 20 || !strings.Contains(err.Error(), "being accessed by other users") {
			return err
		}
		time.Sleep(time.Duration(50*(i+1)) * time.Millisecond)
	}
}

// Drop removes a test database, closing any connection still open to it.
func Drop(admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
