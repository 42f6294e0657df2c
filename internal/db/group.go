package db

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Group commit. A commit costs a WAL flush (an fsync of the WAL device),
// and one transaction per request makes the disk's fsyncs per second the
// ceiling of every write path. The grouped write path (custody hand-offs,
// checkpoint scans, phone sync records) instead runs the requests that
// arrive together in one transaction:
//
//   - each request runs inside its own SAVEPOINT: a request that fails is
//     rolled back to it, and the others go on (all-or-nothing per request);
//   - every request is answered only after the COMMIT that holds its work
//     has returned (synchronous_commit stays on: acknowledged means durable);
//   - a group that cannot commit (a failed COMMIT, a deadlock or
//     serialization failure, a lost connection) runs each of its requests
//     again once, alone, in its own transaction (as InTx would), so one bad
//     request costs the others at most that one retry;
//   - a worker takes whatever is queued when it is free and never waits for
//     a group to fill: one client alone gets a group of one at once.
//
// Requests are spread over a few workers by a key (the bag): requests of one
// bag in one process go to one worker, so two groups of one process never
// wait for each other's row locks. Groups of different processes on one
// database can: a request that waits longer than GroupLockTimeout for a lock
// is rolled back to its savepoint and run alone after its group commits, so
// two groups never deadlock (the row locks keep the data right either way).

// GroupOptions tune a pool's group committer.
type GroupOptions struct {
	Workers     int           // default 4: groups in flight at once (each holds a connection)
	MaxRequests int           // default 32: requests per group (PostgreSQL caches 64 subtransactions)
	Idle        time.Duration // default 1s: an idle worker stops after this
	LockTimeout time.Duration // default GroupLockTimeout
}

// GroupDeadline bounds a group's transaction (its requests ran with no
// deadline of their own once queued).
const GroupDeadline = time.Minute

// GroupLockTimeout is how long a grouped request waits for a row lock held
// elsewhere before it leaves its group to run alone.
const GroupLockTimeout = 200 * time.Millisecond

// GroupCommit turns the grouping on or off for every pool (on by default);
// off, grouped calls run in a transaction of their own, as before (for
// comparison in benchmarks).
var GroupCommit atomic.Bool

func init() { GroupCommit.Store(true) }

// GroupStats counts what the committers did (for benchmarks and metrics).
var GroupStats struct {
	Groups, Requests, Solo atomic.Int64
}

type groupKey struct{}

// Grouped marks ctx so that the next InTxOpts or InTxBatch on a pool runs in
// the pool's group committer, with key (a bag id) choosing its worker. Pass
// it to that call only, not to the context the transaction's own function
// uses (a transaction started from inside a group would wait for itself).
func Grouped(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, groupKey{}, key)
}

var groups sync.Map // *pgxpool.Pool -> *group

// SetGroupOptions configures pool's committer; call it before the pool's
// first grouped transaction.
func SetGroupOptions(pool *pgxpool.Pool, o GroupOptions) { groups.Store(pool, newGroup(pool, o)) }

func groupFor(ctx context.Context, pool *pgxpool.Pool) (*group, string) {
	key, ok := ctx.Value(groupKey{}).(string)
	if !ok || !GroupCommit.Load() {
		return nil, ""
	}
	if g, ok := groups.Load(pool); ok {
		return g.(*group), key
	}
	g, _ := groups.LoadOrStore(pool, newGroup(pool, GroupOptions{}))
	return g.(*group), key
}

type group struct {
	pool    *pgxpool.Pool
	o       GroupOptions
	queues  []chan *groupReq
	running []atomic.Bool
}

type groupReq struct {
	ctx   context.Context
	opts  pgx.TxOptions
	first func(b *pgx.Batch) error
	fn    func(tx pgx.Tx) error
	done  chan error
}

func newGroup(pool *pgxpool.Pool, o GroupOptions) *group {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 32
	}
	if o.Idle <= 0 {
		o.Idle = time.Second
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = GroupLockTimeout
	}
	g := &group{pool: pool, o: o, queues: make([]chan *groupReq, o.Workers), running: make([]atomic.Bool, o.Workers)}
	for i := range g.queues {
		g.queues[i] = make(chan *groupReq, 4096)
	}
	return g
}

