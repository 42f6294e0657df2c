package pouch

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"valise"
	"valise/crypto/keyring"
	"valise/internal/db"
	"valise/policy"
)

// Possession moves only by two-party transfers: the holder releases the bag
// to a named receiver, the receiver confirms (counting the packages and
// scanning the seals), and only then do the custodian and, where the stage
// says so, the state move. The statutory stages are steps of that one model
// (docs/custody.md):
//
//   - dispatch: the origin (or relay) registry releases the sealed bag to the
//     courier named on a valid courier sheet; the bag is dispatched when the
//     courier confirms;
//   - transit: couriers named on the sheet hand it on, and scan it at
//     checkpoints;
//   - delivery: the courier releases it to the destination (or a relay)
//     registry, and the bag is delivered; acceptance is that registry's
//     confirmation with the count and the seal check;
//   - a bearer who is not a Valise user (an aircraft captain, an engaged
//     carrier, an ad hoc courier without an account) is recorded by the
//     registry on each side (RecordBearerDispatch, and Accept from a bearer),
//     or, in transit, by the courier handing the bag to or taking it from
//     them (ReleaseToBearer, ReceiveFromBearer: one-sided, bearers.go).
//
// Every step is one event of the bag's history carrying the state and the
// custodian before and after it.

// Hand-off purposes: which stage a release is a step of.
const (
	PurposeDispatch = "dispatch"
	PurposeTransit  = "transit"
	PurposeDelivery = "delivery"
)

