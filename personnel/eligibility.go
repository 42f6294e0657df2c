package personnel

// Who may carry the mail (Law Art. 1(3), DM-04; issue 15): a career
// diplomatic courier is a member of the diplomatic service personnel holding
// a state position in a diplomatic service body, here a position of the
// diplomatic courier service (reference courier_service/positions), not a
// user who merely holds the courier role. The courier package asks this
// before it issues a sheet, and adds the clearance and the ad hoc courier's
// identity document.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
	"valise/policy"
	"valise/pouch"
)

// Failure is one failed condition of courier eligibility.
type Failure struct {
	Condition string `json:"condition"` // staff_record, position, passport, clearance, identity_document, conflict_<source>
	Rule      string `json:"rule"`
	Reason    string `json:"reason"`
}

// generic is what a failure says to someone who may not read the staff
// record (personal data stays under the personnel policy).
var generic = map[string]string{
	"staff_record": "the courier's account is linked to no staff record of the diplomatic service serving through the trip (Art. 1(3))",
	"position":     "holds no position of the diplomatic courier service for the whole trip (Art. 1(3))",
	"passport":     "has no diplomatic or service passport with the holder valid through the trip's last day",
}

// Redacted is the failure as told to a caller who may not read the
// person's staff record: the condition and rule, without personal data.
func (f Failure) Redacted() Failure {
	g, ok := generic[f.Condition]
	if !ok {
		g = "is engaged elsewhere during the trip (" + strings.TrimPrefix(f.Condition, "conflict_") + ")"
	}
	return Failure{Condition: f.Condition, Rule: f.Rule, Reason: g}
}

// StaffResource is a staff record as the personnel policy sees it (for a
// caller outside personnel asking whether it may read it).
func StaffResource(ctx context.Context, q db.Querier, staffID string) (policy.Resource, error) {
	r := resource{id: staffID}
	var uid *string
	err := q.QueryRow(ctx, `SELECT u.code, s.user_id::text FROM staff s JOIN units u ON u.id = s.unit_id WHERE s.id = $1`, staffID).Scan(&r.unit, &uid)
	if uid != nil {
		r.userID = *uid
	}
	return r.policy(), err
}

// PassportUsed is the passport the eligibility check relied on: the courier
// sheet prints it.
type PassportUsed struct {
	ID        string `json:"id"`
	Number    string `json:"number"`
	Type      string `json:"type"` // diplomatic or service
	ExpiresOn Date   `json:"expires_on"`
}

// Eligibility is the outcome of the check: the staff record and passport it
// read, and every failed condition (none: eligible).
type Eligibility struct {
	StaffID  string        `json:"staff_id,omitempty"`
	Passport *PassportUsed `json:"passport,omitempty"`
	Failures []Failure     `json:"failures"`
}

// ConflictSource is one kind of engagement that keeps a courier from a trip:
// SQL selects one line describing each conflict, with $1 the staff record,
// $2 the trip's first day and $3 its last day (dates). Postings (rotation)
// and secondments add their entry here.
type ConflictSource struct {
	Name string // the failure's condition is "conflict_" + Name
	Rule string
	SQL  string
}

// ConflictSources are checked in order; every overlap is a failure.
var ConflictSources = []ConflictSource{
	// Leave (service periods of type leave, recorded with AddPeriod).
	{Name: "leave", Rule: "DM-04", SQL: `SELECT 'on leave ' || start_date || ' to ' || coalesce(end_date::text, 'open end')
		FROM service_periods WHERE staff_id = $1 AND period_type = 'leave'
		AND start_date <= $3 AND coalesce(end_date, 'infinity'::date) >= $2 ORDER BY start_date`},
	// A position in a foreign institution that is not a courier-service
	// position (an appointment abroad taking effect during the trip).
	{Name: "posting", Rule: "DM-04", SQL: `SELECT 'appointed ' || p.title || ' in ' || u.code || ' from ' || p.start_date
		FROM staff_positions p JOIN units u ON u.id = p.unit_id
		WHERE p.staff_id = $1 AND u.kind IN ('embassy', 'consulate', 'permanent_mission')
		AND p.start_date <= $3 AND coalesce(p.end_date, 'infinity'::date) >= $2
		AND NOT p.position_code = ANY (ARRAY(SELECT jsonb_array_elements_text(v.value->'positions') FROM (SELECT value FROM personnel_reference
			WHERE kind = 'courier_service' AND code = 'positions' ORDER BY id DESC LIMIT 1) v))
		ORDER BY p.start_date`},
	// Work in an international organisation (a posting without a position in
	// a foreign institution, HR-27) running during the trip.
	{Name: "posting_io", Rule: "DM-04", SQL: `SELECT 'working in ' || organisation || ' from ' || start_date
		FROM postings WHERE staff_id = $1 AND kind = 'international_organisation'
		AND start_date <= $3 AND coalesce(returned_on, end_date, 'infinity'::date) >= $2 ORDER BY start_date`},
	// A secondment (Decree 755, issue 14) ordered or running during the trip.
	{Name: "secondment", Rule: "DM-04", SQL: `SELECT 'seconded from ' || start_date || ' to ' || coalesce(extended_to, term_end)::text
		FROM secondments WHERE staff_id = $1 AND state IN ('ordered', 'serving', 'expiry_noticed') AND start_date IS NOT NULL
		AND start_date <= $3 AND coalesce(extended_to, term_end, 'infinity'::date) >= $2 ORDER BY start_date`},
}

