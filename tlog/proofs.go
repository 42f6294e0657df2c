package tlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"valise"
	"valise/internal/db"
)

// fetchNodes returns the stored hashes of ids, in order, in one query.
// Interior nodes are rows of tlog_nodes; a leaf node (level 0) is the
// leaf hash of the entry at that index (tlog_index, tlog_entries), which
// tlog_nodes does not repeat. Each id is looked up on a primary key.
func fetchNodes(ctx context.Context, q db.Querier, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	levels := make([]int16, len(ids))
	idxs := make([]int64, len(ids))
	for i, id := range ids {
		levels[i], idxs[i] = int16(id.Level), int64(id.Index)
	}
	rows, err := q.Query(ctx, `
		SELECT w.level, w.idx, coalesce(n.hash, l.hash) FROM unnest($1::smallint[], $2::bigint[]) AS w(level, idx)
		LEFT JOIN LATERAL (SELECT n.hash FROM tlog_nodes n WHERE w.level > 0 AND n.level = w.level AND n.idx = w.idx LIMIT 1) n ON true
		LEFT JOIN LATERAL (SELECT e.leaf_hash AS hash FROM tlog_index i JOIN tlog_entries e ON e.id = i.entry_id
		                   WHERE w.level = 0 AND i.idx = w.idx LIMIT 1) l ON true
		WHERE n.hash IS NOT NULL OR l.hash IS NOT NULL`, levels, idxs)
	if err != nil {
		return nil, fmt.Errorf("read tree nodes: %w", err)
	}
	got := make(map[compact.NodeID][]byte, len(ids))
	for rows.Next() {
		var (
			l int16
			i int64
			h []byte
		)
		if err := rows.Scan(&l, &i, &h); err != nil {
			return nil, err
		}
		got[compact.NewNodeID(uint(l), uint64(i))] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tree nodes: %w", err)
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := got[id]
		if !ok {
			return nil, fmt.Errorf("tree node (level %d, index %d) is missing: run `valise audit verify`", id.Level, id.Index)
		}
		out[i] = h
	}
	return out, nil
}

