package pouch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/internal/db"
	"valise/policy"
)

// Assemble puts submissions into a planned or assembling bag. Each
// submission must be handed in at the bag's origin registry, addressed to a
// unit on the bag's route after the origin, and not already in a bag. The
// bag's level becomes the highest of its items.
func (s *Service) Assemble(ctx context.Context, actor policy.Subject, m Mutation, submissionIDs []string, check Check) (*Bag, error) {
	if len(submissionIDs) == 0 {
		return nil, valise.Invalid("name the submissions to put in the bag", valise.FieldError{Field: "submission_ids", Reason: "at least one"})
	}
	b, _, err := s.mutate(ctx, actor, m, ActAssemble, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		for i, id := range submissionIDs {
			field := fmt.Sprintf("submission_ids[%d]", i)
			if !db.ValidUUID(id) {
				return valise.Invalid("no such submission", valise.FieldError{Field: field, Reason: "not a submission id"})
			}
			var registryID, destCode string
			var bagID *string
			var level int16
			err := tx.QueryRow(ctx, `SELECT s.registry_id, d.code, s.bag_id, s.level FROM submissions s
				JOIN units d ON d.id = s.destination_id WHERE s.id = $1 FOR UPDATE OF s`, id).Scan(&registryID, &destCode, &bagID, &level)
			if errors.Is(err, pgx.ErrNoRows) {
				return valise.Invalid("no such submission", valise.FieldError{Field: field, Reason: "not a submission id"})
			}
			if err != nil {
				return fmt.Errorf("load submission: %w", err)
			}
			switch {
			case bagID != nil:
				return valise.Invalid("submission already assembled", valise.FieldError{Field: field, Reason: "already in a bag"})
			case registryID != b.originID:
				return valise.Invalid("submission handed in elsewhere", valise.FieldError{Field: field, Reason: "was handed in at another registry than the bag's origin"})
			case !contains(b.Route[1:], destCode):
				return valise.Invalid("submission addressed elsewhere", valise.FieldError{Field: field, Reason: "its destination " + destCode + " is not on the bag's route"})
			}
			if _, err := tx.Exec(ctx, `UPDATE submissions SET bag_id = $2 WHERE id = $1`, id, b.ID); err != nil {
				return fmt.Errorf("assemble submission: %w", err)
			}
			b.Level = policy.Max(b.Level, policy.Level(level))
		}
		ev.Data = mustJSON(map[string]any{"submission_ids": submissionIDs})
		return nil
	})
	return b, err
}

// SealInput closes a bag (formalisation): container, packages and their
// physical seal serials, and protective means if any (7-1(5), DM-12).
type SealInput struct {
	Container       string   `json:"container"`
	Packages        int      `json:"packages"`
	SealSerials     []string `json:"seal_serials,omitempty"`
	ProtectiveMeans string   `json:"protective_means,omitempty"`
}

var containers = []string{"package", "envelope", "sack", "suitcase", "other"}

