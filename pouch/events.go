package pouch

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
	"valise/tlog"
)

// Event is one entry of a bag's history: who, when, where, why, at which
// stage. Events are never edited; a correction is a new event whose
// Corrects names the event it declares wrong (EPCIS ErrorDeclaration).
type Event struct {
	ID               int64           `json:"id"`
	BagID            string          `json:"bag_id"`
	Kind             string          `json:"kind"`
	Stage            string          `json:"stage"`
	FromState        State           `json:"from_state,omitempty"`
	ToState          State           `json:"to_state,omitempty"`
	ActorID          string          `json:"actor_id"`
	ActorUsername    string          `json:"actor_username"`
	ActorUnit        string          `json:"actor_unit"`
	Place            string          `json:"place,omitempty"`
	Reason           string          `json:"reason,omitempty"`
	Data             json.RawMessage `json:"data,omitempty"`
	OccurredAt       time.Time       `json:"occurred_at"`
	RecordedAt       time.Time       `json:"recorded_at"`
	Corrects         *int64          `json:"corrects,omitempty"`
	CorrectionReason string          `json:"correction_reason,omitempty"`
	LogEntry         *int64          `json:"log_entry,omitempty"`
	// PrevHash is the custody log leaf hash of the bag's previous event
	// (32 zero bytes for its first): the per-bag hash chain (custody/).
	PrevHash []byte `json:"prev_hash"`
	// Custody is the event's custody block (parties, packages, seals
	// checked, coordinates; see Block). Empty: record fills in the bag's
	// current custodian.
	Custody json.RawMessage `json:"custody,omitempty"`
	// CustodianBefore and CustodianAfter are who held the bag before and
	// after the event. Every event carries both (equal when possession does
	// not change), as it carries FromState and ToState: the bag's current
	// state and custodian are what its last event says (the projection
	// trigger of migration 00403 writes them, and nothing else may).
	// Empty: record fills in the current custodian, unchanged.
	CustodianBefore *Party `json:"custodian_before,omitempty"`
	CustodianAfter  *Party `json:"custodian_after,omitempty"`

	// after runs once the event is recorded (rows that must name it).
	after func(tx pgx.Tx) error
	// state and custodian are the bag's current ones, read by PrepareEvent.
	state     State
	custodian Party
	// leafHash is the event's log leaf hash, set by QueueEvent (the next
	// event's chain link).
	leafHash []byte
}