// do runs one request in a group and returns once its group has committed
// (or it has run alone).
func (g *group) do(ctx context.Context, key string, opts pgx.TxOptions, first func(b *pgx.Batch) error, fn func(tx pgx.Tx) error) error {
	h := fnv.New32a()
	h.Write([]byte(key))
	w := int(h.Sum32() % uint32(len(g.queues)))
	r := &groupReq{ctx: context.WithoutCancel(ctx), opts: opts, first: first, fn: fn, done: make(chan error, 1)}
	select {
	case g.queues[w] <- r:
	case <-ctx.Done():
		return Classify(ctx.Err())
	}
	g.kick(w)
	// Once queued, the answer waits for the outcome: a request answered
	// before its group commits could be reported failed and yet be durable.
	return <-r.done
}

// kick starts worker w unless it runs.
func (g *group) kick(w int) {
	if g.running[w].CompareAndSwap(false, true) {
		go g.work(w)
	}
}

func (g *group) work(w int) {
	q := g.queues[w]
	idle := time.NewTimer(g.o.Idle)
	defer idle.Stop()
	for {
		var r *groupReq
		select {
		case r = <-q:
		case <-idle.C:
			g.running[w].Store(false)
			// A request queued while stopping finds no worker unless this
			// one takes it back.
			if len(q) > 0 && g.running[w].CompareAndSwap(false, true) {
				idle.Reset(g.o.Idle)
				continue
			}
			return
		}
		batch := []*groupReq{r}
	fill:
		for len(batch) < g.o.MaxRequests {
			select {
			case r := <-q:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.commit(batch)
		idle.Reset(g.o.Idle)
	}
}

// commit runs batch in one transaction and answers every request.
func (g *group) commit(batch []*groupReq) {
	GroupStats.Groups.Add(1)
	GroupStats.Requests.Add(int64(len(batch)))
	// The group's own deadline: its requests' contexts lost theirs (a
	// request queued must learn its outcome), and a server that stops
	// answering must not hold the worker for ever.
	ctx, cancel := context.WithTimeout(context.Background(), GroupDeadline)
	defer cancel()
	// Requests of another isolation than the first's run alone.
	var other, late []*groupReq
	opts := batch[0].opts
	kept := batch[:0]
	for _, r := range batch {
		if r.opts == opts {
			kept = append(kept, r)
		} else {
			other = append(other, r)
		}
	}
	batch = kept
	conn, err := g.pool.Acquire(ctx)
	if err != nil {
		g.alone(append(batch, other...))
		return
	}
	defer conn.Release()
	var (
		tx     pgx.Tx
		ran    []*groupReq // ran in the transaction: answered after the commit
		errs   []error     // their outcome (nil: done; else rolled back to the savepoint)
		doomed bool
	)
	for _, r := range batch {
		b := &pgx.Batch{}
		if tx == nil {
			b.BeginTx(opts)
			b.Queue(`SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(g.o.LockTimeout.Milliseconds(), 10))
		}
		b.Queue(`SAVEPOINT g`)
		if err := r.first(b); err != nil { // refused before sending anything
			ran, errs = append(ran, r), append(errs, err)
			continue
		}
		var br pgx.BatchResults
		if tx == nil {
			br = conn.SendBatch(ctx, b)
			tx = br.Tx()
		} else {
			br = tx.SendBatch(ctx, b)
		}
		err := br.Close()
		if err == nil {
			err = r.fn(tx)
		}
		if err == nil {
			ran, errs = append(ran, r), append(errs, nil)
			continue
		}
		st := conn.Conn().PgConn().TxStatus()
		if st != 'T' && st != 'E' || Retryable(err) || (Unavailable(err) && !lockTimeout(err)) {
			doomed = true // the transaction is gone or cannot go on
			break
		}
		if _, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT g`); rerr != nil {
			doomed = true
			break
		}
		if lockTimeout(err) {
			late = append(late, r) // waited for a lock held elsewhere: alone, after the commit
			continue
		}
		ran, errs = append(ran, r), append(errs, err)
	}
	if tx != nil && !doomed {
		if err := tx.Commit(ctx); err != nil {
			doomed = true
		}
	}
	if doomed {
		// Nothing of the group stays: every request runs again, alone.
		if tx != nil {
			_ = tx.Rollback(ctx)
		}
		g.alone(append(batch, other...))
		return
	}
	for i, r := range ran {
		r.done <- Classify(errs[i])
	}
	g.alone(append(late, other...))
}

// alone runs each request in its own transaction, as InTxBatch does.
func (g *group) alone(rs []*groupReq) {
	for _, r := range rs {
		GroupStats.Solo.Add(1)
		r.done <- retryTx(r.ctx, beginBatch(g.pool, r.opts, r.first), r.fn)
	}
}

func lockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}
