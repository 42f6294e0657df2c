package pgcluster_test

import (
	"context"
	"errors"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

// refused asserts that url cannot connect: the server wants the password.
func refused(t *testing.T, url, why string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err == nil {
		conn.Close(context.Background())
		t.Fatalf("%s: connected", why)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("%s: %v, want password authentication failed (28P01)", why, err)
	}
}

func withoutPassword(url string) string {
	u, _ := neturl.Parse(url)
	u.User = neturl.User(u.User.Username())
	return u.String()
}

func withPassword(url, pw string) string {
	u, _ := neturl.Parse(url)
	u.User = neturl.UserPassword(u.User.Username(), pw)
	return u.String()
}

// TestTrustsNoLocalAccount: the cluster answers only the generated password
// (kept 0600 in the data directory), so another local account that can
// reach 127.0.0.1 cannot read the data.
func TestTrustsNoLocalAccount(t *testing.T) {
	skipWithoutBinaries(t)
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", "/nonexistent")
	dir := dataDir(t)
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	refused(t, withoutPassword(c.URL()), "no password")
	refused(t, withPassword(c.URL(), "guess-guess-guess"), "a wrong password")
	for _, user := range []string{"postgres", "valise"} {
		u := withoutPassword(c.AdminURL())
		u = strings.Replace(u, "valise@", user+"@", 1)
		if conn, err := pgx.Connect(context.Background(), u); err == nil {
			conn.Close(context.Background())
			t.Fatalf("user %s connected without a password", user)
		}
	}
	if got := query(t, c.URL(), "SELECT current_user"); got != "valise" {
		t.Fatalf("with the password: current_user = %q", got)
	}
	st, err := os.Stat(filepath.Join(dir, pgcluster.PasswordFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", st, err)
	}
}

// TestUpgradesADataDirMadeBeforePasswords: a data directory whose cluster
// trusted loopback connections (and has no password file) keeps its data
// and stops trusting on the next start.
func TestUpgradesADataDirMadeBeforePasswords(t *testing.T) {
	skipWithoutBinaries(t)
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", "/nonexistent")
	ctx := context.Background()
	dir := dataDir(t)
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('from before'); ALTER ROLE valise PASSWORD NULL"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	// What an earlier valise left: initdb's trust rules, no password.
	old := "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
	if err := os.WriteFile(filepath.Join(c.PGData, "pg_hba.conf"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, pgcluster.PasswordFile)); err != nil {
		t.Fatal(err)
	}
	c2, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatalf("start an old data directory: %v", err)
	}
	defer c2.Stop()
	if got := query(t, c2.URL(), "SELECT v FROM kept"); got != "from before" {
		t.Fatalf("data after upgrade: %q", got)
	}
	refused(t, withoutPassword(c2.URL()), "no password after the upgrade")
}

// TestAttachReachesTheRunningCluster: another process on the same data
// directory finds the port and password, and its Stop leaves the cluster up.
func TestAttachReachesTheRunningCluster(t *testing.T) {
	skipWithoutBinaries(t)
	dir := dataDir(t)
	if _, err := pgcluster.Attach(dir); err == nil {
		t.Fatal("Attach to a data directory nobody runs succeeded")
	}
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	a, err := pgcluster.Attach(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Port != c.Port || a.OwnerPID != os.Getpid() || !a.Attached {
		t.Fatalf("attached %+v, running on %d", a, c.Port)
	}
	if got := query(t, a.URL(), "SELECT current_database()"); got != pgcluster.Database {
		t.Fatalf("attached database = %q", got)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.URL(), "SELECT 'still up'"); got != "still up" {
		t.Fatal(got)
	}
}
