package pouch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/seal"
	"valise/policy"
)

// Witness kinds allowed at a supervised examination or opening (7-1(4)).
var witnessKinds = []string{"career_courier", "ad_hoc_courier", "authorized_representative"}

// ExamineInput opens a supervised examination or opening (DM-11).
type ExamineInput struct {
	Opening            bool   `json:"opening"`
	InitiatingBody     string `json:"initiating_body"`
	InitiatingOfficial string `json:"initiating_official"`
	Grounds            string `json:"grounds"`
	WitnessKind        string `json:"witness_kind"`
	WitnessName        string `json:"witness_name"`
	WitnessCourierID   string `json:"witness_courier_id,omitempty"`
	WitnessUnit        string `json:"witness_unit,omitempty"`
}

// Examination is a recorded supervised examination or opening.
type Examination struct {
	ID                 string     `json:"id"`
	BagID              string     `json:"bag_id"`
	Opening            bool       `json:"opening"`
	InitiatingBody     string     `json:"initiating_body"`
	InitiatingOfficial string     `json:"initiating_official"`
	Grounds            string     `json:"grounds"`
	WitnessKind        string     `json:"witness_kind"`
	WitnessName        string     `json:"witness_name"`
	Place              string     `json:"place,omitempty"`
	StartedBy          string     `json:"started_by"`
	StartedAt          time.Time  `json:"started_at"`
	Findings           string     `json:"findings,omitempty"`
	ResealedSerials    []string   `json:"resealed_serials,omitempty"`
	Outcome            string     `json:"outcome,omitempty"`
	ConcludedAt        *time.Time `json:"concluded_at,omitempty"`
}

