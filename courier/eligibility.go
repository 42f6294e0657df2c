package courier

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/personnel"
	"valise/policy"
	"valise/pouch"
)

// eligible decides who may carry a sheet's mail (Art. 1(3), DM-04, DM-05;
// issue 15) and returns the passport a career courier's check used. A
// career courier passes personnel.CourierEligibility; an ad hoc courier
// holds an identity document valid through the trip's last day; every
// bearer is cleared for every bag (issue 9). A refusal names every failed
// condition (409, failures[]).
func eligible(ctx context.Context, tx pgx.Tx, c *Courier, from, until time.Time, level policy.Level, check pouch.Check) (*personnel.PassportUsed, error) {
	passport, failures, err := bearerFailures(ctx, tx, c, from, until, level, check)
	if err != nil || len(failures) == 0 {
		return passport, err
	}
	reason := "courier_ineligible"
	if len(failures) == 1 && failures[0].Condition == "clearance" {
		reason = "courier_clearance"
	}
	fields := make([]valise.FieldError, len(failures))
	var why []string
	for i, f := range failures {
		fields[i] = valise.FieldError{Field: "courier_id", Reason: f.Rule + ": " + f.Reason}
		why = append(why, f.Condition)
	}
	return nil, &valise.Error{Code: valise.ECONFLICT,
		Message: "the bearer may not carry this mail (" + strings.Join(why, ", ") + "); every failed condition is listed",
		Fields:  fields, Extra: map[string]any{"reason": reason, "failures": failures}}
}

// bearerFailures lists every failed condition for bearer c (nil: no
// courier, e.g. an aircraft captain) carrying mail up to level on a trip.
// The reasons of the personnel conditions name dates and positions only
// for a caller the personnel policy lets read the courier's staff record.
func bearerFailures(ctx context.Context, tx pgx.Tx, c *Courier, from, until time.Time, level policy.Level, check pouch.Check) (*personnel.PassportUsed, []personnel.Failure, error) {
	failures := []personnel.Failure{}
	var passport *personnel.PassportUsed
	userID := ""
	if c != nil {
		userID = c.UserID
	}
	switch {
	case c != nil && c.Kind == policy.CourierCareer:
		el, err := personnel.CourierEligibility(ctx, tx, c.UserID, from, until)
		if err != nil {
			return nil, nil, err
		}
		failures, passport = append(failures, el.Failures...), el.Passport
		if len(failures) > 0 {
			mayRead := false
			if el.StaffID != "" {
				res, err := personnel.StaffResource(ctx, tx, el.StaffID)
				if err != nil {
					return nil, nil, err
				}
				switch err := check(ctx, policy.ActStaffRead, res); valise.ErrorCode(err) {
				case "":
					mayRead = true
				case valise.ENOTFOUND, valise.EFORBIDDEN:
				default:
					return nil, nil, err
				}
			}
			for i := range failures {
				if !mayRead {
					failures[i] = failures[i].Redacted()
				}
			}
		}
	case c != nil && c.Kind == policy.CourierAdHoc:
		_, last := personnel.TripDays(from, until)
		if exp, err := personnel.ParseDate(c.DocExpires); err != nil || exp.Before(last) {
			failures = append(failures, personnel.Failure{Condition: "identity_document", Rule: "DM-05",
				Reason: fmt.Sprintf("the identity document %s is valid until %s, before the trip ends on %s", c.DocNumber, c.DocExpires, last)})
		}
	}
	cleared, err := pouch.BearerClearance(ctx, tx, userID)
	if err != nil {
		return nil, nil, err
	}
	if level > cleared {
		failures = append(failures, personnel.Failure{Condition: "clearance", Rule: "clearance",
			Reason: fmt.Sprintf("cleared to %s, below %s, the highest bag on the sheet: every person who carries a bag is cleared for it", cleared, level)})
	}
	return passport, failures, nil
}

// Eligibility is what a dispatcher sees before issuing a sheet: whether
// the courier may carry mail of a level on a trip, and why not.
type Eligibility struct {
	CourierID string                  `json:"courier_id"`
	Kind      string                  `json:"kind"`
	ValidFrom time.Time               `json:"valid_from"`
	ValidTill time.Time               `json:"valid_until"`
	Level     string                  `json:"level"`
	Eligible  bool                    `json:"eligible"`
	Passport  *personnel.PassportUsed `json:"passport,omitempty"`
	Failures  []personnel.Failure     `json:"failures"`
}

// CheckEligibility runs the sheet's bearer check for courier id without
// issuing anything.
func (s *Service) CheckEligibility(ctx context.Context, id string, from, until time.Time, level policy.Level, check pouch.Check) (Eligibility, error) {
	var out Eligibility
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := get(ctx, tx, id)
		if err != nil {
			return err
		}
		p, fs, err := bearerFailures(ctx, tx, c, from, until, level, check)
		out = Eligibility{CourierID: c.ID, Kind: c.Kind, ValidFrom: from, ValidTill: until, Level: level.String(),
			Eligible: len(fs) == 0, Passport: p, Failures: fs}
		return err
	})
	return out, db.Classify(err)
}
