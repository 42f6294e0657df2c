package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"valise/internal/dbtest"
	"valise/internal/pgcluster"
)

// TestMain runs the tests; with VALISE_TEST_AS_CLI=1 the test binary is the
// valise command itself, so shell scripts under test (the README's lines)
// can call `bin/valise` without a separate build, and tests can run a real
// separate `valise serve` process (serveProcess). It is main(), signals
// included: SIGTERM drains and exits 0 as the real binary does.
func TestMain(m *testing.M) {
	if os.Getenv("VALISE_TEST_AS_CLI") == "1" {
		main()
	}
	dbtest.Main(m)
}

// syncBuffer is a bytes.Buffer safe for a running command and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, "version")
	if code != 0 || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit") {
		t.Fatalf("version = %d %q", code, out)
	}
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	if code, _, errs := runCmd(t, "fly"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command = %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "serve", "--db-max-conns", "0"); code != 2 || !strings.Contains(errs, "db-max-conns") {
		t.Errorf("bad flag = %d %q", code, errs)
	}
	t.Setenv("VALISE_REQUEST_TIMEOUT", "soon")
	if code, _, errs := runCmd(t, "serve"); code != 2 || !strings.Contains(errs, "VALISE_REQUEST_TIMEOUT") {
		t.Errorf("bad env = %d %q", code, errs)
	}
}

func TestServeHelpDocumentsEverySetting(t *testing.T) {
	code, _, errs := runCmd(t, "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help = %d", code)
	}
	for _, s := range settings {
		if !strings.Contains(errs, "-"+s.flag) || !strings.Contains(errs, s.env) {
			t.Errorf("--help lacks %s / %s", s.flag, s.env)
		}
	}
}

// TestMigrateUpStatusDown applies every migration, lists them, and rolls
// every one back: each Down section must work.
func TestMigrateUpStatusDown(t *testing.T) {
	t.Setenv("VALISE_DATA_DIR", t.TempDir())
	d := dbtest.Empty(t)
	url := "--database-url=" + d.URL
	if code, out, errs := runCmd(t, "migrate", "up", url); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("migrate up = %d %q %q", code, out, errs)
	}
	code, out, _ := runCmd(t, "migrate", "status", url)
	if code != 0 || strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
		t.Fatalf("status after up = %d %q", code, out)
	}
	n := strings.Count(out, "applied")
	for i := 0; i < n; i++ {
		if code, _, errs := runCmd(t, "migrate", "down", url); code != 0 {
			t.Fatalf("down #%d = %d %s", i+1, code, errs)
		}
	}
	_, out, _ = runCmd(t, "migrate", "status", url)
	if strings.Contains(out, "applied") {
		t.Fatalf("after %d downs something is still applied:\n%s", n, out)
	}
	var tables int
	if err := d.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'goose_db_version'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("%d tables left after rolling everything back", tables)
	}
	// And up again from nothing works.
	if code, _, errs := runCmd(t, "migrate", "up", url); code != 0 {
		t.Fatalf("second up = %d %s", code, errs)
	}
}

// TestDemoTwiceChangesNothing loads the demo data twice and compares a
// fingerprint of every table.
func TestDemoTwiceChangesNothing(t *testing.T) {
	t.Setenv("VALISE_DATA_DIR", t.TempDir())
	d := dbtest.Empty(t)
	url := "--database-url=" + d.URL
	if code, _, errs := runCmd(t, "demo", url); code != 0 {
		t.Fatalf("demo = %d %s", code, errs)
	}
	first := fingerprint(t, d)
	if code, _, errs := runCmd(t, "demo", url); code != 0 {
		t.Fatalf("second demo = %d %s", code, errs)
	}
	if second := fingerprint(t, d); second != first {
		t.Fatalf("second demo changed the data:\n%s\n---\n%s", first, second)
	}
	if !strings.Contains(first, "units") {
		t.Fatalf("demo loaded no units: %s", first)
	}
}

// fingerprint counts the rows of every table (and their md5) in public.
func fingerprint(t *testing.T, d *dbtest.Database) string {
	t.Helper()
	ctx := context.Background()
	rows, err := d.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	var b strings.Builder
	for _, n := range names {
		var count int
		var sum string
		err := d.Pool.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM `+n+` t`).Scan(&count, &sum)
		if err != nil {
			t.Fatal(err)
		}
		if count > 0 {
			b.WriteString(n + " " + sum + "\n")
		}
	}
	return b.String()
}

var listenRe = regexp.MustCompile(`listening on (https?://\S+)`)

// startServe runs `valise serve` in the background and returns its base URL
// once it listens, and a stop function that returns its exit code.
func startServe(t *testing.T, args ...string) (string, *syncBuffer, func() int) {
	t.Helper()
	base, _, errb, stop := startServeBoth(t, args...)
	return base, errb, stop
}

// startServeOut is startServe returning serve's standard output.
func startServeOut(t *testing.T, args ...string) (string, *syncBuffer, func() int) {
	t.Helper()
	base, out, _, stop := startServeBoth(t, args...)
	return base, out, stop
}

func startServeBoth(t *testing.T, args ...string) (string, *syncBuffer, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve", "--addr=127.0.0.1:0"}, args...), &out, &errb) }()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRe.FindStringSubmatch(out.String()); m != nil {
			var once sync.Once
			code := 0
			return m[1], &out, &errb, func() int {
				once.Do(func() { cancel(); code = <-done })
				return code
			}
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d: %s", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start: %s", errb.String())
	return "", nil, nil, nil
}

func status(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for got := 0; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = status(url); got == want {
			return
		}
	}
	t.Fatalf("%s never answered %d", url, want)
}

func clusterDir(t *testing.T) string {
	t.Helper()
	if _, err := pgcluster.FindBinDir(); err != nil {
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		_ = os.Chmod(p, 0o755)
	}
	return filepath.Join(d, "data")
}

// TestServeEmbedded is `make run`: no database URL, a private cluster under
// the data directory, demo data, a lock against a second serve, a clean
// stop, and a second start on the same data.
func TestServeEmbedded(t *testing.T) {
	dir := clusterDir(t)
	base, _, stop := startServe(t, "--data-dir="+dir)
	waitStatus(t, base+"/readyz", 200)

	code, _, errs := runCmd(t, "serve", "--addr=127.0.0.1:0", "--data-dir="+dir)
	if code == 0 || !strings.Contains(errs, "in use by another valise process") {
		t.Fatalf("second serve on the same data = %d %q", code, errs)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if status(base+"/healthz") != 0 {
		t.Fatal("server still answers after stop")
	}
	base, _, stop = startServe(t, "--data-dir="+dir)
	defer stop()
	waitStatus(t, base+"/readyz", 200)
}

// TestReadinessFollowsTheDatabase starts serve against a stopped server
// (it waits and says so), then takes the database away and brings it back.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	// Durable: Kill is an immediate stop, which would lose asynchronous commits.
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: clusterDir(t), Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		restarted <- c.Restart()
	}()
	base, errb, stop := startServe(t, "--database-url="+c.URL(), "--data-dir="+t.TempDir())
	defer stop()
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "database not reachable; retrying") {
		t.Errorf("serve did not say it was waiting for the database: %s", errb.String())
	}
	waitStatus(t, base+"/readyz", 200)
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, base+"/readyz", 503)
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, base+"/readyz", 200)
}
