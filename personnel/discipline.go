package personnel

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Penalties in statutory order (HR-36, Art. 22(2)): the ordinal is the index + 1.
var Penalties = []string{"remark", "reprimand", "severe_reprimand", "rank_delay", "demotion", "rank_deprivation",
	"incomplete_compliance_warning", "dismissal"}

// MaxRankDelayMonths bounds a rank-delay penalty (Art. 22(2)(4): "up to one year").
const MaxRankDelayMonths = 12

// Termination grounds (HR-33, Art. 18(1)).
var TerminationGrounds = map[string]string{
	"own_resignation":        "18(1)(1)",
	"contract_ended":         "18(1)(2)",
	"false_income_statement": "18(1)(3)",
	"citizenship_lost":       "18(1)(4)",
	"foreign_citizenship":    "18(1)(4-1)",
	"duties_violated":        "18(1)(5)",
	"negative_attestation":   "18(1)(6)",
	"other_law":              "18(1)(7)",
}

// Violations for which dismissal deprives the rank at once (HR-11, Art. 13(2) part 2).
var rankDeprivingViolations = []string{"official_discipline", "administrative_corruption"}

// CaseInput opens a disciplinary or corruption case.
type CaseInput struct {
	Offence  string `json:"offence"` // corruption, discrediting, other
	OpenedOn Date   `json:"opened_on"`
	Summary  string `json:"summary"`
	Change
}

// Case is a disciplinary case.
type Case struct {
	ID       string `json:"id"`
	Offence  string `json:"offence"`
	OpenedOn Date   `json:"opened_on"`
	ClosedOn Date   `json:"closed_on"`
	Summary  string `json:"summary"`
}

// OpenCase records a case being considered against a person (HR-34 reads it).
func (s *Service) OpenCase(ctx context.Context, check Check, by policy.Subject, id string, in CaseInput) (Case, error) {
	var out Case
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		var err error
		out, err = openCase(ctx, tx, by, id, in)
		return err
	})
	return out, err
}

