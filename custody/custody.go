// Package custody is who holds a diplomatic bag, provably: two-party
// hand-offs (the custodian releases, the named receiver scans the seals and
// accepts), checkpoint scans, the custody trail of a bag with inclusion
// proofs, the per-bag hash chain audit, and overdue alerts for bags in
// transit that went silent.
//
// It adds no parallel history: every custody event is a pouch event
// (pouch.Record), so it carries the bag's hash-chain link and its leaf in the
// custody transparency log (custody/tlog) and commits in the same
// transaction as the custody change. The current custodian is one row per
// bag (bag_custody), changed only under the bag's row lock.
package custody

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/crypto/keyring"
	"valise/internal/db"
	"valise/policy"
	"valise/pouch"
)

// Service records hand-offs and scans over one pool.
type Service struct {
	pool  *pgxpool.Pool
	trust trustCache
	now   func() time.Time
}

// New returns the service.
func New(pool *pgxpool.Pool) *Service { return &Service{pool: pool, now: time.Now} }

// Party is one side of a custody event: a unit, and the user acting for it
// (empty when a unit's registry holds the bag as a whole).
type Party struct {
	Unit     string `json:"unit"`
	User     string `json:"user,omitempty"`
	Username string `json:"username,omitempty"`
}

func (p Party) String() string {
	if p.Username != "" {
		return p.Username + " (" + p.Unit + ")"
	}
	return "the registry of " + p.Unit
}

// Coordinates are an optional position (WGS 84 degrees).
type Coordinates struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Block is the custody block of an event (stored in bag_events.custody and
// in the event's log leaf): who besides the actor, what was checked, where.
type Block struct {
	HandoffID   string       `json:"handoff_id,omitempty"`
	From        *Party       `json:"from,omitempty"`
	To          *Party       `json:"to,omitempty"`
	Custodian   *Party       `json:"custodian,omitempty"`
	Packages    int          `json:"packages,omitempty"`
	Seals       *SealResult  `json:"seals,omitempty"`
	Coordinates *Coordinates `json:"coordinates,omitempty"`
	Note        string       `json:"note,omitempty"`
}

// Where and when an action happened, as the client reports it.
type Where struct {
	Place       string       `json:"place,omitempty"`
	Coordinates *Coordinates `json:"coordinates,omitempty"`
	OccurredAt  *time.Time   `json:"occurred_at,omitempty"`
	Note        string       `json:"note,omitempty"`
}

func (w Where) validate() []valise.FieldError {
	var fe []valise.FieldError
	if len(w.Place) > 200 {
		fe = append(fe, valise.FieldError{Field: "place", Reason: "at most 200 characters"})
	}
	if len(w.Note) > 2000 {
		fe = append(fe, valise.FieldError{Field: "note", Reason: "at most 2000 characters"})
	}
	if c := w.Coordinates; c != nil && (c.Lat < -90 || c.Lat > 90 || c.Lon < -180 || c.Lon > 180) {
		fe = append(fe, valise.FieldError{Field: "coordinates", Reason: "lat must be -90..90 and lon -180..180"})
	}
	if w.OccurredAt != nil && w.OccurredAt.After(time.Now().Add(5*time.Minute)) {
		fe = append(fe, valise.FieldError{Field: "occurred_at", Reason: "is in the future"})
	}
	return fe
}

// Handoff is a two-party hand-off of one bag.
type Handoff struct {
	ID           string      `json:"id"`
	BagID        string      `json:"bag_id"`
	From         Party       `json:"from"`
	To           Party       `json:"to"`
	Status       string      `json:"status"` // released, completed, cancelled
	ReleaseEvent int64       `json:"release_event"`
	AcceptEvent  *int64      `json:"accept_event,omitempty"`
	SealsOK      *bool       `json:"seals_ok,omitempty"`
	SealCheck    *SealResult `json:"seal_check,omitempty"`
	IncidentID   *string     `json:"incident_id,omitempty"`
	ReleasedAt   time.Time   `json:"released_at"`
	CompletedAt  *time.Time  `json:"completed_at,omitempty"`
}

// lockedTx is the isolation of custody transactions. Each one locks the
// bag's row (pouch.QueueLockBag; an acceptance or cancellation locks its
// hand-off first), and every writer of the bag's custody row and events
// holds that lock, so everything it decides on is locked or guarded by a
// unique index (one open hand-off per bag, one successor per chain link).
// READ COMMITTED gives each statement a fresh snapshot, so the reads queued
// after the lock in the same batch see the latest committed state, and it
// avoids the false serialization failures SERIALIZABLE's predicate locks
// raise between hand-offs of different bags (measured: 16 concurrent
// clients exhausted InTx's retries).
var lockedTx = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// stageFor is the statutory stage (the "why") a custody event of a bag in
// state s belongs to.
func stageFor(s pouch.State) string {
	switch s {
	case pouch.Planned, pouch.Assembling:
		return "assemble"
	case pouch.Sealed:
		return "send"
	case pouch.Dispatched, pouch.InTransit:
		return "deliver"
	case pouch.Delivered:
		return "accept"
	case pouch.Accepted, pouch.Stored:
		return "store"
	case pouch.UnderExamination:
		return "examine"
	case pouch.Missing, pouch.Found:
		return "loss"
	}
	return "incident"
}

// custodian reads the bag's custody row. The caller holds the bag's row
// lock, which every writer of bag_custody (hand-off Accept here, and
// pouch.Accept when a registry accepts the bag) takes first, so the row
// cannot change under it and needs no lock of its own.
func custodian(ctx context.Context, tx pgx.Tx, bagID string) (Party, error) {
	b := &pgx.Batch{}
	var p *Party
	queueCustodian(b, bagID, &p)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Party{}, err
	}
	if p == nil {
		return Party{}, fmt.Errorf("bag %s has no custody row", bagID)
	}
	return *p, nil
}

