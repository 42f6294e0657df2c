package db

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A Scope makes one transaction of everything a request writes, so that
// something outside the domain — the HTTP layer's Idempotency-Key record —
// commits or rolls back with the domain's work. The domain packages need not
// know: while ctx carries a Scope for their pool, InTx, InTxOpts and
// InTxBatch do not open a transaction of their own. The first of them begins
// the scope's transaction with its own options and runs the scope's OnBegin
// in it; each runs its fn in a savepoint, rolled back if fn fails; none
// commits. The owner of the scope commits (or rolls back) when the request is
// done.
//
// A serialization failure, deadlock or lost connection inside a scope dooms
// the whole transaction (it cannot be retried from inside fn): the scope
// records it, every later call fails at once, and Retry says whether the
// owner should roll back and run the whole request again.
type Scope struct {
	pool *pgxpool.Pool
	// OnBegin runs first in the transaction, before any fn; its error fails
	// the call that began the transaction.
	OnBegin func(ctx context.Context, tx pgx.Tx) error
	tx      pgx.Tx
	failed  error
	// savepoints names each call's savepoint.
	savepoints int
	borrowed   bool // tx belongs to the caller (ScopeOn)
}

type scopeKey struct{}

// NewScope returns a scope over pool; put it in a context with WithScope.
func NewScope(pool *pgxpool.Pool, onBegin func(ctx context.Context, tx pgx.Tx) error) *Scope {
	return &Scope{pool: pool, OnBegin: onBegin}
}

// ScopeOn returns a scope over pool whose transaction is tx, begun and
// committed by its owner (a group committer's request): the domain's
// transactions in it become savepoints of tx. Its Commit and Rollback do
// nothing.
func ScopeOn(pool *pgxpool.Pool, tx pgx.Tx) *Scope {
	return &Scope{pool: pool, tx: tx, borrowed: true}
}

// WithScope returns ctx carrying sc.
func WithScope(ctx context.Context, sc *Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, sc)
}

func scopeFor(ctx context.Context, pool *pgxpool.Pool) *Scope {
	sc, _ := ctx.Value(scopeKey{}).(*Scope)
	if sc == nil || sc.pool != pool {
		return nil
	}
	return sc
}

// Tx is the scope's transaction, nil until a call began it.
func (sc *Scope) Tx() pgx.Tx { return sc.tx }

// Failed is the failure that doomed the transaction, or nil.
func (sc *Scope) Failed() error { return sc.failed }

// Retry reports whether the transaction failed on a serialization failure
// or deadlock: rolled back and run again, the request may succeed.
func (sc *Scope) Retry() bool { return sc.failed != nil && Retryable(sc.failed) }

// Commit commits the transaction (a no-op when none was begun).
func (sc *Scope) Commit(ctx context.Context) error {
	if sc.failed != nil {
		return Classify(sc.failed)
	}
	if sc.tx == nil || sc.borrowed {
		return nil
	}
	err := sc.tx.Commit(ctx)
	sc.tx = nil
	if err != nil {
		sc.failed = err
		return Classify(err)
	}
	return nil
}

// Rollback rolls the transaction back, if any; safe to call after Commit.
func (sc *Scope) Rollback(ctx context.Context) {
	if sc.tx != nil && !sc.borrowed {
		_ = sc.tx.Rollback(context.WithoutCancel(ctx))
		sc.tx = nil
	}
}

// fail dooms the scope with err and returns what the caller should see.
func (sc *Scope) fail(err error) error {
	if sc.failed == nil {
		sc.failed = err
	}
	return Classify(err)
}

// doomed reports whether err leaves the transaction unusable for the
// statements after it, whatever a savepoint says.
func doomed(err error) bool { return Retryable(err) || Unavailable(err) }

// run is InTxOpts and InTxBatch inside the scope. Its savepoint is
// queued in the round trip of first's statements (and has a name of its
// own, so a call nested in fn rolls back only its own work); it is never
// released, which would cost a round trip: COMMIT releases them all.
func (sc *Scope) run(ctx context.Context, opts pgx.TxOptions, first func(b *pgx.Batch) error, fn func(tx pgx.Tx) error) error {
	if sc.failed != nil {
		return Classify(sc.failed)
	}
	if sc.tx == nil {
		tx, err := sc.pool.BeginTx(ctx, opts)
		if err != nil {
			return sc.fail(err)
		}
		sc.tx = tx
		if sc.OnBegin != nil {
			if err := sc.OnBegin(ctx, tx); err != nil {
				return sc.fail(err)
			}
		}
	}
	sc.savepoints++
	sp := "scope_" + strconv.Itoa(sc.savepoints)
	b := &pgx.Batch{}
	b.Queue("SAVEPOINT " + sp)
	if first != nil {
		if err := first(b); err != nil {
			return Classify(err) // nothing was sent
		}
	}
	if err := sc.tx.SendBatch(ctx, b).Close(); err != nil {
		return sc.undo(ctx, sp, err)
	}
	if err := fn(sc.tx); err != nil {
		return sc.undo(ctx, sp, err)
	}
	return nil
}

// undo rolls back to the savepoint after fn's error: the transaction goes on
// with what came before, unless the error doomed it.
func (sc *Scope) undo(ctx context.Context, sp string, err error) error {
	if doomed(err) {
		return sc.fail(err)
	}
	if _, rerr := sc.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+sp); rerr != nil {
		return sc.fail(rerr)
	}
	return Classify(err)
}

// Q is what reads in ctx should go through: the transaction of ctx's scope
// over pool once it has begun (so they see what the scope wrote), else pool.
func Q(ctx context.Context, pool *pgxpool.Pool) Querier {
	if sc := scopeFor(ctx, pool); sc != nil && sc.tx != nil && sc.failed == nil {
		return sc.tx
	}
	return pool
}