// Coordinates are an optional position (WGS 84 degrees).
type Coordinates struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Block is the custody block of an event (stored in bag_events.custody and
// in the event's log leaf): the hand-off's parties, what was checked, where.
//
// The fields (and those of the types it holds) are in the order of their
// JSON names, so that json.Marshal writes a block in the log's canonical
// form and the leaf is built without decoding it again (canonicalAlready;
// TestBlocksAreWrittenCanonical).
type Block struct {
	Coordinates *Coordinates `json:"coordinates,omitempty"`
	Custodian   *Party       `json:"custodian,omitempty"`
	// Device names the courier's phone that signed the record (mobile-api).
	Device    *DeviceMark `json:"device,omitempty"`
	From      *Party      `json:"from,omitempty"`
	HandoffID string      `json:"handoff_id,omitempty"`
	Note      string      `json:"note,omitempty"`
	Packages  int         `json:"packages,omitempty"`
	Purpose   string      `json:"purpose,omitempty"`
	Seals     *SealResult `json:"seals,omitempty"`
	To        *Party      `json:"to,omitempty"`
	// Transfer is "one_sided" when only one party records the hand-over:
	// the other is a bearer without an account (ReleaseToBearer,
	// ReceiveFromBearer), who cannot sign in Valise.
	Transfer string `json:"transfer,omitempty"`
}

// DeviceMark is what an event recorded from a phone's signed record keeps
// of it: the device, its counter, the device's own time, the hash of the
// signed payload, and what the server flagged (clock, counter, chain).
type DeviceMark struct {
	Counter       int64     `json:"counter"`
	DeviceTime    time.Time `json:"device_time"`
	Flags         []string  `json:"flags,omitempty"`
	ID            string    `json:"id"`
	PayloadSHA256 string    `json:"payload_sha256"`
}

// Where and when an action happened, as the client reports it.
type Where struct {
	Place       string       `json:"place,omitempty"`
	Coordinates *Coordinates `json:"coordinates,omitempty"`
	OccurredAt  *time.Time   `json:"occurred_at,omitempty"`
	Note        string       `json:"note,omitempty"`
	// Device is set only by mobile-api for a phone's signed record; never
	// read from a request body.
	Device *DeviceMark `json:"-"`
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

// Handoff is a two-party hand-off of one bag: From (the person who signed
// the release for the custodian) to To (a person, or a registry).
type Handoff struct {
	ID           string      `json:"id"`
	BagID        string      `json:"bag_id"`
	Purpose      string      `json:"purpose"` // dispatch, transit, delivery
	From         Party       `json:"from"`
	To           Party       `json:"to"`
	SheetID      string      `json:"sheet_id,omitempty"`
	Status       string      `json:"status"` // released, completed, cancelled
	ReleaseEvent int64       `json:"release_event"`
	AcceptEvent  *int64      `json:"accept_event,omitempty"`
	SealsOK      *bool       `json:"seals_ok,omitempty"`
	SealCheck    *SealResult `json:"seal_check,omitempty"`
	IncidentID   *string     `json:"incident_id,omitempty"`
	ReleasedAt   time.Time   `json:"released_at"`
	CompletedAt  *time.Time  `json:"completed_at,omitempty"`

	fromState State
}

// lockedTx is the isolation of custody transactions. Each one locks the
// bag's row (QueueLockBag; an acceptance or cancellation locks its hand-off
// first), and every writer of the bag's events holds that lock, so
// everything it decides on is locked or guarded by a unique index (one open
// hand-off per bag, one successor per chain link). READ COMMITTED gives each
// statement a fresh snapshot, so the reads queued after the lock in the same
// batch see the latest committed state, and it avoids the false
// serialization failures SERIALIZABLE's predicate locks raise between
// hand-offs of different bags (measured: 16 concurrent clients exhausted
// InTx's retries).
var lockedTx = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// stageFor is the statutory stage (the "why") of a custody event of a bag in
// state s.
func stageFor(s State) string {
	switch s {
	case Planned, Assembling:
		return "assemble"
	case Sealed:
		return "send"
	case Dispatched, InTransit:
		return "deliver"
	case Delivered:
		return "accept"
	case Accepted, Stored:
		return "store"
	case UnderExamination:
		return "examine"
	case Missing, Found:
		return "loss"
	}
	return "incident"
}

// holds reports whether actor is the custodian p: the very person, or a
// registry clerk of the unit whose registry holds the bag. Nobody holds for
// a bearer: the registries, or a courier in transit, record transfers to
// and from one.
func holds(p Party, actor policy.Subject) bool {
	switch p.Kind {
	case CustodianPerson:
		return p.User == actor.UserID
	case CustodianRegistry:
		return p.Unit == actor.UnitCode && actor.HasRole(policy.RoleRegistryClerk)
	}
	return false
}

func notCustodian(b *Bag, what string) error {
	return &valise.Error{Code: valise.ECONFLICT,
		Message: "only the bag's current custodian may " + what + "; it is held by " + b.Custodian.String(),
		Extra:   map[string]any{"reason": "not_custodian", "custodian": b.Custodian}}
}

// inTransit: the bag is out of every registry, carried by a bearer.
var inTransit = []State{Dispatched, InTransit, Found}

// atRegistry: the states in which a registry may send a bag on: sealed at
// its origin, or accepted or stored at a relay on the route (7-1(9)(1)).
func mayLeave(b *Bag, state State) bool {
	if state == Sealed {
		return true
	}
	return (state == Accepted || state == Stored) && b.Custodian.Kind == CustodianRegistry &&
		b.Custodian.Unit != b.Destination && slices.Contains(b.Route, b.Custodian.Unit)
}

// receiver is a user who may be handed a bag.
type receiver struct {
	Party
	roles     []string
	active    bool
	clearance policy.Level
}

// receiverRider looks up a receiver by username and, in the same query, the
// newest issued, unrevoked courier sheet valid now that names them and
// covers the bag (DM-03), riding on the bag's statement ($1 is the bag, $2
// the username): one JSON object, or NULL, for decodeReceiver (SheetID
// empty without such a sheet).
func receiverRider(username string, out *[]byte) *bagRider {
	return &bagRider{cols: `(SELECT json_build_object('user', u.id::text, 'username', u.username, 'unit', n.code,
		'roles', u.roles, 'active', u.active, 'clearance', u.clearance, 'sheet', coalesce((` + sheetFor("$1") + `), ''))
		FROM users u JOIN units n ON n.id = u.unit_id WHERE u.username = $2)`, args: []any{username}, dest: []any{out}}
}

// decodeReceiver reads receiverRider's object: nil when there is no such user.
func decodeReceiver(j []byte) (*receiver, error) {
	if j == nil {
		return nil, nil
	}
	var v struct {
		User, Username, Unit, Sheet string
		Roles                       []string
		Active                      bool
		Clearance                   int16
	}
	if err := json.Unmarshal(j, &v); err != nil {
		return nil, fmt.Errorf("load receiver: %w", err)
	}
	return &receiver{Party: Party{Kind: CustodianPerson, User: v.User, Username: v.Username, Unit: v.Unit, SheetID: v.Sheet},
		roles: v.Roles, active: v.Active, clearance: policy.Level(v.Clearance)}, nil
}

// sheetFor finds the newest valid sheet naming user u (the bag is the
// parameter bag: $1 in a rider on the bag's own read).
func sheetFor(bag string) string {
	return `SELECT cs.id::text FROM courier_sheets cs
	JOIN courier_sheet_bags sb ON sb.sheet_id = cs.id JOIN couriers cr ON cr.id = cs.courier_id
	WHERE sb.bag_id = ` + bag + ` AND cr.user_id = u.id::text AND cs.status = 'issued'
	  AND cs.valid_from <= now() AND now() < cs.valid_until ORDER BY cs.issued_at DESC LIMIT 1`
}

func noSheet(username string) error {
	return &valise.Error{Code: valise.ECONFLICT,
		Message: "no issued, unrevoked courier sheet valid now names " + username + " for this bag; a bearer takes custody only with one (DM-01, DM-03)",
		Extra:   map[string]any{"reason": "no_courier_sheet"}}
}

// ReleaseInput starts a hand-off: the custodian names the receiver, a
// person by username (To) or a registry by unit code (ToUnit).
type ReleaseInput struct {
	BagID  string `json:"bag_id"`
	To     string `json:"to,omitempty"`
	ToUnit string `json:"to_unit,omitempty"`
	Where
}

// Release is the first signature of a hand-off: the bag's current custodian
// (and nobody else) releases it to a named receiver. Out of a registry, the
// receiver must be a courier named on a valid sheet covering the bag and
// cleared for its level (dispatch, transit), or the destination or a relay
// registry on the route (delivery: the bag is then delivered). Possession
// moves only when the receiver confirms (Confirm).
func (s *Service) Release(ctx context.Context, actor policy.Subject, in ReleaseInput, check Check) (*Handoff, error) {
	return s.release(ctx, actor, in, 0, check)
}

func (s *Service) release(ctx context.Context, actor policy.Subject, in ReleaseInput, ifMatch int, check Check) (*Handoff, error) {
	fe := in.Where.validate()
	if strings.TrimSpace(in.BagID) == "" {
		fe = append(fe, valise.FieldError{Field: "bag_id", Reason: "required"})
	}
	if (strings.TrimSpace(in.To) == "") == (strings.TrimSpace(in.ToUnit) == "") {
		fe = append(fe, valise.FieldError{Field: "to", Reason: "name the receiver: a username (to) or a registry's unit code (to_unit), not both"})
	}
	if fe != nil {
		return nil, valise.Invalid("the hand-off is incomplete", fe...)
	}
	// Two round trips in the transaction: BEGIN with every read (after the
	// bag's row lock, so current), then every write; then COMMIT.
	var (
		out    *Handoff
		b      *Bag
		toJSON []byte
		ev     *Event
		from   = Party{Kind: CustodianPerson, Unit: actor.UnitCode, User: actor.UserID, Username: actor.Username}
	)
	// The transaction runs in the bag's write group (db.Grouped).
	err := db.InTxBatch(db.Grouped(ctx, in.BagID), s.pool, lockedTx, func(batch *pgx.Batch) error {
		ev = &Event{BagID: in.BagID, Kind: "handoff_released", Place: in.Place, Reason: in.Note}
		var rider *bagRider
		if in.To != "" {
			rider = receiverRider(in.To, &toJSON)
		}
		return queueBag(batch, in.BagID, true, &b, ev, rider)
	}, func(tx pgx.Tx) error {
		if b == nil {
			return valise.Errorf(valise.ENOTFOUND, "no such bag")
		}
		to, err := decodeReceiver(toJSON)
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActBagHandOff, b.Resource()); err != nil {
			return err
		}
		if ifMatch != 0 && ifMatch != b.Version {
			return stale(b, ifMatch)
		}
		if !holds(b.Custodian, actor) {
			return notCustodian(b, "release it")
		}
		cur := b.Custodian
		h := &Handoff{ID: newUUID(), BagID: b.ID, From: from, Status: "released", fromState: b.State}
		switch {
		case to != nil || in.To != "":
			if to == nil || !to.active {
				return valise.Invalid("no such receiver", valise.FieldError{Field: "to", Reason: "not an active user"})
			}
			if to.User == actor.UserID {
				return valise.Invalid("you cannot hand a bag to yourself", valise.FieldError{Field: "to", Reason: "is you"})
			}
			switch {
			case cur.Kind == CustodianRegistry && mayLeave(b, b.State):
				h.Purpose = PurposeDispatch
				// Sending belongs to the registry that holds the bag (DM-17).
				if err := check(ctx, policy.ActBagSend, b.Resource()); err != nil {
					return err
				}
			case cur.Kind == CustodianPerson && slices.Contains(inTransit, b.State):
				h.Purpose = PurposeTransit
			default:
				return &valise.Error{Code: valise.ECONFLICT,
					Message: "a " + string(b.State) + " bag held by " + cur.String() + " cannot be handed to a person; " +
						"a registry hands on only a sealed bag (or, at a relay, one it accepted) to a courier on its sheet",
					Extra: map[string]any{"reason": "bag_state", "current_state": b.State}}
			}
			if !slices.Contains(to.roles, policy.RoleCourier) || to.SheetID == "" {
				return noSheet(to.Username)
			}
			if to.clearance < b.Level {
				return &valise.Error{Code: valise.ECONFLICT,
					Message: to.Username + "'s clearance is below the bag's level; every person who carries a bag is cleared for it",
					Extra:   map[string]any{"reason": "receiver_clearance"}}
			}
			h.To, h.SheetID = to.Party, to.SheetID
			h.To.SheetID = ""
		default:
			if cur.Kind != CustodianPerson || !slices.Contains(inTransit, b.State) {
				return &valise.Error{Code: valise.ECONFLICT,
					Message: "only a bearer carrying the bag delivers it to a registry; it is " + string(b.State) + " and held by " + cur.String(),
					Extra:   map[string]any{"reason": "bag_state", "current_state": b.State}}
			}
			if !slices.Contains(b.Route[1:], in.ToUnit) {
				return valise.Invalid("deliver to the destination or a relay registry on the bag's route",
					valise.FieldError{Field: "to_unit", Reason: "not a registry after the origin on the bag's route"})
			}
			if err := check(ctx, policy.ActBagDeliver, b.Resource()); err != nil {
				return err
			}
			h.Purpose, h.To = PurposeDelivery, RegistryParty(in.ToUnit)
			ev.ToState = Delivered
		}
		ev.Stage = map[string]string{PurposeDispatch: "send", PurposeTransit: "deliver", PurposeDelivery: "deliver"}[h.Purpose]
		if in.OccurredAt != nil {
			ev.OccurredAt = *in.OccurredAt
		}
		ev.Data = mustJSON(map[string]any{"purpose": h.Purpose, "sheet_id": h.SheetID})
		ev.Custody = mustJSON(Block{HandoffID: h.ID, Purpose: h.Purpose, From: &from, To: &h.To, Custodian: &cur,
			Packages: b.PackageCount, Coordinates: in.Coordinates, Note: in.Note, Device: in.Device})
		batch := &pgx.Batch{}
		if err := QueueEvent(batch, actor, ev); err != nil {
			return err
		}
		var toUser, toUsername, sheet *string
		if h.To.Kind == CustodianPerson {
			toUser, toUsername = &h.To.User, &h.To.Username
		}
		if h.SheetID != "" {
			sheet = &h.SheetID
		}
		toKind := map[string]string{CustodianPerson: "person", CustodianRegistry: "registry"}[h.To.Kind]
		// One open hand-off per bag is the unique index handoffs_open_idx.
		batch.Queue(`INSERT INTO handoffs (id, bag_id, from_unit, from_user, from_username, to_unit, to_user,
			to_username, to_kind, purpose, sheet_id, from_state, status, release_event)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'released', $13) RETURNING `+handoffColumns,
			h.ID, b.ID, from.Unit, from.User, from.Username, h.To.Unit, toUser, toUsername, toKind, h.Purpose, sheet,
			string(b.State), ev.ID).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanHandoff(row); return err })
		err = tx.SendBatch(ctx, batch).Close()
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "handoffs_open_idx" {
			return handoffOpen()
		}
		if err != nil {
			return fmt.Errorf("record hand-off: %w", err)
		}
		return nil
	})
	if err == nil && out != nil {
		s.handoffBags.Put(out.ID, out.BagID)
	}
	return out, err
}

