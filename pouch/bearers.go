package pouch

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/keyring"
	"valise/internal/db"
	"valise/policy"
)

// A courier in transit may entrust the bag to a bearer who is not a Valise
// user (an aircraft captain for a leg, an engaged carrier for a freight
// leg, DM-15) and take it back from one (DM-18: every handover between
// courier and carrier is logged). The bearer cannot sign in Valise, so the
// courier's own record, with the count and the seal check they made, moves
// custody at once: a one-sided transfer (Block.Transfer), recorded in the
// bag's one history like every hand-off.

// Kinds of bearer a courier hands a bag to.
const (
	BearerCaptain = "captain" // an aircraft captain: name and identity document
	BearerCarrier = "carrier" // an engaged carrier: its unit code or name, and the consignment document
)

// TransferOneSided marks a custody block recorded by one party only.
const TransferOneSided = "one_sided"

// BearerReleaseInput is a courier's record of handing the bag to a bearer
// without an account.
type BearerReleaseInput struct {
	BagID    string `json:"-"`        // from the path (api) or the signed record (mobile-api)
	Kind     string `json:"kind"`     // captain or carrier
	Name     string `json:"name"`     // the captain's full name, or the carrier's unit code or name
	Document string `json:"document"` // the captain's identity document, or the carrier's consignment document (air waybill)
	SealScan
	Where
}

// BearerReceiptInput is a courier's record of taking the bag back from the
// bearer who holds it.
type BearerReceiptInput struct {
	BagID string `json:"-"`
	SealScan
	Where
}

// BearerTransfer is a recorded one-sided transfer.
type BearerTransfer struct {
	Event      *Event      `json:"event"`
	From       Party       `json:"from"`
	To         Party       `json:"to"`
	SealCheck  *SealResult `json:"seal_check"`
	IncidentID string      `json:"incident_id,omitempty"`
}

func (in BearerReleaseInput) validate() []valise.FieldError {
	fe := append(in.Where.validate(), validateScan(in.SealScan)...)
	if strings.TrimSpace(in.BagID) == "" {
		fe = append(fe, valise.FieldError{Field: "bag_id", Reason: "required"})
	}
	if in.Kind != BearerCaptain && in.Kind != BearerCarrier {
		fe = append(fe, valise.FieldError{Field: "kind", Reason: "captain or carrier"})
	}
	if n := len(strings.TrimSpace(in.Name)); n == 0 || len(in.Name) > 200 {
		fe = append(fe, valise.FieldError{Field: "name", Reason: "required: the captain's full name or the carrier's (1..200 characters)"})
	}
	if n := len(strings.TrimSpace(in.Document)); n == 0 || len(in.Document) > 100 {
		fe = append(fe, valise.FieldError{Field: "document", Reason: "required: the captain's identity document or the carrier's consignment document (1..100 characters)"})
	}
	if in.PackagesCounted == nil {
		fe = append(fe, valise.FieldError{Field: "packages_counted", Reason: "required: count the packages you hand over"})
	}
	return fe
}

// bearerStep is what both one-sided transfers read under the bag's lock in
// one round trip: the bag, its seals, the actor's sheet covering it,
// whether a hand-off is open, bearer.max_level, and the event's link.
type bearerStep struct {
	b      *Bag
	issued []*keyring.Seal
	sheet  string
	open   bool
	max    policy.Level
	ev     *Event
	// maxText is bearer.max_level as read (found parses it into max).
	maxText string
}

func (st *bearerStep) queue(batch *pgx.Batch, actor policy.Subject, bagID, kind string, w Where) error {
	// The actor's sheet, an open hand-off and bearer.max_level ride on the
	// bag's own read ($1 is the bag): one statement after the lock.
	st.sheet, st.open, st.max, st.maxText = "", false, 0, ""
	rider := &bagRider{cols: `coalesce((SELECT (` + sheetFor("$1") + `) FROM users u WHERE u.id::text = $2), ''),
		EXISTS (SELECT 1 FROM handoffs h WHERE h.bag_id = $1 AND h.status = 'released'),
		(SELECT value FROM custody_settings WHERE key = 'bearer.max_level')`,
		args: []any{actor.UserID}, dest: []any{&st.sheet, &st.open, &st.maxText}}
	st.ev = &Event{BagID: bagID, Kind: kind, Place: w.Place, Reason: w.Note}
	if err := queueBag(batch, bagID, true, &st.b, st.ev, rider); err != nil {
		return err
	}
	keyring.QueueBagSeals(batch, bagID, &st.issued)
	return nil
}

