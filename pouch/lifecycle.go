package pouch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
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

// Dispatch sends a sealed bag. Only a bag on an issued, unrevoked courier
// sheet valid now can be dispatched (DM-01): nothing is diplomatic mail
// without one.
func (s *Service) Dispatch(ctx context.Context, actor policy.Subject, m Mutation, check Check) (*Bag, error) {
	b, _, err := s.mutate(ctx, actor, m, ActDispatch, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		var sheetID, number string
		err := tx.QueryRow(ctx, `
			SELECT cs.id, cs.number FROM courier_sheets cs JOIN courier_sheet_bags sb ON sb.sheet_id = cs.id
			WHERE sb.bag_id = $1 AND cs.status = 'issued' AND cs.valid_from <= now() AND now() < cs.valid_until
			ORDER BY cs.issued_at DESC LIMIT 1`, b.ID).Scan(&sheetID, &number)
		if errors.Is(err, pgx.ErrNoRows) {
			return &valise.Error{Code: valise.ECONFLICT,
				Message: "no issued, unrevoked and currently valid courier sheet covers this bag; it is not diplomatic mail until one does (DM-01)",
				Extra:   map[string]any{"current_state": ev.FromState, "missing": "courier_sheet"}}
		}
		if err != nil {
			return fmt.Errorf("find courier sheet: %w", err)
		}
		now := time.Now()
		b.DispatchedAt = &now
		if b.DueAt == nil {
			v, err := setting(ctx, tx, "bag.due_after_dispatch")
			if err != nil {
				return err
			}
			var due time.Time
			if err := tx.QueryRow(ctx, `SELECT now() + $1::interval`, v).Scan(&due); err != nil {
				return err
			}
			b.DueAt = &due
		}
		ev.Data = mustJSON(map[string]any{"sheet_id": sheetID, "sheet_number": number})
		return nil
	})
	return b, err
}

// ArriveLeg records the arrival of a leg of the plan (city, flight).
func (s *Service) ArriveLeg(ctx context.Context, actor policy.Subject, m Mutation, leg int, city string, check Check) (*Bag, error) {
	if leg < 1 {
		return nil, valise.Invalid("which leg arrived?", valise.FieldError{Field: "leg", Reason: "must be ≥ 1"})
	}
	b, _, err := s.mutate(ctx, actor, m, ActArriveLeg, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
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

// Deliver records that the bag reached its destination.
func (s *Service) Deliver(ctx context.Context, actor policy.Subject, m Mutation, check Check) (*Bag, error) {
	b, _, err := s.mutate(ctx, actor, m, ActDeliver, check, nil)
	return b, err
}

// AcceptInput is the receiving registry's receipt.
type AcceptInput struct {
	PackagesCounted *int   `json:"packages_counted"`
	SealsIntact     *bool  `json:"seals_intact"`
	Note            string `json:"note,omitempty"`
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

// Accept records the receipt. A count or seal mismatch opens an incident in
// the same transaction: a missing package or a broken seal is a breach
// (likely compromise), an extra package an incident (unknown).
func (s *Service) Accept(ctx context.Context, actor policy.Subject, m Mutation, in AcceptInput, check Check) (*Bag, *Receipt, error) {
	var fe []valise.FieldError
	if in.PackagesCounted == nil || *in.PackagesCounted < 0 {
		fe = append(fe, valise.FieldError{Field: "packages_counted", Reason: "required, ≥ 0"})
	}
	if in.SealsIntact == nil {
		fe = append(fe, valise.FieldError{Field: "seals_intact", Reason: "required"})
	}
	if fe != nil {
		return nil, nil, valise.Invalid("the receipt is incomplete", fe...)
	}
	var rc Receipt
	b, _, err := s.mutate(ctx, actor, m, ActAccept, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		counted, intact := *in.PackagesCounted, *in.SealsIntact
		ev.Data = mustJSON(map[string]any{"packages_expected": b.PackageCount, "packages_counted": counted, "seals_intact": intact})
		ev.after = func(tx pgx.Tx) error {
			if err := s.receipt(ctx, tx, actor, b, ev.ID, counted, intact, in.Note, &rc); err != nil {
				return err
			}
			return takeCustody(ctx, tx, actor, b.ID, ev.ID)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return b, &rc, nil
}

// takeCustody gives the bag to the accepting registry (7-1(8)(1), (9)(1)):
// after acceptance the registry, not whoever carried the bag, holds it, so
// its clerks can store it or hand it on. The caller holds the bag's row
// lock, which every writer of bag_custody takes first. Acceptance by anyone
// but a registry clerk leaves custody where hand-offs put it.
func takeCustody(ctx context.Context, tx pgx.Tx, actor policy.Subject, bagID string, eventID int64) error {
	if !actor.HasRole(policy.RoleRegistryClerk) {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE bag_custody SET custodian_unit = $2, custodian_user = NULL, custodian_username = NULL,
		since_event = $3, updated_at = now() WHERE bag_id = $1`, bagID, actor.UnitCode, eventID)
	if err != nil {
		return fmt.Errorf("move custody to the accepting registry: %w", err)
	}
	return nil
}

// receipt writes the acceptance receipt naming the accept event, and opens
// an incident on a mismatch.
func (s *Service) receipt(ctx context.Context, tx pgx.Tx, actor policy.Subject, b *Bag, evID int64, counted int, intact bool, note string, rc *Receipt) error {
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
		why = append(why, "seals not intact")
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