func handoffOpen() error {
	return &valise.Error{Code: valise.ECONFLICT, Message: "the bag is already released to someone; that hand-off must be confirmed or cancelled first",
		Extra: map[string]any{"reason": "handoff_open"}}
}

func stale(b *Bag, ifMatch int) error {
	return &valise.Error{Code: valise.EPRECONDITION,
		Message: fmt.Sprintf("the bag changed since you read it (your version %d, now %d); reload it and retry", ifMatch, b.Version),
		Extra:   map[string]any{"current_version": b.Version, "current_state": b.State}}
}

// ConfirmInput is the receiver's signature: the package count, the seal
// scan and where it happened.
type ConfirmInput struct {
	SealScan
	Where
}

// handoffBag is the bag hand-off id names: remembered (s.handoffBags) or
// read. The transaction that follows locks and reads the hand-off itself,
// with the bag as a condition, so a remembered answer only saves a query.
func (s *Service) handoffBag(ctx context.Context, id string) (string, error) {
	if bag, ok := s.handoffBags.Get(id); ok {
		return bag, nil
	}
	var bag string
	if err := db.Q(ctx, s.pool).QueryRow(ctx, `SELECT bag_id::text FROM handoffs WHERE id = $1`, id).Scan(&bag); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", valise.Errorf(valise.ENOTFOUND, "no such hand-off")
		}
		return "", db.Classify(err)
	}
	s.handoffBags.Put(id, bag)
	return bag, nil
}