// found: the bag exists and the policy lets actor hand it over (a
// forbidden bag looks missing).
func (st *bearerStep) found(ctx context.Context, check Check) error {
	if st.b == nil {
		return valise.Errorf(valise.ENOTFOUND, "no such bag")
	}
	l, err := policy.ParseLevel(st.maxText)
	if err != nil {
		return fmt.Errorf("setting bearer.max_level: %w", err)
	}
	st.max = l
	return check(ctx, policy.ActBagHandOff, st.b.Resource())
}

// inTransit: the bag is out of every registry, no hand-off is open, and
// actor is on a valid sheet covering it.
func (st *bearerStep) inTransit(actor policy.Subject) error {
	b := st.b
	if st.open {
		return handoffOpen()
	}
	if !slices.Contains(inTransit, b.State) {
		return &valise.Error{Code: valise.ECONFLICT,
			Message: "a bag changes hands with a bearer only in transit; it is " + string(b.State),
			Extra:   map[string]any{"reason": "bag_state", "current_state": b.State}}
	}
	if st.sheet == "" {
		return noSheet(actor.Username)
	}
	return nil
}

// record writes the transfer's event (custody moves to `to`) and, when the
// seal check failed, a breach incident after it, in tx.
func (st *bearerStep) record(ctx context.Context, tx pgx.Tx, actor policy.Subject, from, to Party, res *SealResult,
	w Where, data map[string]any) (*BearerTransfer, error) {
	b, ev := st.b, st.ev
	ev.Stage, ev.CustodianAfter = stageFor(b.State), &to
	if b.State == Dispatched {
		ev.ToState = InTransit
	}
	if w.OccurredAt != nil {
		ev.OccurredAt = *w.OccurredAt
	}
	cur := b.Custodian
	data["sheet_id"] = st.sheet
	data["packages_expected"] = b.PackageCount
	data["packages_counted"] = res.PackagesCounted
	ev.Data = mustJSON(data)
	ev.Custody = mustJSON(Block{Purpose: PurposeTransit, Transfer: TransferOneSided, From: &from, To: &to, Custodian: &cur,
		Packages: b.PackageCount, Seals: res, Coordinates: w.Coordinates, Note: w.Note, Device: w.Device})
	batch := &pgx.Batch{}
	if err := QueueEvent(batch, actor, ev); err != nil {
		return nil, err
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("record bearer transfer: %w", err)
	}
	out := &BearerTransfer{Event: ev, From: from, To: to, SealCheck: res}
	if !res.OK {
		inc, err := OpenIncident(ctx, tx, actor, b, ClassBreach, "acceptance",
			"seal check failed at hand-over from "+from.String()+" to "+to.String()+": "+strings.Join(res.Problems, "; "))
		if err != nil {
			return nil, err
		}
		out.IncidentID = inc.ID
	}
	return out, nil
}