// TripDays are the first and last calendar days (UTC) of a sheet's validity.
func TripDays(from, until time.Time) (Date, Date) {
	last := until.UTC()
	if last.Equal(last.Truncate(24*time.Hour)) && last.After(from) {
		last = last.Add(-time.Nanosecond) // a sheet valid until midnight ends the day before
	}
	return Today(from), Today(last)
}

// CourierEligibility checks, for the career courier linked to account
// userID and a trip from..until: a staff record (DM-04), not terminated
// before the trip ends, holding through the trip a position of the
// diplomatic courier service in a diplomatic service body (Art. 1(3)); a
// diplomatic or service passport with the holder, valid on every day of the
// trip, its last day included (R§2, R§6); no conflicting engagement
// (ConflictSources). Every failed condition is listed.
func CourierEligibility(ctx context.Context, q db.Querier, userID string, from, until time.Time) (Eligibility, error) {
	first, last := TripDays(from, until)
	var el Eligibility
	fail := func(cond, rule, format string, args ...any) {
		el.Failures = append(el.Failures, Failure{Condition: cond, Rule: rule, Reason: fmt.Sprintf(format, args...)})
	}
	var terminated *Date
	err := pgx.ErrNoRows
	if db.ValidUUID(userID) {
		err = q.QueryRow(ctx, `SELECT id, terminated_on FROM staff WHERE user_id = $1::uuid`, userID).Scan(&el.StaffID, &terminated)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		fail("staff_record", "DM-04", "the courier's account is linked to no staff record: a career courier is a member of the diplomatic service personnel (Art. 1(3)), not merely a user with the courier role")
		return el, nil
	}
	if err != nil {
		return el, err
	}
	if terminated != nil && terminated.Before(last) {
		fail("staff_record", "DM-04", "the person's service ends on %s, before the trip ends on %s", terminated, last)
	}
	// Art. 1(3): a position of the diplomatic courier service, in a
	// diplomatic service body, held from the first to the last day.
	var cs struct {
		Positions []string `json:"positions"`
	}
	if _, err := refValue(ctx, q, RefCourierService, "positions", &cs); err != nil {
		return el, err
	}
	rows, err := q.Query(ctx, `SELECT p.position_code, p.title, u.code, u.kind, p.start_date, p.end_date
		FROM staff_positions p JOIN units u ON u.id = p.unit_id
		WHERE p.staff_id = $1 AND p.start_date <= $3 AND coalesce(p.end_date, 'infinity'::date) >= $2 ORDER BY p.start_date`,
		el.StaffID, first, last)
	if err != nil {
		return el, err
	}
	type held struct {
		code, title, unit, kind string
		start, end              Date
	}
	positions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (held, error) {
		var h held
		err := r.Scan(&h.code, &h.title, &h.unit, &h.kind, &h.start, &h.end)
		return h, err
	})
	if err != nil {
		return el, err
	}
	ok := slices.ContainsFunc(positions, func(h held) bool {
		return slices.Contains(cs.Positions, h.code) && (pouch.Unit{Kind: h.kind}).IsDiplomaticService() &&
			!h.start.After(first) && (h.end.IsZero() || !h.end.Before(last))
	})
	if !ok {
		var now []string
		for _, h := range positions {
			now = append(now, h.title+" ("+h.unit+")")
		}
		held := "no position"
		if len(now) > 0 {
			held = strings.Join(now, ", ")
		}
		fail("position", "DM-04", "holds no position of the diplomatic courier service (%s) in a diplomatic service body from %s to %s (Art. 1(3)); holds %s",
			strings.Join(cs.Positions, ", "), first, last, held)
	}
	// A diplomatic or service passport with the holder, valid through the last day.
	var best Passport
	prow := q.QueryRow(ctx, `SELECT `+passportCols+` FROM passports p WHERE p.staff_id = $1 AND p.family_member_id IS NULL
		AND p.status <> 'applied' ORDER BY (p.status = 'issued' AND p.invalid_reason IS NULL) DESC, p.expires_on DESC LIMIT 1`, el.StaffID)
	best, err = scanPassport(prow, first)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		fail("passport", "R§2", "has no diplomatic or service passport")
	case err != nil:
		return el, err
	case best.Status != PassportIssued || best.InvalidReason != "":
		fail("passport", "R§2", "passport %s is %s%s: no valid passport with the holder (take it from the archive under R§14, or apply)",
			best.Number, best.Status, map[bool]string{true: " (" + best.InvalidReason + ")", false: ""}[best.InvalidReason != ""])
	case best.ExpiresOn.Before(last):
		fail("passport", "R§6", "passport %s is valid until %s, before the trip ends on %s", best.Number, best.ExpiresOn, last)
	case best.IssuedOn.After(first):
		fail("passport", "R§2", "passport %s is issued on %s, after the trip starts on %s", best.Number, best.IssuedOn, first)
	default:
		el.Passport = &PassportUsed{ID: best.ID, Number: best.Number, Type: best.Type, ExpiresOn: best.ExpiresOn}
	}
	for _, src := range ConflictSources {
		rows, err := q.Query(ctx, src.SQL, el.StaffID, first, last)
		if err != nil {
			return el, fmt.Errorf("conflict source %s: %w", src.Name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return el, fmt.Errorf("conflict source %s: %w", src.Name, err)
		}
		for _, l := range lines {
			fail("conflict_"+src.Name, src.Rule, "%s, during the trip %s to %s", l, first, last)
		}
	}
	return el, nil
}