// Confirm is the second signature: the named receiver (nobody else) counts
// the packages, scans the seals and takes custody. A courier's sheet is
// checked again now, not only at the release. A registry's confirmation is
// the statutory acceptance: it writes a receipt. The seal check is recorded
// whatever its result; a failed check still transfers custody (the receiver
// now holds the bag) but opens a breach incident in the same transaction.
func (s *Service) Confirm(ctx context.Context, actor policy.Subject, handoffID string, in ConfirmInput, check Check) (*Handoff, error) {
	h, _, err := s.confirm(ctx, actor, handoffID, "", 0, in, check)
	return h, err
}

// confirm is Confirm; with bagID set, handoffID is empty and the bag's open
// hand-off is confirmed (the bag verbs). It returns the receipt of a
// registry's acceptance.
func (s *Service) confirm(ctx context.Context, actor policy.Subject, handoffID, bagID string, ifMatch int, in ConfirmInput, check Check) (*Handoff, *Receipt, error) {
	fe := append(in.Where.validate(), validateScan(in.SealScan)...)
	if fe != nil {
		return nil, nil, valise.Invalid("the confirmation is incomplete", fe...)
	}
	if bagID == "" && !db.ValidUUID(handoffID) {
		return nil, nil, valise.Errorf(valise.ENOTFOUND, "no such hand-off")
	}
	// Signatures and validity of the scanned seals need no transaction.
	vs, seq, err := s.verifyScanned(ctx, in.Seals, s.clock())
	if err != nil {
		return nil, nil, err
	}
	// The hand-off names its bag for good: read it first, outside the
	// transaction, so that every read of the step (the hand-off's lock, then
	// the bag's, its seals, the receiver's sheet, the chain link) is one round
	// trip in it, and the writes another; the transaction runs in the bag's
	// write group (db.Grouped), which commits it.
	if handoffID == "" && !db.ValidUUID(bagID) {
		return nil, nil, nil // no open hand-off: the caller reads the bag and explains
	}
	if bagID == "" {
		if bagID, err = s.handoffBag(ctx, handoffID); err != nil {
			return nil, nil, err
		}
	}
	var (
		out    *Handoff
		rc     *Receipt
		h      *Handoff
		b      *Bag
		issued []*keyring.Seal
		sheet  string
		ev     *Event
	)
	err = db.InTxBatch(db.Grouped(ctx, bagID), s.pool, lockedTx, func(batch *pgx.Batch) error {
		// Lock order: the hand-off, then its bag (Cancel does the same).
		where, arg := `id = $1 AND bag_id = $2::uuid`, handoffID
		if handoffID == "" {
			where, arg = `bag_id = $2::uuid AND status = 'released' AND $1 = ''`, ""
		}
		queueHandoffArgs(batch, where+` FOR UPDATE`, &h, arg, bagID)
		// The named receiver's sheet, re-checked now (a registry has none),
		// read with the bag (after both locks): its hand-off's to_user, in
		// the bag's own statement ($1 is the bag).
		sheet = ""
		which, args := `h.bag_id = $1 AND h.status = 'released'`, []any(nil)
		if handoffID != "" {
			which, args = `h.id = $2 AND h.bag_id = $1`, []any{handoffID}
		}
		rider := &bagRider{cols: `coalesce((SELECT (` + sheetFor("$1") + `) FROM handoffs h JOIN users u ON u.id = h.to_user
			WHERE ` + which + `), '')`, args: args, dest: []any{&sheet}}
		ev = &Event{BagID: bagID, Kind: "handoff_accepted", Place: in.Place, Reason: in.Note}
		if err := queueBag(batch, bagID, true, &b, ev, rider); err != nil {
			return err
		}
		keyring.QueueBagSeals(batch, bagID, &issued)
		return nil
	}, func(tx pgx.Tx) error {
		if h == nil {
			if handoffID == "" {
				return nil // the caller reads the bag and explains
			}
			return valise.Errorf(valise.ENOTFOUND, "no such hand-off")
		}
		if b == nil {
			return valise.Errorf(valise.ENOTFOUND, "no such bag")
		}
		r := b.Resource()
		if h.To.Kind == CustodianPerson && h.To.User == actor.UserID {
			r.Custodian = actor.UserID // the named receiver has need-to-know of what they are handed
		}
		if err := check(ctx, policy.ActBagHandOff, r); err != nil {
			return err
		}
		if ifMatch != 0 && ifMatch != b.Version {
			return stale(b, ifMatch)
		}
		switch h.To.Kind {
		case CustodianPerson:
			if h.To.User != actor.UserID {
				return &valise.Error{Code: valise.EFORBIDDEN, Message: "only the named receiver (" + h.To.Username + ") may confirm this hand-off",
					Extra: map[string]any{"reason": "not_receiver"}}
			}
		default:
			// A registry's acceptance: its clerks, at their own unit (DM-17).
			if actor.UnitCode != h.To.Unit || !actor.HasRole(policy.RoleRegistryClerk) {
				return &valise.Error{Code: valise.EFORBIDDEN, Message: "only a registry clerk of " + h.To.Unit + " may accept this delivery",
					Extra: map[string]any{"reason": "not_receiver"}}
			}
			if err := check(ctx, policy.ActBagAccept, b.Resource()); err != nil {
				return err
			}
			if in.PackagesCounted == nil {
				return valise.Invalid("the receipt is incomplete", valise.FieldError{Field: "packages_counted", Reason: "required: count the packages"})
			}
		}
		if h.Status != "released" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "the hand-off is " + h.Status,
				Extra: map[string]any{"reason": "handoff_" + h.Status, "current_state": h.Status}}
		}
		if h.To.Kind == CustodianPerson {
			if sheet == "" {
				return noSheet(h.To.Username)
			}
			if actor.Clearance < b.Level {
				return &valise.Error{Code: valise.ECONFLICT, Message: "your clearance is below the bag's level",
					Extra: map[string]any{"reason": "receiver_clearance"}}
			}
		}
		res, err := checkSeals(ctx, tx, b, issued, in.SealScan, vs, seq, h.To.Kind == CustodianRegistry)
		if err != nil {
			return err
		}
		to := h.To
		to.SheetID = sheet
		ev.CustodianAfter = &to
		switch h.Purpose {
		case PurposeDispatch:
			ev.Stage, ev.ToState = "send", Dispatched
			if err := s.markDispatched(ctx, tx, b); err != nil {
				return err
			}
		case PurposeDelivery:
			ev.Stage, ev.ToState = "accept", Accepted
		default:
			ev.Stage = stageFor(b.State)
		}
		if in.OccurredAt != nil {
			ev.OccurredAt = *in.OccurredAt
		}
		cur := b.Custodian
		ev.Data = mustJSON(map[string]any{"purpose": h.Purpose})
		ev.Custody = mustJSON(Block{HandoffID: h.ID, Purpose: h.Purpose, From: &h.From, To: &to, Custodian: &cur,
			Packages: b.PackageCount, Seals: res, Coordinates: in.Coordinates, Note: in.Note, Device: in.Device})
		batch := &pgx.Batch{}
		if err := QueueEvent(batch, actor, ev); err != nil {
			return err
		}
		complete := func(batch *pgx.Batch, incident *string) {
			batch.Queue(`UPDATE handoffs SET status = 'completed', accept_event = $2, seals_ok = $3,
				seal_check = $4, incident_id = $5, completed_at = now() WHERE id = $1 RETURNING `+handoffColumns,
				h.ID, ev.ID, res.OK, mustJSON(res), incident).
				QueryRow(func(row pgx.Row) (err error) { out, err = scanHandoff(row); return err })
		}
		// The usual case (a person's clean confirmation) needs no receipt
		// and no incident: every write in one round trip.
		simple := res.OK && h.To.Kind == CustodianPerson
		if simple {
			complete(batch, nil)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("complete hand-off: %w", err)
		}
		if simple {
			return nil
		}
		var incident *string
		if h.To.Kind == CustodianRegistry {
			rc = &Receipt{}
			if err := s.receipt(ctx, tx, actor, b, ev.ID, res, in.Note, rc); err != nil {
				return err
			}
			if rc.IncidentID != "" {
				incident = &rc.IncidentID
			}
		} else {
			// A failed check: the breach incident's own event follows the
			// acceptance in the bag's chain, and the hand-off names it.
			inc, err := OpenIncident(ctx, tx, actor, b, ClassBreach, "acceptance",
				"seal check failed at hand-off from "+h.From.String()+" to "+to.String()+": "+strings.Join(res.Problems, "; "))
			if err != nil {
				return err
			}
			incident = &inc.ID
		}
		batch = &pgx.Batch{}
		complete(batch, incident)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("complete hand-off: %w", err)
		}
		return nil
	})
	return out, rc, err
}

