// Package tlog is Valise's custody transparency log: an append-only RFC 6962
// Merkle tree kept in PostgreSQL, with signed checkpoints (C2SP
// tlog-checkpoint), inclusion and consistency proofs, offline receipts (C2SP
// tlog-proof) and a full audit. It knows nothing of bags: a leaf is the
// canonical bytes of a custody event, chosen by the caller.
//
// # Writing and sequencing are separate
//
// Append only inserts one row into tlog_entries, in the caller's transaction,
// so the leaf commits or rolls back with the state change it records. It
// touches no shared row (the id comes from a sequence, which does not
// serialise transactions), so writers never wait for each other.
//
// An Integrator, run by every API process, gives committed leaves their
// place in the tree. Each round is one transaction that holds a PostgreSQL
// advisory lock (so among all processes exactly one integrates at a time;
// the others skip the round), picks the committed leaves that have no index
// yet, numbers them contiguously after the current tree size (tlog_index),
// stores every new interior node hash (tlog_nodes; a leaf node is its
// entry's leaf hash, not stored twice; any proof is a handful of primary-key
// lookups), and signs a checkpoint of the new
// tree (tlog_checkpoints). The round commits all of it or nothing, so the
// newest checkpoint always describes exactly the indexed leaves.
//
// Finding new leaves without a queue table: each entry records the id of
// the transaction that wrote it (xid8). Every checkpoint stores the oldest
// transaction still running when its round looked (the snapshot xmin):
// every leaf written by an older transaction was visible then, hence
// integrated. The next round only examines entries of transactions at or
// above that floor, an index range that stays small.
//
// # Leaf bytes stored once
//
// A caller whose own rows hold the facts a leaf encodes, and can rebuild
// its bytes from them, appends the leaf hash only (AppendHashWith) and
// hands readers a LeafSource that regenerates the bytes; the log never
// keeps a second copy. Leaves, EntryReceipt and Audit take the source; the
// audit hashes what it gives against the hash the log kept.
//
// Every table refuses UPDATE, DELETE and TRUNCATE (a trigger raises), so
// history can only grow; Audit recomputes everything from the leaves to
// catch whoever disables the triggers.
package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/rfc6962"

	"valise/internal/db"
)

// EntryID identifies an appended leaf before it has a leaf index (the
// integrator assigns that shortly after commit; see IndexOf).
type EntryID int64

// hasher is the RFC 6962 SHA-256 tree hasher used throughout.
var hasher = rfc6962.DefaultHasher

// LeafHash returns the RFC 6962 leaf hash of leaf: SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) []byte {
	h := sha256.New()
	h.Write([]byte{rfc6962.RFC6962LeafHashPrefix})
	h.Write(leaf)
	return h.Sum(nil)
}

// MaxLeafBytes bounds one leaf; custody events are small.
const MaxLeafBytes = 64 << 10

// Append adds one leaf (the canonical bytes of a custody event) in the
// caller's transaction. It is one INSERT on an append-only table with no
// shared row to update, so concurrent writers do not serialise on each
// other. The leaf gets its index when the integrator next runs (at most about
// a second after commit while an integrator is running).
func Append(ctx context.Context, tx pgx.Tx, leaf []byte) (EntryID, error) {
	if len(leaf) == 0 || len(leaf) > MaxLeafBytes {
		return 0, fmt.Errorf("tlog append: leaf of %d bytes (want 1..%d)", len(leaf), MaxLeafBytes)
	}
	var id EntryID
	err := tx.QueryRow(ctx, appendSQL, leaf, LeafHash(leaf)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("tlog append: %w", err)
	}
	return id, nil
}

const appendSQL = `INSERT INTO tlog_entries (leaf, leaf_hash) VALUES ($1, $2) RETURNING id`