// leaf is the canonical form of an event appended to the custody log: a
// fixed field order, UTC times, no free text beyond what the event holds.
// It names no contents and no classification.
type leaf struct {
	V          int             `json:"v"`
	Type       string          `json:"type"`
	EventID    int64           `json:"event_id"`
	BagID      string          `json:"bag_id"`
	Kind       string          `json:"kind"`
	Stage      string          `json:"stage"`
	FromState  State           `json:"from_state,omitempty"`
	ToState    State           `json:"to_state,omitempty"`
	Before     *Party          `json:"custodian_before,omitempty"`
	After      *Party          `json:"custodian_after,omitempty"`
	Actor      string          `json:"actor"`
	Unit       string          `json:"unit"`
	Place      string          `json:"place,omitempty"`
	OccurredAt string          `json:"occurred_at"`
	RecordedAt string          `json:"recorded_at"`
	Corrects   *int64          `json:"corrects,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Prev       string          `json:"prev"`
	Custody    json.RawMessage `json:"custody,omitempty"`
}

// Canonical returns the bytes appended to the custody log for e. It is a
// function of e's row as bag_events gives it back (see leaves.go): times to
// the microsecond, the data and custody blocks with sorted keys.
func (e *Event) Canonical() ([]byte, error) {
	b, _, _, err := e.canonical()
	return b, err
}

// canonical is Canonical, and whether the row gives those bytes back (the
// log may then keep only their hash), and whether the custody block is the
// default one (the custodian before the event, stored as NULL).
func (e *Event) canonical() ([]byte, bool, bool, error) {
	data, okData, _, err := normalJSON(e.Data)
	if err != nil {
		return nil, false, false, fmt.Errorf("event data: %w", err)
	}
	custody := e.Custody
	if len(custody) == 0 && e.CustodianBefore != nil {
		custody = defaultCustody(e.CustodianBefore)
	}
	custody, okCustody, onlyCustodian, err := normalJSON(custody)
	if err != nil {
		return nil, false, false, fmt.Errorf("event custody block: %w", err)
	}
	// Only a block with the one key "custodian" can be the default.
	isDefault := false
	if onlyCustodian && e.CustodianBefore != nil {
		d, _, _, _ := normalJSON(defaultCustody(e.CustodianBefore))
		isDefault = bytes.Equal(d, custody)
	}
	b, err := json.Marshal(leaf{V: 2, Type: "valise.bag_event", EventID: e.ID, BagID: e.BagID, Kind: e.Kind,
		Stage: e.Stage, FromState: e.FromState, ToState: e.ToState, Before: e.CustodianBefore,
		After: e.CustodianAfter, Actor: e.ActorID, Unit: e.ActorUnit,
		Place: e.Place, OccurredAt: e.OccurredAt.Truncate(time.Microsecond).UTC().Format(time.RFC3339Nano),
		RecordedAt: e.RecordedAt.Truncate(time.Microsecond).UTC().Format(time.RFC3339Nano), Corrects: e.Corrects, Data: data,
		Prev: hex.EncodeToString(e.PrevHash), Custody: custody})
	return b, okData && okCustody, isDefault, err
}

// record inserts e for actor in tx and appends its canonical bytes to the
// custody log in the same transaction, so a state change and its log entry
// commit together or not at all. It is two round trips: PrepareEvent's read,
// then QueueEvent's writes.
func record(ctx context.Context, tx pgx.Tx, actor policy.Subject, e *Event) error {
	b := &pgx.Batch{}
	PrepareEvent(b, e)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	b = &pgx.Batch{}
	if err := QueueEvent(b, actor, e); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record bag event: %w", err)
	}
	return nil
}

// PrepareEvent queues in b the read that recording e needs first: its id,
// the record time, the previous event's leaf hash (the chain link; the
// caller holds the bag's row lock and queues this after taking it, so it is
// the latest), and the bag's current state and custodian (what the event
// starts from). They are set on e when b's results are read; then
// QueueEvent queues the writes. Splitting the two lets a caller share each
// round trip with its own statements; a caller that locks the bag first
// reads both in one statement with QueueLockBagForEvent.
func PrepareEvent(b *pgx.Batch, e *Event) {
	b.Queue(`SELECT `+eventLinkColumns+`, b.state, b.id::text, `+CustodianColumns+`
		FROM bags b JOIN bag_custody c ON c.bag_id = b.id WHERE b.id = $1`, e.BagID).QueryRow(func(row pgx.Row) error {
		var state string
		// The bag id as the row will give it back (the leaf names it so).
		err := row.Scan(append([]any{&e.ID, &e.RecordedAt, &e.PrevHash, &state, &e.BagID}, CustodianDest(&e.custodian)...)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // no such bag: the caller's look-up answers 404 (e.ID stays 0, QueueEvent refuses it)
		}
		if err != nil {
			return fmt.Errorf("bag event id: %w", err)
		}
		e.state = State(state)
		return nil
	})
}

// CustodianColumns are the columns of bag_custody c that CustodianDest scans
// into a Party (also for readers outside pouch that join bag_custody).
const CustodianColumns = `c.custodian_kind, c.custodian_unit, coalesce(c.custodian_user::text, ''),
	coalesce(c.custodian_username, ''), coalesce(c.bearer_name, ''), coalesce(c.bearer_document, ''),
	coalesce(c.sheet_id::text, '')`

// CustodianDest is the scan destination of CustodianColumns.
func CustodianDest(p *Party) []any {
	return []any{&p.Kind, &p.Unit, &p.User, &p.Username, &p.Name, &p.Document, &p.SheetID}
}

// QueueEvent queues in b, for an event PrepareEvent has read for, one
// statement that appends its canonical bytes to the custody log and inserts
// the event row pointing at that log entry (tlog.AppendWith); b must run in
// the same transaction. e.LogEntry is set when b's results are read.
func QueueEvent(b *pgx.Batch, actor policy.Subject, e *Event) error {
	r, err := e.row(actor)
	if err != nil {
		return err
	}
	stmt := `
		INSERT INTO bag_events (` + insertColumns + `)
		SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, entry.id, $19, $20, $21, $22, $23
		FROM entry RETURNING log_entry`
	cols := []any{e.ID, e.BagID, e.Kind, e.Stage, r.from, r.to, e.ActorID, e.ActorUsername, e.ActorUnit, e.Place, e.Reason,
		e.Data, e.OccurredAt, e.RecordedAt, e.Corrects, r.reason, e.PrevHash, e.leafHash, r.custody,
		e.CustodianBefore.json(), e.CustodianAfter.json()}
	// The row regenerates the leaf (LeafSource): the log keeps its hash only.
	// Otherwise (rare: a number jsonb would rewrite) it keeps the bytes too.
	var sql string
	var args []any
	if r.regenerable {
		sql, args, err = tlog.AppendHashWith(e.leafHash, stmt, cols...)
	} else {
		sql, args, err = tlog.AppendWith(r.leaf, stmt, cols...)
	}
	if err != nil {
		return fmt.Errorf("append bag event to the custody log: %w", err)
	}
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
		var n int64
		if err := row.Scan(&n); err != nil {
			return fmt.Errorf("record bag event: %w", err)
		}
		e.LogEntry = &n
		return nil
	})
	return nil
}

// insertColumns are the columns a new bag_events row is written with, in
// the order QueueEvent and QueueEvents give them.
const insertColumns = `id, bag_id, kind, stage, from_state, to_state, actor_id, actor_username, actor_unit,
		                        place, reason, data, occurred_at, recorded_at, corrects, correction_reason, log_entry,
		                        prev_hash, leaf_hash, custody, custodian_before, custodian_after`

// QueueEvents queues the run evs of one bag (the first prepared with its
// link to the bag's last event, the others with their own ids) as ONE
// statement: it links each event to the leaf of the one before, and writes
// their log leaves and rows in a single multi-row INSERT, the bag's
// projection updated once for the lot (migration 00430). One event is
// QueueEvent.
func QueueEvents(b *pgx.Batch, actor policy.Subject, evs []*Event) error {
	if len(evs) == 1 {
		return QueueEvent(b, actor, evs[0])
	}
	n := len(evs)
	var (
		ids, corrects                    = make([]int64, n), make([]*int64, n)
		bags, kinds, stages, froms, tos  = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		actorIDs, actorNames, actorUnits = make([]string, n), make([]string, n), make([]string, n)
		places, reasons, data            = make([]string, n), make([]string, n), make([]string, n)
		occurred, recorded               = make([]time.Time, n), make([]time.Time, n)
		correction, custody              = make([]*string, n), make([]*string, n)
		before, after                    = make([]string, n), make([]string, n)
		prevs, hashes, leaves            = make([][]byte, n), make([][]byte, n), make([][]byte, n)
		byID                             = make(map[int64]*Event, n)
	)
	for i, e := range evs {
		if i > 0 {
			e.PrevHash = evs[i-1].leafHash // the one before's leaf, known once its row was computed
		}
		r, err := e.row(actor)
		if err != nil {
			return err
		}
		if r.custody != nil {
			c := string(r.custody.(json.RawMessage))
			custody[i] = &c
		}
		if !r.regenerable {
			leaves[i] = r.leaf
		}
		ids[i], bags[i], kinds[i], stages[i], froms[i], tos[i] = e.ID, e.BagID, e.Kind, e.Stage, r.from, r.to
		actorIDs[i], actorNames[i], actorUnits[i] = e.ActorID, e.ActorUsername, e.ActorUnit
		places[i], reasons[i], data[i] = e.Place, e.Reason, string(e.Data)
		occurred[i], recorded[i], corrects[i], correction[i] = e.OccurredAt, e.RecordedAt, e.Corrects, r.reason
		prevs[i], hashes[i] = e.PrevHash, e.leafHash
		before[i], after[i] = string(e.CustodianBefore.json()), string(e.CustodianAfter.json())
		byID[e.ID] = e
	}
	stmt := `
		INSERT INTO bag_events (` + insertColumns + `)
		SELECT u.id, u.bag_id, u.kind, u.stage, u.from_state, u.to_state, u.actor_id, u.actor_username, u.actor_unit,
		       u.place, u.reason, u.data, u.occurred_at, u.recorded_at, u.corrects, u.correction_reason, entry.id,
		       u.prev_hash, u.leaf_hash, u.custody, u.custodian_before, u.custodian_after
		FROM unnest($3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
		            $11::text[], $12::text[], $13::text[], $14::jsonb[], $15::timestamptz[], $16::timestamptz[],
		            $17::bigint[], $18::text[], $19::bytea[], $20::bytea[], $21::jsonb[], $22::jsonb[], $23::jsonb[])
		     AS u(id, bag_id, kind, stage, from_state, to_state, actor_id, actor_username, actor_unit, place, reason,
		          data, occurred_at, recorded_at, corrects, correction_reason, prev_hash, leaf_hash, custody,
		          custodian_before, custodian_after)
		JOIN entry ON entry.leaf_hash = u.leaf_hash
		ORDER BY u.id
		RETURNING id, log_entry`
	sql, args, err := tlog.AppendManyWith(leaves, hashes, stmt, ids, bags, kinds, stages, froms, tos, actorIDs, actorNames,
		actorUnits, places, reasons, data, occurred, recorded, corrects, correction, prevs, hashes, custody, before, after)
	if err != nil {
		return fmt.Errorf("append bag events to the custody log: %w", err)
	}
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		got := 0
		for rows.Next() {
			var id, entry int64
			if err := rows.Scan(&id, &entry); err != nil {
				return fmt.Errorf("record bag events: %w", err)
			}
			if e := byID[id]; e != nil {
				e.LogEntry = &entry
				got++
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("record bag events: %w", err)
		}
		if got != n {
			return fmt.Errorf("record bag events: %d of %d written", got, n)
		}
		return nil
	})
	return nil
}

// eventRow is what an event's row is written with besides its own fields.
type eventRow struct {
	from, to    string
	reason      *string
	custody     any // nil: the default block, rebuilt on read (custodyColumn)
	leaf        []byte
	regenerable bool
}

// row completes e for writing as actor (its defaults, its leaf hash) and
// returns the computed columns of its row.
func (e *Event) row(actor policy.Subject) (eventRow, error) {
	var r eventRow
	if e.ID == 0 {
		return r, fmt.Errorf("record bag event: PrepareEvent has not run")
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	if len(e.Data) == 0 {
		e.Data = json.RawMessage(`{}`)
	}
	e.ActorID, e.ActorUsername, e.ActorUnit = actor.UserID, actor.Username, actor.UnitCode
	// Every event states where the bag was and is: by default it changes
	// neither state nor custodian.
	if e.FromState == "" {
		e.FromState = e.state
	}
	if e.ToState == "" {
		e.ToState = e.FromState
	}
	if e.CustodianBefore == nil {
		cur := e.custodian
		e.CustodianBefore = &cur
	}
	if e.CustodianAfter == nil {
		after := *e.CustodianBefore
		e.CustodianAfter = &after
	}
	if e.FromState == "" || e.CustodianBefore.Kind == "" {
		return r, fmt.Errorf("record bag event: the bag's state and custodian were not read")
	}
	r.from, r.to = string(e.FromState), string(e.ToState)
	if e.CorrectionReason != "" {
		r.reason = &e.CorrectionReason
	}
	// PostgreSQL keeps microseconds: the event is what its row will say.
	e.OccurredAt, e.RecordedAt = e.OccurredAt.Truncate(time.Microsecond), e.RecordedAt.Truncate(time.Microsecond)
	if len(e.Custody) == 0 {
		e.Custody = defaultCustody(e.CustodianBefore)
	}
	leaf, regenerable, isDefault, err := e.canonical()
	if err != nil {
		return r, fmt.Errorf("canonical bag event: %w", err)
	}
	r.leaf, r.regenerable = leaf, regenerable
	e.leafHash = tlog.LeafHash(r.leaf)
	// The default custody block is not stored: custodyColumn rebuilds it.
	r.custody = e.Custody
	if isDefault {
		r.custody = nil
	}
	return r, nil
}

const eventColumns = `e.id, e.bag_id, e.kind, e.stage, coalesce(e.from_state, ''), coalesce(e.to_state, ''), e.actor_id,
	e.actor_username, e.actor_unit, e.place, e.reason, e.data, e.occurred_at, e.recorded_at, e.corrects,
	coalesce(e.correction_reason, ''), e.log_entry, coalesce(e.prev_hash, ''), ` + custodyColumn + `, e.custodian_before,
	e.custodian_after`

func scanEvent(row pgx.Row) (Event, error) {
	var e Event
	var from, to string
	err := row.Scan(&e.ID, &e.BagID, &e.Kind, &e.Stage, &from, &to, &e.ActorID, &e.ActorUsername, &e.ActorUnit,
		&e.Place, &e.Reason, &e.Data, &e.OccurredAt, &e.RecordedAt, &e.Corrects, &e.CorrectionReason, &e.LogEntry,
		&e.PrevHash, &e.Custody, &e.CustodianBefore, &e.CustodianAfter)
	e.FromState, e.ToState = State(from), State(to)
	return e, err
}

// History returns a bag's events, oldest first. The caller has authorized
// reading the bag. It reads the whole history: readers that serve it page
// it with HistoryPage.
func History(ctx context.Context, q db.Querier, bagID string) ([]Event, error) {
	return HistoryPage(ctx, q, bagID, 0, 0)
}

// DefaultHistoryPage and MaxHistoryPage are the events of a page of a
// bag's history (its events, its custody trail) unless asked otherwise,
// and the most one page holds.
const (
	DefaultHistoryPage = 50
	MaxHistoryPage     = 200
)

// HistoryPage returns up to limit of a bag's events after event id after
// (0: from the first), oldest first; limit 0 reads them all. It is one
// range scan of bag_events_bag_idx, which costs the same whatever the bag's
// age or the log's size. The caller has authorized reading the bag.
func HistoryPage(ctx context.Context, q db.Querier, bagID string, after int64, limit int) ([]Event, error) {
	sql := `SELECT ` + eventColumns + ` FROM bag_events e WHERE e.bag_id = $1 AND e.id > $2 ORDER BY e.bag_id, e.id`
	args := []any{bagID, after}
	if limit > 0 {
		sql += ` LIMIT $3`
		args = append(args, limit)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("bag history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("bag history: %w", err)
	}
	if out == nil {
		out = []Event{}
	}
	return out, nil
}

// CorrectionInput declares an earlier event wrong.
type CorrectionInput struct {
	EventID int64  `json:"event_id"`
	Reason  string `json:"reason"` // did_not_occur or incorrect_data
	Note    string `json:"note"`
	// Data carries the corrected values when Reason is incorrect_data.
	Data json.RawMessage `json:"data,omitempty"`
}

// Correct records a correction event on a bag. It changes no state: the
// corrected event stays, and readers see both.
func (s *Service) Correct(ctx context.Context, actor policy.Subject, bagID string, in CorrectionInput, check Check) (Event, error) {
	var fe []valise.FieldError
	if in.EventID <= 0 {
		fe = append(fe, valise.FieldError{Field: "event_id", Reason: "required"})
	}
	if in.Reason != "did_not_occur" && in.Reason != "incorrect_data" {
		fe = append(fe, valise.FieldError{Field: "reason", Reason: "must be did_not_occur or incorrect_data"})
	}
	if in.Note == "" {
		fe = append(fe, valise.FieldError{Field: "note", Reason: "required: say why the event is wrong"})
	}
	if fe != nil {
		return Event{}, valise.Invalid("the correction is incomplete", fe...)
	}
	var ev Event
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		b, err := getBag(ctx, tx, bagID, true)
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActBagRead, b.Resource()); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM bag_events WHERE id = $1 AND bag_id = $2`, in.EventID, bagID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return valise.Invalid("no such event on this bag", valise.FieldError{Field: "event_id", Reason: "not an event of this bag"})
		}
		data := in.Data
		if len(data) == 0 {
			data = json.RawMessage(`{}`)
		}
		id := in.EventID
		ev = Event{BagID: bagID, Kind: "correction", Stage: "correction", Reason: in.Note, Data: data,
			Corrects: &id, CorrectionReason: in.Reason}
		return record(ctx, tx, actor, &ev)
	})
	return ev, err
}