// markDispatched sets the dispatch time and, when the plan gave none, the
// due date (bag.due_after_dispatch) of a bag being dispatched in tx.
func (s *Service) markDispatched(ctx context.Context, tx pgx.Tx, b *Bag) error {
	_, err := tx.Exec(ctx, `UPDATE bags SET dispatched_at = now(),
		due_at = coalesce(due_at, now() + (SELECT value FROM pouch_settings WHERE key = 'bag.due_after_dispatch')::interval)
		WHERE id = $1`, b.ID)
	if err != nil {
		return fmt.Errorf("mark dispatched: %w", err)
	}
	return nil
}

// Cancel withdraws a release that was not confirmed; only the custodian may.
// A delivery's release is undone: the bag returns to the state it was in.
func (s *Service) Cancel(ctx context.Context, actor policy.Subject, handoffID string, w Where, check Check) (*Handoff, error) {
	if fe := w.validate(); fe != nil {
		return nil, valise.Invalid("bad cancellation", fe...)
	}
	if !db.ValidUUID(handoffID) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such hand-off")
	}
	// As in confirm: the hand-off's bag first, then one round trip of reads
	// (the hand-off's lock, then the bag's) and one of writes, in the bag's
	// write group.
	bagID, err := s.handoffBag(ctx, handoffID)
	if err != nil {
		return nil, err
	}
	var (
		out, h *Handoff
		b      *Bag
		ev     *Event
	)
	err = db.InTxBatch(db.Grouped(ctx, bagID), s.pool, lockedTx, func(batch *pgx.Batch) error {
		queueHandoffArgs(batch, `id = $1 AND bag_id = $2::uuid FOR UPDATE`, &h, handoffID, bagID)
		ev = &Event{BagID: bagID, Kind: "handoff_cancelled", Place: w.Place, Reason: w.Note}
		if err := QueueLockBagForEvent(batch, bagID, &b, ev); err != nil {
			return err
		}
		return nil
	}, func(tx pgx.Tx) error {
		if h == nil || b == nil {
			return valise.Errorf(valise.ENOTFOUND, "no such hand-off")
		}
		if err := check(ctx, policy.ActBagHandOff, b.Resource()); err != nil {
			return err
		}
		if !holds(b.Custodian, actor) {
			return notCustodian(b, "cancel its release")
		}
		if h.Status != "released" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "the hand-off is " + h.Status,
				Extra: map[string]any{"reason": "handoff_" + h.Status, "current_state": h.Status}}
		}
		cur := b.Custodian
		ev.Stage, ev.Data = stageFor(b.State), mustJSON(map[string]any{"purpose": h.Purpose})
		if h.fromState != "" {
			ev.ToState = h.fromState
		}
		if w.OccurredAt != nil {
			ev.OccurredAt = *w.OccurredAt
		}
		ev.Custody = mustJSON(Block{HandoffID: h.ID, Purpose: h.Purpose, From: &h.From, To: &h.To, Custodian: &cur,
			Packages: b.PackageCount, Coordinates: w.Coordinates, Note: w.Note, Device: w.Device})
		batch := &pgx.Batch{}
		if err := QueueEvent(batch, actor, ev); err != nil {
			return err
		}
		batch.Queue(`UPDATE handoffs SET status = 'cancelled', completed_at = now() WHERE id = $1 RETURNING `+handoffColumns, h.ID).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanHandoff(row); return err })
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("cancel hand-off: %w", err)
		}
		return nil
	})
	return out, err
}

