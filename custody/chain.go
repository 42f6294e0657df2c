package custody

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"valise/internal/db"
	"valise/pouch"
	"valise/tlog"
)

// ChainProblem is the first broken link found in the bags' hash chains.
type ChainProblem struct {
	BagID    string `json:"bag_id"`
	EventID  int64  `json:"event_id"`
	LogEntry int64  `json:"log_entry,omitempty"`
	Message  string `json:"message"`
}

// ChainReport is the outcome of AuditChains; OK when every chain holds and
// every current-state row is what the history gives.
type ChainReport struct {
	Bags    int
	Events  int
	Problem *ChainProblem
	// Disagreements are the first MaxDisagreements rows found to disagree
	// with the replayed history (see AuditChains); Disagreed counts all.
	Disagreements []Disagreement
	Disagreed     int
}

// OK reports whether every chain holds and nothing disagrees.
func (r ChainReport) OK() bool { return r.Problem == nil && r.Disagreed == 0 }

// MaxDisagreements bounds the disagreements a ChainReport lists.
const MaxDisagreements = 100

// Disagreement is one row of a current-state table (bags, bag_custody) that
// is not what the bag's history gives, or one event whose "before" is not
// what the events before it left.
type Disagreement struct {
	BagID          string `json:"bag_id"`
	RegistryNumber string `json:"registry_number,omitempty"`
	// Column is table.column, e.g. "bags.state", "bag_custody.custodian_unit",
	// "bag_events.from_state"; a missing row names the table alone.
	Column  string `json:"column"`
	Stored  string `json:"stored"`  // what the row holds
	History string `json:"history"` // what the history gives
	// EventID is the bag's last event, or the event at fault for a
	// bag_events column.
	EventID int64  `json:"event_id,omitempty"`
	Message string `json:"message"`
}

// loggedEvent is the part of an event's canonical leaf the audit compares.
type loggedEvent struct {
	V               int             `json:"v"`
	Type            string          `json:"type"`
	EventID         int64           `json:"event_id"`
	BagID           string          `json:"bag_id"`
	Kind            string          `json:"kind"`
	Stage           string          `json:"stage"`
	FromState       string          `json:"from_state"`
	ToState         string          `json:"to_state"`
	Actor           string          `json:"actor"`
	Unit            string          `json:"unit"`
	Place           string          `json:"place"`
	OccurredAt      string          `json:"occurred_at"`
	RecordedAt      string          `json:"recorded_at"`
	Corrects        *int64          `json:"corrects"`
	Data            json.RawMessage `json:"data"`
	Prev            string          `json:"prev"`
	Custody         json.RawMessage `json:"custody"`
	CustodianBefore json.RawMessage `json:"custodian_before"`
	CustodianAfter  json.RawMessage `json:"custodian_after"`
}

// eventRow is one bag_events row with its log entry.
type eventRow struct {
	id, entry             int64
	bagID, kind, stage    string
	from, to, actor, unit string
	place                 string
	occurred, recorded    time.Time
	corrects              *int64
	data, custody         []byte
	before, after         []byte
	prevHash, rowHash     []byte
	leaf, leafHash        []byte
	regenerated           bool // the log keeps leafHash only; leaf is the row's canonical form
}

// bagRow is one bags row with its bag_custody row, as far as the audit
// compares them.
type bagRow struct {
	id, registry, state string
}

// custodyRow is one bag_custody row.
type custodyRow struct {
	bagID                 string
	kind, unit            string
	user, username        string
	name, document, sheet string
}

// AuditChains checks every bag's event chain against the custody log, bag
// by bag, event by event: each event row must have its log leaf, the leaf's
// bytes must hash to the stored leaf hash, every field of the row must equal
// the leaf (an edited row is caught), and each leaf's prev must be the leaf
// hash of the bag's previous event, zeros for the first (a deleted or
// reordered event breaks the link after it). Finally every bag-event leaf in
// the log must still have its row (a deleted last event is caught). It
// reports the first such problem, naming the bag, the event and its log
// entry. The error is for failures to read, not for what the audit found.
//
// Every table is read in keyset pages (bounded statements along an index),
// so memory and the cost of each statement do not grow with the log. Run it
// in a REPEATABLE READ transaction to audit a live database as of one
// moment.
func AuditChains(ctx context.Context, q db.Querier) (ChainReport, error) {
	return AuditChainsWith(ctx, q, tlog.AuditOptions{})
}

