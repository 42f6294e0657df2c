package custody

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/pouch"
	"valise/tlog"
)

// TrailEvent is one event of a bag's custody trail with its proof: the
// canonical bytes that are the log leaf, the leaf's index, and its RFC 6962
// inclusion proof in the trail's checkpoint (absent while not integrated).
type TrailEvent struct {
	pouch.Event
	Leaf     []byte   `json:"leaf"`
	LeafHash []byte   `json:"leaf_hash"`
	Index    *uint64  `json:"index,omitempty"`
	Proof    [][]byte `json:"inclusion_proof,omitempty"`
	// ChainOK reports whether this event's prev_hash is the previous
	// event's leaf hash (zeros for the first).
	ChainOK bool `json:"chain_ok"`
}

// Trail is one page of a bag's custody trail, verifiable against
// Checkpoint (the signed note) with the log's public key.
type Trail struct {
	BagID      string       `json:"bag_id"`
	Custodian  Party        `json:"custodian"`
	Checkpoint string       `json:"checkpoint"`
	TreeSize   uint64       `json:"tree_size"`
	Events     []TrailEvent `json:"events"`
	// After is the id of the last event of this page when there are more
	// (the API seals it into Next, the next page's cursor); 0 on the last.
	After int64  `json:"-"`
	Next  string `json:"next"`
}

// BagTrail returns the page of a bag's trail after event id after (0: its
// first event), of at most limit events (0: pouch.DefaultHistoryPage; at most
// pouch.MaxHistoryPage), each with its leaf, index and inclusion proof. A
// page is a fixed number of queries in one snapshot (the checkpoint, the
// custodian, the events with their entries, the proofs' nodes), whatever
// the bag's age or the log's size. The caller has authorized reading the
// bag's custody log.
func (s *Service) BagTrail(ctx context.Context, bagID string, after int64, limit int) (*Trail, error) {
	if limit <= 0 {
		limit = pouch.DefaultHistoryPage
	}
	limit = min(limit, pouch.MaxHistoryPage)
	// One snapshot: the checkpoint, the events and their indices agree.
	var t *Trail
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		t = &Trail{BagID: bagID, Events: []TrailEvent{}}
		cp, err := tlog.LatestCheckpoint(ctx, tx)
		if err == nil {
			t.Checkpoint, t.TreeSize = string(cp.Note), cp.Size
		} else if valise.ErrorCode(err) != valise.ENOTFOUND {
			return err
		}
		c, err := pouch.CurrentCustodian(ctx, tx, bagID)
		if err != nil {
			return err
		}
		t.Custodian = c
		// One more than the page says whether another follows.
		evs, err := pouch.HistoryPage(ctx, tx, bagID, after, limit+1)
		if err != nil {
			return err
		}
		if len(evs) > limit {
			evs = evs[:limit]
			t.After = evs[limit-1].ID
		}
		// Each event's log entry (its stored bytes, if any, its hash and
		// index), and the leaf hash of the event before the page (its
		// first event's chain link), in one query.
		entries := make([]int64, len(evs))
		for i, e := range evs {
			if e.LogEntry != nil {
				entries[i] = *e.LogEntry
			}
		}
		var prev []byte
		rows, err := tx.Query(ctx, `
			SELECT t.leaf, t.leaf_hash, i.idx, (SELECT p.leaf_hash FROM bag_events p WHERE p.bag_id = $2 AND p.id <= $3
			                                    ORDER BY p.bag_id DESC, p.id DESC LIMIT 1)
			FROM unnest($1::bigint[]) WITH ORDINALITY u(id, n)
			LEFT JOIN LATERAL (SELECT leaf, leaf_hash FROM tlog_entries t WHERE t.id = u.id LIMIT 1) t ON true
			LEFT JOIN LATERAL (SELECT idx FROM tlog_index i WHERE i.entry_id = u.id LIMIT 1) i ON true
			ORDER BY u.n`, entries, bagID, after)
		if err != nil {
			return fmt.Errorf("load the trail's log entries: %w", err)
		}
		idxs := make([]*int64, len(evs))
		for i := 0; rows.Next(); i++ {
			te := TrailEvent{Event: evs[i]}
			if err := rows.Scan(&te.Leaf, &te.LeafHash, &idxs[i], &prev); err != nil {
				rows.Close()
				return fmt.Errorf("load the trail's log entries: %w", err)
			}
			if te.Leaf == nil && te.LeafHash != nil {
				// Kept by hash only: the bytes are the row's canonical form.
				if te.Leaf, err = evs[i].Canonical(); err != nil {
					rows.Close()
					return err
				}
			}
			t.Events = append(t.Events, te)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load the trail's log entries: %w", err)
		}
		if after == 0 || prev == nil {
			prev = make([]byte, 32)
		}
		// The inclusion proofs of the integrated events, one query for all.
		var at []int
		var indices []uint64
		for i := range t.Events {
			te := &t.Events[i]
			te.ChainOK = bytes.Equal(te.PrevHash, prev)
			prev = te.LeafHash
			if idxs[i] != nil && uint64(*idxs[i]) < t.TreeSize {
				u := uint64(*idxs[i])
				te.Index = &u
				at, indices = append(at, i), append(indices, u)
			}
		}
		proofs, err := tlog.InclusionProofs(ctx, tx, indices, t.TreeSize)
		if err != nil {
			return err
		}
		for j, i := range at {
			t.Events[i].Proof = proofs[j]
		}
		return nil
	})
	return t, db.Classify(err)
}

// EventBag returns the bag id and log entry of an event, ENOTFOUND if none.
func EventBag(ctx context.Context, q db.Querier, eventID int64) (string, int64, error) {
	var bag string
	var entry int64
	err := q.QueryRow(ctx, `SELECT bag_id, log_entry FROM bag_events WHERE id = $1`, eventID).Scan(&bag, &entry)
	if err == pgx.ErrNoRows {
		return "", 0, valise.Errorf(valise.ENOTFOUND, "no such event")
	}
	if err != nil {
		return "", 0, fmt.Errorf("load event: %w", err)
	}
	return bag, entry, nil
}

// retryAfterSeconds is what a client asking for a receipt too early is
// told to wait (the integrator runs about twice a second).
const retryAfterSeconds = 1

// EventReceipt returns the C2SP tlog-proof of an event's leaf (the leaf
// itself rides in the receipt's extra line), waiting up to wait for the
// integrator. Still not integrated: ECONFLICT with Extra retry_after.
func (s *Service) EventReceipt(ctx context.Context, eventID int64, wait time.Duration) ([]byte, uint64, error) {
	_, entry, err := EventBag(ctx, s.pool, eventID)
	if err != nil {
		return nil, 0, err
	}
	deadline := time.Now().Add(wait)
	for {
		rec, idx, err := tlog.EntryReceipt(ctx, s.pool, tlog.EntryID(entry), pouch.LeafSource)
		if err == nil {
			return rec, idx, nil
		}
		if valise.ErrorCode(err) != valise.ENOTFOUND {
			return nil, 0, err
		}
		if time.Now().After(deadline) {
			return nil, 0, &valise.Error{Code: valise.ECONFLICT,
				Message: "the event is recorded but not yet integrated into the custody log; retry shortly",
				Extra:   map[string]any{"reason": "not_integrated", "retry_after": retryAfterSeconds}}
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
