package personnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Entitlements and payments the Law computes (issue 15, HR-40 ... HR-46):
// Art. 25(1) part 4, 25(4), 25(9)-(14), 26(1), 29, 29-1, 30. A computation
// is a preview: it reads the record and the reference values and changes
// nothing. Recording it is a decision: one entitlement_decisions row and one
// staff_events row (who, when, why, act) in the same transaction. Every
// result carries how it was computed: the rule, each input and where it came
// from, each condition, each multiplier or block, the reference values used
// with their validity, and the arithmetic.

// Entitlement kinds.
const (
	EntDeathInDuty     = "death_in_duty"    // HR-40, HR-41: Art. 25(9)
	EntDisability      = "disability"       // HR-40: Art. 25(12)
	EntDutyInjury      = "duty_injury"      // HR-40: Art. 25(13)
	EntBurial          = "burial"           // HR-40: Art. 26(1)
	EntDeathAllowance  = "death_allowance"  // HR-43: Art. 25(1) part 4
	EntFamilyRetention = "family_retention" // HR-42: Art. 25(10)
	EntAnnualLeave     = "annual_leave"     // HR-44: Art. 30, 25(4)
	EntPayment         = "payment"          // HR-45: Art. 29
	EntVeteran         = "veteran"          // HR-46: Art. 1(7), 29-1
)

// EntitlementKinds lists the kinds in the order of the rules.
var EntitlementKinds = []string{EntDeathInDuty, EntDisability, EntDutyInjury, EntBurial, EntDeathAllowance,
	EntFamilyRetention, EntAnnualLeave, EntPayment, EntVeteran}

// Numbers the Law itself sets (law-digest §2.15): code, not reference data.
const (
	MultDeathInDuty    = 60 // N30, Art. 25(9)
	MultBurial         = 3  // N38, N39, Art. 26(1)
	MultDeathAllowance = 3  // N29, Art. 25(1) part 4 (average monthly wages)
	MultHealth         = 2  // N42, Art. 30(2)
	AnnualLeaveDays    = 30 // N41, Art. 30(1)
	DutyDeathYears     = 1  // N31, Art. 25(9): death within one year of the injury
	RetentionMonths    = 1  // N32, Art. 25(10)
	VeteranTotalYears  = 25 // N1, Art. 1(7)
	VeteranDiploYears  = 10 // N2, Art. 1(7)
)

// DisabilityMultipliers by disability group (N33-N35, Art. 25(12)).
var DisabilityMultipliers = map[int]int64{1: 30, 2: 18, 3: 6}

// InjuryMultipliers by severity (N36, N37, Art. 25(13)).
var InjuryMultipliers = map[string]int64{"severe": 3, "light": 1}

// Outcomes of a computation.
const (
	OutcomePayable     = "payable"      // an amount is due
	OutcomeBlocked     = "blocked"      // Art. 25(14): established as unrelated to official duties
	OutcomeNotEntitled = "not_entitled" // a condition of the rule is not met (each is listed)
	OutcomeDetermined  = "determined"   // a determination without an amount (leave days, retention, the veteran flag)
)

// Payee is who receives a one-time amount paid to the family (Art. 25(1)
// part 4, 25(9), 26(1) part 1).
type Payee struct {
	FullName string `json:"full_name"`
	// spouse or close_relative (Art. 25(1) part 4, 25(9): the spouse or one of
	// the close relatives under the Marriage and Family Code); family_member
	// (Art. 26(1) part 1).
	Relation string `json:"relation"`
}