// Seal closes an assembling bag.
func (s *Service) Seal(ctx context.Context, actor policy.Subject, m Mutation, in SealInput, check Check) (*Bag, error) {
	var fe []valise.FieldError
	if !contains(containers, in.Container) {
		fe = append(fe, valise.FieldError{Field: "container", Reason: "must be one of " + strings.Join(containers, ", ")})
	}
	// A bag is sealed with one signed VS1 seal per package, so it carries
	// what a seal can carry: 1..99 packages, serials of A-Z 0-9 - . /.
	if in.Packages < 1 || in.Packages > seal.MaxPackages {
		fe = append(fe, valise.FieldError{Field: "packages", Reason: fmt.Sprintf("must be 1..%d: one signed seal per package", seal.MaxPackages)})
	}
	if len(in.SealSerials) != 0 && len(in.SealSerials) != in.Packages {
		fe = append(fe, valise.FieldError{Field: "seal_serials", Reason: "give one serial per package, or none"})
	}
	seen := map[string]bool{}
	for i, s := range in.SealSerials {
		if !validSealSerial(s) || seen[s] {
			fe = append(fe, valise.FieldError{Field: fmt.Sprintf("seal_serials[%d]", i), Reason: serialRule})
		}
		seen[s] = true
	}
	if fe != nil {
		return nil, valise.Invalid("the bag cannot be sealed as described", fe...)
	}
	b, _, err := s.mutate(ctx, actor, m, ActSeal, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		var items int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM submissions WHERE bag_id = $1`, b.ID).Scan(&items); err != nil {
			return err
		}
		if items == 0 {
			return valise.Errorf(valise.ECONFLICT, "an empty bag cannot be sealed: assemble submissions first")
		}
		b.Container, b.PackageCount, b.ProtectiveMeans = in.Container, in.Packages, in.ProtectiveMeans
		for k := 1; k <= in.Packages; k++ {
			var serial *string
			if len(in.SealSerials) > 0 {
				serial = &in.SealSerials[k-1]
			}
			if _, err := tx.Exec(ctx, `INSERT INTO bag_packages (bag_id, k, seal_serial) VALUES ($1, $2, $3)`, b.ID, k, serial); err != nil {
				if strings.Contains(err.Error(), "bag_packages_seal_idx") {
					return valise.Invalid("seal serial already used", valise.FieldError{Field: fmt.Sprintf("seal_serials[%d]", k-1), Reason: "already on another package"})
				}
				return fmt.Errorf("record package: %w", err)
			}
		}
		// The signed seals commit with the transition, or neither does.
		if err := s.issueSeals(ctx, tx, actor, b, in.SealSerials, ""); err != nil {
			return err
		}
		ev.Data = mustJSON(map[string]any{"container": in.Container, "packages": in.Packages,
			"seal_serials": in.SealSerials, "protective_means": in.ProtectiveMeans != ""})
		return nil
	})
	return b, err
}

// DispatchInput picks the courier sheet (the newest valid one covering the
// bag when empty) and, for an aircraft captain, their identity document.
type DispatchInput struct {
	SheetID        string `json:"sheet_id,omitempty"`
	BearerDocument string `json:"bearer_document,omitempty"`
}

// dispatchSheet is what dispatch needs of the sheet covering a bag.
type dispatchSheet struct {
	id, number, conveyance, bearer       string
	userID, username, docKind, docNumber string
	docCountry                           string
	clearance                            *int16
	active                               bool // the courier's account (userID set) is active
}

// Dispatch sends a sealed bag: the registry that holds it (its origin, or a
// relay on the route) releases it to the bearer named on an issued,
// unrevoked courier sheet valid now (DM-01: nothing is diplomatic mail
// without one). A courier with an account confirms on their own (Confirm),
// and the bag is dispatched then; a bearer who is not a user (an aircraft
// captain, an engaged carrier, an ad hoc courier without an account) is
// recorded by the registry at once, with their name and document or the
// carrier's engagement on the plan (DM-15).
func (s *Service) Dispatch(ctx context.Context, actor policy.Subject, m Mutation, in DispatchInput, check Check) (*Bag, *Handoff, error) {
	b, err := s.Get(ctx, m.BagID, func(ctx context.Context, action string, r policy.Resource) error {
		if err := check(ctx, action, r); err != nil {
			return err
		}
		return check(ctx, policy.ActBagSend, r)
	})
	if err != nil {
		return nil, nil, err
	}
	sh, err := findSheet(ctx, s.pool, b.ID, in.SheetID)
	if err != nil {
		return nil, nil, err
	}
	if sh == nil {
		return nil, nil, &valise.Error{Code: valise.ECONFLICT,
			Message: "no issued, unrevoked and currently valid courier sheet covers this bag; it is not diplomatic mail until one does (DM-01)",
			Extra:   map[string]any{"current_state": b.State, "missing": "courier_sheet"}}
	}
	if sh.userID != "" && !sh.active {
		// A courier with an account confirms on their own; a suspended one
		// cannot, and is not a bearer the registry may record instead.
		return nil, nil, &valise.Error{Code: valise.ECONFLICT,
			Message: "the courier named on the courier sheet is suspended; revoke the sheet and issue one naming another courier",
			Extra:   map[string]any{"reason": "courier_inactive"}}
	}
	if sh.username != "" {
		h, err := s.release(ctx, actor, ReleaseInput{BagID: b.ID, To: sh.username,
			Where: Where{Place: m.Place, Note: m.Reason, OccurredAt: timePtr(m.OccurredAt)}}, m.IfMatch, check)
		if err != nil {
			return nil, nil, err
		}
		b, err = s.Get(ctx, b.ID, check)
		return b, h, err
	}
	b, _, err = s.mutate(ctx, actor, m, ActDispatch, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		if !holds(b.Custodian, actor) {
			return notCustodian(b, "dispatch it")
		}
		if !mayLeave(b, ev.FromState) {
			return allow(ev.FromState, ActDispatch)
		}
		sh, err := findSheet(ctx, tx, b.ID, sh.id)
		if err != nil {
			return err
		}
		if sh == nil {
			return valise.Errorf(valise.ECONFLICT, "the courier sheet is no longer valid (DM-01)")
		}
		bearer := Party{Kind: CustodianBearer, Name: sh.bearer, SheetID: sh.id}
		switch sh.conveyance {
		case "aircraft_captain":
			if strings.TrimSpace(in.BearerDocument) == "" || len(in.BearerDocument) > 100 {
				return valise.Invalid("record the aircraft captain's identity document",
					valise.FieldError{Field: "bearer_document", Reason: "required for an aircraft captain (1..100 characters)"})
			}
			bearer.Document = in.BearerDocument
		case "freight":
			carrier, err := engagedCarrier(ctx, tx, b, sh.bearer)
			if err != nil {
				return err
			}
			bearer.Document = carrier
		default: // a courier without an account: the document on the sheet
			bearer.Document = strings.TrimSpace(sh.docKind + " " + sh.docCountry + " " + sh.docNumber)
		}
		max, err := bearerMaxLevel(ctx, tx)
		if err != nil {
			return err
		}
		cleared := max
		if sh.clearance != nil {
			cleared = policy.Level(*sh.clearance)
		}
		if b.Level > cleared {
			return &valise.Error{Code: valise.ECONFLICT,
				Message: "the bearer is not cleared for this bag's level; every person who carries a bag is cleared for it (setting bearer.max_level for bearers without a clearance record)",
				Extra:   map[string]any{"reason": "receiver_clearance"}}
		}
		ev.Kind, ev.Stage, ev.ToState, ev.CustodianAfter = "dispatched", "send", Dispatched, &bearer
		cur := b.Custodian
		ev.Custody = mustJSON(Block{Purpose: PurposeDispatch, From: &Party{Kind: CustodianPerson, Unit: actor.UnitCode,
			User: actor.UserID, Username: actor.Username}, To: &bearer, Custodian: &cur, Packages: b.PackageCount, Note: m.Reason})
		ev.Data = mustJSON(map[string]any{"sheet_id": sh.id, "sheet_number": sh.number, "conveyance": sh.conveyance})
		return s.markDispatched(ctx, tx, b)
	})
	return b, nil, err
}

// findSheet reads the courier sheet covering a bag that dispatch uses: id
// when given, else the newest issued, unrevoked one valid now; nil if none.
func findSheet(ctx context.Context, q db.Querier, bagID, id string) (*dispatchSheet, error) {
	if id != "" && !db.ValidUUID(id) {
		return nil, nil
	}
	var sh dispatchSheet
	err := q.QueryRow(ctx, `
		SELECT cs.id, cs.number, cs.conveyance, cs.bearer_name, coalesce(u.id::text, ''),
		       coalesce(u.username, ''), coalesce(c.doc_kind, ''), coalesce(c.doc_number, ''), coalesce(c.doc_country, ''),
		       u.clearance, coalesce(u.active, false)
		FROM courier_sheets cs JOIN courier_sheet_bags sb ON sb.sheet_id = cs.id
		LEFT JOIN couriers c ON c.id = cs.courier_id
		LEFT JOIN users u ON u.id::text = c.user_id
		WHERE sb.bag_id = $1 AND cs.status = 'issued' AND cs.valid_from <= now() AND now() < cs.valid_until
		  AND ($2 = '' OR cs.id::text = $2)
		ORDER BY cs.issued_at DESC LIMIT 1`, bagID, id).Scan(&sh.id, &sh.number, &sh.conveyance, &sh.bearer,
		&sh.userID, &sh.username, &sh.docKind, &sh.docNumber, &sh.docCountry, &sh.clearance, &sh.active)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find courier sheet: %w", err)
	}
	return &sh, nil
}

// engagedCarrier is the carrier the sheet names as bearer (by its unit
// code or name), engaged on the bag's plan for a freight leg (DM-15):
// "<code> (<name>), plan <id> leg <n>". Without one, freight is refused.
func engagedCarrier(ctx context.Context, q db.Querier, b *Bag, bearer string) (string, error) {
	if b.PlanID != nil {
		var doc string
		err := q.QueryRow(ctx, `SELECT u.code || ' (' || u.name || '), plan ' || l.plan_id || ' leg ' || l.seq
			FROM plan_legs l JOIN units u ON u.id = l.carrier_id
			WHERE l.plan_id = $1 AND l.conveyance = 'freight' AND u.kind = 'carrier'
			  AND (upper(u.code) = upper(btrim($2)) OR lower(u.name) = lower(btrim($2))) ORDER BY l.seq LIMIT 1`, *b.PlanID, bearer).Scan(&doc)
		if err == nil {
			return doc, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("find engaged carrier: %w", err)
		}
	}
	return "", &valise.Error{Code: valise.ECONFLICT,
		Message: "the carrier the courier sheet names (" + bearer + ") is not engaged for a freight leg on this bag's plan; a carrier leg must reference an engaged legal entity (DM-15)",
		Extra:   map[string]any{"reason": "carrier_not_engaged"}}
}

// bearerMaxLevel is the highest level a bearer without a clearance record
// (an aircraft captain, a carrier, an ad hoc courier without an account)
// may carry: reference data, setting bearer.max_level.
func bearerMaxLevel(ctx context.Context, q db.Querier) (policy.Level, error) {
	var v string
	if err := q.QueryRow(ctx, `SELECT value FROM custody_settings WHERE key = 'bearer.max_level'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("setting bearer.max_level: %w", err)
	}
	return policy.ParseLevel(v)
}

