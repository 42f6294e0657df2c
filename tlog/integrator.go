package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/transparency-dev/merkle/compact"
)

// integratorLock is the advisory lock key held by the integrating round.
const integratorLock = 0x76616c6f67 // "valog"

// IntegratorOptions tune an Integrator. Zero values take the defaults.
type IntegratorOptions struct {
	Origin   string        // checkpoint origin line; default the key's name
	Interval time.Duration // pause between rounds; default 500ms (checkpoints at most this late)
	Batch    int           // most leaves per round; default 20000
	Logger   *slog.Logger  // default slog.Default()
}

// Integrator sequences appended leaves into the tree and signs checkpoints.
// Run it in every API process: an advisory lock lets one round run at a time.
type Integrator struct {
	pool *pgxpool.Pool
	key  *Key
	opt  IntegratorOptions
	rf   compact.RangeFactory
	// size is the tree size after this integrator's last round, analyzed
	// the size at which it last analyzed the log's tables (maybeAnalyze).
	size, analyzed atomic.Int64
}

// NewIntegrator returns an integrator that signs with key.
func NewIntegrator(pool *pgxpool.Pool, key *Key, opt IntegratorOptions) *Integrator {
	if opt.Origin == "" {
		opt.Origin = key.Signer.Name()
	}
	if opt.Interval == 0 {
		opt.Interval = 500 * time.Millisecond
	}
	if opt.Batch == 0 {
		opt.Batch = 20000
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Integrator{pool: pool, key: key, opt: opt, rf: compact.RangeFactory{Hash: hasher.HashChildren}}
}

// Run integrates until ctx ends: a round every Interval, at once again when
// a round was full. Errors are logged and the next round retries.
func (g *Integrator) Run(ctx context.Context) {
	for {
		n, err := g.IntegrateOnce(ctx)
		if err != nil && ctx.Err() == nil {
			g.opt.Logger.Warn("custody log integration failed; retrying", "err", err)
		}
		if n >= g.opt.Batch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(g.opt.Interval):
		}
	}
}

// IntegrateOnce runs one round: if no other process holds the integration
// lock, it indexes the committed leaves that have none yet (at most Batch),
// stores the new node hashes and signs a checkpoint of the new size. It
// returns how many leaves it integrated (0 when nothing was new or another
// process was integrating). The first round on an empty log signs a size-0
// checkpoint so the log always has one to serve.
func (g *Integrator) IntegrateOnce(ctx context.Context) (int, error) {
	return g.integrateOnce(ctx, false)
}

// Flush is IntegrateOnce that waits for another process's round to end
// instead of skipping: when it returns, every leaf committed before it was
// called (up to Batch of them) is in a signed checkpoint. It is for a caller
// that must see its own leaves integrated now (a test, a bulk load), while
// background integrators may be running.
func (g *Integrator) Flush(ctx context.Context) (int, error) {
	return g.integrateOnce(ctx, true)
}

func (g *Integrator) integrateOnce(ctx context.Context, wait bool) (int, error) {
	n := 0
	err := pgx.BeginTxFunc(ctx, g.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var err error
		n, err = g.integrate(ctx, tx, wait)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("integrate custody log: %w", err)
	}
	if n > 0 {
		g.maybeAnalyze(ctx)
	}
	return n, nil
}

// maybeAnalyze refreshes the planner's statistics of the log's tables each
// time the tree has doubled since this integrator last did (from 1,024
// leaves on). A log that grows from nothing outruns autovacuum's first
// analyze, and every backend keeps the plan of its foreign-key checks
// (tlog_index → tlog_entries) made while the table looked empty: a
// sequential scan per integrated leaf, growing with the log, until
// statistics change. Doubling keeps the analyzes to a few dozen over the
// log's life.
func (g *Integrator) maybeAnalyze(ctx context.Context) {
	size := g.size.Load()
	if size < 1024 || size < 2*g.analyzed.Load() {
		return
	}
	if _, err := g.pool.Exec(ctx, `ANALYZE tlog_entries, tlog_index, tlog_nodes`); err != nil {
		g.opt.Logger.Warn("custody log: analyze failed", "err", err)
		return
	}
	g.analyzed.Store(size)
}

