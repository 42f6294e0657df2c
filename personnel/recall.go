package personnel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
	"valise/policy"
)

// Recall from a posting (R§21-23, R§31; early recall HR-37, Art. 23): early
// recall for a gross violation or acts entailing liability, the person's or
// an accompanying family member's, is in addition to discipline, never
// instead of it: for the person's own acts a disciplinary case is linked, or
// opened in the same transaction.

// Recall grounds: ordinary (R§21), early (R§22, R§23; Art. 23), pregnancy (R§31).
var RecallGrounds = map[string]string{
	"term_expired":            "R§21(1)",
	"own_wish":                "R§21(2)",
	"maternity_or_adoption":   "R§21(3)",
	"educational_leave":       "R§21(4)",
	"court_decision":          "R§21(5)",
	"gross_violation":         "Art. 23(1), R§22",
	"liability_act":           "Art. 23(1), R§22",
	"family_member_act":       "Art. 23(2), R§23",
	"pregnancy_air_transport": "R§31",
}

func earlyGround(g string) bool {
	return g == "gross_violation" || g == "liability_act" || g == "family_member_act"
}

// RecallInput decides a recall.
type RecallInput struct {
	Ground         string `json:"ground"`
	FamilyMemberID string `json:"family_member_id,omitempty"`
	Facts          string `json:"facts"`
	DecidedOn      Date   `json:"decided_on"`
	CaseID         string `json:"case_id,omitempty"`
	Change
}

// Recall is a recorded recall.
type Recall struct {
	ID             string `json:"id"`
	Ground         string `json:"ground"`
	Basis          string `json:"basis"`
	Early          bool   `json:"early"`
	FamilyMemberID string `json:"family_member_id,omitempty"`
	Facts          string `json:"facts"`
	DecidedOn      Date   `json:"decided_on"`
	Case           *Case  `json:"case,omitempty"`
}

// RecallFromPosting records a recall decision on a running posting; the
// return itself is recorded by Return.
func (s *Service) RecallFromPosting(ctx context.Context, check Check, by policy.Subject, id, postingID string, in RecallInput) (Recall, error) {
	out := Recall{Ground: in.Ground, Basis: RecallGrounds[in.Ground], Early: earlyGround(in.Ground), FamilyMemberID: in.FamilyMemberID,
		Facts: in.Facts, DecidedOn: in.DecidedOn}
	_, err := s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		fs := in.fields()
		if out.Basis == "" {
			fs = append(fs, fe("ground", "one of "+strings.Join(sortedKeys(RecallGrounds), ", ")))
		}
		if strings.TrimSpace(in.Facts) == "" {
			fs = append(fs, fe("facts", "the facts established"))
		}
		if in.DecidedOn.IsZero() {
			fs = append(fs, fe("decided_on", "required"))
		}
		if (in.Ground == "family_member_act") != (in.FamilyMemberID != "") {
			fs = append(fs, fe("family_member_id", "HR-37: named for, and only for, an act of a family member (Art. 23(2))"))
		}
		if len(fs) > 0 {
			return refusal("the recall is invalid", fs...)
		}
		if p.Kind != PostingForeign || !p.ReturnedOn.IsZero() {
			return conflict("HR-37", "a recall is from a running posting abroad")
		}
		if in.FamilyMemberID != "" {
			var n int
			if db.ValidUUID(in.FamilyMemberID) {
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM family_members WHERE id = $1 AND staff_id = $2`, in.FamilyMemberID, id).Scan(&n); err != nil {
					return err
				}
			}
			if n == 0 {
				return refusal("the recall is invalid", fe("family_member_id", "not a family member on this record"))
			}
		}
		var caseID *string
		if in.Ground == "gross_violation" || in.Ground == "liability_act" {
			if in.CaseID != "" {
				var c Case
				err := error(pgx.ErrNoRows)
				if db.ValidUUID(in.CaseID) {
					err = tx.QueryRow(ctx, `SELECT id, offence, opened_on, coalesce(closed_on, '0001-01-01'::date), summary FROM disciplinary_cases WHERE id = $1 AND staff_id = $2`,
						in.CaseID, id).Scan(&c.ID, &c.Offence, &c.OpenedOn, &c.ClosedOn, &c.Summary)
				}
				if errors.Is(err, pgx.ErrNoRows) {
					return refusal("the recall is invalid", fe("case_id", "not a disciplinary case of this record"))
				}
				if err != nil {
					return err
				}
				if c.ClosedOn.Year() == 1 {
					c.ClosedOn = Date{}
				}
				out.Case = &c
			} else {
				c, err := openCase(ctx, tx, by, id, CaseInput{Offence: "other", OpenedOn: in.DecidedOn,
					Summary: fmt.Sprintf("HR-37: early recall for %s: %s (discipline alongside the recall, Art. 23(1))", strings.ReplaceAll(in.Ground, "_", " "), in.Facts),
					Change:  in.Change})
				if err != nil {
					return err
				}
				out.Case = &c
			}
			caseID = &out.Case.ID
		}
		ev, err := record(ctx, tx, id, "recalled", map[string]any{"posting_id": p.ID, "recall": out}, in.Change, "", by)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO recalls (staff_id, posting_id, ground, early, family_member_id, facts, decided_on, case_id, event_id)
			VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, $6, $7, $8, $9) RETURNING id`,
			id, p.ID, in.Ground, out.Early, in.FamilyMemberID, in.Facts, in.DecidedOn, caseID, ev).Scan(&out.ID)
	})
	return out, err
}