// queueCustodian queues custodian's read in b (after the bag's lock); *out
// is nil when the bag has no custody row.
func queueCustodian(b *pgx.Batch, bagID string, out **Party) {
	*out = nil
	b.Queue(`SELECT custodian_unit, custodian_user, custodian_username FROM bag_custody WHERE bag_id = $1`, bagID).QueryRow(func(row pgx.Row) error {
		var p Party
		var user, username *string
		err := row.Scan(&p.Unit, &user, &username)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load custodian: %w", err)
		}
		if user != nil {
			p.User, p.Username = *user, *username
		}
		*out = &p
		return nil
	})
}

// queueLockCustody queues the reads a custody change starts with: the
// bag's row lock (pouch.QueueLockBag), then its custodian (queueCustodian).
func queueLockCustody(batch *pgx.Batch, bagID string, b **pouch.Bag, cur **Party) error {
	if err := pouch.QueueLockBag(batch, bagID, b); err != nil {
		return err
	}
	queueCustodian(batch, bagID, cur)
	return nil
}

// mayHandOff checks, on queueLockCustody's reads, that the bag exists and
// has a custodian, and that check lets the caller act on the custodian's
// behalf (bag.hand_off with the custodian on the resource).
func mayHandOff(ctx context.Context, b *pouch.Bag, cur *Party, check pouch.Check) error {
	if b == nil {
		return valise.Errorf(valise.ENOTFOUND, "no such bag")
	}
	if cur == nil {
		return fmt.Errorf("bag %s has no custody row", b.ID)
	}
	return check(ctx, policy.ActBagHandOff, resource(b, cur.User))
}

// holds reports whether actor is the custodian p: the very user, or a
// registry clerk of the custodian unit when that unit's registry holds the bag.
func holds(p Party, actor policy.Subject) bool {
	if p.User != "" {
		return p.User == actor.UserID
	}
	return p.Unit == actor.UnitCode && actor.HasRole(policy.RoleRegistryClerk)
}

func resource(b *pouch.Bag, custodian string) policy.Resource {
	r := b.Resource()
	r.Custodian = custodian
	return r
}