// BearerClearance is the clearance of the person who would carry a bag: the
// user's, for a courier with an account (0 when the account is inactive),
// else bearer.max_level (bearerMaxLevel).
func BearerClearance(ctx context.Context, q db.Querier, userID string) (policy.Level, error) {
	if userID == "" {
		return bearerMaxLevel(ctx, q)
	}
	var level int16
	err := q.QueryRow(ctx, `SELECT CASE WHEN active THEN clearance ELSE 0 END FROM users WHERE id::text = $1`, userID).Scan(&level)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bearer clearance: %w", err)
	}
	return policy.Level(level), nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ArriveLeg records the arrival of a leg of the plan (city, flight).
func (s *Service) ArriveLeg(ctx context.Context, actor policy.Subject, m Mutation, leg int, city string, check Check) (*Bag, error) {
	if leg < 1 {
		return nil, valise.Invalid("which leg arrived?", valise.FieldError{Field: "leg", Reason: "must be ≥ 1"})
	}
	b, _, err := s.mutate(ctx, actor, m, ActArriveLeg, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		// The bearer reports the leg; for a bearer who is not a user, a
		// registry on the route records it.
		bearerLeg := b.Custodian.Kind == CustodianBearer && actor.HasRole(policy.RoleRegistryClerk) && contains(b.Route, actor.UnitCode)
		if !holds(b.Custodian, actor) && !bearerLeg {
			return notCustodian(b, "report its legs")
		}
		data := map[string]any{"leg": leg}
		if b.PlanID != nil {
			var to, flight string
			err := tx.QueryRow(ctx, `SELECT to_city, flight FROM plan_legs WHERE plan_id = $1 AND seq = $2`, *b.PlanID, leg).Scan(&to, &flight)
			if errors.Is(err, pgx.ErrNoRows) {
				return valise.Invalid("the plan has no such leg", valise.FieldError{Field: "leg", Reason: "not a leg of the bag's plan"})
			}
			if err != nil {
				return err
			}
			data["city"], data["flight"] = to, flight
			if ev.Place == "" {
				ev.Place = to
			}
		}
		if city != "" {
			data["city"] = city
			ev.Place = city
		}
		ev.Data = mustJSON(data)
		return nil
	})
	return b, err
}