// Examine starts a supervised examination or opening. It is refused
// without the initiating body and official, the grounds, and a present
// witness who is a career courier, an ad hoc courier or another authorized
// representative of a diplomatic service body.
func (s *Service) Examine(ctx context.Context, actor policy.Subject, m Mutation, in ExamineInput, check Check) (*Bag, *Examination, error) {
	var fe []valise.FieldError
	req := func(v, field, why string) {
		if strings.TrimSpace(v) == "" {
			fe = append(fe, valise.FieldError{Field: field, Reason: why})
		}
	}
	req(in.InitiatingBody, "initiating_body", "required: the state body that initiates it")
	req(in.InitiatingOfficial, "initiating_official", "required: the official who initiates it")
	req(in.Grounds, "grounds", "required: the grounds to believe the bag holds prohibited contents")
	req(in.WitnessName, "witness_name", "required: a witness must be present (7-1(4))")
	if !contains(witnessKinds, in.WitnessKind) {
		fe = append(fe, valise.FieldError{Field: "witness_kind", Reason: "required: career_courier, ad_hoc_courier or authorized_representative"})
	}
	if in.WitnessKind == "authorized_representative" {
		req(in.WitnessUnit, "witness_unit", "required: the diplomatic service body the representative acts for")
	}
	if fe != nil {
		return nil, nil, valise.Invalid("an examination or opening needs its initiator, grounds and a present witness", fe...)
	}
	var ex Examination
	b, _, err := s.mutate(ctx, actor, m, ActExamine, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		var courierID *string
		if in.WitnessCourierID != "" {
			var kind string
			err := tx.QueryRow(ctx, `SELECT kind FROM couriers WHERE id::text = $1`, in.WitnessCourierID).Scan(&kind)
			if err != nil {
				return valise.Invalid("unknown courier", valise.FieldError{Field: "witness_courier_id", Reason: "no such courier"})
			}
			if (kind == "career") != (in.WitnessKind == "career_courier") || (kind == "ad_hoc") != (in.WitnessKind == "ad_hoc_courier") {
				return valise.Invalid("witness kind mismatch", valise.FieldError{Field: "witness_kind", Reason: "does not match the courier's kind " + kind})
			}
			courierID = &in.WitnessCourierID
		}
		if in.WitnessUnit != "" {
			u, err := UnitByCode(ctx, tx, in.WitnessUnit, "witness_unit")
			if err != nil {
				return err
			}
			if !u.IsDiplomaticService() {
				return valise.Invalid("the witness must represent a diplomatic service body", valise.FieldError{Field: "witness_unit", Reason: "not a diplomatic service body"})
			}
		}
		b.resumeState = string(ev.FromState)
		err := tx.QueryRow(ctx, `INSERT INTO examinations (bag_id, opening, initiating_body, initiating_official, grounds,
			witness_kind, witness_name, witness_courier_id, witness_unit, place, started_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id, started_at`,
			b.ID, in.Opening, in.InitiatingBody, in.InitiatingOfficial, in.Grounds, in.WitnessKind, in.WitnessName,
			courierID, in.WitnessUnit, m.Place, actor.Username).Scan(&ex.ID, &ex.StartedAt)
		if err != nil {
			return fmt.Errorf("record examination: %w", err)
		}
		ex = Examination{ID: ex.ID, StartedAt: ex.StartedAt, BagID: b.ID, Opening: in.Opening, InitiatingBody: in.InitiatingBody,
			InitiatingOfficial: in.InitiatingOfficial, Grounds: in.Grounds, WitnessKind: in.WitnessKind,
			WitnessName: in.WitnessName, Place: m.Place, StartedBy: actor.Username}
		ev.Reason = in.Grounds
		ev.Data = mustJSON(map[string]any{"examination_id": ex.ID, "opening": in.Opening, "initiating_body": in.InitiatingBody,
			"initiating_official": in.InitiatingOfficial, "witness_kind": in.WitnessKind, "witness_name": in.WitnessName})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return b, &ex, nil
}

// ConcludeInput ends an examination: findings and, after an opening, the
// serials of the new seals.
type ConcludeInput struct {
	Findings        string   `json:"findings"`
	ResealedSerials []string `json:"resealed_serials,omitempty"`
	Compromised     bool     `json:"compromised,omitempty"`
}

// ConcludeExamination records the findings; the bag returns to the state
// it was in, or becomes compromised (opening a breach).
func (s *Service) ConcludeExamination(ctx context.Context, actor policy.Subject, m Mutation, in ConcludeInput, check Check) (*Bag, error) {
	if strings.TrimSpace(in.Findings) == "" {
		return nil, valise.Invalid("record the findings", valise.FieldError{Field: "findings", Reason: "required"})
	}
	seen := map[string]bool{}
	for i, sr := range in.ResealedSerials {
		if !validSealSerial(sr) || seen[sr] {
			return nil, valise.Invalid("the new seals cannot be signed as described",
				valise.FieldError{Field: fmt.Sprintf("resealed_serials[%d]", i), Reason: serialRule})
		}
		seen[sr] = true
	}
	if len(in.ResealedSerials) > seal.MaxPackages {
		return nil, valise.Invalid("too many packages", valise.FieldError{Field: "resealed_serials",
			Reason: fmt.Sprintf("at most %d: one signed seal per package", seal.MaxPackages)})
	}
	b, _, err := s.mutate(ctx, actor, m, ActConclude, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		var exID string
		var opening bool
		err := tx.QueryRow(ctx, `SELECT id, opening FROM examinations WHERE bag_id = $1 AND concluded_at IS NULL
			ORDER BY started_at DESC LIMIT 1 FOR UPDATE`, b.ID).Scan(&exID, &opening)
		if err != nil {
			return fmt.Errorf("find open examination: %w", err)
		}
		if opening && !in.Compromised && len(in.ResealedSerials) == 0 {
			return valise.Invalid("an opened bag must be re-sealed", valise.FieldError{Field: "resealed_serials", Reason: "required after an opening"})
		}
		outcome := "released"
		if in.Compromised {
			outcome = "compromised"
			b.State = Compromised
			if _, err := openIncident(ctx, tx, actor, b, ClassBreach, "examination", "examination found the bag compromised: "+in.Findings); err != nil {
				return err
			}
		} else {
			b.State = State(b.resumeState)
		}
		b.resumeState = ""
		if _, err := tx.Exec(ctx, `UPDATE examinations SET findings = $2, resealed_serials = $3, outcome = $4, concluded_by = $5,
			concluded_at = now() WHERE id = $1`, exID, in.Findings, in.ResealedSerials, outcome, actor.Username); err != nil {
			return fmt.Errorf("conclude examination: %w", err)
		}
		if len(in.ResealedSerials) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM bag_packages WHERE bag_id = $1`, b.ID); err != nil {
				return err
			}
			n := max(b.PackageCount, len(in.ResealedSerials))
			for k := 1; k <= n; k++ {
				var serial *string
				if k <= len(in.ResealedSerials) {
					serial = &in.ResealedSerials[k-1]
				}
				if _, err := tx.Exec(ctx, `INSERT INTO bag_packages (bag_id, k, seal_serial) VALUES ($1, $2, $3)`, b.ID, k, serial); err != nil {
					return valise.Invalid("seal serial already used", valise.FieldError{Field: "resealed_serials", Reason: "a serial is already on another package"})
				}
			}
			b.PackageCount = n
			// New signed seals; the old serials are revoked in the trust list
			// published in this transaction.
			serials := make([]string, n)
			copy(serials, in.ResealedSerials)
			if err := s.issueSeals(ctx, tx, actor, b, serials, "re-sealed after supervised opening, examination "+exID); err != nil {
				return err
			}
		}
		ev.Reason = in.Findings
		ev.Data = mustJSON(map[string]any{"examination_id": exID, "outcome": outcome, "resealed_serials": in.ResealedSerials})
		return nil
	})
	return b, err
}
