package api_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/api"
	"valise/crypto/password"
	"valise/demo"
	"valise/identity"
	"valise/internal/bench"
	"valise/internal/db"
	"valise/internal/pgcluster"
	"valise/migrations"
	"valise/policy"
)

// clusterEnv is an API over its own throwaway PostgreSQL cluster, which a
// test may stop, kill and start again; every other test shares one server.
type clusterEnv struct {
	t       *testing.T
	cluster *pgcluster.Cluster
	pool    *pgxpool.Pool
	url     string
	token   string // a dispatcher at MFA: plans bags MFA → DE-BER
	master  []byte
	server  *api.Server
}

func newClusterEnv(t *testing.T) *clusterEnv {
	t.Helper()
	if _, err := pgcluster.FindBinDir(); err != nil {
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		_ = os.Chmod(p, 0o755) // the cluster runs as an unprivileged user
	}
	ctx := context.Background()
	// Durable: an acknowledged write must survive the server's immediate stop.
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "data"), Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	pool, err := db.Open(ctx, c.URL(), db.Options{MaxConns: 8, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	m, err := migrations.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	if err := demo.LoadUnits(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := demo.LoadSealKeys(ctx, pool, master); err != nil {
		t.Fatal(err)
	}
	s := api.New(pool, api.Config{MasterKey: master, Logger: discardLogger(), LoginRate: 100000,
		Identity: identity.Config{Password: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}})
	if _, err := s.Identity().CreateUser(ctx, identity.UserInput{Username: "disp", FullName: "disp", Unit: "MFA",
		Roles: []string{policy.RoleDispatcher}, Clearance: policy.TopSecret, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Identity().Login(ctx, "disp", "correct horse battery", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &clusterEnv{t: t, cluster: c, pool: pool, url: ts.URL, token: tok.AccessToken, master: master, server: s}
}

// send makes one request as the dispatcher and returns status, headers and body.
func (e *clusterEnv) send(method, path, body string, hdr ...string) (int, http.Header, []byte) {
	return e.sendAs(e.token, method, path, body, hdr...)
}

// sendAs is send with another bearer token.
func (e *clusterEnv) sendAs(token, method, path, body string, hdr ...string) (int, http.Header, []byte) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// untilUp waits, without a deadline a slow machine could miss, until a bag
// creation succeeds again.
func (e *clusterEnv) untilUp() {
	e.t.Helper()
	for i := 0; ; i++ {
		if code, _, _ := e.send("POST", "/api/v1/bags", `{"origin":"MFA","destination":"DE-BER"}`); code == 201 {
			return
		}
		if i > 1800 { // three minutes: a hang, not a slow machine
			e.t.Fatal("the API never recovered after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outages takes the database away twice while clients run: a fast
// shutdown (every session gets 57P01 admin_shutdown), then an immediate one
// (connections drop mid-query, as in a crash); each time it starts it again
// and waits until the API serves again.
func (e *clusterEnv) outages() {
	e.t.Helper()
	e.untilUp()
	for _, stop := range []func() error{e.cluster.Stop, e.cluster.Kill} {
		if err := stop(); err != nil {
			e.t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if err := e.cluster.Restart(); err != nil {
			e.t.Fatal(err)
		}
		e.untilUp()
	}
}

// TestDatabaseRestartIsNever500: while eight clients create and list bags
// (some with Idempotency-Key), the database is shut down (fast: 57P01 to
// every session), started, killed (immediate: connections drop, EOF) and
// started again. No answer is a 500; every 503 is a problem with
// Retry-After; every bag acknowledged with 201 is in the database; and the
// API recovers by itself.
func TestDatabaseRestartIsNever500(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	var stop atomic.Bool
	var mu sync.Mutex
	codes := map[int]int{}
	var bad []string
	var acked []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				var code int
				var hdr http.Header
				var body []byte
				switch i % 3 {
				case 0:
					code, hdr, body = e.send("POST", "/api/v1/bags", `{"origin":"MFA","destination":"DE-BER"}`)
				case 1:
					code, hdr, body = e.send("POST", "/api/v1/bags", `{"origin":"MFA","destination":"DE-BER"}`,
						"Idempotency-Key", fmt.Sprintf("w%d-%d", w, i))
				default:
					code, hdr, body = e.send("GET", "/api/v1/bags?limit=5", "")
				}
				mu.Lock()
				codes[code]++
				switch {
				case code == 201:
					var b struct {
						ID string `json:"id"`
					}
					_ = json.Unmarshal(body, &b)
					acked = append(acked, b.ID)
				case code >= 500 && (code != 503 || hdr.Get("Retry-After") == "" ||
					hdr.Get("Content-Type") != "application/problem+json" ||
					strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token")): // the token is fine
					bad = append(bad, fmt.Sprintf("%d %v %s", code, hdr, body))
				case code != 200 && code != 503:
					bad = append(bad, fmt.Sprintf("%d %s", code, body))
				}
				mu.Unlock()
			}
		}()
	}
	e.outages()
	stop.Store(true)
	wg.Wait()
	t.Logf("answers by status: %v", codes)
	for _, b := range bad {
		t.Errorf("during the restarts: %s", b)
	}
	if codes[503] == 0 {
		t.Errorf("no request saw the database down (%v): the test did not test anything", codes)
	}
	var missing int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM unnest($1::uuid[]) a(id)
		WHERE NOT EXISTS (SELECT 1 FROM bags WHERE bags.id = a.id)`, acked).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged bags are not in the database", missing, len(acked))
	}
}

// TestIdempotentRetryAfterOutageRunsOnce: a bag creation with an
// Idempotency-Key has claimed its key and is waiting inside its work when
// the database dies; it fails with 503. Once the database is back, the
// retry with the same key runs the creation (it used to answer 409 "still
// being processed" for two minutes: the claim had committed on its own and
// its release could not be written), then replays that answer; one bag.
func TestIdempotentRetryAfterOutageRunsOnce(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	ctx := context.Background()
	e.untilUp() // MFA's bag counter row exists now
	count := func() int {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM bags`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	// Hold MFA's counter row so the creation waits inside its transaction.
	blocker, err := pgx.Connect(ctx, e.cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(ctx)
	if _, err := blocker.Exec(ctx, `BEGIN; SELECT last FROM registry_counters WHERE series = 'bag' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	const body = `{"origin":"MFA","destination":"DE-BER","note":"once"}`
	first := make(chan int, 1)
	go func() {
		code, _, _ := e.send("POST", "/api/v1/bags", body, "Idempotency-Key", "outage-1")
		first <- code
	}()
	for waiting := 0; waiting == 0; time.Sleep(20 * time.Millisecond) {
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%registry_counters%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.cluster.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := <-first; code != 503 {
		t.Fatalf("the creation caught by the outage answered %d, want 503", code)
	}
	if err := e.cluster.Restart(); err != nil {
		t.Fatal(err)
	}
	// The retry runs (the pool reconnects on its own; the first attempts may still be 503).
	var code int
	var hdr http.Header
	var res []byte
	for i := 0; i < 1800; i++ {
		if code, hdr, res = e.send("POST", "/api/v1/bags", body, "Idempotency-Key", "outage-1"); code != 503 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 201 || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after the outage = %d %v %s, want a fresh 201", code, hdr, res)
	}
	code2, hdr2, res2 := e.send("POST", "/api/v1/bags", body, "Idempotency-Key", "outage-1")
	if code2 != 201 || hdr2.Get("Idempotent-Replayed") != "true" || string(res2) != string(res) {
		t.Fatalf("second retry = %d %v %s, want the stored 201", code2, hdr2, res2)
	}
	if n := count(); n != before+1 {
		t.Fatalf("%d bags created, want 1", n-before)
	}
}

// TestHandoffsThroughRestart: four pairs hand their bags back and forth
// (release, then accept with the seals), each step sent with an
// Idempotency-Key and retried with the same key while the answer is 503,
// while the database is shut down and killed. No answer is a 500 or an
// unexpected refusal, and every bag's history holds exactly the hand-offs
// its pair completed: a retried step was applied once.
func TestHandoffsThroughRestart(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	ctx := context.Background()
	pairs, err := bench.Setup(ctx, e.pool, e.server.Identity(), e.master, "rs", 4)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var mu sync.Mutex
	codes := map[int]int{}
	var bad []string
	done := make([]atomic.Int64, len(pairs))
	// step sends one request until it is not a 503 and returns the answer.
	step := func(token, path, key, body string) (int, []byte) {
		for {
			code, hdr, res := e.sendAs(token, "POST", path, body, "Idempotency-Key", key)
			mu.Lock()
			codes[code]++
			if code == 503 && hdr.Get("Retry-After") == "" {
				bad = append(bad, "503 without Retry-After")
			}
			mu.Unlock()
			if code != 503 {
				return code, res
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for i, p := range pairs {
		seals, _ := json.Marshal(p.Seals)
		accept := `{"seals":` + string(seals) + `,"packages_counted":2,"seals_intact":true,"place":"Astana airport"}`
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; !stop.Load(); round++ {
				from, to, toTok := p.SecondToken, p.Courier, p.CourierToken
				if round%2 == 1 {
					from, to, toTok = p.CourierToken, p.Second, p.SecondToken
				}
				code, res := step(from, "/api/v1/custody/handoffs", fmt.Sprintf("rel-%d-%d", i, round),
					`{"bag_id":"`+p.BagID+`","to":"`+to+`","place":"Astana airport"}`)
				var h struct {
					ID string `json:"id"`
				}
				if code != 201 || json.Unmarshal(res, &h) != nil {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("pair %d round %d release: %d %s", i, round, code, res))
					mu.Unlock()
					return
				}
				if code, res = step(toTok, "/api/v1/custody/handoffs/"+h.ID+"/accept", fmt.Sprintf("acc-%d-%d", i, round), accept); code != 200 {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("pair %d round %d accept: %d %s", i, round, code, res))
					mu.Unlock()
					return
				}
				done[i].Store(int64(round + 1))
			}
		}()
	}
	e.outages()
	// Every pair completes two more hand-offs after the last restart.
	for i := range pairs {
		for want := done[i].Load() + 2; done[i].Load() < want && len(badOnes(&mu, &bad)) == 0; {
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop.Store(true)
	wg.Wait()
	counts := make([]int64, len(pairs))
	for i := range done {
		counts[i] = done[i].Load()
	}
	t.Logf("answers by status: %v; hand-offs completed per pair: %v", codes, counts)
	for _, b := range bad {
		t.Error(b)
	}
	for status := range codes {
		if status >= 500 && status != 503 {
			t.Errorf("%d answers were %d", codes[status], status)
		}
	}
	for i, p := range pairs {
		var accepted int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM handoffs WHERE bag_id = $1 AND status = 'completed'`, p.BagID).Scan(&accepted); err != nil {
			t.Fatal(err)
		}
		if int64(accepted) != counts[i] {
			t.Errorf("pair %d completed %d hand-offs, its bag's history holds %d", i, counts[i], accepted)
		}
	}
}

// badOnes reads the failures so far.
func badOnes(mu *sync.Mutex, bad *[]string) []string {
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(*bad)
}