// EntitlementInput asks for one computation. Which fields a kind reads is
// in docs/personnel.md and the OpenAPI document.
type EntitlementInput struct {
	Kind string `json:"kind"`
	// On is the accrual date (өтемақыны есепке жазу күні): the salary, the
	// length of service and the reference values are taken on it. Default today.
	On                      Date   `json:"on"`
	IncidentID              string `json:"incident_id,omitempty"`
	DiedOn                  Date   `json:"died_on"`
	Cause                   string `json:"cause,omitempty"` // death_in_duty: killed_on_duty or died_of_injury
	DiedAbroad              bool   `json:"died_abroad,omitempty"`
	FamilyMemberID          string `json:"family_member_id,omitempty"` // burial of an accompanying family member
	DisabilityGroup         int    `json:"disability_group,omitempty"`
	DisabilityEstablishedOn Date   `json:"disability_established_on"`
	// UnrelatedToDuties is the act by which it was established that the
	// death, illness or injury was unrelated to official duties (Art. 25(14)).
	UnrelatedToDuties  *Act   `json:"unrelated_to_duties,omitempty"`
	AverageMonthlyWage *Money `json:"average_monthly_wage,omitempty"`
	EndsOn             Date   `json:"ends_on"` // family_retention: an earlier end (the "reasonable period")
	LeaveStart         Date   `json:"leave_start"`
	Payment            string `json:"payment,omitempty"`  // rare_language, state_secrets, representation_attire, rank
	Language           string `json:"language,omitempty"` // rare_language: ISO 639-1
	// TotalExperienceYears is the person's whole work experience in full
	// years, from the labour record (Art. 1(7)); Valise holds only the
	// diplomatic service.
	TotalExperienceYears *int   `json:"total_experience_years,omitempty"`
	RetirementAge        string `json:"retirement_age,omitempty"` // a retirement_age reference code
	// OtherServiceYears adds length of service the record does not hold
	// (earlier state service counted by the pay system) to the salary step.
	OtherServiceYears int `json:"other_service_years,omitempty"`
	// LastMFAPosition names the last position held in the MFA when the record
	// has none (service before Valise); ignored when the record has one.
	LastMFAPosition string `json:"last_mfa_position,omitempty"`
	Payee           *Payee `json:"payee,omitempty"`
}

// RecordEntitlementInput records a computed decision, with why and the act.
type RecordEntitlementInput struct {
	EntitlementInput
	Change
}

// Input is one input of a computation and where it came from: request (the
// officer gave it), record (the staff record), law (the Law's own number).
type Input struct {
	Name   string `json:"name"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// Condition is one condition of the rule and whether it is met.
type Condition struct {
	Rule string `json:"rule"`
	Text string `json:"text"`
	Met  bool   `json:"met"`
}

// Factor is a multiplier or a block applied.
type Factor struct {
	Kind    string `json:"kind"` // multiplier, block, minimum
	Name    string `json:"name"`
	Value   string `json:"value"`
	Article string `json:"article"`
}

// FamilyRetained is an accompanying family member keeping the Art. 25
// guarantees after the staff member's death (HR-42).
type FamilyRetained struct {
	ID       string `json:"id"`
	FullName string `json:"full_name"`
	Relation string `json:"relation"`
	Ground   string `json:"ground"`
	Until    Date   `json:"until"`
}

// Determination is what a computation decides besides an amount.
type Determination struct {
	LeaveDays       int              `json:"leave_days,omitempty"`
	TravelRoundTrip []string         `json:"travel_round_trip,omitempty"` // who is paid round-trip transport (Art. 25(4))
	RetainedUntil   Date             `json:"retained_until"`
	MaxUntil        Date             `json:"max_until"`
	Family          []FamilyRetained `json:"family,omitempty"`
	Veteran         *bool            `json:"veteran,omitempty"`
	VeteranPayment  *bool            `json:"veteran_payment,omitempty"`
}

// Computation is a computed entitlement and how it was computed.
type Computation struct {
	Kind            string        `json:"kind"`
	Rule            string        `json:"rule"`
	Article         string        `json:"article"`
	Title           string        `json:"title"`
	StaffID         string        `json:"staff_id"`
	PersonnelNumber string        `json:"personnel_number"`
	FullName        string        `json:"full_name"`
	On              Date          `json:"on"`
	Outcome         string        `json:"outcome"`
	Amount          *Money        `json:"amount"` // tenge; null for a determination without an amount
	Currency        string        `json:"currency,omitempty"`
	Period          string        `json:"period,omitempty"` // one_time, monthly, annual, per_leave, as_set
	Payee           *Payee        `json:"payee,omitempty"`
	Inputs          []Input       `json:"inputs"`
	Conditions      []Condition   `json:"conditions"`
	Factors         []Factor      `json:"factors"`
	References      []RefUsed     `json:"references"`
	Arithmetic      []string      `json:"arithmetic"`
	Determination   Determination `json:"determination"`
	Notes           []string      `json:"notes"`
	key             string        // one decision per key (a one-time payment is decided once)
	incidentID      string
}

// Decision is a recorded computation.
type Decision struct {
	ID          string      `json:"id"`
	StaffID     string      `json:"staff_id"`
	Kind        string      `json:"kind"`
	Rule        string      `json:"rule"`
	Outcome     string      `json:"outcome"`
	Amount      *Money      `json:"amount"`
	EventID     string      `json:"event_id"`
	Reason      string      `json:"reason"`
	Act         Act         `json:"act"`
	RecordedBy  string      `json:"recorded_by"`
	DecidedAt   time.Time   `json:"decided_at"`
	Computation Computation `json:"computation"`
	// Supersedes: the decision this one corrects; SupersededBy: the
	// correction that replaced this one (it then no longer applies).
	Supersedes   string `json:"supersedes,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
}

