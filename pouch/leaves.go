package pouch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"valise/internal/db"
	"valise/tlog"
)

// Each event is stored once (docs/decisions.md, "Each event stored once"):
// its bag_events row holds the facts, and the custody log keeps only the
// leaf hash of its canonical bytes (tlog.AppendHashWith). The bytes are
// regenerated from the row when read: Canonical is a function of the row's
// columns as PostgreSQL returns them, which QueueEvent guarantees by
// hashing the event as the row will read back (times to the microsecond,
// JSON with its keys sorted and its numbers as jsonb writes them). An event
// whose JSON the row could not give back byte for byte (a number jsonb
// rewrites, such as 1e3) keeps its bytes in the log instead.

// plainNumber is a JSON number that jsonb returns as written.
var plainNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// normalJSON returns raw with its object keys sorted and no insignificant
// space (json.Marshal of its decoded value, numbers kept as written), and
// whether jsonb gives it back so: every number is plain and not a negative
// zero; and whether it is an object whose one key is "custodian" (not
// null). Empty raw is the empty object. Raw already in that form (what
// Valise writes) is returned as it is (canonicalAlready).
func normalJSON(raw json.RawMessage) (json.RawMessage, bool, bool, error) {
	if len(raw) == 0 {
		return json.RawMessage(`{}`), true, false, nil
	}
	if ok, only := canonicalAlready(raw); ok {
		return raw, true, only, nil
	}
	return decodeNormalJSON(raw)
}

// decodeNormalJSON is normalJSON the long way: decode raw, encode it again.
func decodeNormalJSON(raw json.RawMessage) (json.RawMessage, bool, bool, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false, false, err
	}
	if d.More() {
		return nil, false, false, fmt.Errorf("trailing data after the JSON value")
	}
	out, err := json.Marshal(v)
	m, isMap := v.(map[string]any)
	return out, stableNumbers(v), isMap && len(m) == 1 && m["custodian"] != nil, err
}

func stableNumbers(v any) bool {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		return plainNumber.MatchString(s) && !(s[0] == '-' && len(bytes.Trim([]byte(s[1:]), "0.")) == 0)
	case map[string]any:
		for _, e := range x {
			if !stableNumbers(e) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !stableNumbers(e) {
				return false
			}
		}
	}
	return true
}

// defaultCustody is the custody block of an event that names none: the
// custodian before it. Such an event stores no block (NULL); readers
// rebuild it from custodian_before (custodyColumn).
func defaultCustody(before *Party) json.RawMessage {
	return mustJSON(map[string]any{"custodian": before})
}

// custodyColumn reads bag_events.custody, NULL meaning the default block.
const custodyColumn = `coalesce(e.custody, jsonb_build_object('custodian', e.custodian_before))`

// LeafSource regenerates the custody log leaves of bag events from their
// rows, for the entries the log keeps by hash only: give it to
// tlog.AuditOptions, tlog.Leaves and tlog.EntryReceipt.
var LeafSource tlog.LeafSource = leafSource{}

type leafSource struct{}

// LeafBytes reads the events recording ids (one query: each entry looked
// up on bag_events_log_entry_idx) and returns their canonical bytes.
func (leafSource) LeafBytes(ctx context.Context, q db.Querier, ids []tlog.EntryID) ([][]byte, error) {
	raw := make([]int64, len(ids))
	for i, id := range ids {
		raw[i] = int64(id)
	}
	rows, err := q.Query(ctx, `SELECT x.*, u.n FROM unnest($1::bigint[]) WITH ORDINALITY u(id, n)
		CROSS JOIN LATERAL (SELECT `+eventColumns+` FROM bag_events e WHERE e.log_entry = u.id ORDER BY e.id LIMIT 1) x`, raw)
	if err != nil {
		return nil, fmt.Errorf("read bag events of log entries: %w", err)
	}
	defer rows.Close()
	out := make([][]byte, len(ids))
	for rows.Next() {
		var n int64
		e, err := scanEvent(extraRow{rows, []any{&n}})
		if err != nil {
			return nil, fmt.Errorf("read bag events of log entries: %w", err)
		}
		if out[n-1], err = e.Canonical(); err != nil {
			return nil, fmt.Errorf("canonical bag event %d: %w", e.ID, err)
		}
	}
	return out, rows.Err()
}