// receiver is a user who may be handed a bag.
type receiver struct {
	Party
	roles  []string
	active bool
	// sheet: an issued, unrevoked courier sheet valid now names them and
	// lists the bag (DM-03).
	sheet bool
}

// queueReceiver queues in b the look-up of the receiver and, in the same
// query, whether a courier sheet valid now names them for the bag. After b's
// results are read, *out is the receiver, or nil when no such user exists.
func queueReceiver(b *pgx.Batch, username, bagID string, out **receiver) {
	*out = nil
	b.Queue(`SELECT u.id, u.username, n.code, u.roles, u.active,
		EXISTS (SELECT 1 FROM courier_sheets cs
		        JOIN courier_sheet_bags sb ON sb.sheet_id = cs.id JOIN couriers c ON c.id = cs.courier_id
		        WHERE sb.bag_id = $2 AND c.user_id = u.id::text AND cs.status = 'issued'
		          AND cs.valid_from <= now() AND now() < cs.valid_until)
		FROM users u JOIN units n ON n.id = u.unit_id WHERE u.username = $1`, username, bagID).
		QueryRow(func(row pgx.Row) error {
			var r receiver
			err := row.Scan(&r.User, &r.Username, &r.Unit, &r.roles, &r.active, &r.sheet)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("load receiver: %w", err)
			}
			*out = &r
			return nil
		})
}

// ReleaseInput starts a hand-off: the custodian names the receiver.
type ReleaseInput struct {
	BagID string `json:"bag_id"`
	To    string `json:"to"` // the receiver's username
	Where
}

// Release is the first signature of a hand-off: the bag's current custodian
// (and nobody else) releases it to a named, active user. A courier may be
// named only if an issued, currently valid courier sheet names them and
// covers this bag (DM-03). The release is a custody event; custody moves
// only when the receiver accepts.
func (s *Service) Release(ctx context.Context, actor policy.Subject, in ReleaseInput, check pouch.Check) (*Handoff, error) {
	fe := in.Where.validate()
	if strings.TrimSpace(in.BagID) == "" {
		fe = append(fe, valise.FieldError{Field: "bag_id", Reason: "required"})
	}
	if strings.TrimSpace(in.To) == "" {
		fe = append(fe, valise.FieldError{Field: "to", Reason: "required: the receiver's username"})
	}
	if fe != nil {
		return nil, valise.Invalid("the hand-off is incomplete", fe...)
	}
	// Two round trips in the transaction: BEGIN with every read (after the
	// bag's row lock, so current), then every write; then COMMIT.
	var (
		out  *Handoff
		b    *pouch.Bag
		cur  *Party
		to   *receiver
		ev   *pouch.Event
		from = Party{Unit: actor.UnitCode, User: actor.UserID, Username: actor.Username}
	)
	err := db.InTxBatch(ctx, s.pool, lockedTx, func(batch *pgx.Batch) error {
		if err := queueLockCustody(batch, in.BagID, &b, &cur); err != nil {
			return err
		}
		queueReceiver(batch, in.To, in.BagID, &to)
		ev = &pouch.Event{BagID: in.BagID, Kind: "handoff_released", Place: in.Place, Reason: in.Note,
			Data: json.RawMessage(`{}`)}
		pouch.PrepareEvent(batch, ev)
		return nil
	}, func(tx pgx.Tx) error {
		if err := mayHandOff(ctx, b, cur, check); err != nil {
			return err
		}
		if !holds(*cur, actor) {
			return &valise.Error{Code: valise.ECONFLICT,
				Message: "only the bag's current custodian may release it; it is held by " + cur.String(),
				Extra:   map[string]any{"reason": "not_custodian", "custodian": cur}}
		}
		switch b.State {
		case pouch.Destroyed, pouch.Missing:
			return &valise.Error{Code: valise.ECONFLICT, Message: "a " + string(b.State) + " bag cannot be handed off",
				Extra: map[string]any{"reason": "bag_state", "current_state": b.State}}
		}
		if to == nil || !to.active {
			return valise.Invalid("no such receiver", valise.FieldError{Field: "to", Reason: "not an active user"})
		}
		if to.User == actor.UserID {
			return valise.Invalid("you cannot hand a bag to yourself", valise.FieldError{Field: "to", Reason: "is you"})
		}
		if err := courierSheetNames(to); err != nil {
			return err
		}
		id := newUUID()
		ev.BagID, ev.Stage = b.ID, stageFor(b.State)
		if in.OccurredAt != nil {
			ev.OccurredAt = *in.OccurredAt
		}
		ev.Custody = mustJSON(Block{HandoffID: id, From: &from, To: &to.Party, Custodian: cur,
			Packages: b.PackageCount, Coordinates: in.Coordinates, Note: in.Note})
		batch := &pgx.Batch{}
		if err := pouch.QueueEvent(batch, actor, ev); err != nil {
			return err
		}
		// One open hand-off per bag is the unique index handoffs_open_idx.
		batch.Queue(`INSERT INTO handoffs (id, bag_id, from_unit, from_user, from_username,
			to_unit, to_user, to_username, status, release_event) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'released', $9)
			RETURNING `+handoffColumns, id, b.ID, from.Unit, from.User, from.Username, to.Unit, to.User, to.Username, ev.ID).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanHandoff(row); return err })
		err := tx.SendBatch(ctx, batch).Close()
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "handoffs_open_idx" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "the bag is already released to someone; that hand-off must be accepted or cancelled first",
				Extra: map[string]any{"reason": "handoff_open"}}
		}
		if err != nil {
			return fmt.Errorf("record hand-off: %w", err)
		}
		return nil
	})
	return out, err
}

