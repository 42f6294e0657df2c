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

// Trail is a bag's full custody trail, verifiable against Checkpoint (the
// signed note) with the log's public key.
type Trail struct {
	BagID      string       `json:"bag_id"`
	Custodian  Party        `json:"custodian"`
	Checkpoint string       `json:"checkpoint"`
	TreeSize   uint64       `json:"tree_size"`
	Events     []TrailEvent `json:"events"`
}

// BagTrail returns the trail of a bag; the caller has authorized reading
// the bag's custody log.
func (s *Service) BagTrail(ctx context.Context, bagID string) (*Trail, error) {
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
		evs, err := pouch.History(ctx, tx, bagID)
		if err != nil {
			return err
		}
		prev := make([]byte, 32)
		for _, e := range evs {
			te := TrailEvent{Event: e}
			var idx *int64
			if e.LogEntry != nil {
				err := tx.QueryRow(ctx, `SELECT t.leaf, t.leaf_hash, i.idx FROM tlog_entries t
					LEFT JOIN tlog_index i ON i.entry_id = t.id WHERE t.id = $1`, *e.LogEntry).Scan(&te.Leaf, &te.LeafHash, &idx)
				if err != nil && err != pgx.ErrNoRows {
					return fmt.Errorf("load leaf of event %d: %w", e.ID, err)
				}
			}
			te.ChainOK = bytes.Equal(e.PrevHash, prev)
			prev = te.LeafHash
			if idx != nil && uint64(*idx) < t.TreeSize {
				i := uint64(*idx)
				te.Index = &i
				if te.Proof, err = tlog.InclusionProof(ctx, tx, i, t.TreeSize); err != nil {
					return err
				}
				if te.Proof == nil {
					te.Proof = [][]byte{}
				}
			}
			t.Events = append(t.Events, te)
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
		rec, idx, err := tlog.EntryReceipt(ctx, s.pool, tlog.EntryID(entry))
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
