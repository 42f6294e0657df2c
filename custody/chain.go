package custody

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
	"valise/tlog"
)

// ChainProblem is the first broken link found in the bags' hash chains.
type ChainProblem struct {
	BagID    string `json:"bag_id"`
	EventID  int64  `json:"event_id"`
	LogEntry int64  `json:"log_entry,omitempty"`
	Message  string `json:"message"`
}

// ChainReport is the outcome of AuditChains; Problem is nil when every
// chain holds.
type ChainReport struct {
	Bags    int
	Events  int
	Problem *ChainProblem
}

// OK reports whether every chain holds.
func (r ChainReport) OK() bool { return r.Problem == nil }

// loggedEvent is the part of an event's canonical leaf the audit compares.
type loggedEvent struct {
	Type       string          `json:"type"`
	EventID    int64           `json:"event_id"`
	BagID      string          `json:"bag_id"`
	Kind       string          `json:"kind"`
	Stage      string          `json:"stage"`
	FromState  string          `json:"from_state"`
	ToState    string          `json:"to_state"`
	Actor      string          `json:"actor"`
	Unit       string          `json:"unit"`
	Place      string          `json:"place"`
	OccurredAt string          `json:"occurred_at"`
	RecordedAt string          `json:"recorded_at"`
	Corrects   *int64          `json:"corrects"`
	Data       json.RawMessage `json:"data"`
	Prev       string          `json:"prev"`
	Custody    json.RawMessage `json:"custody"`
}