// ScanInput is a checkpoint scan by the custodian (airport, border, relay).
type ScanInput struct {
	SealScan
	Where
}

// Scan records a checkpoint scan of the seals by the bag's custodian, with
// the same seal check as a confirmation; a failed check opens an incident.
// A courier's first scan after dispatch puts the bag in transit.
func (s *Service) Scan(ctx context.Context, actor policy.Subject, bagID string, in ScanInput, check Check) (*Event, error) {
	fe := append(in.Where.validate(), validateScan(in.SealScan)...)
	if fe != nil {
		return nil, valise.Invalid("the scan is incomplete", fe...)
	}
	vs, seq, err := s.verifyScanned(ctx, in.Seals, s.clock())
	if err != nil {
		return nil, err
	}
	// Two round trips in the transaction: BEGIN with every read (after the
	// bag's row lock), then every write; then COMMIT.
	var (
		ev     *Event
		b      *Bag
		issued []*keyring.Seal
	)
	err = db.InTxBatch(db.Grouped(ctx, bagID), s.pool, lockedTx, func(batch *pgx.Batch) error {
		ev = &Event{BagID: bagID, Kind: "checkpoint_scan", Place: in.Place, Reason: in.Note}
		if err := QueueLockBagForEvent(batch, bagID, &b, ev); err != nil {
			return err
		}
		keyring.QueueBagSeals(batch, bagID, &issued)
		return nil
	}, func(tx pgx.Tx) error {
		if b == nil {
			return valise.Errorf(valise.ENOTFOUND, "no such bag")
		}
		if err := check(ctx, policy.ActBagHandOff, b.Resource()); err != nil {
			return err
		}
		if !holds(b.Custodian, actor) {
			return notCustodian(b, "record checkpoint scans")
		}
		res, err := checkSeals(ctx, tx, b, issued, in.SealScan, vs, seq, false)
		if err != nil {
			return err
		}
		ev.BagID, ev.Stage = b.ID, stageFor(b.State)
		if b.State == Dispatched && b.Custodian.Kind == CustodianPerson {
			ev.ToState = InTransit
		}
		if in.OccurredAt != nil {
			ev.OccurredAt = *in.OccurredAt
		}
		cur := b.Custodian
		ev.Custody = mustJSON(Block{Custodian: &cur, Packages: b.PackageCount, Seals: res, Coordinates: in.Coordinates, Note: in.Note, Device: in.Device})
		batch := &pgx.Batch{}
		if err := QueueEvent(batch, actor, ev); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("record checkpoint scan: %w", err)
		}
		if !res.OK {
			if _, err := OpenIncident(ctx, tx, actor, b, ClassBreach, "report",
				"seal check failed at a checkpoint scan by "+actor.Username+": "+strings.Join(res.Problems, "; ")); err != nil {
				return err
			}
		}
		return nil
	})
	return ev, err
}

