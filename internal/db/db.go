// Package db opens the PostgreSQL pool with the limits Valise relies on and
// runs transactions that retry serialization failures.
package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
)

// Options tune the pool. Zero values take the defaults noted on each field.
type Options struct {
	MaxConns          int32         // default 16
	MinConns          int32         // default 0
	ConnectTimeout    time.Duration // default 5s: a dead server must not hang requests
	StatementTimeout  time.Duration // default 30s, set per connection
	MaxConnLifetime   time.Duration // default 1h
	MaxConnIdleTime   time.Duration // default 5m
	HealthCheckPeriod time.Duration // default 15s
	// Tracer, when set, sees every query and batch (the benchmark counts
	// round trips with it).
	Tracer pgx.QueryTracer
}

// Open parses url, applies the options and returns a pool. It does not wait
// for the server: use Ping for that, so callers can retry with backoff.
func Open(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.ConnectTimeout, 5*time.Second)
	def(&o.StatementTimeout, 30*time.Second)
	def(&o.MaxConnLifetime, time.Hour)
	def(&o.MaxConnIdleTime, 5*time.Minute)
	def(&o.HealthCheckPeriod, 15*time.Second)
	if o.MaxConns == 0 {
		o.MaxConns = 16
	}
	cfg.MaxConns = o.MaxConns
	cfg.MinConns = o.MinConns
	cfg.MaxConnLifetime = o.MaxConnLifetime
	cfg.MaxConnIdleTime = o.MaxConnIdleTime
	cfg.HealthCheckPeriod = o.HealthCheckPeriod
	cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	if o.Tracer != nil {
		cfg.ConnConfig.Tracer = o.Tracer
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	cfg.ConnConfig.RuntimeParams["application_name"] = "valise"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	return pool, nil
}

// Querier is what both a pool and a transaction offer; domain functions take
// it so they run inside or outside a transaction alike.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
}

// ValidUUID reports whether s is a UUID in its canonical text form, so a
// malformed id can be answered "not found" rather than a database error.
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// TxOptions are the options InTx uses; the default isolation is serializable,
// which makes "two clerks cannot both win" a property of the database.
var TxOptions = pgx.TxOptions{IsoLevel: pgx.Serializable}

// ReadCommitted is for transactions that take a hot counter (a registry
// number, pouch.NextNumber) or otherwise serialize on rows they lock: a
// writer waits for the row lock and then sees the committed row, where a
// serializable transaction would fail with 40001 whenever two run at once
// and exhaust its retries under load. Such a transaction must lock (FOR
// UPDATE, or an UPDATE) every row its decision rests on.
var ReadCommitted = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// MaxAttempts bounds the retries of a transaction that lost a serialization
// race. Contention is not an error: SSI also aborts transactions of
// unrelated rows that share index pages (32 clients correcting 32 different
// bags lost 2 of 128 after 8 attempts), and one of any conflicting set always
// commits, so a loser retries until it wins — within the request's deadline,
// and this bound for callers without one.
const MaxAttempts = 64

// Backoff is the pause before attempt+1: growing with the attempt, jittered
// so the losers of one race do not meet again, and capped at 50 ms.
func Backoff(attempt int) time.Duration {
	d := time.Duration(attempt*attempt) * time.Millisecond * time.Duration(1+time.Now().UnixNano()%5)
	return min(d, 50*time.Millisecond)
}

// InTx runs fn in a serializable transaction and commits it (inside a Scope:
// in the scope's transaction, committed by its owner; see Scope). A serialization
// failure or deadlock rolls back and runs fn again (with a short jittered
// backoff) up to MaxAttempts times; fn must therefore have no side effects
// outside the transaction. Any other error rolls back and is returned.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	return InTxOpts(ctx, pool, TxOptions, fn)
}

// InTxOpts is InTx with explicit transaction options.
func InTxOpts(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	if sc := scopeFor(ctx, pool); sc != nil {
		return sc.run(ctx, opts, nil, fn)
	}
	if g, key := groupFor(ctx, pool); g != nil {
		return g.do(ctx, key, opts, func(*pgx.Batch) error { return nil }, fn)
	}
	return retryTx(ctx, func(ctx context.Context) (pgx.Tx, error) { return pool.BeginTx(ctx, opts) }, fn)
}