// Record records e for actor in tx, exactly as the lifecycle does (hash
// chain link, custody log leaf, same transaction). It is the hook for
// custody/ (hand-offs, checkpoint scans): the caller must hold the bag's row
// lock (LockBag) and have authorized the action.
func Record(ctx context.Context, tx pgx.Tx, actor policy.Subject, e *Event) error {
	return record(ctx, tx, actor, e)
}

// LockBag loads a bag with its row locked FOR UPDATE in tx, so events of
// one bag are recorded one at a time (the hash chain needs that). It is one
// round trip (QueueLockBag).
func LockBag(ctx context.Context, tx pgx.Tx, id string) (*Bag, error) {
	return getBag(ctx, tx, id, true)
}

// QueueLockBag queues in b what LockBag does: lock the bag's row FOR
// UPDATE, then read it with its packages and the couriers on its issued
// sheets (one statement after the lock).
// Statements queued after it run after the lock, each with a fresh READ
// COMMITTED snapshot, so they see the state the lock protects; queueing
// them in the same batch saves their round trips. When b's results have
// been read, *out is the bag, or nil when there is none. A malformed id is
// ENOTFOUND at once (nothing is queued).
func QueueLockBag(b *pgx.Batch, id string, out **Bag) error {
	return queueBag(b, id, true, out, nil, nil)
}

