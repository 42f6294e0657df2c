package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"valise/internal/db"
)

// Inconsistency is the first place where the stored log disagrees with
// itself or with its signed checkpoints.
type Inconsistency struct {
	// Index is the leaf index at fault, or -1 when the fault is not one leaf's.
	Index int64
	// EntryID is the tlog_entries row at fault, or 0.
	EntryID int64
	// Checkpoint is the size of the checkpoint at fault, or -1.
	Checkpoint int64
	Message    string
	// Regenerated: the leaf at fault is one the log keeps by hash only; its
	// bytes came from the LeafSource, whose caller can name the record
	// they were regenerated from.
	Regenerated bool
}

func (i *Inconsistency) String() string { return i.Message }

// Report is the outcome of an audit. Problem is nil when the log is
// consistent.
type Report struct {
	Leaves      uint64 // leaves recomputed
	Checkpoints int    // checkpoints whose signature and root were checked
	Nodes       uint64 // stored interior node hashes checked
	Root        []byte // recomputed root of the whole tree
	Problem     *Inconsistency
}

// OK reports whether the audit found nothing wrong.
func (r Report) OK() bool { return r.Problem == nil }

// Progress says how far a long audit has come: Done of Total units of the
// named phase (Total is an estimate; 0 when unknown).
type Progress struct {
	Phase string
	Done  int64
	Total int64
}

// AuditOptions tune Audit. Zero values take the defaults.
type AuditOptions struct {
	// Progress, when set, is called after every page.
	Progress func(Progress)
	// PageSize is the most rows one statement reads; default DefaultPageSize.
	PageSize int
	// Leaves gives the bytes of entries appended by hash only
	// (AppendHashWith); the audit hashes what it gives like stored bytes.
	// Nil: every entry must store its bytes.
	Leaves LeafSource
}

// DefaultPageSize is the rows per statement of an audit: small enough that
// one page is milliseconds of work on any log, whatever its size.
const DefaultPageSize = 10000

func (o AuditOptions) page() int {
	if o.PageSize <= 0 {
		return DefaultPageSize
	}
	return o.PageSize
}

func (o AuditOptions) report(phase string, done, total int64) {
	if o.Progress != nil {
		o.Progress(Progress{Phase: phase, Done: done, Total: total})
	}
}

// Audit recomputes the whole tree from the stored leaves, in index order,
// and checks: indices are contiguous from 0; each entry's stored leaf hash
// is the hash of its bytes and equals the stored level-0 node; every stored
// checkpoint verifies with log (and carries the size and root stored beside
// it), and its root is the recomputed root at its size; each checkpoint is
// consistent with the one before (a consistency proof built from the stored
// nodes verifies); every stored interior node is the hash of its children;
// no committed entry older than the newest checkpoint was left out. It
// stops at the FIRST inconsistency, in log order, and names it. The error
// is for failures to read the database, not for what the audit found.
//
// Every table is read in keyset pages (AuditOptions.PageSize rows, each page
// its own statement along a primary key), so no statement grows with the
// log and memory holds one page plus the compact range (at most 64 hashes).
// Run it in a REPEATABLE READ transaction to audit a live log as of one
// moment.
func Audit(ctx context.Context, q db.Querier, log note.Verifier) (Report, error) {
	return AuditWith(ctx, q, log, AuditOptions{})
}

// AuditWith is Audit with options.
func AuditWith(ctx context.Context, q db.Querier, log note.Verifier, o AuditOptions) (Report, error) {
	a := &auditor{q: q, log: log, o: o, rf: compact.RangeFactory{Hash: hasher.HashChildren}}
	a.rng = a.rf.NewEmptyRange(0)
	err := a.run(ctx)
	return a.r, err
}

type cpRow struct {
	size int64
	root []byte
	note string
}

type auditor struct {
	q   db.Querier
	log note.Verifier
	o   AuditOptions
	r   Report
	rf  compact.RangeFactory
	rng *compact.Range

	cps     []cpRow // the current page of checkpoints, from cpNext on
	cpNext  int
	cpAfter int64 // the last checkpoint size read
	cpDone  bool  // every checkpoint has been read
	prev    *Checkpoint
	pair    []byte // the hash of the last even leaf checked
	lastCp  int64  // size of the last checkpoint checked, -1 before any
}

var errFound = errors.New("inconsistency found")

func (a *auditor) fail(index, entry, cp int64, format string, args ...any) error {
	a.r.Problem = &Inconsistency{Index: index, EntryID: entry, Checkpoint: cp, Message: fmt.Sprintf(format, args...)}
	return errFound
}