// DeliverInput names the registry a bearer delivers to: the destination
// when empty, or a relay registry on the route.
type DeliverInput struct {
	ToUnit string `json:"to_unit,omitempty"`
}

// Deliver is the bearer releasing the bag to the destination (or a relay)
// registry: the bag is delivered, and that registry's confirmation (Accept)
// is the statutory acceptance. Only the bag's custodian delivers.
func (s *Service) Deliver(ctx context.Context, actor policy.Subject, m Mutation, in DeliverInput, check Check) (*Bag, *Handoff, error) {
	to := in.ToUnit
	if to == "" {
		b, err := s.Get(ctx, m.BagID, check)
		if err != nil {
			return nil, nil, err
		}
		to = b.Destination
	}
	h, err := s.release(ctx, actor, ReleaseInput{BagID: m.BagID, ToUnit: to,
		Where: Where{Place: m.Place, Note: m.Reason, OccurredAt: timePtr(m.OccurredAt)}}, m.IfMatch, check)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.Get(ctx, m.BagID, check)
	return b, h, err
}

// AcceptInput is the receiving registry's receipt: the package count and
// the seal check (the scanned seal texts, or what the clerk saw).
type AcceptInput struct {
	SealScan
	Note string `json:"note,omitempty"`
}

// Receipt is a recorded acceptance.
type Receipt struct {
	ID               string    `json:"id"`
	BagID            string    `json:"bag_id"`
	EventID          int64     `json:"event_id"`
	PackagesExpected int       `json:"packages_expected"`
	PackagesCounted  int       `json:"packages_counted"`
	SealsIntact      bool      `json:"seals_intact"`
	Note             string    `json:"note,omitempty"`
	AcceptedBy       string    `json:"accepted_by"`
	AcceptedAt       time.Time `json:"accepted_at"`
	IncidentID       string    `json:"incident_id,omitempty"`
}

