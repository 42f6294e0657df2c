package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/crypto/seal"
	"valise/crypto/trust"
	"valise/internal/db"
	"valise/policy"
	"valise/tlog"
)

// Rate is a measured throughput, with latencies when they were taken.
type Rate struct {
	Name    string
	Ops     int
	Elapsed time.Duration
	P50     time.Duration
	P99     time.Duration
	// RoundTrips and Statements are per operation, when counted: what the
	// API server sent PostgreSQL (a batch is one round trip however many
	// statements it carries).
	RoundTrips, Statements float64
	// PerCommit is how many grouped requests shared a commit, when counted.
	PerCommit float64
	// Unit names an operation in the output (default "/s").
	Unit string
	// CPU and DBCPU are the CPU time per operation of this process (the
	// API server and the clients) and of PostgreSQL, when counted (DBCPU
	// only when the server runs on this machine).
	CPU, DBCPU time.Duration
}

// PerSec is operations per second.
func (r Rate) PerSec() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

func (r Rate) String() string {
	s := fmt.Sprintf("%-48s %7.0f /s  (%d in %v)", r.Name, r.PerSec(), r.Ops, r.Elapsed.Round(time.Millisecond))
	if r.P50 > 0 {
		s += fmt.Sprintf("  p50 %v  p99 %v", r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	}
	if r.RoundTrips > 0 {
		s += fmt.Sprintf("  %.2f round trips (%.2f statements) each", r.RoundTrips, r.Statements)
	}
	if r.PerCommit > 0 {
		s += fmt.Sprintf("  %.1f requests per commit", r.PerCommit)
	}
	if r.CPU > 0 {
		s += fmt.Sprintf("  CPU each: valise %v", r.CPU.Round(time.Microsecond))
		if r.DBCPU > 0 {
			s += fmt.Sprintf(", PostgreSQL %v", r.DBCPU.Round(time.Microsecond))
		}
	}
	return s
}

// run calls op from workers goroutines for d and collects latencies.
func run(ctx context.Context, name string, workers int, d time.Duration, op func(ctx context.Context, w, i int) error) (Rate, error) {
	var (
		mu      sync.Mutex
		lat     []time.Duration
		firstEr error
		wg      sync.WaitGroup
		n       atomic.Int64
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for i := 0; time.Now().Before(stop); i++ {
				t0 := time.Now()
				if err := op(ctx, w, i); err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				local = append(local, time.Since(t0))
				n.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := Rate{Name: name, Ops: int(n.Load()), Elapsed: time.Since(start)}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50, r.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r, firstEr
}

// RawInserts measures single-row autocommit INSERTs into a scratch table
// from conns connections: the database's own ceiling for one-row writes.
func RawInserts(ctx context.Context, pool *pgxpool.Pool, conns int, d time.Duration) (Rate, error) {
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_raw (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		v bigint NOT NULL, payload bytea NOT NULL, at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return Rate{}, err
	}
	payload := make([]byte, 300) // about a custody leaf
	return run(ctx, fmt.Sprintf("raw single-row inserts (%d conns)", conns), conns, d, func(ctx context.Context, w, i int) error {
		_, err := pool.Exec(ctx, `INSERT INTO bench_raw (v, payload) VALUES ($1, $2)`, int64(w<<32|i), payload)
		return err
	})
}

// TlogAppends measures transactions that append one leaf to the custody log.
func TlogAppends(ctx context.Context, pool *pgxpool.Pool, conns int, d time.Duration) (Rate, error) {
	return run(ctx, fmt.Sprintf("tlog appends (%d conns)", conns), conns, d, func(ctx context.Context, w, i int) error {
		return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			_, err := tlog.Append(ctx, tx, fmt.Appendf(nil, `{"bench":%d,"i":%d}`, w, i))
			return err
		})
	})
}

// HandOffName names the figure of hand-off requests from n clients.
func HandOffName(n int) string { return fmt.Sprintf("hand-off requests via API (%d clients)", n) }

// HandOffs measures hand-off requests through the API at base, one client
// per pair, each sending its pair's releases and confirmations (with a VS1
// seal scan) in turn (Pair.Step): every request is authenticated,
// authorized and records one event and one log leaf. Ops and latencies are
// per request.
func HandOffs(ctx context.Context, c *http.Client, base string, pairs []*Pair, d time.Duration) (Rate, error) {
	return run(ctx, HandOffName(len(pairs)), len(pairs), d, func(ctx context.Context, w, _ int) error {
		return pairs[w].Step(ctx, c, base)
	})
}

// counted runs measure and sets r's round trips and statements per
// operation (for phone syncs: per record) and the grouped requests per
// commit.
func (e *benchEnv) counted(figure string, measure func() (Rate, error)) (Rate, error) {
	if e.measure != nil {
		defer e.measure(figure)()
	}
	trips, stmts := e.trips.read()
	groups, reqs := db.GroupStats.Groups.Load(), db.GroupStats.Requests.Load()
	self, pg, _ := e.cpu.read()
	r, err := measure()
	if r.Ops > 0 {
		t2, s2 := e.trips.read()
		r.RoundTrips, r.Statements = float64(t2-trips)/float64(r.Ops), float64(s2-stmts)/float64(r.Ops)
		self2, pg2, pgOK := e.cpu.read()
		r.CPU = (self2 - self) / time.Duration(r.Ops)
		if pgOK {
			r.DBCPU = (pg2 - pg) / time.Duration(r.Ops)
		}
	}
	if g := db.GroupStats.Groups.Load() - groups; g > 0 {
		r.PerCommit = float64(db.GroupStats.Requests.Load()-reqs) / float64(g)
	}
	return r, err
}

// PolicyDecision measures one authorization decision of the embedded policy
// for a courier handing off a bag (the decision every hand-off request makes).
func PolicyDecision(ctx context.Context, a *policy.Authorizer, d time.Duration) (Rate, error) {
	s := policy.Subject{UserID: "u1", Username: "c", Roles: []string{policy.RoleCourier}, UnitCode: "MFA", UnitKind: "ministry",
		Clearance: policy.TopSecret, CourierKind: policy.CourierCareer}
	r := policy.Resource{Kind: "bag", ID: "b", Level: policy.Secret, Origin: "MFA", Destination: "DE-BER",
		Route: []string{"MFA", "DE-BER"}, Couriers: []string{"u1"}}
	return run(ctx, "policy decision, uncached (bag.hand_off)", 1, d, func(ctx context.Context, _, i int) error {
		r := r
		r.Custodian = fmt.Sprint("bench-", i) // a new key each time: the authorizer's decision cache cannot answer
		dec, err := a.Decide(ctx, s, policy.ActBagHandOff, r)
		if err == nil && !dec.Allow {
			err = fmt.Errorf("policy denied the benchmark decision")
		}
		return err
	})
}

// SealVerify measures verifying one VS1 seal against a trust list, and a
// bare ed25519.Verify of 64 bytes, on one core.
func SealVerify(ctx context.Context, list *trust.List, text string, d time.Duration) (Rate, Rate, error) {
	now := time.Now()
	sv, err := run(ctx, "seal verify (VS1, trust list)", 1, d, func(context.Context, int, int) error {
		_, err := seal.Verify(text, list, now)
		return err
	})
	if err != nil {
		return sv, Rate{}, err
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 64)
	sig := ed25519.Sign(priv, msg)
	raw, err := run(ctx, "raw ed25519.Verify", 1, d, func(context.Context, int, int) error {
		if !ed25519.Verify(pub, msg, sig) {
			return fmt.Errorf("bad signature")
		}
		return nil
	})
	return sv, raw, err
}

// BenchOptions tune Bench.
type BenchOptions struct {
	Duration time.Duration // per measurement; default 3s
	Clients  []int         // hand-off client counts; default 1, 16, 64
	PoolSize int32         // API pool connections; default 16
	Phones   int           // phones syncing batches of 100 records; default 16
	Logf     func(format string, args ...any)
	// Measure, when set, is called as each counted figure starts (raw,
	// tlog, phones, handoffs-N) and the function it returns as it ends:
	// `valise bench --cpuprofile` profiles each figure on its own.
	Measure func(figure string) func()
}

// Bench runs every measurement on the migrated, otherwise empty database
// at dbURL: raw inserts and tlog appends at 64 connections, hand-offs
// through a real HTTP API (with its integrator) at each client count, the
// policy decision and seal verification. It prints each result with Logf.
func Bench(ctx context.Context, dbURL string, o BenchOptions) ([]Rate, error) {
	if o.Duration == 0 {
		o.Duration = 3 * time.Second
	}
	if o.Clients == nil {
		o.Clients = []int{1, 16, 64}
	}
	if o.Phones == 0 {
		o.Phones = 16
	}
	if o.PoolSize == 0 {
		o.PoolSize = 16 // valise serve's default db-max-conns
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	env, err := startBenchServer(ctx, dbURL, o.PoolSize, max(slices.Max(o.Clients), o.Phones))
	if err != nil {
		return nil, err
	}
	defer env.close()
	env.measure = o.Measure
	var out []Rate
	add := func(r Rate, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		o.Logf("%s", r)
		out = append(out, r)
		// A figure writes tens of thousands of rows in seconds into
		// tables that were empty: without fresh statistics the next
		// figure's statements (foreign-key checks among them, whose plans
		// each backend keeps) would seq-scan tables the planner still
		// thinks empty. Autovacuum analyzes within its naptime on a real
		// server; the bench does it between figures.
		if _, err := env.pool.Exec(ctx, "ANALYZE"); err != nil {
			return fmt.Errorf("analyze after %s: %w", r.Name, err)
		}
		return nil
	}
	if err := add(env.counted("raw", func() (Rate, error) { return RawInserts(ctx, env.raw, 64, o.Duration) })); err != nil {
		return out, err
	}
	if err := add(env.counted("tlog", func() (Rate, error) { return TlogAppends(ctx, env.raw, 64, o.Duration) })); err != nil {
		return out, err
	}
	env.closeRaw()
	// Phones before the hand-offs: each pair's "second" still holds its bag.
	phones, err := EnrolPhones(ctx, env.client, env.url, env.ident, env.pairs[:o.Phones])
	if err != nil {
		return out, err
	}
	signed := SignAhead(phones, env.pairs[:o.Phones], 100, o.Duration)
	if err := add(env.counted("phones", func() (Rate, error) {
		return PhoneSyncs(ctx, phones, env.pairs[:o.Phones], signed, 100, o.Duration)
	})); err != nil {
		return out, err
	}
	for _, n := range o.Clients {
		if err := add(env.counted(fmt.Sprint("handoffs-", n), func() (Rate, error) {
			return HandOffs(ctx, env.client, env.url, env.pairs[:n], o.Duration)
		})); err != nil {
			return out, err
		}
	}
	if err := add(PolicyDecision(ctx, env.authz, o.Duration/3)); err != nil {
		return out, err
	}
	list, err := env.trustList(ctx)
	if err != nil {
		return out, err
	}
	sv, raw, err := SealVerify(ctx, list, env.pairs[0].Seals[0], o.Duration/3)
	if err := add(sv, err); err != nil {
		return out, err
	}
	if err := add(raw, nil); err != nil {
		return out, err
	}
	return out, nil
}
