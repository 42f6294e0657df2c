package policy

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// decisionWriter writes denies to the decision log off the request path. A
// deny that waited for its INSERT answered a few milliseconds later than a
// plain "no such row", so the time of a 404 told a hidden resource from a
// missing one; now Authorize only appends to a queue, and one goroutine per
// authorizer (running only while there is something to write) copies the
// queue to the database in batches.
//
// Nothing is lost silently: a full queue or a batch the database refused
// after its retries is logged at error level row by row (the server log is
// then the record) and counted in Stats; Flush waits until every queued row
// is written, and the server flushes on shutdown.
type decisionWriter struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	max  int // queue bound: beyond it a row goes to the server log only

	mu      sync.Mutex
	queue   []decisionRow
	running bool
	idle    chan struct{} // closed when the writer stops with the queue empty

	written, dropped atomic.Uint64
}

// decisionRow is one deny, as the decision_log table holds it.
type decisionRow struct {
	at                                          time.Time
	userID, username, unit, action, kind, resID string
	level                                       Level
	hidden                                      bool
	reason, detail                              string
}

// retry waits between the attempts to write one batch.
var decisionRetry = []time.Duration{50 * time.Millisecond, 250 * time.Millisecond, time.Second}

const decisionBatch = 500

func newDecisionWriter(pool *pgxpool.Pool, log *slog.Logger, max int) *decisionWriter {
	return &decisionWriter{pool: pool, log: log, max: max}
}

// add queues a row; it never blocks on the database.
func (w *decisionWriter) add(r decisionRow) {
	w.mu.Lock()
	if len(w.queue) >= w.max {
		w.mu.Unlock()
		w.lost(r, "the decision log queue is full")
		return
	}
	w.queue = append(w.queue, r)
	if !w.running {
		w.running, w.idle = true, make(chan struct{})
		go w.run()
	}
	w.mu.Unlock()
}

func (w *decisionWriter) run() {
	for {
		w.mu.Lock()
		n := min(len(w.queue), decisionBatch)
		if n == 0 {
			w.running = false
			close(w.idle)
			w.mu.Unlock()
			return
		}
		batch := w.queue[:n:n]
		w.queue = w.queue[n:]
		w.mu.Unlock()
		w.write(batch)
	}
}

func (w *decisionWriter) write(batch []decisionRow) {
	var err error
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = w.pool.CopyFrom(ctx, pgx.Identifier{"decision_log"},
			[]string{"at", "user_id", "username", "unit_code", "action", "resource_kind", "resource_id",
				"resource_level", "allowed", "hidden", "reason", "detail"},
			pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) {
				r := batch[i]
				return []any{r.at, r.userID, r.username, r.unit, r.action, r.kind, r.resID, int16(r.level),
					false, r.hidden, r.reason, r.detail}, nil
			}))
		cancel()
		if err == nil {
			w.written.Add(uint64(len(batch)))
			return
		}
		if attempt == len(decisionRetry) {
			break
		}
		time.Sleep(decisionRetry[attempt])
	}
	for _, r := range batch {
		w.lost(r, "write decision log: "+err.Error())
	}
}

// lost records in the server log, at error level and in full, a deny the
// decision log table will not hold, and counts it.
func (w *decisionWriter) lost(r decisionRow, why string) {
	w.dropped.Add(1)
	w.log.LogAttrs(context.Background(), slog.LevelError, "decision log row not written: this line is its record",
		slog.String("why", why), slog.Time("at", r.at),
		slog.String("user", r.username), slog.String("user_id", r.userID), slog.String("unit", r.unit),
		slog.String("action", r.action), slog.String("resource_kind", r.kind), slog.String("resource_id", r.resID),
		slog.String("resource_level", r.level.String()), slog.Bool("hidden", r.hidden),
		slog.String("reason", r.reason), slog.String("detail", r.detail))
}

// flush waits until every row queued before it is written (or logged as
// lost), or ctx ends.
func (w *decisionWriter) flush(ctx context.Context) error {
	w.mu.Lock()
	if !w.running {
		w.mu.Unlock()
		return nil
	}
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// abandon logs every still-queued row as lost and empties the queue (the
// process is stopping and the database did not take them in time).
func (w *decisionWriter) abandon() {
	w.mu.Lock()
	rest := w.queue
	w.queue = nil
	w.mu.Unlock()
	for _, r := range rest {
		w.lost(r, "shutdown: the database did not take the row in time")
	}
}

// DecisionLogStats is what the decision-log writer has done so far.
type DecisionLogStats struct {
	Written uint64 // rows in the table
	Dropped uint64 // rows only in the server log (queue full, or the database refused them)
	Pending int    // rows waiting to be written
}