// IncidentInput records an injury or illness received while performing
// official duties abroad (HR-41: the date is kept).
type IncidentInput struct {
	Kind        string `json:"kind"`     // injury, illness
	Severity    string `json:"severity"` // injury: severe or light (Art. 25(13))
	OccurredOn  Date   `json:"occurred_on"`
	Country     string `json:"country"` // ISO 3166, not KZ: abroad
	Description string `json:"description"`
	Change
}

// Incident is a recorded duty incident abroad.
type Incident struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Severity    string `json:"severity,omitempty"`
	OccurredOn  Date   `json:"occurred_on"`
	Country     string `json:"country"`
	Description string `json:"description"`
	EventID     string `json:"event_id"`
}

// RecordIncident records a duty incident abroad.
func (s *Service) RecordIncident(ctx context.Context, check Check, by policy.Subject, id string, in IncidentInput) (Incident, error) {
	out := Incident{Kind: in.Kind, Severity: in.Severity, OccurredOn: in.OccurredOn, Country: in.Country, Description: in.Description}
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		switch in.Kind {
		case "injury":
			if _, ok := InjuryMultipliers[in.Severity]; !ok {
				fs = append(fs, fe("severity", "an injury is severe or light (Art. 25(13))"))
			}
		case "illness":
			if in.Severity != "" {
				fs = append(fs, fe("severity", "only an injury has a severity"))
			}
		default:
			fs = append(fs, fe("kind", "injury (wound, trauma, contusion) or illness (Art. 25(12))"))
		}
		if in.OccurredOn.IsZero() {
			fs = append(fs, fe("occurred_on", "required"))
		} else if in.OccurredOn.After(Today(s.now())) {
			fs = append(fs, fe("occurred_on", "must not be in the future"))
		}
		if !countryRe.MatchString(in.Country) || in.Country == "KZ" {
			fs = append(fs, fe("country", "the ISO 3166 code of the foreign state where it happened (Art. 25(9): abroad)"))
		}
		if strings.TrimSpace(in.Description) == "" {
			fs = append(fs, fe("description", "required"))
		}
		if len(fs) > 0 {
			return refusal("the duty incident is invalid", fs...)
		}
		ev, err := record(ctx, tx, id, "duty_incident_recorded", out, in.Change, "", by)
		if err != nil {
			return err
		}
		out.EventID = ev
		return tx.QueryRow(ctx, `INSERT INTO duty_incidents (staff_id, kind, severity, occurred_on, country, description, event_id)
			VALUES ($1, $2, nullif($3, ''), $4, $5, $6, $7) RETURNING id`, id, in.Kind, in.Severity, in.OccurredOn, in.Country,
			in.Description, ev).Scan(&out.ID)
	})
	return out, err
}

const incidentCols = `id, kind, coalesce(severity, ''), occurred_on, country, description, event_id`

func scanIncident(row pgx.Row, x *Incident) error {
	return row.Scan(&x.ID, &x.Kind, &x.Severity, &x.OccurredOn, &x.Country, &x.Description, &x.EventID)
}

// Incidents lists a person's duty incidents, oldest first.
func (s *Service) Incidents(ctx context.Context, check Check, id string) ([]Incident, error) {
	var out []Incident
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+incidentCols+` FROM duty_incidents WHERE staff_id = $1 ORDER BY occurred_on, id`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Incident, error) {
			var x Incident
			return x, scanIncident(row, &x)
		})
		return err
	})
	return out, err
}

// PreviewEntitlement computes an entitlement and changes nothing. It is an
// officer's tool: the caller must be allowed to manage the record (a
// personnel officer of its unit, never the person themselves).
func (s *Service) PreviewEntitlement(ctx context.Context, check Check, id string, in EntitlementInput) (Computation, error) {
	var out Computation
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaff(ctx, tx, id, check, policy.ActStaffManage); err != nil {
			return err
		}
		var err error
		out, err = s.compute(ctx, tx, id, in)
		return err
	})
	return out, err
}

// RecordEntitlement computes an entitlement and records the decision and its
// event in one transaction. A one-time amount is decided once: a second
// payable decision for the same death, incident or deceased is refused.
func (s *Service) RecordEntitlement(ctx context.Context, check Check, by policy.Subject, id string, in RecordEntitlementInput) (Decision, error) {
	var out Decision
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		var err error
		out, err = s.decide(ctx, tx, by, id, in, nil)
		return err
	})
	return out, err
}

