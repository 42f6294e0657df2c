package custody_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"

	"valise/api"
	"valise/api/apitest"
	"valise/crypto/password"
	"valise/crypto/secret"
	"valise/custody"
	"valise/demo"
	"valise/identity"
	"valise/internal/bench"
	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/pouch"
	"valise/tlog"
)

var cheap = identity.Config{Password: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}

// checkOneLog waits until every appended entry has a leaf index, then
// checks the log has no gap and no duplicate, recomputes it (tlog.Audit) and
// audits every bag's chain.
func checkOneLog(t *testing.T, pool *pgxpool.Pool, v note.Verifier) (entries int64) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n, idx, maxIdx, distinct int64
		err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM tlog_entries), count(*), coalesce(max(idx), -1),
			count(DISTINCT entry_id) FROM tlog_index`).Scan(&n, &idx, &maxIdx, &distinct)
		if err != nil {
			t.Fatal(err)
		}
		if n == idx {
			if maxIdx != n-1 || distinct != n {
				t.Fatalf("%d entries: max index %d, %d distinct entries: gaps or duplicates", n, maxIdx, distinct)
			}
			entries = n
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("integrators did not catch up: %d of %d entries indexed", idx, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The newest checkpoint covers all of them.
	time.Sleep(100 * time.Millisecond)
	r, err := tlog.AuditWith(ctx, pool, v, tlog.AuditOptions{Leaves: pouch.LeafSource})
	if err != nil || !r.OK() {
		t.Fatalf("log audit: %+v %v", r.Problem, err)
	}
	cr, err := custody.AuditChains(ctx, pool)
	if err != nil || !cr.OK() {
		t.Fatalf("chain audit: %+v %v", cr.Problem, err)
	}
	return entries
}

// TestTwoServersOneLog runs hand-offs through two API servers, each with
// its own pool and its own integrator, on one database: one consistent log,
// contiguous indices, no duplicates, every chain intact.
// twoServers starts two API servers on d, each with its own pool (and so
// its own group committer) and its own integrator, until the test ends,
// and n fixture pairs tagged tag.
func twoServers(t *testing.T, d *dbtest.Database, tag string, n int) ([]string, *tlog.Key, []*bench.Pair) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := demo.LoadUnits(ctx, d.Pool); err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	quiet := slog.New(slog.DiscardHandler)
	var urls []string
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var key *tlog.Key
	for i := 0; i < 2; i++ {
		pool, err := db.Open(ctx, d.URL, db.Options{MaxConns: 16})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if key, err = tlog.LoadOrCreateKey(ctx, pool, "valise.test/custody", master); err != nil {
			t.Fatal(err)
		}
		g := tlog.NewIntegrator(pool, key, tlog.IntegratorOptions{Interval: 20 * time.Millisecond, Logger: quiet})
		wg.Add(1)
		go func() { defer wg.Done(); g.Run(ctx) }()
		ts := httptest.NewServer(apitest.Conform(t, api.New(pool, api.Config{MasterKey: master, Logger: quiet, Identity: cheap, LoginRate: 10000})))
		t.Cleanup(ts.Close)
		urls = append(urls, ts.URL)
	}
	ident := identity.New(d.Pool, master, cheap, quiet)
	pairs, err := bench.Setup(ctx, d.Pool, ident, master, tag, n)
	if err != nil {
		t.Fatal(err)
	}
	return urls, key, pairs
}

func TestTwoServersOneLog(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	urls, key, pairs := twoServers(t, d, "c", 8)
	const rounds = 6
	errs := make(chan error, len(pairs))
	for i, p := range pairs {
		go func() {
			for r := 0; r < rounds; r++ {
				if _, err := p.HandOff(ctx, http.DefaultClient, urls[(i+r)%2], r); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range pairs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	v, _ := note.NewVerifier(key.VerifierKey)
	n := checkOneLog(t, d.Pool, v)
	// Fixture: planned and dispatched events per bag; then two events per hand-off.
	if want := int64(len(pairs) * (2 + 2*rounds)); n != want {
		t.Fatalf("%d log entries, want %d", n, want)
	}
}

// TestTwoServersRaceOnOneBag: two API processes (pools, group committers,
// integrators) on one database; for every bag, four clients (two per
// server) try the same hand-off at once, round after round. Exactly one
// release wins each round (the others are refused: the bag is already
// released, or no longer theirs), its receiver confirms it, the bag's
// history and the log stay one chain each, and the audit recomputes them.
func TestTwoServersRaceOnOneBag(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	urls, key, pairs := twoServers(t, d, "r", 4)
	const rounds, racers = 4, 4
	for r := 0; r < rounds; r++ {
		var won atomic.Int32
		var rg sync.WaitGroup
		errs := make(chan error, len(pairs)*racers)
		for _, p := range pairs {
			for i := 0; i < racers; i++ {
				rg.Add(1)
				go func() {
					defer rg.Done()
					_, err := p.HandOff(ctx, http.DefaultClient, urls[i%2], r)
					var se *bench.StatusError
					switch {
					case err == nil:
						won.Add(1)
					case errors.As(err, &se) && se.Status == http.StatusConflict && strings.HasPrefix(err.Error(), "release:"):
					default:
						errs <- err
					}
				}()
			}
		}
		rg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", r, err)
		}
		if int(won.Load()) != len(pairs) {
			t.Fatalf("round %d: %d hand-offs completed, want one per bag (%d)", r, won.Load(), len(pairs))
		}
	}
	v, _ := note.NewVerifier(key.VerifierKey)
	if n, want := checkOneLog(t, d.Pool, v), int64(len(pairs)*(2+2*rounds)); n != want {
		t.Fatalf("%d log entries, want %d", n, want)
	}
	for _, p := range pairs {
		var holder string
		if err := d.Pool.QueryRow(ctx, `SELECT coalesce(custodian_username, '') FROM bag_custody WHERE bag_id = $1`, p.BagID).Scan(&holder); err != nil {
			t.Fatal(err)
		}
		if holder != p.Second { // an even number of rounds hands it back
			t.Errorf("bag %s is held by %q, want %s", p.BagID, holder, p.Second)
		}
	}
}

// TestSIGKILLLosesNoAcknowledgedEvent builds the valise binary, serves on a
// test database, streams hand-offs, SIGKILLs the server mid-stream, restarts
// it, and checks that every acknowledged hand-off is in the database and in
// the log, and that `valise audit verify` passes.
func TestSIGKILLLosesNoAcknowledgedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "valise")
	if out, err := exec.Command("go", "build", "-o", bin, "valise/cmd/valise").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	d := dbtest.New(t)
	ctx := context.Background()
	if err := demo.LoadUnits(ctx, d.Pool); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(tmp, "data")
	master, err := secret.LoadMasterKey(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--database-url=" + d.URL, "--data-dir=" + dataDir, "--addr=127.0.0.1:0", "--demo=false",
		"--log-origin=valise.test/custody", "--log-level=warn"}
	start := func() (*exec.Cmd, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), secret.EnvVar+"=")
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "Valise listening on "); ok {
				go func() { _, _ = io.Copy(io.Discard, out) }()
				return cmd, addr
			}
		}
		_ = cmd.Process.Kill()
		t.Fatal("the server did not start")
		return nil, ""
	}
	cmd, base := start()
	ident := identity.New(d.Pool, master, cheap, slog.New(slog.DiscardHandler))
	pairs, err := bench.Setup(ctx, d.Pool, ident, master, "k", 8)
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	// Stream hand-offs from 8 clients; SIGKILL after a second.
	var mu sync.Mutex
	var acked []bench.Result
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; ; r++ {
				res, err := p.HandOff(ctx, client, base, r)
				if err != nil {
					return // the server died (or refused mid-hand-off): stop this client
				}
				mu.Lock()
				acked = append(acked, res)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	wg.Wait()
	if len(acked) < 8 {
		t.Fatalf("only %d hand-offs acknowledged before the kill", len(acked))
	}
	// Restart: its integrator picks up whatever was committed but not integrated.
	cmd, _ = start()
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	v, err := note.NewVerifier(mustVerifierKey(t, d.Pool))
	if err != nil {
		t.Fatal(err)
	}
	checkOneLog(t, d.Pool, v)
	for _, a := range acked {
		var status string
		var indexed bool
		err := d.Pool.QueryRow(ctx, `SELECT h.status, EXISTS (SELECT 1 FROM tlog_index i WHERE i.entry_id = e.log_entry)
			FROM handoffs h JOIN bag_events e ON e.id = h.accept_event WHERE h.id = $1 AND e.id = $2`,
			a.HandoffID, a.AcceptEvent).Scan(&status, &indexed)
		if err != nil || status != "completed" || !indexed {
			t.Fatalf("acknowledged hand-off %s (event %d): status %q indexed %v err %v", a.HandoffID, a.AcceptEvent, status, indexed, err)
		}
	}
	out, err := exec.Command(bin, "audit", "verify", "--database-url="+d.URL, "--data-dir="+dataDir, "--key="+mustVerifierKey(t, d.Pool)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "consistent:") {
		t.Fatalf("valise audit verify: %v\n%s", err, out)
	}
	t.Logf("%d acknowledged hand-offs survived SIGKILL; %s", len(acked), strings.TrimSpace(lastLine(string(out))))
}

func mustVerifierKey(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	k, err := tlog.VerifierKey(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func benchSeconds() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("VALISE_BENCH_SECONDS") + "s")
	return d
}