// AppendWith returns one statement that appends leaf, as Append does, and
// then runs stmt, which names the new entry's id as entry.id (stmt reads the
// CTE "entry", e.g. "INSERT INTO t (a, log_entry) SELECT $3, entry.id FROM
// entry"); stmt's own parameters are args, numbered from $3. A caller
// writing a row that points at its leaf saves the separate INSERT's round
// trip and statement; run it in the caller's transaction like Append.
func AppendWith(leaf []byte, stmt string, args ...any) (string, []any, error) {
	if len(leaf) == 0 || len(leaf) > MaxLeafBytes {
		return "", nil, fmt.Errorf("tlog append: leaf of %d bytes (want 1..%d)", len(leaf), MaxLeafBytes)
	}
	return "WITH entry AS (" + appendSQL + ") " + stmt, append([]any{leaf, LeafHash(leaf)}, args...), nil
}

// AppendHashWith is AppendWith for a caller that keeps the leaf's bytes
// itself: the entry stores only leafHash (its bytes column is NULL), and
// whoever reads the leaf's bytes back (Leaves, EntryReceipt, Audit) asks
// the caller's LeafSource for them. stmt's parameters are numbered from $3,
// as for AppendWith ($1 is NULL, $2 the hash). The bytes are then stored
// once, where the caller keeps the facts they encode; the audit recomputes
// their hash from what the source gives and compares it with leafHash.
func AppendHashWith(leafHash []byte, stmt string, args ...any) (string, []any, error) {
	if len(leafHash) != 32 {
		return "", nil, fmt.Errorf("tlog append: leaf hash of %d bytes (want 32)", len(leafHash))
	}
	return "WITH entry AS (" + appendSQL + ") " + stmt, append([]any{nil, leafHash}, args...), nil
}

// AppendManyWith is AppendWith for many leaves in one statement: leaves[i]
// the bytes to keep (nil for a leaf appended by hash only, as
// AppendHashWith), hashes[i] its leaf hash. The entries are numbered in
// the order given; stmt reads the CTE "entry" with columns id and
// leaf_hash (one row per leaf) and its own parameters are numbered from $3.
func AppendManyWith(leaves, hashes [][]byte, stmt string, args ...any) (string, []any, error) {
	if len(leaves) != len(hashes) || len(hashes) == 0 {
		return "", nil, fmt.Errorf("tlog append: %d leaves and %d hashes", len(leaves), len(hashes))
	}
	for i, h := range hashes {
		if len(h) != 32 {
			return "", nil, fmt.Errorf("tlog append: leaf hash %d of %d bytes (want 32)", i, len(h))
		}
		if l := leaves[i]; l != nil && (len(l) > MaxLeafBytes || !bytes.Equal(LeafHash(l), h)) {
			return "", nil, fmt.Errorf("tlog append: leaf %d is not %d bytes at most with its hash", i, MaxLeafBytes)
		}
	}
	return "WITH entry AS (" + appendManySQL + ") " + stmt, append([]any{leaves, hashes}, args...), nil
}

// appendManySQL appends a list of leaves in the list's order.
const appendManySQL = `INSERT INTO tlog_entries (leaf, leaf_hash)
	SELECT l.leaf, l.leaf_hash FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS l(leaf, leaf_hash, n)
	ORDER BY l.n RETURNING id, leaf_hash`

// A LeafSource gives back the bytes of leaves appended by hash only
// (AppendHashWith): the caller regenerates them from what it stores. tlog
// asks it only for entries whose bytes it does not hold, a page at a time.
type LeafSource interface {
	// LeafBytes returns the bytes of each entry of ids, in order (nil for
	// an entry it does not know), reading with q in at most a few queries.
	LeafBytes(ctx context.Context, q db.Querier, ids []EntryID) ([][]byte, error)
}

// fillLeaves asks src for every leaf of leaves that is nil (its entry of
// ids stored no bytes), in one call.
func fillLeaves(ctx context.Context, q db.Querier, src LeafSource, ids []EntryID, leaves [][]byte) error {
	if src == nil {
		return nil
	}
	var want []EntryID
	var at []int
	for i, l := range leaves {
		if l == nil && ids[i] != 0 {
			want, at = append(want, ids[i]), append(at, i)
		}
	}
	if len(want) == 0 {
		return nil
	}
	got, err := src.LeafBytes(ctx, q, want)
	if err != nil {
		return fmt.Errorf("regenerate leaves: %w", err)
	}
	for j, i := range at {
		if j < len(got) {
			leaves[i] = got[j]
		}
	}
	return nil
}