// courierSheetNames enforces DM-03 for a receiver who is a courier: an
// issued, unrevoked courier sheet valid now must name them and list the bag.
func courierSheetNames(to *receiver) error {
	isCourier := false
	for _, r := range to.roles {
		isCourier = isCourier || r == policy.RoleCourier
	}
	if !isCourier || to.sheet {
		return nil
	}
	return &valise.Error{Code: valise.ECONFLICT,
		Message: "no issued, unrevoked courier sheet valid now names " + to.Username + " for this bag; a courier takes custody only with one (DM-03)",
		Extra:   map[string]any{"reason": "no_courier_sheet"}}
}

// AcceptInput is the receiver's signature: the seal scan and where it happened.
type AcceptInput struct {
	SealScan
	Where
}

// Accept is the second signature: the named receiver (nobody else) scans
// the seals and takes custody. The seal check is recorded whatever its
// result; a failed check still transfers custody (the receiver now holds
// the bag) but opens a breach incident in the same transaction.
func (s *Service) Accept(ctx context.Context, actor policy.Subject, handoffID string, in AcceptInput, check pouch.Check) (*Handoff, error) {
	fe := append(in.Where.validate(), validateScan(in.SealScan)...)
	if fe != nil {
		return nil, valise.Invalid("the acceptance is incomplete", fe...)
	}
	if !db.ValidUUID(handoffID) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such hand-off")
	}
	// Signatures and validity of the scanned seals need no transaction.
	now := s.now()
	vs, seq, err := s.verifyScanned(ctx, in.Seals, now)
	if err != nil {
		return nil, err
	}
	// Three round trips in the transaction: BEGIN with the hand-off's lock;
	// the bag's lock with every other read; every write; then COMMIT.
	var (
		out *Handoff
		h   *Handoff
	)
	err = db.InTxBatch(ctx, s.pool, lockedTx, func(batch *pgx.Batch) error {
		// Lock order: the hand-off, then its bag (Cancel does the same).
		queueHandoff(batch, handoffID, " FOR UPDATE", &h)
		return nil
	}, func(tx pgx.Tx) error {
		if h == nil {
			return valise.Errorf(valise.ENOTFOUND, "no such hand-off")
		}
		var (
			b      *pouch.Bag
			cur    *Party
			issued []*keyring.Seal
			ev     = &pouch.Event{BagID: h.BagID, Kind: "handoff_accepted", Place: in.Place, Reason: in.Note,
				Data: json.RawMessage(`{}`)}
		)
		batch := &pgx.Batch{}
		if err := queueLockCustody(batch, h.BagID, &b, &cur); err != nil {
			return err
		}
		keyring.QueueBagSeals(batch, h.BagID, &issued)
		pouch.PrepareEvent(batch, ev)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		if b == nil {
			return valise.Errorf(valise.ENOTFOUND, "no such bag")
		}
		if err := check(ctx, policy.ActBagHandOff, resource(b, actor.UserID)); err != nil {
			return err
		}
		if h.To.User != actor.UserID {
			return &valise.Error{Code: valise.EFORBIDDEN,
				Message: "only the named receiver (" + h.To.Username + ") may accept this hand-off",
				Extra:   map[string]any{"reason": "not_receiver"}}
		}
		if h.Status != "released" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "the hand-off is " + h.Status,
				Extra: map[string]any{"reason": "handoff_" + h.Status, "current_state": h.Status}}
		}
		if cur == nil {
			return fmt.Errorf("bag %s has no custody row", b.ID)
		}
		if cur.User != h.From.User && !(cur.User == "" && cur.Unit == h.From.Unit) {
			return &valise.Error{Code: valise.ECONFLICT, Message: "custody changed since the release; ask the custodian to release again",
				Extra: map[string]any{"reason": "custody_changed"}}
		}
		res, err := checkSeals(ctx, tx, b, issued, in.SealScan, vs, seq)
		if err != nil {
			return err
		}
		ev.Stage = stageFor(b.State)
		if in.OccurredAt != nil {
			ev.OccurredAt = *in.OccurredAt
		}
		to := h.To
		ev.Custody = mustJSON(Block{HandoffID: h.ID, From: &h.From, To: &to, Custodian: cur, Packages: b.PackageCount,
			Seals: res, Coordinates: in.Coordinates, Note: in.Note})
		batch = &pgx.Batch{}
		if err := pouch.QueueEvent(batch, actor, ev); err != nil {
			return err
		}
		batch.Queue(`UPDATE bag_custody SET custodian_unit = $2, custodian_user = $3, custodian_username = $4,
			since_event = $5, updated_at = now() WHERE bag_id = $1`, b.ID, to.Unit, to.User, to.Username, ev.ID)
		complete := func(batch *pgx.Batch, incident *string) {
			batch.Queue(`UPDATE handoffs SET status = 'completed', accept_event = $2, seals_ok = $3,
				seal_check = $4, incident_id = $5, completed_at = now() WHERE id = $1 RETURNING `+handoffColumns,
				h.ID, ev.ID, res.OK, mustJSON(res), incident).
				QueryRow(func(row pgx.Row) (err error) { out, err = scanHandoff(row); return err })
		}
		if res.OK {
			complete(batch, nil) // the usual case: every write in one round trip
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("complete hand-off: %w", err)
		}
		if res.OK {
			return nil
		}
		// A failed check: the breach incident's own event follows the
		// acceptance in the bag's chain, and the hand-off names the incident.
		inc, err := pouch.OpenIncident(ctx, tx, actor, b, pouch.ClassBreach, "acceptance",
			"seal check failed at hand-off from "+h.From.String()+" to "+to.String()+": "+strings.Join(res.Problems, "; "))
		if err != nil {
			return err
		}
		batch = &pgx.Batch{}
		complete(batch, &inc.ID)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("complete hand-off: %w", err)
		}
		return nil
	})
	return out, err
}