// AuditChainsWith is AuditChains with options (progress, page size).
func AuditChainsWith(ctx context.Context, q db.Querier, o tlog.AuditOptions) (ChainReport, error) {
	a := &chainAuditor{q: q, o: o, page: o.PageSize}
	if a.page <= 0 {
		a.page = tlog.DefaultPageSize
	}
	// A database of the schema before one history (migration 00403) has
	// v1 events only and no custodian columns: it can be audited before
	// it is migrated.
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'bag_events' AND column_name = 'custodian_before')`).Scan(&a.v2); err != nil {
		return a.r, fmt.Errorf("audit chains: read the schema: %w", err)
	}
	a.cols = eventColumns
	if !a.v2 {
		a.cols = strings.Replace(eventColumns, "e.custodian_before, e.custodian_after", "NULL::jsonb, NULL::jsonb", 1)
		a.cols = strings.Replace(a.cols, custodyColumn, "e.custody", 1)
	}
	if err := q.QueryRow(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM tlog_index`).Scan(&a.total); err != nil {
		return a.r, fmt.Errorf("audit chains: read the log size: %w", err)
	}
	// In log order (both tables read near-sequentially): every row against
	// its leaf, and every bag-event leaf against its row.
	orphan, err := a.rowsAgainstLeaves(ctx)
	if err != nil || a.r.Problem != nil {
		return a.r, err
	}
	// In bag order: the chains and the replay.
	if err := a.histories(ctx); err != nil || a.r.Problem != nil {
		return a.r, err
	}
	// A leaf without its row is reported after the chains: a deleted event
	// is better named by the link it breaks, when it has a successor.
	a.r.Problem = orphan
	return a.r, nil
}

type chainAuditor struct {
	q     db.Querier
	v2    bool   // the schema has the one-history columns
	cols  string // the event columns read
	o     tlog.AuditOptions
	page  int
	total int64 // the log's size, for progress
	r     ChainReport
}

func (a *chainAuditor) progress(phase string, done int64) {
	if a.o.Progress != nil {
		a.o.Progress(tlog.Progress{Phase: phase, Done: done, Total: a.total})
	}
}

// pager reads a table in keyset pages: fetch returns the page after last
// (nil: the first page), in key order.
type pager[T any] struct {
	size  int
	fetch func(ctx context.Context, last *T) ([]T, error)
	buf   []T
	i     int
	done  bool
}

// peek returns the current row, nil after the last.
func (p *pager[T]) peek(ctx context.Context) (*T, error) {
	if p.i == len(p.buf) && !p.done {
		var last *T
		if len(p.buf) > 0 {
			last = &p.buf[len(p.buf)-1]
		}
		b, err := p.fetch(ctx, last)
		if err != nil {
			return nil, err
		}
		p.buf, p.i, p.done = b, 0, len(b) < p.size
	}
	if p.i == len(p.buf) {
		return nil, nil
	}
	return &p.buf[p.i], nil
}

func (p *pager[T]) next() { p.i++ }

