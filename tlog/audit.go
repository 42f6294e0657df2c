package tlog

import (
	"bytes"
	"context"
	"fmt"

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
func Audit(ctx context.Context, q db.Querier, log note.Verifier) (Report, error) {
	var r Report
	type cpRow struct {
		size int64
		root []byte
		note string
	}
	rows, err := q.Query(ctx, `SELECT size, root, note FROM tlog_checkpoints ORDER BY size`)
	if err != nil {
		return r, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	cps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (cpRow, error) {
		var c cpRow
		err := row.Scan(&c.size, &c.root, &c.note)
		return c, err
	})
	if err != nil {
		return r, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	fail := func(index, entry, cp int64, format string, args ...any) (Report, error) {
		r.Problem = &Inconsistency{Index: index, EntryID: entry, Checkpoint: cp, Message: fmt.Sprintf(format, args...)}
		return r, nil
	}

	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	rng := rf.NewEmptyRange(0)
	next := 0 // next checkpoint to check
	var prev *Checkpoint
	checkCheckpoints := func() (bool, error) {
		for next < len(cps) && uint64(cps[next].size) == rng.End() {
			c := cps[next]
			next++
			root, err := rootOf(rng)
			if err != nil {
				return false, err
			}
			cp, _, err := OpenCheckpoint([]byte(c.note), log)
			switch {
			case err != nil:
				fail(-1, 0, c.size, "checkpoint %d: %v", c.size, err)
			case int64(cp.Size) != c.size || !bytes.Equal(cp.Root, c.root):
				fail(-1, 0, c.size, "checkpoint %d: the signed note says size %d root %x, its row says root %x", c.size, cp.Size, cp.Root, c.root)
			case !bytes.Equal(cp.Root, root):
				lo := int64(0)
				if prev != nil {
					lo = int64(prev.Size)
				}
				fail(lo, 0, c.size, "checkpoint %d: signed root %x, but the stored leaves give %x: a leaf in [%d, %d) differs from what was signed", c.size, cp.Root, root, lo, c.size)
			default:
				if prev != nil && prev.Size > 0 && prev.Size < cp.Size {
					p, err := ConsistencyProof(ctx, q, prev.Size, cp.Size)
					if err == nil {
						err = proof.VerifyConsistency(hasher, prev.Size, cp.Size, p, prev.Root, cp.Root)
					}
					if err != nil {
						fail(-1, 0, c.size, "checkpoints %d and %d: consistency proof from the stored nodes fails: %v", prev.Size, cp.Size, err)
					}
				}
			}
			if r.Problem != nil {
				return false, nil
			}
			r.Checkpoints++
			prev = &cp
		}
		return true, nil
	}
	if ok, err := checkCheckpoints(); err != nil || !ok {
		return r, err
	}

	rows, err = q.Query(ctx, `
		SELECT i.idx, i.entry_id, e.leaf, e.leaf_hash, n.hash
		FROM tlog_index i
		LEFT JOIN tlog_entries e ON e.id = i.entry_id
		LEFT JOIN tlog_nodes n ON n.level = 0 AND n.idx = i.idx
		ORDER BY i.idx`)
	if err != nil {
		return r, fmt.Errorf("audit: read leaves: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			idx, entry          int64
			leaf, stored, node0 []byte
		)
		if err := rows.Scan(&idx, &entry, &leaf, &stored, &node0); err != nil {
			return r, fmt.Errorf("audit: read leaf: %w", err)
		}
		want := int64(rng.End())
		switch {
		case idx != want:
			rows.Close()
			return fail(want, 0, -1, "leaf %d is missing (the next stored index is %d)", want, idx)
		case leaf == nil:
			rows.Close()
			return fail(idx, entry, -1, "leaf %d: its entry %d is missing", idx, entry)
		}
		h := LeafHash(leaf)
		switch {
		case !bytes.Equal(h, stored):
			rows.Close()
			return fail(idx, entry, -1, "leaf %d (entry %d): its bytes do not hash to the leaf hash stored with them: the entry was altered", idx, entry)
		case !bytes.Equal(h, node0):
			rows.Close()
			return fail(idx, entry, -1, "leaf %d (entry %d): its hash differs from the tree's leaf node: the entry was altered or leaves were reordered", idx, entry)
		}
		if err := rng.Append(h, nil); err != nil {
			return r, err
		}
		r.Leaves++
		if ok, err := checkCheckpoints(); err != nil || !ok {
			rows.Close()
			return r, err
		}
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("audit: read leaves: %w", err)
	}
	if r.Root, err = rootOf(rng); err != nil {
		return r, err
	}
	if next < len(cps) {
		return fail(int64(rng.End()), 0, cps[next].size, "checkpoint %d covers leaves from %d on, which are missing", cps[next].size, rng.End())
	}
	if len(cps) > 0 && uint64(cps[len(cps)-1].size) != rng.End() {
		return fail(int64(cps[len(cps)-1].size), 0, -1, "leaves from %d on have indices but no checkpoint", cps[len(cps)-1].size)
	}

	// Interior nodes: each must be the hash of its two children.
	nrows, err := q.Query(ctx, `
		SELECT p.level, p.idx, p.hash, l.hash, rt.hash
		FROM tlog_nodes p
		LEFT JOIN tlog_nodes l ON l.level = p.level - 1 AND l.idx = 2 * p.idx
		LEFT JOIN tlog_nodes rt ON rt.level = p.level - 1 AND rt.idx = 2 * p.idx + 1
		WHERE p.level > 0 ORDER BY p.level, p.idx`)
	if err != nil {
		return r, fmt.Errorf("audit: read nodes: %w", err)
	}
	defer nrows.Close()
	for nrows.Next() {
		var (
			level      int16
			idx        int64
			h, lh, rhh []byte
		)
		if err := nrows.Scan(&level, &idx, &h, &lh, &rhh); err != nil {
			return r, fmt.Errorf("audit: read node: %w", err)
		}
		if lh == nil || rhh == nil || !bytes.Equal(h, hasher.HashChildren(lh, rhh)) {
			begin, _ := compact.NewNodeID(uint(level), uint64(idx)).Coverage()
			nrows.Close()
			return fail(int64(begin), 0, -1, "tree node (level %d, index %d) over leaves from %d is not the hash of its children", level, idx, begin)
		}
		r.Nodes++
	}
	if err := nrows.Err(); err != nil {
		return r, fmt.Errorf("audit: read nodes: %w", err)
	}

	// Committed entries that the integrator should have indexed by now.
	var lost int64
	err = q.QueryRow(ctx, `
		SELECT e.id FROM tlog_entries e
		WHERE e.xid < (SELECT xid_floor FROM tlog_checkpoints ORDER BY size DESC LIMIT 1)
		  AND NOT EXISTS (SELECT 1 FROM tlog_index i WHERE i.entry_id = e.id)
		ORDER BY e.id LIMIT 1`).Scan(&lost)
	if err == nil {
		return fail(-1, lost, -1, "entry %d was committed before the newest checkpoint but has no leaf index", lost)
	}
	if err != pgx.ErrNoRows {
		return r, fmt.Errorf("audit: find unindexed entries: %w", err)
	}
	return r, nil
}