// treeSize is the size of the newest checkpoint (0 when there is none).
func treeSize(ctx context.Context, q db.Querier) (uint64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT coalesce(max(size), 0) FROM tlog_checkpoints`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read tree size: %w", err)
	}
	return uint64(n), nil
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of the given size, which must not exceed the newest checkpoint's.
// It costs one indexed query for at most 64 node hashes.
func InclusionProof(ctx context.Context, q db.Querier, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, valise.Invalid("the index must be below the tree size",
			valise.FieldError{Field: "index", Reason: fmt.Sprintf("must be < size (%d)", size)})
	}
	if err := checkSize(ctx, q, size, "size"); err != nil {
		return nil, err
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, valise.Errorf(valise.EINVALID, "%v", err)
	}
	return rehash(ctx, q, nodes)
}

// InclusionProofs returns the inclusion proofs of several leaf indices in
// the tree of the given size (at most the newest checkpoint's), in order,
// with one query for all their node hashes: a page of events costs the same
// whatever the size of the log or the age of the bag.
func InclusionProofs(ctx context.Context, q db.Querier, indices []uint64, size uint64) ([][][]byte, error) {
	if len(indices) == 0 {
		return nil, nil
	}
	if err := checkSize(ctx, q, size, "size"); err != nil {
		return nil, err
	}
	all := make([]proof.Nodes, len(indices))
	var ids []compact.NodeID
	for i, index := range indices {
		if index >= size {
			return nil, valise.Invalid("the index must be below the tree size",
				valise.FieldError{Field: "index", Reason: fmt.Sprintf("must be < size (%d)", size)})
		}
		n, err := proof.Inclusion(index, size)
		if err != nil {
			return nil, valise.Errorf(valise.EINVALID, "%v", err)
		}
		all[i] = n
		ids = append(ids, n.IDs...)
	}
	hs, err := fetchNodes(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := make([][][]byte, len(indices))
	for i, n := range all {
		p, err := n.Rehash(hs[:len(n.IDs)], hasher.HashChildren)
		if err != nil {
			return nil, err
		}
		if p == nil {
			p = [][]byte{}
		}
		out[i], hs = p, hs[len(n.IDs):]
	}
	return out, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between tree
// sizes from and to (0 < from <= to <= newest checkpoint size).
func ConsistencyProof(ctx context.Context, q db.Querier, from, to uint64) ([][]byte, error) {
	if from > to {
		return nil, valise.Invalid("from must not exceed to",
			valise.FieldError{Field: "from", Reason: fmt.Sprintf("must be <= to (%d)", to)})
	}
	if err := checkSize(ctx, q, to, "to"); err != nil {
		return nil, err
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, valise.Errorf(valise.EINVALID, "%v", err)
	}
	return rehash(ctx, q, nodes)
}

func checkSize(ctx context.Context, q db.Querier, size uint64, field string) error {
	have, err := treeSize(ctx, q)
	if err != nil {
		return err
	}
	if size > have {
		return valise.Invalid("the tree is not that large yet",
			valise.FieldError{Field: field, Reason: fmt.Sprintf("must be <= the checkpointed tree size (%d)", have)})
	}
	return nil
}

func rehash(ctx context.Context, q db.Querier, nodes proof.Nodes) ([][]byte, error) {
	hs, err := fetchNodes(ctx, q, nodes.IDs)
	if err != nil {
		return nil, err
	}
	p, err := nodes.Rehash(hs, hasher.HashChildren)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = [][]byte{}
	}
	return p, nil
}

// LeafHashes returns the leaf hashes of indices [start, end) (end is
// clipped to the tree size; at most MaxEntries).
func LeafHashes(ctx context.Context, q db.Querier, start, end uint64) ([][]byte, error) {
	if err := checkRange(start, end); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT e.leaf_hash FROM (`+indexRange+`) i
		CROSS JOIN LATERAL (SELECT leaf_hash FROM tlog_entries e WHERE e.id = i.entry_id LIMIT 1) e ORDER BY i.idx`,
		int64(start), int64(end))
	if err != nil {
		return nil, fmt.Errorf("read leaf hashes: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[[]byte])
}

// Leaves returns the leaf bytes of indices [start, end), clipped as
// LeafHashes; src gives those appended by hash only (nil: none was). Only
// callers cleared to read custody events may serve them.
func Leaves(ctx context.Context, q db.Querier, start, end uint64, src LeafSource) ([][]byte, error) {
	ids, leaves, err := LeafEntries(ctx, q, start, end)
	if err != nil {
		return nil, err
	}
	if err := fillLeaves(ctx, q, src, ids, leaves); err != nil {
		return nil, err
	}
	return leaves, nil
}

// indexRange is the checkpointed indices [$1, $2) with their entries: a
// range scan of tlog_index's primary key. Readers look each entry up by
// primary key in a LATERAL ... LIMIT 1, which no planner statistics (fresh,
// stale or none) can turn into a hash or merge join over the whole log.
// The LIMIT (the most a range holds) keeps a planner without statistics
// from a parallel bitmap scan.
const indexRange = `SELECT idx, entry_id FROM tlog_index
	WHERE idx >= $1 AND idx < $2 AND idx < (SELECT coalesce(max(size), 0) FROM tlog_checkpoints) ORDER BY idx LIMIT 1000`

// LeafEntries returns the entry ids of indices [start, end), clipped as
// LeafHashes, with the bytes stored for each (nil for an entry appended by
// hash only: its caller's LeafSource has them).
func LeafEntries(ctx context.Context, q db.Querier, start, end uint64) ([]EntryID, [][]byte, error) {
	if err := checkRange(start, end); err != nil {
		return nil, nil, err
	}
	rows, err := q.Query(ctx, `SELECT e.id, e.leaf FROM (`+indexRange+`) i
		CROSS JOIN LATERAL (SELECT id, leaf FROM tlog_entries e WHERE e.id = i.entry_id LIMIT 1) e ORDER BY i.idx`,
		int64(start), int64(end))
	if err != nil {
		return nil, nil, fmt.Errorf("read leaves: %w", err)
	}
	defer rows.Close()
	var (
		ids    []EntryID
		leaves [][]byte
	)
	for rows.Next() {
		var id int64
		var l []byte
		if err := rows.Scan(&id, &l); err != nil {
			return nil, nil, fmt.Errorf("read leaves: %w", err)
		}
		ids, leaves = append(ids, EntryID(id)), append(leaves, l)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read leaves: %w", err)
	}
	return ids, leaves, nil
}

// MaxEntries is the most entries one LeafHashes or Leaves call returns
// (indexRange's LIMIT says it again).
const MaxEntries = 1000

func checkRange(start, end uint64) error {
	switch {
	case end <= start:
		return valise.Invalid("end must be greater than start",
			valise.FieldError{Field: "end", Reason: "must be > start"})
	case end-start > MaxEntries:
		return valise.Invalid("too many entries requested",
			valise.FieldError{Field: "end", Reason: fmt.Sprintf("end - start must be <= %d", MaxEntries)})
	case end > 1<<62:
		return valise.Invalid("end is out of range", valise.FieldError{Field: "end", Reason: "too large"})
	}
	return nil
}

// IndexOf returns the leaf index the integrator gave entry id, or
// ENOTFOUND while it has none yet.
func IndexOf(ctx context.Context, q db.Querier, id EntryID) (uint64, error) {
	var idx int64
	err := q.QueryRow(ctx, `SELECT idx FROM tlog_index WHERE entry_id = $1`, int64(id)).Scan(&idx)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, valise.Errorf(valise.ENOTFOUND, "entry %d is not integrated yet", id)
	}
	if err != nil {
		return 0, fmt.Errorf("read leaf index: %w", err)
	}
	return uint64(idx), nil
}
