package custodytest

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/api"
	"valise/crypto/keyring"
	"valise/crypto/password"
	"valise/crypto/trust"
	"valise/custody/tlog"
	"valise/demo"
	"valise/identity"
	"valise/internal/db"
	"valise/policy"
)

// benchEnv is a real API server (HTTP on a loopback port, its own pool and
// custody-log integrator) over the benchmark database, with fixture pairs.
type benchEnv struct {
	pool, raw *pgxpool.Pool
	ts        *httptest.Server
	url       string
	client    *http.Client
	authz     *policy.Authorizer
	pairs     []*Pair
	stop      context.CancelFunc
	done      chan struct{}
}

func startBenchServer(ctx context.Context, dbURL string, poolSize int32, pairs int) (*benchEnv, error) {
	e := &benchEnv{done: make(chan struct{})}
	var err error
	if e.pool, err = db.Open(ctx, dbURL, db.Options{MaxConns: poolSize}); err != nil {
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
	e.authz = srv.Authorizer()
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