// CorrectEntitlement corrects a recorded decision: the inputs are computed
// again and recorded as a new decision that supersedes the old one, with the
// correction's reason and act (an entitlement_corrected event naming the old
// decision's event). Both decisions stay; only the newest of a chain is
// corrected, and only by whoever may record decisions on the record.
func (s *Service) CorrectEntitlement(ctx context.Context, check Check, by policy.Subject, id, decisionID string, in RecordEntitlementInput) (Decision, error) {
	var out Decision
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		if !db.ValidUUID(decisionID) {
			return valise.Errorf(valise.ENOTFOUND, "no such decision")
		}
		var old Decision
		err := scanDecision(tx.QueryRow(ctx, `SELECT `+decisionCols+` FROM entitlement_decisions d JOIN staff_events e ON e.id = d.event_id
			WHERE d.staff_id = $1 AND d.id = $2 FOR UPDATE OF d`, id, decisionID), &old)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Errorf(valise.ENOTFOUND, "no such decision")
		}
		if err != nil {
			return err
		}
		if old.SupersededBy != "" {
			return conflict("correction", "decision %s is already corrected by decision %s: correct the newest one", old.ID, old.SupersededBy)
		}
		if in.Kind != old.Kind {
			return refusal("the correction is invalid", fe("kind", fmt.Sprintf("a correction recomputes the same entitlement (%s); a different one is a new decision", old.Kind)))
		}
		out, err = s.decide(ctx, tx, by, id, in, &old)
		return err
	})
	return out, err
}

// decide computes and records a decision (superseding old when it is a correction).
func (s *Service) decide(ctx context.Context, tx pgx.Tx, by policy.Subject, id string, in RecordEntitlementInput, old *Decision) (Decision, error) {
	if fs := in.fields(); len(fs) > 0 {
		return Decision{}, refusal("the decision is invalid", fs...)
	}
	c, err := s.compute(ctx, tx, id, in.EntitlementInput)
	if err != nil {
		return Decision{}, err
	}
	if needsPayee(c) && in.Payee == nil {
		return Decision{}, refusal("the decision is invalid", fe("payee", fmt.Sprintf("%s: name who receives it (%s)", c.Rule, payeeRelations(c))))
	}
	supersedes, kind, corrects := "", "entitlement_decided", ""
	if old != nil {
		supersedes, kind, corrects = old.ID, "entitlement_corrected", old.EventID
	}
	if c.key != "" && c.Outcome == OutcomePayable {
		// A decision superseded by a correction no longer counts; nor does the one being corrected.
		var prev string
		err := tx.QueryRow(ctx, `SELECT d.id FROM entitlement_decisions d WHERE d.staff_id = $1 AND d.kind = $2 AND d.outcome = 'payable'
			AND d.computation->>'key' = $3 AND d.id::text <> $4
			AND NOT EXISTS (SELECT 1 FROM entitlement_decisions n WHERE n.supersedes = d.id) LIMIT 1`, id, c.Kind, c.key, supersedes).Scan(&prev)
		if err == nil {
			return Decision{}, conflict(c.Rule, "this one-time amount was already decided (decision %s): it is paid once", prev)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Decision{}, err
		}
	}
	comp, err := json.Marshal(struct {
		Computation
		Key string `json:"key,omitempty"`
	}{c, c.key})
	if err != nil {
		return Decision{}, err
	}
	data := map[string]any{"kind": c.Kind, "rule": c.Rule, "article": c.Article,
		"outcome": c.Outcome, "amount": c.Amount, "on": c.On, "payee": c.Payee}
	if old != nil {
		data["supersedes"] = old.ID
		data["was"] = map[string]any{"outcome": old.Outcome, "amount": old.Amount}
	}
	ev, err := record(ctx, tx, id, kind, data, in.Change, corrects, by)
	if err != nil {
		return Decision{}, err
	}
	var amount *int64
	if c.Amount != nil {
		a := int64(*c.Amount)
		amount = &a
	}
	out := Decision{StaffID: id, Kind: c.Kind, Rule: c.Rule, Outcome: c.Outcome, Amount: c.Amount, EventID: ev,
		Reason: in.Reason, Act: in.Act, RecordedBy: by.Username, Computation: c, Supersedes: supersedes}
	return out, tx.QueryRow(ctx, `INSERT INTO entitlement_decisions (staff_id, kind, rule, outcome, amount, incident_id, computation, event_id, supersedes)
		VALUES ($1, $2, $3, $4, $5, nullif($6, '')::uuid, $7, $8, nullif($9, '')::uuid) RETURNING id, decided_at`,
		id, c.Kind, c.Rule, c.Outcome, amount, c.incidentID, comp, ev, supersedes).Scan(&out.ID, &out.DecidedAt)
}

