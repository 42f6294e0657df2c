package pgcluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"valise/internal/pgcluster"
)

// dataDir returns a fresh directory an unprivileged PostgreSQL user can reach
// (t.TempDir is 0700, which the postgres user cannot traverse when we are root).
func dataDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(d, "data")
}

func skipWithoutBinaries(t *testing.T) {
	if _, err := pgcluster.FindBinDir(); err != nil {
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
}

func query(t *testing.T, url, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// TestStartStopReuse starts a cluster (as root this runs it as the postgres
// user), writes a row, stops it, starts it again and finds the row.
func TestStartStopReuse(t *testing.T) {
	skipWithoutBinaries(t)
	ctx := context.Background()
	dir := dataDir(t)
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.URL(), "SELECT current_database()"); got != pgcluster.Database {
		t.Fatalf("database = %q", got)
	}
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// A second start on the same directory fails fast while the first runs.
	if _, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir}); !errors.Is(err, pgcluster.ErrLocked) {
		t.Fatalf("second Start = %v, want ErrLocked", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	c2, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatalf("restart on the same data: %v", err)
	}
	defer c2.Stop()
	if got := query(t, c2.URL(), "SELECT v FROM kept"); got != "still here" {
		t.Fatalf("after restart got %q", got)
	}
}

// TestRunsAsUnprivilegedUser checks the root path: the server process
// belongs to the postgres user, not root.
func TestRunsAsUnprivilegedUser(t *testing.T) {
	skipWithoutBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("only meaningful as root")
	}
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dataDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if u := query(t, c.URL(), "SELECT pg_read_file('PG_VERSION')"); strings.TrimSpace(u) == "" {
		t.Fatal("cannot read PG_VERSION")
	}
	st, err := os.Stat(c.PGData)
	if err != nil {
		t.Fatal(err)
	}
	if uid := statUID(st); uid == 0 {
		t.Fatalf("cluster files belong to root")
	}
}

func TestMissingBinariesSaysWhatToInstall(t *testing.T) {
	t.Setenv("VALISE_PG_BINDIR", t.TempDir())
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: t.TempDir()})
	if !errors.Is(err, pgcluster.ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "VALISE_DATABASE_URL", "VALISE_PG_BINDIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestUnreachableDataDirIsExplained(t *testing.T) {
	skipWithoutBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("only meaningful as root")
	}
	d := t.TempDir() // 0700: the postgres user cannot enter it
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: filepath.Join(d, "data")})
	if err == nil || !strings.Contains(err.Error(), "not searchable") {
		t.Fatalf("err = %v, want an explanation of the permissions", err)
	}
}

func statUID(st os.FileInfo) uint32 { return st.Sys().(*syscall.Stat_t).Uid }
