package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/api"
	"valise/crypto/keyring"
	"valise/crypto/password"
	"valise/crypto/trust"
	"valise/demo"
	"valise/identity"
	"valise/internal/db"
	"valise/policy"
	"valise/tlog"
)

// benchEnv is a real API server (HTTP on a loopback port, its own pool and
// custody-log integrator) over the benchmark database, with fixture pairs.
type benchEnv struct {
	pool, raw *pgxpool.Pool
	ts        *httptest.Server
	url       string
	client    *http.Client
	authz     *policy.Authorizer
	ident     *identity.Service
	pairs     []*Pair
	stop      context.CancelFunc
	done      chan struct{}
	trips     *roundTrips
	cpu       cpuMeter
	measure   func(figure string) func() // BenchOptions.Measure
}

// roundTrips counts what a pool sends PostgreSQL: each query (BEGIN and
// COMMIT included) and each batch is one round trip; statements counts a
// batch's queries one by one. The integrator's rounds share the pool and
// are counted too (a few per second).
type roundTrips struct{ trips, stmts atomic.Int64 }

func (r *roundTrips) read() (trips, stmts int64) { return r.trips.Load(), r.stmts.Load() }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.trips.Add(1)
	r.stmts.Add(1)
	return ctx
}

func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.trips.Add(1)
	return ctx
}

func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	r.stmts.Add(1)
}

func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func startBenchServer(ctx context.Context, dbURL string, poolSize int32, pairs int) (*benchEnv, error) {
	e := &benchEnv{done: make(chan struct{}), trips: &roundTrips{}}
	if u, err := url.Parse(dbURL); err == nil {
		e.cpu.dbname = strings.TrimPrefix(u.Path, "/")
	}
	var err error
	if e.pool, err = db.Open(ctx, dbURL, db.Options{MaxConns: poolSize, Tracer: e.trips}); err != nil {
		return nil, err
	}
	if e.raw, err = db.Open(ctx, dbURL, db.Options{MaxConns: 64}); err != nil {
		e.pool.Close()
		return nil, err
	}
	e.raw.Reset()
	fail := func(err error) (*benchEnv, error) { e.close(); return nil, err }
	if err := demo.LoadUnits(ctx, e.pool); err != nil {
		return fail(err)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	quiet := slog.New(slog.DiscardHandler)
	key, err := tlog.LoadOrCreateKey(ctx, e.pool, "valise.bench/custody", master)
	if err != nil {
		return fail(err)
	}
	ictx, stop := context.WithCancel(context.Background())
	e.stop = stop
	g := tlog.NewIntegrator(e.pool, key, tlog.IntegratorOptions{Logger: quiet})
	go func() { defer close(e.done); g.Run(ictx) }()
	// Cheap password hashes: logins are not what is measured.
	cheap := identity.Config{Password: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	// Server errors go to stderr: a benchmark that hides its 500s measures nothing.
	errLog := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv := api.New(e.pool, api.Config{MasterKey: master, Logger: errLog, Identity: cheap, LoginRate: 1 << 20})
	e.authz, e.ident = srv.Authorizer(), srv.Identity()
	e.ts = httptest.NewServer(srv)
	e.url = e.ts.URL
	e.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	if e.pairs, err = Setup(ctx, e.pool, srv.Identity(), master, "b", pairs); err != nil {
		return fail(fmt.Errorf("fixture: %w", err))
	}
	return e, nil
}

func (e *benchEnv) trustList(ctx context.Context) (*trust.List, error) {
	p, err := keyring.Latest(ctx, e.pool)
	if err != nil {
		return nil, err
	}
	_, root, err := keyring.Root(ctx, e.pool)
	if err != nil {
		return nil, err
	}
	return trust.ParseAt(p.Document, root, time.Now())
}

func (e *benchEnv) close() {
	if e.ts != nil {
		e.ts.Close()
	}
	if e.stop != nil {
		e.stop()
		<-e.done
	}
	e.pool.Close()
	e.raw.Close()
}

// closeRaw releases the 64 raw connections before the API is measured, so
// the two pools never hold more than one of them at once.
func (e *benchEnv) closeRaw() { e.raw.Reset() }