const decisionCols = `d.id, d.staff_id, d.kind, d.rule, d.outcome, d.amount, d.event_id, e.reason, e.act_number, e.act_date,
	e.recorded_by, d.decided_at, d.computation, coalesce(d.supersedes::text, ''),
	coalesce((SELECT n.id::text FROM entitlement_decisions n WHERE n.supersedes = d.id), '')`

func scanDecision(row pgx.Row, x *Decision) error {
	var amount *int64
	var comp []byte
	if err := row.Scan(&x.ID, &x.StaffID, &x.Kind, &x.Rule, &x.Outcome, &amount, &x.EventID, &x.Reason, &x.Act.Number,
		&x.Act.Date, &x.RecordedBy, &x.DecidedAt, &comp, &x.Supersedes, &x.SupersededBy); err != nil {
		return err
	}
	if amount != nil {
		m := Money(*amount)
		x.Amount = &m
	}
	return json.Unmarshal(comp, &x.Computation)
}

// Entitlements lists a person's recorded decisions, oldest first (the
// person may read their own).
func (s *Service) Entitlements(ctx context.Context, check Check, id string) ([]Decision, error) {
	var out []Decision
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+decisionCols+` FROM entitlement_decisions d JOIN staff_events e ON e.id = d.event_id
			WHERE d.staff_id = $1 ORDER BY d.decided_at, d.id`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Decision, error) {
			var x Decision
			return x, scanDecision(row, &x)
		})
		return err
	})
	return out, err
}

// Entitlement returns one recorded decision.
func (s *Service) Entitlement(ctx context.Context, check Check, id, decisionID string) (Decision, error) {
	var out Decision
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		if !db.ValidUUID(decisionID) {
			return valise.Errorf(valise.ENOTFOUND, "no such decision")
		}
		err := scanDecision(tx.QueryRow(ctx, `SELECT `+decisionCols+` FROM entitlement_decisions d JOIN staff_events e ON e.id = d.event_id
			WHERE d.staff_id = $1 AND d.id = $2`, id, decisionID), &out)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Errorf(valise.ENOTFOUND, "no such decision")
		}
		return err
	})
	return out, err
}

func needsPayee(c Computation) bool {
	switch c.Kind {
	case EntDeathInDuty, EntDeathAllowance:
		return true
	case EntBurial:
		return c.Article == "26(1) part 1"
	}
	return false
}

func payeeRelations(c Computation) string {
	if c.Kind == EntBurial {
		return "a family member: relation family_member"
	}
	return "the spouse or one of the close relatives: relation spouse or close_relative"
}

// HR-42 is an alert too: after a death during a posting, the accompanying
// family's Art. 25 guarantees end on the date a recorded family_retention
// decision sets (the latest decision of a record wins). The alert runs from
// the lead time (personnel.alert_lead) before that date until the date.
func init() { RegisterAlertSource(EntFamilyRetention, familyRetentionAlerts) }

func familyRetentionAlerts(ctx context.Context, q db.Querier, _ *Calendar, asOf time.Time) ([]Alert, error) {
	lead, err := LeadTime(ctx, q, "personnel.alert_lead")
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (d.staff_id) d.id::text, d.staff_id::text, s.full_name,
		(d.computation->'determination'->>'retained_until')::date, d.computation->>'on'
		FROM entitlement_decisions d JOIN staff s ON s.id = d.staff_id
		WHERE d.kind = $1 AND d.outcome = $2 AND NOT EXISTS (SELECT 1 FROM entitlement_decisions n WHERE n.supersedes = d.id)
		ORDER BY d.staff_id, d.decided_at DESC, d.id DESC`, EntFamilyRetention, OutcomeDetermined)
	if err != nil {
		return nil, err
	}
	var out []Alert
	var a Alert
	var until Date
	var on string
	_, err = pgx.ForEachRow(rows, []any{&a.Ref, &a.StaffID, &a.StaffName, &until, &on}, func() error {
		if until.IsZero() || midnight(asOf).After(until.Time) || !Within(until.Time, asOf, lead) {
			return nil
		}
		a.Kind, a.Rule, a.Due = "family_guarantees_ending", "HR-42", until.Time
		a.Subject = fmt.Sprintf("the accompanying family's Art. 25 guarantees end after %s (Art. 25(10): not more than one month after the death)", until)
		out = append(out, a)
		return nil
	})
	return out, err
}
