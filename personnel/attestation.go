package personnel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Attestation after return (HR-25, Art. 16): personnel returning from a
// foreign institution are attested under a procedure the President sets; the
// Law gives no timing, so when it falls due is reference data (attestation
// after_return {months}). A negative result is a termination ground
// (Art. 18(1)(6)), applied through Terminate.

// Attestation is one attestation due or held.
type Attestation struct {
	ID        string `json:"id"`
	PostingID string `json:"posting_id,omitempty"`
	DueOn     Date   `json:"due_on"`
	HeldOn    Date   `json:"held_on"`
	Result    string `json:"result,omitempty"`
}

// attestationDue is when the attestation after a return falls due.
func attestationDue(ctx context.Context, q db.Querier, cal *Calendar, returned Date) (Date, error) {
	var v struct {
		Months int `json:"months"`
	}
	found, err := refValue(ctx, q, RefAttestation, "after_return", &v)
	if err != nil {
		return Date{}, err
	}
	if !found || v.Months <= 0 {
		return Date{}, fmt.Errorf("reference attestation/after_return is missing")
	}
	return Date{cal.NextWorkingDay(returned.AddDate(0, v.Months, 0).Time)}, nil
}

// Attestations lists a record's attestations.
func (s *Service) Attestations(ctx context.Context, check Check, id string) ([]Attestation, error) {
	out := []Attestation{}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, coalesce(posting_id::text, ''), due_on, held_on, coalesce(result, '') FROM attestations WHERE staff_id = $1 ORDER BY due_on`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Attestation, error) {
			var a Attestation
			err := row.Scan(&a.ID, &a.PostingID, &a.DueOn, &a.HeldOn, &a.Result)
			return a, err
		})
		return err
	})
	return out, err
}

// AttestationResultInput records the result; Terminate, with a negative
// result, ends the service on that ground in the same transaction.
type AttestationResultInput struct {
	HeldOn    Date              `json:"held_on"`
	Result    string            `json:"result"`
	Terminate *TerminationInput `json:"terminate,omitempty"`
	Change
}

// AttestationResult is the attestation with the termination it led to.
type AttestationResult struct {
	Attestation
	Termination *Termination `json:"termination,omitempty"`
}

// RecordAttestation records an attestation's result (HR-25).
func (s *Service) RecordAttestation(ctx context.Context, check Check, by policy.Subject, id, attID string, in AttestationResultInput) (AttestationResult, error) {
	var out AttestationResult
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		if !db.ValidUUID(attID) {
			return valise.Errorf(valise.ENOTFOUND, "no such attestation")
		}
		a := &out.Attestation
		err := tx.QueryRow(ctx, `SELECT id, coalesce(posting_id::text, ''), due_on, held_on, coalesce(result, '') FROM attestations
			WHERE id = $1 AND staff_id = $2 FOR UPDATE`, attID, id).Scan(&a.ID, &a.PostingID, &a.DueOn, &a.HeldOn, &a.Result)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Errorf(valise.ENOTFOUND, "no such attestation")
		}
		if err != nil {
			return err
		}
		fs := in.fields()
		if in.Result != "positive" && in.Result != "negative" {
			fs = append(fs, fe("result", "positive or negative"))
		}
		if in.HeldOn.IsZero() {
			fs = append(fs, fe("held_on", "required"))
		}
		if in.Terminate != nil && in.Result != "negative" {
			fs = append(fs, fe("terminate", "HR-25: only a negative result is a termination ground (Art. 18(1)(6))"))
		}
		if len(fs) > 0 {
			return refusal("the attestation result is invalid", fs...)
		}
		if a.Result != "" {
			return conflict("HR-25", "the attestation was held on %s (%s)", a.HeldOn, a.Result)
		}
		a.HeldOn, a.Result = in.HeldOn, in.Result
		if _, err := tx.Exec(ctx, `UPDATE attestations SET held_on = $2, result = $3 WHERE id = $1`, attID, in.HeldOn, in.Result); err != nil {
			return err
		}
		if _, err := record(ctx, tx, id, "attestation_result", a, in.Change, "", by); err != nil {
			return err
		}
		if in.Terminate != nil {
			t := *in.Terminate
			t.Ground = "negative_attestation"
			if t.Change.Reason == "" && t.Change.Act.Number == "" {
				t.Change = in.Change
			}
			term, err := terminate(ctx, tx, by, id, t)
			if err != nil {
				return err
			}
			out.Termination = &term
		}
		return nil
	})
	return out, err
}

func init() { RegisterAlertSource("attestation", attestationAlerts) }

// attestationAlerts: an attestation after return not yet held, from the
// general lead time before its due date (HR-25).
func attestationAlerts(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error) {
	lead, err := LeadTime(ctx, q, "personnel.alert_lead")
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT a.id, s.id, s.full_name, a.due_on FROM attestations a JOIN staff s ON s.id = a.staff_id
		WHERE a.result IS NULL AND s.terminated_on IS NULL AND a.due_on <= $1`, asOf.Add(lead))
	if err != nil {
		return nil, err
	}
	var out []Alert
	var a Alert
	var due Date
	_, err = pgx.ForEachRow(rows, []any{&a.Ref, &a.StaffID, &a.StaffName, &due}, func() error {
		a.Kind, a.Rule, a.Due, a.Subject = "attestation_due", "HR-25", due.Time, "attestation after return from the foreign institution (Art. 16)"
		out = append(out, a)
		return nil
	})
	return out, err
}