// QueueLockBagForEvent is QueueLockBag followed by PrepareEvent(b, e) for an
// event of that bag, in one statement after the lock instead of two: the
// bag's read also takes the event's id, record time and chain link, and e
// starts from the state and custodian that same read gives the bag. When
// there is no such bag, *out is nil and e.ID stays 0 (QueueEvent refuses
// it), as with the two calls. e.BagID becomes the id as the row gives it.
func QueueLockBagForEvent(b *pgx.Batch, id string, out **Bag, e *Event) error {
	return queueBag(b, id, true, out, e, nil)
}

// bagRider is a caller's own read that rides on queueBag's statement, for
// the same snapshot after the lock and one statement fewer: cols are column
// expressions ($1 is the bag, the rider's args are $2, $3, …) scanned into
// dest when the bag exists. With no such bag dest is left as it was.
type bagRider struct {
	cols string
	args []any
	dest []any
}

// bagExtraColumns are what queueBag reads with a bag's row: its packages'
// numbers and seal serials, and the user ids of the couriers on its issued
// sheets ($1 is the bag).
const bagExtraColumns = `,
	ARRAY(SELECT k FROM bag_packages WHERE bag_id = $1 ORDER BY k),
	ARRAY(SELECT coalesce(seal_serial, '') FROM bag_packages WHERE bag_id = $1 ORDER BY k),
	ARRAY(SELECT DISTINCT cr.user_id FROM courier_sheet_bags sb
	      JOIN courier_sheets cs ON cs.id = sb.sheet_id AND cs.status = 'issued'
	      JOIN couriers cr ON cr.id = cs.courier_id WHERE sb.bag_id = $1 AND cr.user_id IS NOT NULL)`