func (g *Integrator) integrate(ctx context.Context, tx pgx.Tx, wait bool) (int, error) {
	leader := true
	if wait {
		// The statements after this one see what the round that held the
		// lock committed (READ COMMITTED: a new snapshot each).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, integratorLock); err != nil {
			return 0, err
		}
	} else if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, integratorLock).Scan(&leader); err != nil {
		return 0, err
	}
	if !leader {
		return 0, nil
	}
	// The tree as of the newest checkpoint.
	var (
		size     int64
		root     []byte
		floor    string
		havePrev = true
	)
	err := tx.QueryRow(ctx, `SELECT size, root, xid_floor::text FROM tlog_checkpoints ORDER BY size DESC LIMIT 1`).
		Scan(&size, &root, &floor)
	if errors.Is(err, pgx.ErrNoRows) {
		havePrev, floor = false, "0"
	} else if err != nil {
		return 0, fmt.Errorf("read tree state: %w", err)
	}
	// Read the floor for the next round BEFORE looking for leaves: any
	// transaction older than it has finished, so the query below sees it.
	var nextFloor string
	if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&nextFloor); err != nil {
		return 0, fmt.Errorf("read snapshot: %w", err)
	}
	rows, err := tx.Query(ctx, `
		SELECT e.id, e.leaf_hash FROM tlog_entries e
		WHERE e.xid >= $1::xid8 AND NOT EXISTS (SELECT 1 FROM tlog_index i WHERE i.entry_id = e.id)
		ORDER BY e.id LIMIT $2`, floor, g.opt.Batch)
	if err != nil {
		return 0, fmt.Errorf("find new leaves: %w", err)
	}
	var (
		ids    []int64
		hashes [][]byte
	)
	for rows.Next() {
		var id int64
		var h []byte
		if err := rows.Scan(&id, &h); err != nil {
			return 0, err
		}
		ids, hashes = append(ids, id), append(hashes, h)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find new leaves: %w", err)
	}
	if len(ids) == 0 && havePrev {
		return 0, nil
	}
	if len(ids) == g.opt.Batch {
		nextFloor = floor // a full batch may have left older leaves behind
	}

	rng, err := g.loadRange(ctx, tx, uint64(size))
	if err != nil {
		return 0, err
	}
	if havePrev {
		got, err := rootOf(rng)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(got, root) {
			return 0, fmt.Errorf("stored nodes give root %x for size %d, checkpoint says %x: run `valise audit verify`", got, size, root)
		}
	}
	nodes := make([][]any, 0, len(ids))
	index := make([][]any, 0, len(ids))
	// Leaf nodes are not stored again: a leaf's hash is its entry's.
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 {
			nodes = append(nodes, []any{int16(id.Level), int64(id.Index), h})
		}
	}
	for i, h := range hashes {
		index = append(index, []any{size + int64(i), ids[i]})
		if err := rng.Append(h, visit); err != nil {
			return 0, err
		}
	}
	newRoot, err := rootOf(rng)
	if err != nil {
		return 0, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tlog_index"}, []string{"idx", "entry_id"}, pgx.CopyFromRows(index)); err != nil {
		return 0, fmt.Errorf("store leaf indices: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tlog_nodes"}, []string{"level", "idx", "hash"}, pgx.CopyFromRows(nodes)); err != nil {
		return 0, fmt.Errorf("store node hashes: %w", err)
	}
	cp := Checkpoint{Origin: g.opt.Origin, Size: rng.End(), Root: newRoot}
	signed, err := signCheckpoint(cp, g.key.Signer)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tlog_checkpoints (size, root, note, xid_floor) VALUES ($1, $2, $3, $4::xid8)`,
		int64(cp.Size), cp.Root, string(signed), nextFloor); err != nil {
		return 0, fmt.Errorf("store checkpoint: %w", err)
	}
	g.size.Store(int64(cp.Size))
	return len(ids), nil
}

// rootOf is the root hash of a range starting at 0; the empty tree's root
// is SHA-256 of nothing (RFC 6962).
func rootOf(r *compact.Range) ([]byte, error) {
	if r.End() == 0 {
		return hasher.EmptyRoot(), nil
	}
	return r.GetRootHash(nil)
}

// loadRange rebuilds the compact range [0, size) from the stored roots of
// its perfect subtrees (at most 64 rows).
func (g *Integrator) loadRange(ctx context.Context, q pgx.Tx, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hs, err := fetchNodes(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	return g.rf.NewRange(0, size, hs)
}