// Cancel withdraws a release that was not accepted; only its releaser (or
// the unit registry that holds the bag) may. It is recorded as an event.
func (s *Service) Cancel(ctx context.Context, actor policy.Subject, handoffID string, w Where, check pouch.Check) (*Handoff, error) {
	if fe := w.validate(); fe != nil {
		return nil, valise.Invalid("bad cancellation", fe...)
	}
	var out *Handoff
	err := db.InTxOpts(ctx, s.pool, lockedTx, func(tx pgx.Tx) error {
		h, err := getHandoffForUpdate(ctx, tx, handoffID)
		if err != nil {
			return err
		}
		b, err := pouch.LockBag(ctx, tx, h.BagID)
		if err != nil {
			return err
		}
		cur, err := custodian(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActBagHandOff, resource(b, cur.User)); err != nil {
			return err
		}
		if !holds(cur, actor) {
			return &valise.Error{Code: valise.ECONFLICT, Message: "only the bag's current custodian may cancel its release",
				Extra: map[string]any{"reason": "not_custodian"}}
		}
		if h.Status != "released" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "the hand-off is " + h.Status,
				Extra: map[string]any{"reason": "handoff_" + h.Status, "current_state": h.Status}}
		}
		ev := &pouch.Event{BagID: b.ID, Kind: "handoff_cancelled", Stage: stageFor(b.State), Place: w.Place,
			Reason: w.Note, Data: json.RawMessage(`{}`)}
		if w.OccurredAt != nil {
			ev.OccurredAt = *w.OccurredAt
		}
		ev.Custody = mustJSON(Block{HandoffID: h.ID, From: &h.From, To: &h.To, Custodian: &cur, Packages: b.PackageCount,
			Coordinates: w.Coordinates, Note: w.Note})
		if err := pouch.Record(ctx, tx, actor, ev); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE handoffs SET status = 'cancelled', completed_at = now() WHERE id = $1`, h.ID); err != nil {
			return fmt.Errorf("cancel hand-off: %w", err)
		}
		out, err = getHandoff(ctx, tx, h.ID)
		return err
	})
	return out, err
}

// ScanInput is a checkpoint scan by the custodian (airport, border, relay).
type ScanInput struct {
	SealScan
	Where
}

// Scan records a checkpoint scan of the seals by the bag's custodian, with
// the same seal check as an acceptance; a failed check opens an incident.
func (s *Service) Scan(ctx context.Context, actor policy.Subject, bagID string, in ScanInput, check pouch.Check) (*pouch.Event, error) {
	fe := append(in.Where.validate(), validateScan(in.SealScan)...)
	if fe != nil {
		return nil, valise.Invalid("the scan is incomplete", fe...)
	}
	now := s.now()
	vs, seq, err := s.verifyScanned(ctx, in.Seals, now)
	if err != nil {
		return nil, err
	}
	// Two round trips in the transaction: BEGIN with every read (after the
	// bag's row lock), then every write; then COMMIT.
	var (
		ev     *pouch.Event
		b      *pouch.Bag
		cur    *Party
		issued []*keyring.Seal
	)
	err = db.InTxBatch(ctx, s.pool, lockedTx, func(batch *pgx.Batch) error {
		if err := queueLockCustody(batch, bagID, &b, &cur); err != nil {
			return err
		}
		keyring.QueueBagSeals(batch, bagID, &issued)
		ev = &pouch.Event{BagID: bagID, Kind: "checkpoint_scan", Place: in.Place, Reason: in.Note,
			Data: json.RawMessage(`{}`)}
		pouch.PrepareEvent(batch, ev)
		return nil
	}, func(tx pgx.Tx) error {
		if err := mayHandOff(ctx, b, cur, check); err != nil {
			return err
		}
		if !holds(*cur, actor) {
			return &valise.Error{Code: valise.ECONFLICT, Message: "only the bag's current custodian records checkpoint scans; it is held by " + cur.String(),
				Extra: map[string]any{"reason": "not_custodian", "custodian": cur}}
		}
		res, err := checkSeals(ctx, tx, b, issued, in.SealScan, vs, seq)
		if err != nil {
			return err
		}
		ev.BagID, ev.Stage = b.ID, stageFor(b.State)
		if in.OccurredAt != nil {
			ev.OccurredAt = *in.OccurredAt
		}
		ev.Custody = mustJSON(Block{Custodian: cur, Packages: b.PackageCount, Seals: res, Coordinates: in.Coordinates, Note: in.Note})
		batch := &pgx.Batch{}
		if err := pouch.QueueEvent(batch, actor, ev); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("record checkpoint scan: %w", err)
		}
		if !res.OK {
			if _, err := pouch.OpenIncident(ctx, tx, actor, b, pouch.ClassBreach, "report",
				"seal check failed at a checkpoint scan by "+actor.Username+": "+strings.Join(res.Problems, "; ")); err != nil {
				return err
			}
		}
		return nil
	})
	return ev, err
}

const handoffColumns = `id, bag_id, from_unit, from_user, from_username, to_unit, to_user, to_username, status,
	release_event, accept_event, seals_ok, seal_check, incident_id, released_at, completed_at`

func scanHandoff(row pgx.Row) (*Handoff, error) {
	var h Handoff
	var check []byte
	err := row.Scan(&h.ID, &h.BagID, &h.From.Unit, &h.From.User, &h.From.Username, &h.To.Unit, &h.To.User,
		&h.To.Username, &h.Status, &h.ReleaseEvent, &h.AcceptEvent, &h.SealsOK, &check, &h.IncidentID,
		&h.ReleasedAt, &h.CompletedAt)
	if err != nil {
		return nil, err
	}
	if len(check) > 0 {
		h.SealCheck = &SealResult{}
		if err := json.Unmarshal(check, h.SealCheck); err != nil {
			return nil, fmt.Errorf("decode seal check: %w", err)
		}
	}
	return &h, nil
}

func getHandoff(ctx context.Context, q db.Querier, id string) (*Handoff, error) {
	return loadHandoff(ctx, q, id, "")
}

func getHandoffForUpdate(ctx context.Context, tx pgx.Tx, id string) (*Handoff, error) {
	return loadHandoff(ctx, tx, id, " FOR UPDATE")
}

func loadHandoff(ctx context.Context, q db.Querier, id, lock string) (*Handoff, error) {
	b := &pgx.Batch{}
	var h *Handoff
	queueHandoff(b, id, lock, &h)
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such hand-off")
	}
	return h, nil
}

// queueHandoff queues in b the read of hand-off id (lock is "" or " FOR
// UPDATE"); after b's results are read, *out is it, or nil when there is
// none (a malformed id queues nothing).
func queueHandoff(b *pgx.Batch, id, lock string, out **Handoff) {
	*out = nil
	if !db.ValidUUID(id) {
		return
	}
	b.Queue(`SELECT `+handoffColumns+` FROM handoffs WHERE id = $1`+lock, id).QueryRow(func(row pgx.Row) error {
		h, err := scanHandoff(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load hand-off: %w", err)
		}
		*out = h
		return nil
	})
}

// Get returns a hand-off to one of its parties, or to whoever check lets
// read the bag's custody log (security officers, auditors).
func (s *Service) Get(ctx context.Context, actor policy.Subject, id string, check pouch.Check) (*Handoff, *pouch.Bag, error) {
	h, err := getHandoff(ctx, s.pool, id)
	if err != nil {
		return nil, nil, db.Classify(err)
	}
	b, err := pouch.New(s.pool).Get(ctx, h.BagID, func(ctx context.Context, action string, r policy.Resource) error {
		if actor.UserID == h.From.User || actor.UserID == h.To.User {
			r.Custodian = actor.UserID // a party has need-to-know of its own hand-off
			return check(ctx, action, r)
		}
		if err := check(ctx, action, r); err != nil {
			return err
		}
		r.Kind = "log_entry"
		return check(ctx, policy.ActLogRead, r)
	})
	if err != nil {
		return nil, nil, err
	}
	return h, b, nil
}

// Custodian returns the bag's current custodian (no lock).
func (s *Service) Custodian(ctx context.Context, bagID string) (Party, error) {
	var p Party
	var user, username *string
	err := s.pool.QueryRow(ctx, `SELECT custodian_unit, custodian_user, custodian_username FROM bag_custody WHERE bag_id = $1`,
		bagID).Scan(&p.Unit, &user, &username)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, valise.Errorf(valise.ENOTFOUND, "no such bag")
	}
	if user != nil {
		p.User, p.Username = *user, *username
	}
	return p, err
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