// InTxBatch is InTxOpts whose transaction begins in the same round trip as
// the statements first queues (pgx.Batch.BeginTx): one round trip for BEGIN
// and the transaction's reads instead of one each. first is called on every
// attempt with a fresh batch; its queued callbacks run before fn is called
// with the open transaction. An error from the batch (or a callback) rolls
// back and is retried like any other when it is a serialization failure.
func InTxBatch(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, first func(b *pgx.Batch) error,
	fn func(tx pgx.Tx) error) error {
	if sc := scopeFor(ctx, pool); sc != nil {
		return sc.run(ctx, opts, first, fn)
	}
	if g, key := groupFor(ctx, pool); g != nil {
		return g.do(ctx, key, opts, first, fn)
	}
	return retryTx(ctx, beginBatch(pool, opts, first), fn)
}

// beginBatch begins a transaction in the round trip of the statements first
// queues.
func beginBatch(pool *pgxpool.Pool, opts pgx.TxOptions, first func(b *pgx.Batch) error) func(ctx context.Context) (pgx.Tx, error) {
	return func(ctx context.Context) (pgx.Tx, error) {
		b := &pgx.Batch{}
		b.BeginTx(opts)
		if err := first(b); err != nil {
			return nil, err
		}
		br := pool.SendBatch(ctx, b)
		tx := br.Tx()
		if err := br.Close(); err != nil {
			_ = tx.Rollback(ctx)
			return nil, err
		}
		return tx, nil
	}
}

// retryTx runs fn in the transaction begin opens and commits it, retrying
// serialization failures and deadlocks (with a short jittered backoff) up to
// MaxAttempts times.
func retryTx(ctx context.Context, begin func(ctx context.Context) (pgx.Tx, error), fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		err = runTx(ctx, begin, fn)
		if err == nil || !Retryable(err) {
			return Classify(err)
		}
		select {
		case <-ctx.Done():
			return Classify(ctx.Err())
		case <-time.After(Backoff(attempt)):
		}
	}
	return Classify(fmt.Errorf("transaction gave up after %d attempts: %w", MaxAttempts, err))
}

func runTx(ctx context.Context, begin func(ctx context.Context) (pgx.Tx, error), fn func(tx pgx.Tx) error) error {
	tx, err := begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }() // after Commit a no-op; else undoes fn's error or panic
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Retryable reports whether err is a serialization failure or deadlock.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}

// RuleRefused is the SQLSTATE a migration's trigger raises to refuse a
// change on a rule of the domain (for example the DM-14 plan-review gate):
// its message is written for the caller, and its hint names what is missing.
const RuleRefused = "VL409"

// RetryAfter is what a 503 from Classify tells the caller to wait, in seconds.
const RetryAfter = 1

// Classify is the one place a database failure gets its meaning: one that
// says the database is unreachable, restarting, overloaded or too contended
// right now (Unavailable) becomes valise.EUNAVAILABLE, which the HTTP layer
// answers 503 with Retry-After; it is never a 500. Other errors, and errors
// that already carry a valise code, pass through unchanged, but a
// trigger's RuleRefused becomes valise.ECONFLICT with the trigger's message.
func Classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == RuleRefused {
		return &valise.Error{Code: valise.ECONFLICT, Message: pgErr.Message, Extra: map[string]any{"missing": pgErr.Hint}}
	}
	if err == nil || !Unavailable(err) {
		return err
	}
	var ve *valise.Error
	if errors.As(err, &ve) {
		return err
	}
	return &valise.Error{Code: valise.EUNAVAILABLE, Message: "the database is unavailable; try again shortly",
		Extra: map[string]any{"retry_after_seconds": RetryAfter}}
}

// Unavailable reports whether err means the database could not be reached,
// went away, is shutting down or starting up, is out of resources, or is
// too busy right now (a statement or request timeout, a lock or
// serialization conflict that outlived its retries) — as opposed to a query
// that failed on its merits. The same request may succeed when retried.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case code == "57P01", // admin_shutdown
			code == "57P02",               // crash_shutdown
			code == "57P03",               // cannot_connect_now (starting up, shutting down, recovering)
			code == "57P05",               // idle_session_timeout
			code == "57014",               // query_canceled (statement_timeout)
			code == "55P03",               // lock_not_available
			code == "40001",               // serialization_failure, after InTx's retries
			code == "40P01",               // deadlock_detected, likewise
			strings.HasPrefix(code, "08"), // connection exceptions
			strings.HasPrefix(code, "53"): // insufficient resources: too many connections, disk full, out of memory
			return true
		}
		return false
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	switch {
	case errors.As(err, &netErr), errors.As(err, &connErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, pgconn.ErrConnClosed), strings.HasSuffix(err.Error(), "closed pool"), // puddle.ErrClosedPool
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}