// collect runs sql and scans each row with scan.
func collect[T any](ctx context.Context, q db.Querier, sql string, args []any, scan func(func(...any) error, *T) error) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var t T
		if err := scan(rows.Scan, &t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

const nilUUID = "00000000-0000-0000-0000-000000000000"

// The event columns the audit reads; the row's leaf is read in log order only.
const eventColumns = `e.id, e.bag_id, e.kind, e.stage, coalesce(e.from_state, ''), coalesce(e.to_state, ''), e.actor_id,
	e.actor_unit, e.place, e.occurred_at, e.recorded_at, e.corrects, e.data, coalesce(e.prev_hash, ''),
	` + custodyColumn + `, e.custodian_before, e.custodian_after, e.log_entry, coalesce(e.leaf_hash, '')`

// custodyColumn is the event's custody block: NULL is the default one
// (pouch: the custodian before the event).
const custodyColumn = `coalesce(e.custody, jsonb_build_object('custodian', e.custodian_before))`

func scanEvent(scan func(...any) error, e *eventRow, more ...any) error {
	return scan(append([]any{&e.id, &e.bagID, &e.kind, &e.stage, &e.from, &e.to, &e.actor, &e.unit, &e.place, &e.occurred,
		&e.recorded, &e.corrects, &e.data, &e.prevHash, &e.custody, &e.before, &e.after, &e.entry, &e.rowHash}, more...)...)
}

// events reads bag_events in (bag_id, id) order: an ordered range scan of
// its index that stops at the LIMIT.
func (a *chainAuditor) events() *pager[eventRow] {
	sql := fmt.Sprintf(`SELECT %s FROM bag_events e WHERE (bag_id, id) > ($1, $2) ORDER BY bag_id, id LIMIT %d`, a.cols, a.page)
	return &pager[eventRow]{size: a.page, fetch: func(ctx context.Context, last *eventRow) ([]eventRow, error) {
		bag, id := nilUUID, int64(0)
		if last != nil {
			bag, id = last.bagID, last.id
		}
		rs, err := collect(ctx, a.q, sql, []any{bag, id}, func(scan func(...any) error, e *eventRow) error { return scanEvent(scan, e) })
		if err != nil {
			return nil, fmt.Errorf("audit chains: read events after %s/%d: %w", bag, id, err)
		}
		return rs, nil
	}}
}

// eventsByEntry reads bag_events in (log_entry, id) order, each row with its
// leaf looked up by primary key: a LATERAL ... LIMIT 1 is never flattened
// into a join, so no statistics can turn the page into a hash or merge join
// over the whole log.
func (a *chainAuditor) eventsByEntry() *pager[eventRow] {
	sql := fmt.Sprintf(`
		SELECT %s, t.leaf, t.leaf_hash
		FROM (SELECT * FROM bag_events WHERE (log_entry, id) > ($1, $2) ORDER BY log_entry, id LIMIT %d) e
		LEFT JOIN LATERAL (SELECT leaf, leaf_hash FROM tlog_entries t WHERE t.id = e.log_entry LIMIT 1) t ON true
		ORDER BY e.log_entry, e.id`, a.cols, a.page)
	return &pager[eventRow]{size: a.page, fetch: func(ctx context.Context, last *eventRow) ([]eventRow, error) {
		entry, id := int64(-1<<63), int64(0)
		if last != nil {
			entry, id = last.entry, last.id
		}
		rs, err := collect(ctx, a.q, sql, []any{entry, id}, func(scan func(...any) error, e *eventRow) error {
			return scanEvent(scan, e, &e.leaf, &e.leafHash)
		})
		if err != nil {
			return nil, fmt.Errorf("audit chains: read events after log entry %d: %w", entry, err)
		}
		// Entries kept by hash only: their bytes are regenerated from the
		// rows (one query for the page); checkRow then hashes them.
		var ids []tlog.EntryID
		for _, e := range rs {
			if e.leaf == nil && e.leafHash != nil {
				ids = append(ids, tlog.EntryID(e.entry))
			}
		}
		if len(ids) > 0 {
			got, err := pouch.LeafSource.LeafBytes(ctx, a.q, ids)
			if err != nil {
				return nil, fmt.Errorf("audit chains: regenerate leaves after log entry %d: %w", entry, err)
			}
			for i := range rs {
				if rs[i].leaf == nil && rs[i].leafHash != nil {
					rs[i].leaf, got = got[0], got[1:]
					rs[i].regenerated = true
				}
			}
		}
		return rs, nil
	}}
}

// entries reads the ids of tlog_entries in order (its primary key).
func (a *chainAuditor) entries() *pager[int64] {
	return &pager[int64]{size: a.page, fetch: func(ctx context.Context, last *int64) ([]int64, error) {
		after := int64(0)
		if last != nil {
			after = *last
		}
		ids, err := tlog.EntryIDsAfter(ctx, a.q, after, a.page)
		if err != nil {
			return nil, fmt.Errorf("audit chains: read log entries after %d: %w", after, err)
		}
		return ids, nil
	}}
}

// rowsAgainstLeaves walks the log's entries and the event rows together in
// log order (a merge of two ordered scans): each row must have its leaf and
// equal it (checkRow); it returns the first bag-event leaf that no row
// records (an orphan), for AuditChains to report if nothing else is wrong.
func (a *chainAuditor) rowsAgainstLeaves(ctx context.Context) (*ChainProblem, error) {
	var orphan *ChainProblem
	events, entries := a.eventsByEntry(), a.entries()
	var done int64
	for {
		e, err := events.peek(ctx)
		if err != nil {
			return nil, err
		}
		l, err := entries.peek(ctx)
		if err != nil {
			return nil, err
		}
		switch {
		case e == nil && l == nil:
			return orphan, nil
		case l != nil && (e == nil || *l < e.entry):
			// An entry that no row names: a bag event whose row was deleted?
			if orphan == nil {
				var leaf []byte
				if err := a.q.QueryRow(ctx, `SELECT leaf FROM tlog_entries WHERE id = $1`, *l).Scan(&leaf); err != nil {
					return nil, fmt.Errorf("audit chains: read log entry %d: %w", *l, err)
				}
				var le loggedEvent
				if leaf == nil {
					// Kept by hash only: its bytes were its row's.
					orphan = &ChainProblem{LogEntry: *l,
						Message: fmt.Sprintf("log entry %d keeps only the hash of a bag event whose row is missing from bag_events: the event row was deleted", *l)}
				} else if json.Unmarshal(leaf, &le) == nil && le.Type == "valise.bag_event" {
					orphan = &ChainProblem{BagID: le.BagID, EventID: le.EventID, LogEntry: *l,
						Message: fmt.Sprintf("log entry %d records event %d of bag %s, which is missing from bag_events: the event row was deleted", *l, le.EventID, le.BagID)}
				}
			}
			entries.next()
		case l != nil && *l == e.entry:
			// The entry of e (and of any other row naming it): counted once.
			if p := checkRow(e); p != nil {
				a.r.Problem = p
				return nil, nil
			}
			events.next()
			if n, err := events.peek(ctx); err != nil {
				return nil, err
			} else if n == nil || n.entry != *l {
				entries.next()
				if done++; done%int64(a.page) == 0 {
					a.progress("events against the log", done)
				}
			}
		default:
			// A row whose entry is missing.
			if p := checkRow(e); p != nil {
				a.r.Problem = p
				return nil, nil
			}
			events.next()
		}
	}
}
func (a *chainAuditor) bags() *pager[bagRow] {
	sql := fmt.Sprintf(`SELECT id, registry_number, state FROM bags WHERE id > $1 ORDER BY id LIMIT %d`, a.page)
	return &pager[bagRow]{size: a.page, fetch: func(ctx context.Context, last *bagRow) ([]bagRow, error) {
		after := nilUUID
		if last != nil {
			after = last.id
		}
		rs, err := collect(ctx, a.q, sql, []any{after}, func(scan func(...any) error, b *bagRow) error {
			return scan(&b.id, &b.registry, &b.state)
		})
		if err != nil {
			return nil, fmt.Errorf("audit chains: read bags after %s: %w", after, err)
		}
		return rs, nil
	}}
}

func (a *chainAuditor) custodians() *pager[custodyRow] {
	cols := `coalesce(custodian_kind, ''), custodian_unit, coalesce(custodian_user::text, ''),
		       coalesce(custodian_username, ''), coalesce(bearer_name, ''), coalesce(bearer_document, ''),
		       coalesce(sheet_id::text, '')`
	if !a.v2 {
		cols = `'', custodian_unit, coalesce(custodian_user::text, ''), coalesce(custodian_username, ''), '', '', ''`
	}
	sql := fmt.Sprintf(`
		SELECT bag_id, %s
		FROM bag_custody WHERE bag_id > $1 ORDER BY bag_id LIMIT %d`, cols, a.page)
	return &pager[custodyRow]{size: a.page, fetch: func(ctx context.Context, last *custodyRow) ([]custodyRow, error) {
		after := nilUUID
		if last != nil {
			after = last.bagID
		}
		rs, err := collect(ctx, a.q, sql, []any{after}, func(scan func(...any) error, c *custodyRow) error {
			return scan(&c.bagID, &c.kind, &c.unit, &c.user, &c.username, &c.name, &c.document, &c.sheet)
		})
		if err != nil {
			return nil, fmt.Errorf("audit chains: read custodians after %s: %w", after, err)
		}
		return rs, nil
	}}
}

// histories walks the events, the bags and the custody rows together, all
// three in bag id order (a merge, so nothing is held per bag beyond the
// current one): each bag's chain is checked event by event and its history
// replayed, then compared with its bags and bag_custody rows.
func (a *chainAuditor) histories(ctx context.Context) error {
	events, bags, custodians := a.events(), a.bags(), a.custodians()
	for {
		e, err := events.peek(ctx)
		if err != nil {
			return err
		}
		b, err := bags.peek(ctx)
		if err != nil {
			return err
		}
		c, err := custodians.peek(ctx)
		if err != nil {
			return err
		}
		key := ""
		for _, k := range []*string{keyOf(e), keyOf(b), keyOf(c)} {
			if k != nil && (key == "" || *k < key) {
				key = *k
			}
		}
		if key == "" {
			return nil
		}
		h := history{bagID: key}
		if b != nil && b.id == key {
			h.bag = b
			bags.next()
		}
		if c != nil && c.bagID == key {
			h.custody = c
			custodians.next()
		}
		a.r.Bags++
		chain := chainState{prev: make([]byte, 32)}
		for e != nil && e.bagID == key {
			if p := chain.link(e); p != nil {
				a.r.Problem = p
				return nil
			}
			a.r.Events++
			h.apply(a, e)
			events.next()
			if e, err = events.peek(ctx); err != nil {
				return err
			}
			if a.r.Events%a.page == 0 {
				a.progress("bag histories", int64(a.r.Events))
			}
		}
		h.compare(a)
	}
}

func keyOf[T eventRow | bagRow | custodyRow](r *T) *string {
	if r == nil {
		return nil
	}
	switch v := any(r).(type) {
	case *eventRow:
		return &v.bagID
	case *bagRow:
		return &v.id
	case *custodyRow:
		return &v.bagID
	}
	return nil
}

// chainState is the hash chain of the bag being walked.
type chainState struct {
	prev   []byte
	prevID int64
}

func (e *eventRow) fail(format string, args ...any) *ChainProblem {
	at := fmt.Sprintf("event %d of bag %s (log entry %d)", e.id, e.bagID, e.entry)
	return &ChainProblem{BagID: e.bagID, EventID: e.id, LogEntry: e.entry, Message: at + ": " + fmt.Sprintf(format, args...)}
}

// checkRow checks one event row against its leaf: the leaf exists, hashes
// to its stored hash and to the row's, and every field of the row is the
// logged one.
func checkRow(e *eventRow) *ChainProblem {
	fail := e.fail
	if e.leaf == nil {
		return fail("its log entry is missing")
	}
	if !bytes.Equal(tlog.LeafHash(e.leaf), e.leafHash) {
		if e.regenerated && bytes.Equal(tlog.LeafHash(e.leaf), e.rowHash) {
			return fail("the log entry it names keeps another leaf hash than the row gives: the row was altered (its log_entry) or the log entry was altered")
		}
		if e.regenerated {
			// The row is the only copy of the event's facts: which field
			// changed cannot be told, only that the row no longer gives
			// the hash the log (and the next event's prev link) kept.
			return fail("the row does not hash to the leaf hash the log keeps for it: the row was altered")
		}
		return fail("the logged bytes do not hash to their stored leaf hash: the log entry was altered")
	}
	if !bytes.Equal(e.rowHash, e.leafHash) {
		return fail("the row's leaf_hash differs from its log entry's: the row was altered")
	}
	var l loggedEvent
	if err := json.Unmarshal(e.leaf, &l); err != nil || l.Type != "valise.bag_event" {
		return fail("the log entry is not a bag event")
	}
	field := ""
	switch {
	case l.EventID != e.id:
		field = fmt.Sprintf("id (the log entry is event %d)", l.EventID)
	case l.BagID != e.bagID:
		field = "bag_id"
	case l.Kind != e.kind:
		field = "kind"
	case l.Stage != e.stage:
		field = "stage"
	case l.FromState != e.from || l.ToState != e.to:
		field = "from_state/to_state"
	case l.Actor != e.actor:
		field = "actor"
	case l.Unit != e.unit:
		field = "unit"
	case l.Place != e.place:
		field = "place"
	case !sameTime(l.OccurredAt, e.occurred):
		field = "occurred_at"
	case !sameTime(l.RecordedAt, e.recorded):
		field = "recorded_at"
	case !reflect.DeepEqual(l.Corrects, e.corrects):
		field = "corrects"
	case !sameJSON(l.Data, e.data):
		field = "data"
	case !sameJSON(l.Custody, e.custody):
		field = "custody"
	case !sameJSON(l.CustodianBefore, e.before):
		field = "custodian_before"
	case !sameJSON(l.CustodianAfter, e.after):
		field = "custodian_after"
	case len(e.prevHash) > 0 && l.Prev != hex.EncodeToString(e.prevHash):
		field = "prev_hash"
	}
	if field != "" {
		return fail("the row's %s differs from the logged event: the row was altered", field)
	}
	return nil
}

// link checks that an event (already checked against its leaf, so its
// prev_hash and leaf_hash are the logged ones) links to the bag's previous
// event.
func (c *chainState) link(e *eventRow) *ChainProblem {
	fail := e.fail
	if len(e.prevHash) == 0 && c.prevID == 0 {
		// Recorded before the chain existed: the chain starts after it.
		c.prev, c.prevID = e.rowHash, e.id
		return nil
	}
	if !bytes.Equal(e.prevHash, c.prev) {
		if c.prevID == 0 {
			return fail("it is the bag's first event but links to %x: an earlier event was deleted", e.prevHash[:min(8, len(e.prevHash))])
		}
		return fail("its prev link %x is not the leaf hash of the bag's previous event %d (%x): an event between them was deleted, or events were reordered",
			e.prevHash[:min(8, len(e.prevHash))], c.prevID, c.prev[:8])
	}
	c.prev, c.prevID = e.rowHash, e.id
	return nil
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