const handoffColumns = `id, bag_id, purpose, from_unit, from_user, from_username, to_kind, to_unit,
	coalesce(to_user::text, ''), coalesce(to_username, ''), coalesce(sheet_id::text, ''), coalesce(from_state, ''),
	status, release_event, accept_event, seals_ok, seal_check, incident_id, released_at, completed_at`

func scanHandoff(row pgx.Row) (*Handoff, error) {
	var h Handoff
	var check []byte
	var toKind, fromState string
	err := row.Scan(&h.ID, &h.BagID, &h.Purpose, &h.From.Unit, &h.From.User, &h.From.Username, &toKind, &h.To.Unit,
		&h.To.User, &h.To.Username, &h.SheetID, &fromState, &h.Status, &h.ReleaseEvent, &h.AcceptEvent, &h.SealsOK,
		&check, &h.IncidentID, &h.ReleasedAt, &h.CompletedAt)
	if err != nil {
		return nil, err
	}
	h.From.Kind, h.fromState = CustodianPerson, State(fromState)
	h.To.Kind = map[string]string{"person": CustodianPerson, "registry": CustodianRegistry}[toKind]
	if len(check) > 0 {
		h.SealCheck = &SealResult{}
		if err := json.Unmarshal(check, h.SealCheck); err != nil {
			return nil, fmt.Errorf("decode seal check: %w", err)
		}
	}
	return &h, nil
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
	queueHandoffArgs(b, `id = $1`+lock, out, id)
}