// AuditChains checks every bag's event chain against the custody log, bag
// by bag, event by event: each event row must have its log leaf, the leaf's
// bytes must hash to the stored leaf hash, every field of the row must equal
// the leaf (an edited row is caught), and each leaf's prev must be the leaf
// hash of the bag's previous event, zeros for the first (a deleted or
// reordered event breaks the link after it). Finally every bag-event leaf in
// the log must still have its row (a deleted last event is caught). It
// reports the first problem, naming the bag, the event and its log entry.
// The error is for failures to read, not for what the audit found.
func AuditChains(ctx context.Context, q db.Querier) (ChainReport, error) {
	var r ChainReport
	rows, err := q.Query(ctx, `
		SELECT e.id, e.bag_id, e.kind, e.stage, coalesce(e.from_state, ''), coalesce(e.to_state, ''), e.actor_id,
		       e.actor_unit, e.place, e.occurred_at, e.recorded_at, e.corrects, e.data, coalesce(e.prev_hash, ''),
		       e.custody, e.log_entry, coalesce(e.leaf_hash, ''), t.leaf, t.leaf_hash
		FROM bag_events e LEFT JOIN tlog_entries t ON t.id = e.log_entry
		ORDER BY e.bag_id, e.id`)
	if err != nil {
		return r, fmt.Errorf("audit chains: read events: %w", err)
	}
	defer rows.Close()
	fail := func(bag string, ev, entry int64, format string, args ...any) (ChainReport, error) {
		rows.Close()
		r.Problem = &ChainProblem{BagID: bag, EventID: ev, LogEntry: entry, Message: fmt.Sprintf(format, args...)}
		return r, nil
	}
	var (
		bag      string
		prev     []byte
		prevID   int64
		zeroHash = make([]byte, 32)
	)
	for rows.Next() {
		var (
			id, entry             int64
			bagID, kind, stage    string
			from, to, actor, unit string
			place                 string
			occurred, recorded    time.Time
			corrects              *int64
			data, custody         []byte
			prevHash, rowHash     []byte
			leaf, leafHash        []byte
		)
		if err := rows.Scan(&id, &bagID, &kind, &stage, &from, &to, &actor, &unit, &place, &occurred, &recorded,
			&corrects, &data, &prevHash, &custody, &entry, &rowHash, &leaf, &leafHash); err != nil {
			return r, fmt.Errorf("audit chains: read event: %w", err)
		}
		if bagID != bag {
			bag, prev, prevID = bagID, zeroHash, 0
			r.Bags++
		}
		r.Events++
		at := fmt.Sprintf("event %d of bag %s (log entry %d)", id, bagID, entry)
		if leaf == nil {
			return fail(bagID, id, entry, "%s: its log entry is missing", at)
		}
		if !bytes.Equal(tlog.LeafHash(leaf), leafHash) {
			return fail(bagID, id, entry, "%s: the logged bytes do not hash to their stored leaf hash: the log entry was altered", at)
		}
		if !bytes.Equal(rowHash, leafHash) {
			return fail(bagID, id, entry, "%s: the row's leaf_hash differs from its log entry's: the row was altered", at)
		}
		var l loggedEvent
		if err := json.Unmarshal(leaf, &l); err != nil || l.Type != "valise.bag_event" {
			return fail(bagID, id, entry, "%s: the log entry is not a bag event", at)
		}
		field := ""
		switch {
		case l.EventID != id:
			field = fmt.Sprintf("id (the log entry is event %d)", l.EventID)
		case l.BagID != bagID:
			field = "bag_id"
		case l.Kind != kind:
			field = "kind"
		case l.Stage != stage:
			field = "stage"
		case l.FromState != from || l.ToState != to:
			field = "from_state/to_state"
		case l.Actor != actor:
			field = "actor"
		case l.Unit != unit:
			field = "unit"
		case l.Place != place:
			field = "place"
		case !sameTime(l.OccurredAt, occurred):
			field = "occurred_at"
		case !sameTime(l.RecordedAt, recorded):
			field = "recorded_at"
		case !reflect.DeepEqual(l.Corrects, corrects):
			field = "corrects"
		case !sameJSON(l.Data, data):
			field = "data"
		case !sameJSON(l.Custody, custody):
			field = "custody"
		case len(prevHash) > 0 && l.Prev != hex.EncodeToString(prevHash):
			field = "prev_hash"
		}
		if field != "" {
			return fail(bagID, id, entry, "%s: the row's %s differs from the logged event: the row was altered", at, field)
		}
		if len(prevHash) == 0 && prevID == 0 {
			// Recorded before the chain existed: the chain starts after it.
			prev, prevID = leafHash, id
			continue
		}
		if !bytes.Equal(prevHash, prev) {
			if prevID == 0 {
				return fail(bagID, id, entry, "%s: it is the bag's first event but links to %x: an earlier event was deleted", at, prevHash[:8])
			}
			return fail(bagID, id, entry, "%s: its prev link %x is not the leaf hash of the bag's previous event %d (%x): an event between them was deleted, or events were reordered",
				at, prevHash[:min(8, len(prevHash))], prevID, prev[:8])
		}
		prev, prevID = leafHash, id
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("audit chains: read events: %w", err)
	}
	// A bag event in the log whose row is gone (e.g. the bag's last event).
	var entry int64
	var leaf []byte
	err = q.QueryRow(ctx, `SELECT t.id, t.leaf FROM tlog_entries t
		WHERE t.leaf LIKE '{"v":1,"type":"valise.bag_event"%'
		  AND NOT EXISTS (SELECT 1 FROM bag_events e WHERE e.log_entry = t.id)
		ORDER BY t.id LIMIT 1`).Scan(&entry, &leaf)
	if err == nil {
		var l loggedEvent
		_ = json.Unmarshal(leaf, &l)
		r.Problem = &ChainProblem{BagID: l.BagID, EventID: l.EventID, LogEntry: entry,
			Message: fmt.Sprintf("log entry %d records event %d of bag %s, which is missing from bag_events: the event row was deleted", entry, l.EventID, l.BagID)}
		return r, nil
	}
	if err != pgx.ErrNoRows {
		return r, fmt.Errorf("audit chains: find orphaned leaves: %w", err)
	}
	return r, nil
}

func sameTime(s string, t time.Time) bool {
	p, err := time.Parse(time.RFC3339Nano, s)
	// PostgreSQL keeps microseconds (rounded); the leaf may carry more precision.
	d := p.Sub(t)
	return err == nil && d < time.Microsecond && d > -time.Microsecond
}

// sameJSON compares two JSON texts by value: jsonb does not keep the key
// order and spacing of the canonical bytes.
func sameJSON(a, b []byte) bool {
	var x, y any
	if len(a) == 0 {
		a = []byte(`{}`)
	}
	if len(b) == 0 {
		b = []byte(`{}`)
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