func (a *auditor) run(ctx context.Context) error {
	a.cpAfter, a.lastCp = -1, -1
	var total int64
	if err := a.q.QueryRow(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM tlog_index`).Scan(&total); err != nil {
		return fmt.Errorf("audit: read tree size: %w", err)
	}
	for _, step := range []func(context.Context, int64) error{a.leaves, a.nodes, a.unindexed} {
		if err := step(ctx, total); err != nil {
			if errors.Is(err, errFound) {
				return nil
			}
			return err
		}
	}
	return nil
}

// nextCheckpoint returns the next stored checkpoint in size order, reading
// them a page at a time; nil after the last.
func (a *auditor) nextCheckpoint(ctx context.Context) (*cpRow, error) {
	if a.cpNext == len(a.cps) && !a.cpDone {
		rows, err := a.q.Query(ctx, `SELECT size, root, note FROM tlog_checkpoints WHERE size > $1 ORDER BY size LIMIT $2`, a.cpAfter, a.o.page())
		if err != nil {
			return nil, fmt.Errorf("audit: read checkpoints: %w", err)
		}
		a.cps, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (cpRow, error) {
			var c cpRow
			err := row.Scan(&c.size, &c.root, &c.note)
			return c, err
		})
		if err != nil {
			return nil, fmt.Errorf("audit: read checkpoints: %w", err)
		}
		a.cpNext = 0
		a.cpDone = len(a.cps) < a.o.page()
		if len(a.cps) > 0 {
			a.cpAfter = a.cps[len(a.cps)-1].size
		}
	}
	if a.cpNext == len(a.cps) {
		return nil, nil
	}
	return &a.cps[a.cpNext], nil
}

// checkCheckpoints checks every checkpoint whose size is the range's end.
func (a *auditor) checkCheckpoints(ctx context.Context) error {
	for {
		c, err := a.nextCheckpoint(ctx)
		if err != nil || c == nil || uint64(c.size) != a.rng.End() {
			return err
		}
		a.cpNext++
		root, err := rootOf(a.rng)
		if err != nil {
			return err
		}
		cp, _, err := OpenCheckpoint([]byte(c.note), a.log)
		switch {
		case err != nil:
			return a.fail(-1, 0, c.size, "checkpoint %d: %v", c.size, err)
		case int64(cp.Size) != c.size || !bytes.Equal(cp.Root, c.root):
			return a.fail(-1, 0, c.size, "checkpoint %d: the signed note says size %d root %x, its row says root %x", c.size, cp.Size, cp.Root, c.root)
		case !bytes.Equal(cp.Root, root):
			lo := int64(0)
			if a.prev != nil {
				lo = int64(a.prev.Size)
			}
			return a.fail(lo, 0, c.size, "checkpoint %d: signed root %x, but the stored leaves give %x: a leaf in [%d, %d) differs from what was signed", c.size, cp.Root, root, lo, c.size)
		}
		if p := a.prev; p != nil && p.Size > 0 && p.Size < cp.Size {
			pf, err := ConsistencyProof(ctx, a.q, p.Size, cp.Size)
			if err == nil {
				err = proof.VerifyConsistency(hasher, p.Size, cp.Size, pf, p.Root, cp.Root)
			}
			if err != nil {
				return a.fail(-1, 0, c.size, "checkpoints %d and %d: consistency proof from the stored nodes fails: %v", p.Size, cp.Size, err)
			}
		}
		a.r.Checkpoints++
		a.prev, a.lastCp = &cp, c.size
	}
}

// leaves recomputes the tree from the leaves, a page of indices at a time,
// checking each checkpoint as the tree reaches its size.
func (a *auditor) leaves(ctx context.Context, total int64) error {
	if err := a.checkCheckpoints(ctx); err != nil {
		return err
	}
	// One page of the index (an ordered range scan that stops after the
	// LIMIT), each row's entry looked up by primary key: a LATERAL ...
	// LIMIT 1 is never flattened into a join, so no statistics can turn it
	// into a hash or merge join over the whole table.
	sql := fmt.Sprintf(`
		SELECT i.idx, i.entry_id, e.leaf, e.leaf_hash, e.id IS NOT NULL, n.hash
		FROM (SELECT idx, entry_id FROM tlog_index WHERE idx >= $1 ORDER BY idx LIMIT %d) i
		LEFT JOIN LATERAL (SELECT id, leaf, leaf_hash FROM tlog_entries e WHERE e.id = i.entry_id LIMIT 1) e ON true
		LEFT JOIN LATERAL (SELECT hash FROM tlog_nodes n WHERE i.idx %% 2 = 1 AND n.level = 1 AND n.idx = i.idx / 2 LIMIT 1) n ON true
		ORDER BY i.idx`, a.o.page())
	type leafRow struct {
		idx, entry          int64
		leaf, stored, node1 []byte
		found               bool
	}
	page := make([]leafRow, 0, a.o.page())
	for {
		// The page is read whole before it is checked: checking a
		// checkpoint reads the tree, and a transaction has one connection.
		from := int64(a.rng.End())
		rows, err := a.q.Query(ctx, sql, from)
		if err != nil {
			return fmt.Errorf("audit: read leaves from %d: %w", from, err)
		}
		page = page[:0]
		for rows.Next() {
			var l leafRow
			if err := rows.Scan(&l.idx, &l.entry, &l.leaf, &l.stored, &l.found, &l.node1); err != nil {
				rows.Close()
				return fmt.Errorf("audit: read leaf: %w", err)
			}
			page = append(page, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("audit: read leaves from %d: %w", from, err)
		}
		// The bytes of entries appended by hash only, regenerated by the
		// source for the whole page.
		ids, leaves := make([]EntryID, len(page)), make([][]byte, len(page))
		for i, l := range page {
			if l.found {
				ids[i] = EntryID(l.entry)
			}
			leaves[i] = l.leaf
		}
		if err := fillLeaves(ctx, a.q, a.o.Leaves, ids, leaves); err != nil {
			return fmt.Errorf("audit: leaves from %d: %w", from, err)
		}
		for i, l := range page {
			if err := a.leaf(ctx, l.idx, l.entry, l.found, leaves[i], l.leaf != nil, l.stored, l.node1); err != nil {
				return err
			}
		}
		a.o.report("log leaves", int64(a.rng.End()), total)
		if len(page) < a.o.page() {
			break
		}
	}
	var err error
	if a.r.Root, err = rootOf(a.rng); err != nil {
		return err
	}
	c, err := a.nextCheckpoint(ctx)
	if err != nil {
		return err
	}
	if c != nil {
		return a.fail(int64(a.rng.End()), 0, c.size, "checkpoint %d covers leaves from %d on, which are missing", c.size, a.rng.End())
	}
	if a.lastCp >= 0 && uint64(a.lastCp) != a.rng.End() {
		return a.fail(a.lastCp, 0, -1, "leaves from %d on have indices but no checkpoint", a.lastCp)
	}
	return nil
}

// leaf checks one leaf: its entry exists, its bytes (stored, or given by
// the leaf source) hash to the entry's leaf hash and, for the second leaf
// of a pair, the pair hashes to the tree's stored node over it (leaf nodes
// are not stored twice: a reordered or rewritten pair shows there).
func (a *auditor) leaf(ctx context.Context, idx, entry int64, found bool, leaf []byte, kept bool, stored, node1 []byte) error {
	want := int64(a.rng.End())
	switch {
	case idx != want:
		return a.fail(want, 0, -1, "leaf %d is missing (the next stored index is %d)", want, idx)
	case !found:
		return a.fail(idx, entry, -1, "leaf %d: its entry %d is missing", idx, entry)
	case leaf == nil:
		err := a.fail(idx, entry, -1, "leaf %d (entry %d): it stores no bytes and the leaf source regenerates none: the row it is regenerated from is missing", idx, entry)
		a.r.Problem.Regenerated = true
		return err
	}
	h := LeafHash(leaf)
	switch {
	case !bytes.Equal(h, stored) && kept:
		return a.fail(idx, entry, -1, "leaf %d (entry %d): its bytes do not hash to the leaf hash stored with them: the entry was altered", idx, entry)
	case !bytes.Equal(h, stored):
		err := a.fail(idx, entry, -1, "leaf %d (entry %d): the bytes regenerated from its source do not hash to the entry's leaf hash: the row they are regenerated from was altered", idx, entry)
		a.r.Problem.Regenerated = true
		return err
	case idx%2 == 1 && !bytes.Equal(node1, hasher.HashChildren(a.pair, h)):
		return a.fail(idx-1, entry, -1, "leaves %d and %d: their hashes do not give the tree's stored node over them: an entry was altered or leaves were reordered", idx-1, idx)
	}
	a.pair = h
	if err := a.rng.Append(h, nil); err != nil {
		return err
	}
	a.r.Leaves++
	return a.checkCheckpoints(ctx)
}

// nodes checks that each stored interior node is the hash of its children,
// a page of nodes at a time in (level, idx) order.
func (a *auditor) nodes(ctx context.Context, total int64) error {
	// A child of a level-1 node is a leaf: its hash is its entry's.
	child := func(name, off string) string {
		return fmt.Sprintf(`LEFT JOIN LATERAL (SELECT hash FROM tlog_nodes %[1]s WHERE p.level > 1 AND %[1]s.level = p.level - 1 AND %[1]s.idx = 2 * p.idx + %[2]s
			UNION ALL SELECT e.leaf_hash FROM tlog_index i CROSS JOIN LATERAL (SELECT leaf_hash FROM tlog_entries e WHERE e.id = i.entry_id LIMIT 1) e
			WHERE p.level = 1 AND i.idx = 2 * p.idx + %[2]s LIMIT 1) %[1]s ON true`, name, off)
	}
	sql := fmt.Sprintf(`
		SELECT p.level, p.idx, p.hash, l.hash, r.hash
		FROM (SELECT level, idx, hash FROM tlog_nodes WHERE (level, idx) > ($1, $2) ORDER BY level, idx LIMIT %d) p
		%s
		%s
		ORDER BY p.level, p.idx`, a.o.page(), child("l", "0"), child("r", "1"))
	level, idx := int16(0), int64(math.MaxInt64) // after every leaf node
	for {
		rows, err := a.q.Query(ctx, sql, level, idx)
		if err != nil {
			return fmt.Errorf("audit: read nodes: %w", err)
		}
		n := 0
		for rows.Next() {
			n++
			var h, lh, rh []byte
			if err := rows.Scan(&level, &idx, &h, &lh, &rh); err != nil {
				rows.Close()
				return fmt.Errorf("audit: read node: %w", err)
			}
			if lh == nil || rh == nil || !bytes.Equal(h, hasher.HashChildren(lh, rh)) {
				rows.Close()
				begin, _ := compact.NewNodeID(uint(level), uint64(idx)).Coverage()
				return a.fail(int64(begin), 0, -1, "tree node (level %d, index %d) over leaves from %d is not the hash of its children", level, idx, begin)
			}
			a.r.Nodes++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("audit: read nodes: %w", err)
		}
		// A tree of total leaves has fewer than total interior nodes.
		a.o.report("tree nodes", int64(a.r.Nodes), total)
		if n < a.o.page() {
			return nil
		}
	}
}

// unindexed finds a committed entry older than the newest checkpoint's
// floor that the integrator left without a leaf index, walking the entries
// a page of ids at a time.
func (a *auditor) unindexed(ctx context.Context, total int64) error {
	var floor string
	err := a.q.QueryRow(ctx, `SELECT xid_floor::text FROM tlog_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&floor)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: read the checkpoint floor: %w", err)
	}
	var after, done int64
	for {
		ids, err := EntryIDsAfter(ctx, a.q, after, a.o.page())
		if err != nil {
			return fmt.Errorf("audit: find unindexed entries: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		// Each entry of the page looked up by its unique index; the xid is
		// read only for an entry that has no leaf index.
		var lost int64
		err = a.q.QueryRow(ctx, `
			SELECT u.id FROM unnest($1::bigint[]) u(id)
			LEFT JOIN LATERAL (SELECT true AS found FROM tlog_index i WHERE i.entry_id = u.id LIMIT 1) f ON true
			WHERE CASE WHEN f.found IS NULL THEN (SELECT e.xid FROM tlog_entries e WHERE e.id = u.id) < $2::xid8 END
			ORDER BY u.id LIMIT 1`, ids, floor).Scan(&lost)
		if err == nil {
			return a.fail(-1, lost, -1, "entry %d was committed before the newest checkpoint but has no leaf index", lost)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("audit: find unindexed entries: %w", err)
		}
		done += int64(len(ids))
		a.o.report("unindexed entries", done, total)
		if len(ids) < a.o.page() {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// EntryIDsAfter returns the ids of the next n entries after id after, in id
// order: one range scan of the primary key (index only when vacuumed).
// Audits walk the whole log with it a page at a time.
func EntryIDsAfter(ctx context.Context, q db.Querier, after int64, n int) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT id FROM tlog_entries WHERE id > $1 ORDER BY id LIMIT $2`, after, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