// queueHandoffArgs queues the read of the hand-off where names (its
// parameters args); after b's results are read, *out is it, or nil.
func queueHandoffArgs(b *pgx.Batch, where string, out **Handoff, args ...any) {
	*out = nil
	b.Queue(`SELECT `+handoffColumns+` FROM handoffs WHERE `+where, args...).QueryRow(func(row pgx.Row) error {
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

// GetHandoff returns a hand-off to one of its parties, or to whoever check
// lets read the bag's custody log (security officers, auditors).
func (s *Service) GetHandoff(ctx context.Context, actor policy.Subject, id string, check Check) (*Handoff, *Bag, error) {
	h, err := loadHandoff(ctx, s.pool, id, "")
	if err != nil {
		return nil, nil, db.Classify(err)
	}
	b, err := s.Get(ctx, h.BagID, func(ctx context.Context, action string, r policy.Resource) error {
		if actor.UserID == h.From.User || (h.To.Kind == CustodianPerson && actor.UserID == h.To.User) {
			r.Custodian = actor.UserID // a party has need-to-know of its own hand-off
			return check(ctx, action, r)
		}
		if err := check(ctx, action, r); err != nil {
			return err
		}
		if h.To.Kind == CustodianRegistry && actor.UnitCode == h.To.Unit {
			return nil // the receiving registry sees what is delivered to it
		}
		r.Kind = "log_entry"
		return check(ctx, policy.ActLogRead, r)
	})
	if err != nil {
		return nil, nil, err
	}
	return h, b, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// clock is the service's time (tests may move it).
func (s *Service) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// ScanMany records consecutive checkpoint scans of one bag by actor (a
// phone's batch) as Scan does, in one transaction with two round trips
// whatever their number: the bag's lock and every read once, the events'
// ids in the same round trip, then every event (each chained to the one
// before it in Go) in one pipelined batch. It records the longest prefix of
// ins that passes every check with a clean seal check and returns its
// events; the scans after it (from the first that is refused or whose seal
// check fails, which opens an incident) are left to Scan, one at a time, so
// each gets Scan's own answer.
func (s *Service) ScanMany(ctx context.Context, actor policy.Subject, bagID string, ins []ScanInput, check Check) ([]*Event, error) {
	n := 0
	for n < len(ins) && len(ins[n].Where.validate()) == 0 && len(validateScan(ins[n].SealScan)) == 0 {
		n++
	}
	if n == 0 || !db.ValidUUID(bagID) {
		return nil, nil
	}
	ins = ins[:n]
	// The seals: one verification per distinct set of texts.
	type checked struct {
		vs  []verified
		seq uint64
	}
	memo := map[string]checked{}
	vss := make([]checked, n)
	for i, in := range ins {
		k := strings.Join(in.Seals, "\n")
		v, ok := memo[k]
		if !ok {
			vs, seq, err := s.verifyScanned(ctx, in.Seals, s.clock())
			if err != nil {
				return nil, err
			}
			v = checked{vs, seq}
			memo[k] = v
		}
		vss[i] = v
	}
	var (
		out    []*Event
		b      *Bag
		issued []*keyring.Seal
		first  *Event
		ids    []int64
	)
	err := db.InTxBatch(db.Grouped(ctx, bagID), s.pool, lockedTx, func(batch *pgx.Batch) error {
		out = nil
		first = &Event{BagID: bagID, Kind: "checkpoint_scan"}
		if err := QueueLockBagForEvent(batch, bagID, &b, first); err != nil {
			return err
		}
		keyring.QueueBagSeals(batch, bagID, &issued)
		batch.Queue(`SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('bag_events', 'id')) FROM generate_series(2, $1))`, n).
			QueryRow(func(row pgx.Row) error { return row.Scan(&ids) })
		return nil
	}, func(tx pgx.Tx) error {
		// A scan changes neither the custodian nor what the policy decides
		// on: one check stands for all.
		if b == nil || first.ID == 0 || !holds(b.Custodian, actor) || check(ctx, policy.ActBagHandOff, b.Resource()) != nil {
			return nil // Scan explains
		}
		batch := &pgx.Batch{}
		state := first.state
		for i, in := range ins {
			res, err := checkSeals(ctx, tx, b, issued, in.SealScan, vss[i].vs, vss[i].seq, false)
			if err != nil {
				return err
			}
			if !res.OK {
				break
			}
			ev := &Event{ID: first.ID, BagID: first.BagID, Kind: "checkpoint_scan", Place: in.Place, Reason: in.Note,
				Stage: stageFor(state), RecordedAt: first.RecordedAt, PrevHash: first.PrevHash, state: state, custodian: first.custodian}
			if i > 0 {
				ev.ID = ids[i-1]
			}
			if state == Dispatched && b.Custodian.Kind == CustodianPerson {
				ev.ToState = InTransit
			}
			if in.OccurredAt != nil {
				ev.OccurredAt = *in.OccurredAt
			}
			cur := b.Custodian
			ev.Custody = mustJSON(Block{Custodian: &cur, Packages: b.PackageCount, Seals: res, Coordinates: in.Coordinates, Note: in.Note, Device: in.Device})
			if ev.ToState != "" {
				state = ev.ToState
			}
			out = append(out, ev) // QueueEvents links each to the one before

		}
		if len(out) == 0 {
			return nil
		}
		if err := QueueEvents(batch, actor, out); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("record checkpoint scans: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