// Accept is the receiving registry's acceptance (7-1(8)(1), (9)(1)): it
// confirms the bearer's delivery to it (the open release naming its
// registry), or, for a bearer who is not a user (an aircraft captain, a
// carrier), records the transfer from them. It counts the packages and
// checks the seals; the registry then holds the bag. A count or seal
// mismatch opens an incident in the same transaction: a missing package or
// a broken seal is a breach (likely compromise), an extra package an
// incident (unknown).
func (s *Service) Accept(ctx context.Context, actor policy.Subject, m Mutation, in AcceptInput, check Check) (*Bag, *Receipt, error) {
	if in.PackagesCounted == nil || *in.PackagesCounted < 0 {
		return nil, nil, valise.Invalid("the receipt is incomplete", valise.FieldError{Field: "packages_counted", Reason: "required, ≥ 0"})
	}
	if len(in.Seals) == 0 && len(in.PhysicalSeals) == 0 && in.SealsIntact == nil {
		return nil, nil, valise.Invalid("the receipt is incomplete", valise.FieldError{Field: "seals_intact", Reason: "required without scanned seals"})
	}
	where := Where{Place: m.Place, Note: in.Note, OccurredAt: timePtr(m.OccurredAt)}
	if where.Note == "" {
		where.Note = m.Reason
	}
	h, rc, err := s.confirm(ctx, actor, "", m.BagID, m.IfMatch, ConfirmInput{SealScan: in.SealScan, Where: where}, check)
	if err != nil {
		return nil, nil, err
	}
	if h != nil {
		if rc == nil {
			return nil, nil, &valise.Error{Code: valise.ECONFLICT, Message: "the bag is released to a person, not to a registry",
				Extra: map[string]any{"reason": "not_receiver"}}
		}
		b, err := s.Get(ctx, m.BagID, check)
		return b, rc, err
	}
	// No open release: the bag may be with a bearer who is not a user.
	vs, seq, err := s.verifyScanned(ctx, in.Seals, s.clock())
	if err != nil {
		return nil, nil, err
	}
	rc = &Receipt{}
	b, _, err := s.mutate(ctx, actor, m, ActAccept, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		// (mutate has set b.State to the target; ev.FromState is the bag's.)
		if b.Custodian.Kind != CustodianBearer || !slices.Contains(inTransit, ev.FromState) {
			return &valise.Error{Code: valise.ECONFLICT,
				Message: "nothing to accept: the bag has not been delivered to your registry (its bearer releases it to you first); it is " +
					string(ev.FromState) + " and held by " + b.Custodian.String(),
				Extra: map[string]any{"reason": "not_delivered", "current_state": ev.FromState}}
		}
		if !actor.HasRole(policy.RoleRegistryClerk) || !slices.Contains(b.Route[1:], actor.UnitCode) {
			return &valise.Error{Code: valise.EFORBIDDEN, Message: "only the destination or a relay registry on the route accepts a bag",
				Extra: map[string]any{"reason": "not_receiver"}}
		}
		issued, err := keyring.BagSeals(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		res, err := checkSeals(ctx, tx, b, issued, in.SealScan, vs, seq, true)
		if err != nil {
			return err
		}
		reg := RegistryParty(actor.UnitCode)
		cur := b.Custodian
		ev.Kind, ev.Stage, ev.CustodianAfter = "received_from_bearer", "accept", &reg
		ev.Custody = mustJSON(Block{Purpose: PurposeDelivery, From: &cur, To: &reg, Custodian: &cur,
			Packages: b.PackageCount, Seals: res, Note: in.Note})
		ev.Data = mustJSON(map[string]any{"packages_expected": b.PackageCount, "packages_counted": *in.PackagesCounted})
		ev.after = func(tx pgx.Tx) error { return s.receipt(ctx, tx, actor, b, ev.ID, res, in.Note, rc) }
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return b, rc, nil
}

// receipt writes the acceptance receipt naming the accept event, and opens
// an incident on a mismatch of the count or the seals.
func (s *Service) receipt(ctx context.Context, tx pgx.Tx, actor policy.Subject, b *Bag, evID int64, res *SealResult, note string, rc *Receipt) error {
	counted := b.PackageCount
	if res.PackagesCounted != nil {
		counted = *res.PackagesCounted
	}
	var sealProblems []string
	for _, p := range res.Problems {
		if !strings.Contains(p, "packages counted") {
			sealProblems = append(sealProblems, p)
		}
	}
	intact := len(sealProblems) == 0
	*rc = Receipt{BagID: b.ID, EventID: evID, PackagesExpected: b.PackageCount, PackagesCounted: counted,
		SealsIntact: intact, Note: note, AcceptedBy: actor.Username}
	err := tx.QueryRow(ctx, `INSERT INTO bag_receipts (bag_id, event_id, packages_expected, packages_counted, seals_intact, note, accepted_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, accepted_at`,
		b.ID, evID, b.PackageCount, counted, intact, note, actor.Username).Scan(&rc.ID, &rc.AcceptedAt)
	if err != nil {
		return fmt.Errorf("record receipt: %w", err)
	}
	if counted == b.PackageCount && intact {
		return nil
	}
	class, why := ClassIncident, []string{}
	if counted < b.PackageCount {
		class = ClassBreach
		why = append(why, fmt.Sprintf("%d of %d packages counted", counted, b.PackageCount))
	} else if counted > b.PackageCount {
		why = append(why, fmt.Sprintf("%d packages counted, %d expected", counted, b.PackageCount))
	}
	if !intact {
		class = ClassBreach
		why = append(why, sealProblems...)
	}
	inc, err := openIncident(ctx, tx, actor, b, class, "acceptance", "at acceptance: "+strings.Join(why, "; "))
	if err != nil {
		return err
	}
	rc.IncidentID = inc.ID
	return nil
}

// StoreInput records where and with whom an accepted bag is kept.
type StoreInput struct {
	Place     string `json:"place"`
	Custodian string `json:"custodian"`
}

// Store records storage (7-1(8)(1), 7-1(9)).
func (s *Service) Store(ctx context.Context, actor policy.Subject, m Mutation, in StoreInput, check Check) (*Bag, error) {
	var fe []valise.FieldError
	if strings.TrimSpace(in.Place) == "" {
		fe = append(fe, valise.FieldError{Field: "place", Reason: "required"})
	}
	if strings.TrimSpace(in.Custodian) == "" {
		fe = append(fe, valise.FieldError{Field: "custodian", Reason: "required"})
	}
	if fe != nil {
		return nil, valise.Invalid("storage needs a place and a custodian", fe...)
	}
	b, _, err := s.mutate(ctx, actor, m, ActStore, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		// Storage by the registry that holds the bag, and only by it (DM-06, DM-17).
		if b.Custodian.Kind != CustodianRegistry || !holds(b.Custodian, actor) {
			return notCustodian(b, "store it")
		}
		b.StoragePlace, b.StorageCustodian = in.Place, in.Custodian
		ev.Place = in.Place
		ev.Data = mustJSON(map[string]any{"place": in.Place, "custodian": in.Custodian})
		return nil
	})
	return b, err
}

// Destroy records the destruction of a stored or compromised bag; Reason is required.
func (s *Service) Destroy(ctx context.Context, actor policy.Subject, m Mutation, check Check) (*Bag, error) {
	if strings.TrimSpace(m.Reason) == "" {
		return nil, valise.Invalid("say why the bag is destroyed", valise.FieldError{Field: "reason", Reason: "required"})
	}
	b, _, err := s.mutate(ctx, actor, m, ActDestroy, check, nil)
	return b, err
}

// DeclareCompromised records that a bag's contents are known or likely to be compromised.
func (s *Service) DeclareCompromised(ctx context.Context, actor policy.Subject, m Mutation, check Check) (*Bag, error) {
	if strings.TrimSpace(m.Reason) == "" {
		return nil, valise.Invalid("say why the bag is compromised", valise.FieldError{Field: "reason", Reason: "required"})
	}
	b, _, err := s.mutate(ctx, actor, m, ActCompromise, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		_, err := tx.Exec(ctx, `UPDATE incidents SET outcome = 'compromised', closed_at = now(), closed_by = $2,
			close_note = $3, version = version + 1 WHERE bag_id = $1 AND outcome IS NULL`, b.ID, actor.Username, m.Reason)
		return err
	})
	return b, err
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