// eventLinkColumns are PrepareEvent's reads besides the bag's state and
// custodian ($1 is the bag): the event's id, its record time, and the leaf
// hash of the bag's previous event (32 zero bytes for its first).
const eventLinkColumns = `nextval(pg_get_serial_sequence('bag_events', 'id')), clock_timestamp(),
	coalesce((SELECT p.leaf_hash FROM bag_events p WHERE p.bag_id = $1 ORDER BY p.bag_id DESC, p.id DESC LIMIT 1),
	         decode(repeat('00', 32), 'hex'))`

// queueBag queues in b the reads of getBag and QueueLockBag: the bag's row
// (locked FOR UPDATE when lock, in a statement of its own), then, in one
// statement, the row with its packages and couriers and, when e is not nil,
// what PrepareEvent reads for e and the columns of r.
func queueBag(b *pgx.Batch, id string, lock bool, out **Bag, e *Event, r *bagRider) error {
	*out = nil
	if !db.ValidUUID(id) {
		return valise.Errorf(valise.ENOTFOUND, "no such bag")
	}
	if lock {
		// The lock is a statement of its own: a locking read that waited
		// for the row returns the new version of the locked row only (its
		// joined rows, the custody among them, stay as the statement's
		// snapshot saw them: a hand-off committed meanwhile would be missed).
		// The read after it has a fresh snapshot.
		b.Queue(`SELECT FROM bags WHERE id = $1 FOR UPDATE`, id)
	}
	sql := `SELECT ` + bagColumns + bagExtraColumns
	if e != nil {
		sql += `, ` + eventLinkColumns
	}
	args := []any{id}
	if r != nil {
		sql += `, ` + r.cols
		args = append(args, r.args...)
	}
	b.Queue(sql+bagFrom+` WHERE b.id = $1`, args...).QueryRow(func(row pgx.Row) error {
		var ks []int
		var serials, couriers []string
		extra := []any{&ks, &serials, &couriers}
		var ev Event
		if e != nil {
			extra = append(extra, &ev.ID, &ev.RecordedAt, &ev.PrevHash)
		}
		if r != nil {
			extra = append(extra, r.dest...)
		}
		bag, err := scanBag(extraRow{row, extra})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // no such bag: *out stays nil, e.ID 0
		}
		if err != nil {
			return fmt.Errorf("load bag: %w", err)
		}
		bag.Packages = make([]Package, len(ks))
		for i, k := range ks {
			bag.Packages[i] = Package{K: k, N: bag.PackageCount, SealSerial: serials[i]}
		}
		bag.couriers = couriers
		if e != nil {
			// As PrepareEvent: the bag id as the row gives it back (the
			// leaf names it so), its current state and custodian.
			e.ID, e.RecordedAt, e.PrevHash = ev.ID, ev.RecordedAt, ev.PrevHash
			e.BagID, e.state, e.custodian = bag.ID, bag.State, bag.Custodian
		}
		*out = bag
		return nil
	})
	return nil
}

// OpenIncident opens an incident on a locked bag in tx (deadlines from
// pouch_settings) and records it on the bag; source is one of the incidents
// table's sources ("acceptance", "loss", "examination", "report").
func OpenIncident(ctx context.Context, tx pgx.Tx, actor policy.Subject, b *Bag, class, source, summary string) (*Incident, error) {
	return openIncident(ctx, tx, actor, b, class, source, summary)
}