// openCase opens a case in tx (OpenCase; a posting refused without a valid
// reason, HR-23; an early recall for the person's own acts, HR-37).
func openCase(ctx context.Context, tx pgx.Tx, by policy.Subject, id string, in CaseInput) (Case, error) {
	out := Case{Offence: in.Offence, OpenedOn: in.OpenedOn, Summary: in.Summary}
	fs := in.fields()
	if !slices.Contains([]string{"corruption", "discrediting", "other"}, in.Offence) {
		fs = append(fs, fe("offence", "one of corruption (a corruption offence), discrediting (a disciplinary offence discrediting the civil service), other"))
	}
	if in.OpenedOn.IsZero() {
		fs = append(fs, fe("opened_on", "required"))
	}
	if strings.TrimSpace(in.Summary) == "" {
		fs = append(fs, fe("summary", "required"))
	}
	if len(fs) > 0 {
		return out, refusal("the case is invalid", fs...)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO disciplinary_cases (staff_id, offence, opened_on, summary) VALUES ($1, $2, $3, $4) RETURNING id`,
		id, in.Offence, in.OpenedOn, in.Summary).Scan(&out.ID); err != nil {
		return out, err
	}
	_, err := record(ctx, tx, id, "case_opened", out, in.Change, "", by)
	return out, err
}

// CloseInput closes a case.
type CloseInput struct {
	ClosedOn Date `json:"closed_on"`
	Change
}

// CloseCase closes a case.
func (s *Service) CloseCase(ctx context.Context, check Check, by policy.Subject, id, caseID string, in CloseInput) (Case, error) {
	var out Case
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		if !db.ValidUUID(caseID) {
			return valise.Errorf(valise.ENOTFOUND, "no such case")
		}
		err := tx.QueryRow(ctx, `SELECT id, offence, opened_on, closed_on, summary FROM disciplinary_cases WHERE id = $1 AND staff_id = $2 FOR UPDATE`,
			caseID, id).Scan(&out.ID, &out.Offence, &out.OpenedOn, &out.ClosedOn, &out.Summary)
		if err == pgx.ErrNoRows {
			return valise.Errorf(valise.ENOTFOUND, "no such case")
		}
		if err != nil {
			return err
		}
		fs := in.fields()
		if in.ClosedOn.IsZero() || in.ClosedOn.Before(out.OpenedOn) {
			fs = append(fs, fe("closed_on", "required, on or after the opening date"))
		}
		if len(fs) > 0 {
			return refusal("the closure is invalid", fs...)
		}
		if !out.ClosedOn.IsZero() {
			return valise.Errorf(valise.ECONFLICT, "the case was closed on %s", out.ClosedOn)
		}
		out.ClosedOn = in.ClosedOn
		if _, err := tx.Exec(ctx, `UPDATE disciplinary_cases SET closed_on = $2 WHERE id = $1`, caseID, in.ClosedOn); err != nil {
			return err
		}
		_, err = record(ctx, tx, id, "case_closed", out, in.Change, "", by)
		return err
	})
	return out, err
}

// PenaltyInput imposes a disciplinary penalty.
type PenaltyInput struct {
	Kind      string `json:"kind"`
	ImposedOn Date   `json:"imposed_on"`
	// DelayUntil ends a rank_delay: at most 12 months after imposed_on (HR-36);
	// no rank is assigned before it.
	DelayUntil Date   `json:"delay_until"`
	DemotionOf string `json:"demotion_of,omitempty"` // position or rank (Art. 22(2)(5): record which)
	Rank       int    `json:"rank,omitempty"`        // the lowered rank (demotion of rank)
	CaseID     string `json:"case_id,omitempty"`
	// Authority and Submission act on the rank for demotion of rank and
	// deprivation (the rank's authority, HR-04), and on the dismissal (HR-35).
	Authority  string `json:"authority"`
	Submission *Act   `json:"submission,omitempty"`
	// Violation, for a dismissal: official_discipline or administrative_corruption deprive the rank (HR-11).
	Violation string `json:"violation,omitempty"`
	Change
}

// Penalty is an imposed penalty.
type Penalty struct {
	ID          string       `json:"id"`
	Kind        string       `json:"kind"`
	Ordinal     int          `json:"ordinal"`
	ImposedOn   Date         `json:"imposed_on"`
	DelayUntil  Date         `json:"delay_until"`
	DemotionOf  string       `json:"demotion_of,omitempty"`
	CaseID      string       `json:"case_id,omitempty"`
	Rank        *RankChange  `json:"rank_change,omitempty"`
	Termination *Termination `json:"termination,omitempty"`
}

// Impose imposes a penalty (HR-36). A rank demotion, deprivation or a
// dismissal changes the rank or ends the service in the same transaction.
func (s *Service) Impose(ctx context.Context, check Check, by policy.Subject, id string, in PenaltyInput) (Penalty, error) {
	out := Penalty{Kind: in.Kind, ImposedOn: in.ImposedOn, DemotionOf: in.DemotionOf, CaseID: in.CaseID}
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		out.Ordinal = slices.Index(Penalties, in.Kind) + 1
		if out.Ordinal == 0 {
			fs = append(fs, fe("kind", "HR-36: one of "+strings.Join(Penalties, ", ")+" (Art. 22(2), in that order)"))
		}
		if in.ImposedOn.IsZero() {
			fs = append(fs, fe("imposed_on", "required"))
		}
		if in.Kind == "rank_delay" {
			limit := in.ImposedOn.AddDate(0, MaxRankDelayMonths, 0)
			switch {
			case in.DelayUntil.IsZero() || !in.DelayUntil.After(in.ImposedOn):
				fs = append(fs, fe("delay_until", "HR-36: a rank delay needs its end, after imposed_on"))
			case in.DelayUntil.After(limit):
				fs = append(fs, fe("delay_until", fmt.Sprintf("HR-36: a rank delay lasts up to one year (Art. 22(2)(4)): at most until %s", limit)))
			}
		} else if !in.DelayUntil.IsZero() {
			fs = append(fs, fe("delay_until", "only a rank_delay has an end date"))
		}
		if in.Kind == "demotion" && in.DemotionOf != "position" && in.DemotionOf != "rank" {
			fs = append(fs, fe("demotion_of", "a demotion lowers the position or the rank: say which (Art. 22(2)(5))"))
		}
		if in.Kind != "demotion" && in.DemotionOf != "" {
			fs = append(fs, fe("demotion_of", "only a demotion lowers a position or rank"))
		}
		if in.CaseID != "" {
			var n int
			if db.ValidUUID(in.CaseID) {
				_ = tx.QueryRow(ctx, `SELECT count(*) FROM disciplinary_cases WHERE id = $1 AND staff_id = $2`, in.CaseID, id).Scan(&n)
			}
			if n == 0 {
				fs = append(fs, fe("case_id", "no such case of this person"))
			}
		}
		if len(fs) > 0 {
			return refusal("the penalty is invalid", fs...)
		}
		var err error
		rank := RankInput{EffectiveDate: in.ImposedOn, Authority: in.Authority, Submission: in.Submission, Grounds: in.Reason, ChangeInfo: in.Change}
		switch {
		case in.Kind == "demotion" && in.DemotionOf == "rank":
			rank.Change, rank.Rank = RankLower, in.Rank
			out.Rank = &RankChange{}
			*out.Rank, err = changeRank(ctx, tx, by, id, rank, "rank_changed")
		case in.Kind == "rank_deprivation":
			rank.Change = RankDeprive
			out.Rank = &RankChange{}
			*out.Rank, err = changeRank(ctx, tx, by, id, rank, "rank_changed")
		case in.Kind == "dismissal":
			violation := in.Violation
			if violation == "" {
				violation = "official_discipline"
			}
			out.Termination = &Termination{}
			*out.Termination, err = terminate(ctx, tx, by, id, TerminationInput{Ground: "duties_violated", Violation: violation,
				EffectiveDate: in.ImposedOn, Authority: in.Authority, Submission: in.Submission, Change: in.Change})
		}
		if err != nil {
			return err
		}
		evID, err := record(ctx, tx, id, "penalty_imposed", out, in.Change, "", by)
		if err != nil {
			return err
		}
		var demotion *string
		if in.DemotionOf != "" {
			demotion = &in.DemotionOf
		}
		return tx.QueryRow(ctx, `INSERT INTO penalties (staff_id, kind, ordinal, imposed_on, delay_until, demotion_of, case_id, event_id)
			VALUES ($1, $2, $3, $4, $5, $6, nullif($7, '')::uuid, $8) RETURNING id`,
			id, in.Kind, out.Ordinal, in.ImposedOn, in.DelayUntil, demotion, in.CaseID, evID).Scan(&out.ID)
	})
	return out, err
}

// TerminationInput ends a person's service (Art. 18).
type TerminationInput struct {
	Ground        string `json:"ground"`
	Violation     string `json:"violation,omitempty"` // official_discipline, administrative_corruption (HR-11)
	EffectiveDate Date   `json:"effective_date"`      // the last day of service
	Authority     string `json:"authority"`           // the appointing authority of the position (HR-35)
	Submission    *Act   `json:"submission,omitempty"`
	Change
}

// Termination is the end of service as recorded.
type Termination struct {
	Ground        string        `json:"ground"`
	Article       string        `json:"article"`
	Violation     string        `json:"violation,omitempty"`
	EffectiveDate Date          `json:"effective_date"`
	Authority     string        `json:"authority"`
	RankDeprived  *RankChange   `json:"rank_deprived,omitempty"`
	Reserve       *ReserveEntry `json:"reserve,omitempty"`
}

// Terminate ends a person's service (HR-33, HR-34, HR-35, HR-11, HR-31).
func (s *Service) Terminate(ctx context.Context, check Check, by policy.Subject, id string, in TerminationInput) (Termination, error) {
	var out Termination
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		var err error
		out, err = terminate(ctx, tx, by, id, in)
		return err
	})
	return out, err
}

func terminate(ctx context.Context, tx pgx.Tx, by policy.Subject, id string, in TerminationInput) (Termination, error) {
	out := Termination{Ground: in.Ground, Article: TerminationGrounds[in.Ground], Violation: in.Violation,
		EffectiveDate: in.EffectiveDate, Authority: in.Authority}
	fs := in.fields()
	if out.Article == "" {
		keys := make([]string, 0, len(TerminationGrounds))
		for k := range TerminationGrounds {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fs = append(fs, fe("ground", "HR-33: one of the Art. 18(1) grounds: "+strings.Join(keys, ", ")))
	}
	if in.Violation != "" && !slices.Contains(rankDeprivingViolations, in.Violation) {
		fs = append(fs, fe("violation", "official_discipline or administrative_corruption (Art. 13(2))"))
	}
	if in.EffectiveDate.IsZero() {
		fs = append(fs, fe("effective_date", "required"))
	}
	if len(fs) > 0 {
		return out, refusal("the termination is invalid", fs...)
	}
	// HR-25: a negative attestation result is a ground only when one is on file.
	if in.Ground == "negative_attestation" {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM attestations WHERE staff_id = $1 AND result = 'negative' AND held_on <= $2`,
			id, in.EffectiveDate).Scan(&n); err != nil {
			return out, err
		}
		if n == 0 {
			return out, conflict("HR-25", "no negative attestation result is on file on or before %s (Art. 18(1)(6))", in.EffectiveDate)
		}
	}
	var terminated Date
	var category, title string
	err := tx.QueryRow(ctx, `SELECT s.terminated_on, coalesce(p.category, 'other'), coalesce(p.title, '')
		FROM staff s LEFT JOIN staff_positions p ON p.staff_id = s.id AND p.end_date IS NULL WHERE s.id = $1`, id).Scan(&terminated, &category, &title)
	if err != nil {
		return out, err
	}
	if !terminated.IsZero() {
		return out, conflict("HR-33", "the service already ended on %s", terminated)
	}
	// HR-35: the official with the right to appoint dismisses (Art. 18(2)).
	want, err := appointingAuthority(ctx, tx, category)
	if err != nil {
		return out, err
	}
	if in.Authority != want {
		return out, refusal("the termination is invalid", fe("authority", fmt.Sprintf("HR-35: a %s is dismissed by the %s, who appoints to the position (Art. 18(2), 9(2)), not %q", title, want, in.Authority)))
	}
	// HR-34: no own resignation while a corruption or discrediting case is open.
	if in.Ground == "own_resignation" {
		var c Case
		err := tx.QueryRow(ctx, `SELECT id, offence, opened_on FROM disciplinary_cases WHERE staff_id = $1
			AND offence IN ('corruption', 'discrediting') AND opened_on <= $2 AND (closed_on IS NULL OR closed_on > $2)
			ORDER BY opened_on LIMIT 1`, id, in.EffectiveDate).Scan(&c.ID, &c.Offence, &c.OpenedOn)
		if err == nil {
			what := "a corruption offence"
			if c.Offence == "discrediting" {
				what = "a disciplinary offence discrediting the civil service"
			}
			e := conflict("HR-34", "own resignation is not available while liability for %s is being considered (case of %s, Art. 18(1)(1))", what, c.OpenedOn)
			e.(*valise.Error).Extra["case_id"] = c.ID
			return out, e
		}
		if err != pgx.ErrNoRows {
			return out, err
		}
	}
	// HR-11: dismissal for violating official discipline or an administrative
	// corruption offence deprives the rank, in this transaction.
	if slices.Contains(rankDeprivingViolations, in.Violation) {
		if cur, err := currentRank(ctx, tx, id); err != nil {
			return out, err
		} else if cur != nil {
			rc, err := changeRank(ctx, tx, by, id, RankInput{Change: RankDeprive, EffectiveDate: in.EffectiveDate,
				Authority: rankAuthority(cur.Rank), Submission: in.Submission,
				Grounds: "HR-11: dismissed for " + strings.ReplaceAll(in.Violation, "_", " ") + " (Art. 13(2) part 2)", ChangeInfo: in.Change}, "rank_deprived_on_dismissal")
			if err != nil {
				return out, err
			}
			out.RankDeprived = &rc
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE staff_positions SET end_date = $2 WHERE staff_id = $1 AND end_date IS NULL`, id, in.EffectiveDate); err != nil {
		return out, err
	}
	if _, err := tx.Exec(ctx, `UPDATE service_periods SET end_date = $2 WHERE staff_id = $1 AND end_date IS NULL`, id, in.EffectiveDate); err != nil {
		return out, err
	}
	// HR-31 and erratum 4: into the reserve automatically.
	basis := "termination"
	if in.Ground == "own_resignation" {
		basis = "own_will"
	}
	evID, err := record(ctx, tx, id, "terminated", out, in.Change, "", by)
	if err != nil {
		return out, err
	}
	res, err := addReserve(ctx, tx, id, basis, in.EffectiveDate, true, evID)
	if err != nil {
		return out, err
	}
	out.Reserve = &res
	b, _ := json.Marshal(out)
	_, err = tx.Exec(ctx, `UPDATE staff SET terminated_on = $2, termination = $3 WHERE id = $1`, id, in.EffectiveDate, b)
	return out, err
}