// ReleaseToBearer is a courier handing the bag they hold, in transit, to
// an aircraft captain or an engaged carrier who has no account. Only the
// custodian may, on a valid courier sheet covering the bag, with no other
// hand-off open; the bag's level must not exceed bearer.max_level (bearers
// have no clearance record), and a carrier must be engaged for a freight
// leg on the bag's plan (DM-15). The courier counts the packages and checks
// the seals; the bearer holds the bag once this is recorded. A failed seal
// check is recorded and opens a breach incident.
func (s *Service) ReleaseToBearer(ctx context.Context, actor policy.Subject, in BearerReleaseInput, check Check) (*BearerTransfer, error) {
	if fe := in.validate(); fe != nil {
		return nil, valise.Invalid("the hand-over to the bearer is incomplete", fe...)
	}
	in.Name, in.Document = strings.TrimSpace(in.Name), strings.TrimSpace(in.Document)
	vs, seq, err := s.verifyScanned(ctx, in.Seals, s.clock())
	if err != nil {
		return nil, err
	}
	var st bearerStep
	var out *BearerTransfer
	err = db.InTxBatch(db.Grouped(ctx, in.BagID), s.pool, lockedTx, func(batch *pgx.Batch) error {
		st = bearerStep{}
		return st.queue(batch, actor, in.BagID, "released_to_bearer", in.Where)
	}, func(tx pgx.Tx) error {
		if err := st.found(ctx, check); err != nil {
			return err
		}
		b := st.b
		if b.Custodian.Kind != CustodianPerson || !holds(b.Custodian, actor) {
			return notCustodian(b, "hand it to a bearer")
		}
		if err := st.inTransit(actor); err != nil {
			return err
		}
		if b.Level > st.max {
			return &valise.Error{Code: valise.ECONFLICT,
				Message: "a bearer without an account has no clearance record and carries at most " + st.max.String() +
					" (setting bearer.max_level); this bag is " + b.Level.String(),
				Extra: map[string]any{"reason": "receiver_clearance"}}
		}
		data := map[string]any{"bearer_kind": in.Kind}
		if in.Kind == BearerCarrier {
			engagement, err := engagedCarrier(ctx, tx, b, in.Name)
			if err != nil {
				return err
			}
			data["engagement"] = engagement
		}
		res, err := checkSeals(ctx, tx, b, st.issued, in.SealScan, vs, seq, false)
		if err != nil {
			return err
		}
		from := Party{Kind: CustodianPerson, Unit: actor.UnitCode, User: actor.UserID, Username: actor.Username}
		to := Party{Kind: CustodianBearer, Name: in.Name, Document: in.Document, SheetID: st.sheet}
		out, err = st.record(ctx, tx, actor, from, to, res, in.Where, data)
		return err
	})
	return out, err
}

// ReceiveFromBearer is a courier taking the bag back from the bearer
// without an account who holds it (a captain at the end of the leg, a
// carrier at the freight terminal), whoever recorded the hand-over to
// them. The courier must be on a valid sheet covering the bag and cleared
// for its level; they count the packages and check the seals, and then
// hold the bag. A failed check still moves custody (the courier has the
// bag) and opens a breach incident in the same transaction, as a
// confirmation does.
func (s *Service) ReceiveFromBearer(ctx context.Context, actor policy.Subject, in BearerReceiptInput, check Check) (*BearerTransfer, error) {
	fe := append(in.Where.validate(), validateScan(in.SealScan)...)
	if strings.TrimSpace(in.BagID) == "" {
		fe = append(fe, valise.FieldError{Field: "bag_id", Reason: "required"})
	}
	if in.PackagesCounted == nil {
		fe = append(fe, valise.FieldError{Field: "packages_counted", Reason: "required: count the packages you receive"})
	}
	if fe != nil {
		return nil, valise.Invalid("the receipt from the bearer is incomplete", fe...)
	}
	vs, seq, err := s.verifyScanned(ctx, in.Seals, s.clock())
	if err != nil {
		return nil, err
	}
	var st bearerStep
	var out *BearerTransfer
	err = db.InTxBatch(db.Grouped(ctx, in.BagID), s.pool, lockedTx, func(batch *pgx.Batch) error {
		st = bearerStep{}
		return st.queue(batch, actor, in.BagID, "taken_from_bearer", in.Where)
	}, func(tx pgx.Tx) error {
		if err := st.found(ctx, check); err != nil {
			return err
		}
		b := st.b
		if b.Custodian.Kind != CustodianBearer {
			return &valise.Error{Code: valise.ECONFLICT,
				Message: "the bag is not with a bearer: it is held by " + b.Custodian.String() + ", who hands it over in Valise",
				Extra:   map[string]any{"reason": "not_with_bearer", "custodian": b.Custodian}}
		}
		if err := st.inTransit(actor); err != nil {
			return err
		}
		if actor.Clearance < b.Level {
			return &valise.Error{Code: valise.ECONFLICT, Message: "your clearance is below the bag's level",
				Extra: map[string]any{"reason": "receiver_clearance"}}
		}
		res, err := checkSeals(ctx, tx, b, st.issued, in.SealScan, vs, seq, false)
		if err != nil {
			return err
		}
		to := Party{Kind: CustodianPerson, Unit: actor.UnitCode, User: actor.UserID, Username: actor.Username, SheetID: st.sheet}
		out, err = st.record(ctx, tx, actor, b.Custodian, to, res, in.Where, map[string]any{})
		return err
	})
	return out, err
}
