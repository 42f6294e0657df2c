package personnel

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// The rules of the rotation Rules that the first cut of issue 14 left open
// (rotation-digest §4.1): V01 (R§3, no case for secondees of other state
// bodies), V05 (R§6, both spouses in the diplomatic service), V15/V16 (R§29,
// the exceptional cases admitting a parent unable to work and the
// sibling-income test), R§31 (recall of a pregnant officer by week 26),
// V20 (R§30, R§32-34: leave only after recall and employment in the
// ministry), and the print of the notice of return (Annex 2).

// RefSubsistenceMinimum is the subsistence minimum of a fiscal year
// (code: the year, value {amount: tenge a month}) that the republican budget
// law sets; R§29(1) multiplies it (reference data: the Rules only point to it).
const RefSubsistenceMinimum = "subsistence_minimum"

// RefRotation holds the rotation settings the Rules leave to reading (code
// "settings", RotationSettings).
const RefRotation = "rotation"

// RotationSettings are readings of the rotation Rules a ministry chooses,
// reference data under RefRotation/"settings".
type RotationSettings struct {
	// R29AllParents applies the R§29 exceptional-case test to every parent,
	// also one admitted on R§28 documents (basis parent_needing_care). The
	// text ties the test only to parents unable to work; applying it to all
	// is an interpretation (rotation-digest V15, erratum 8): off by default.
	R29AllParents bool `json:"r29_all_parents"`
}

// rotationSettings reads RefRotation/"settings" (absent: the defaults).
func rotationSettings(ctx context.Context, q db.Querier) (RotationSettings, error) {
	var v RotationSettings
	_, err := refValue(ctx, q, RefRotation, "settings", &v)
	return v, err
}

// needsParentException reports whether a family member on basis must show
// an R§29 exceptional case to become eligible.
func (rs RotationSettings) needsParentException(basis string) bool {
	return basis == "parent_unable_to_work_exceptional" || (rs.R29AllParents && basis == "parent_needing_care")
}

func init() {
	refKinds = append(refKinds, RefRotation)
	refValidators[RefRotation] = func(strict func(any) error) []valise.FieldError {
		var x RotationSettings
		if err := strict(&x); err != nil {
			return []valise.FieldError{fe("value", "rotation settings are {r29_all_parents: true|false} (code settings)")}
		}
		return nil
	}
	refKinds = append(refKinds, RefSubsistenceMinimum)
	refValidators[RefSubsistenceMinimum] = func(strict func(any) error) []valise.FieldError {
		var x struct {
			Amount int64 `json:"amount"`
		}
		if err := strict(&x); err != nil || x.Amount < 1 {
			return []valise.FieldError{fe("value", "a subsistence minimum is {amount: tenge a month, > 0}; the code is the fiscal year")}
		}
		return nil
	}
	RegisterAlertSource("pregnancy_recall", pregnancyAlerts)
}

// --- V01 (R§3) ---

// secondeeOfOtherBody refuses a rotation case for a person on secondment to
// a foreign institution from another state body or the National Bank (R§3:
// the Rules do not apply to them; their move is the Decree 755 R2 file): an
// R2 file in force naming the record's person, or a running posting with
// the Art. 15(7)(1) secondee exemption.
func secondeeOfOtherBody(ctx context.Context, tx pgx.Tx, staffID string) (*valise.FieldError, error) {
	var file, state string
	err := tx.QueryRow(ctx, `SELECT x.id, x.state FROM secondments x, staff s WHERE s.id = $1 AND x.rule_set = 'r2'
		AND x.state NOT IN ('refused', 'coordination_refused', 'released', 'closed')
		AND (x.staff_id = s.id OR (lower(btrim(x.person->>'full_name')) = lower(btrim(s.full_name)) AND x.person->>'birth_date' = s.birth_date::text))
		ORDER BY x.created_at DESC LIMIT 1`, staffID).Scan(&file, &state)
	if err == nil {
		f := fe("staff_id", fmt.Sprintf("V01, R§3: the Rules do not apply to a secondee from another state body: the person is on the Decree 755 R2 file %s (%s)", file, state))
		return &f, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM postings WHERE staff_id = $1 AND returned_on IS NULL AND exemption->>'code' = 'art15_2_secondee'`, staffID).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		f := fe("staff_id", "V01, R§3: the Rules do not apply to a secondee from another state body: the running posting is an Art. 15-2 secondment (exemption art15_2_secondee)")
		return &f, nil
	}
	return nil, nil
}

// --- V05 (R§6, erratum 15) ---

// spouseAccompanied is the latest posting abroad of another officer whom
// this officer accompanied as the spouse (the spouse's family member names
// this staff record, and was included in that posting's rotation case or
// kept a position for it, HR-47): its return date, or running.
func spouseAccompanied(ctx context.Context, tx pgx.Tx, staffID string, before Date) (name, unit string, returned Date, found bool, err error) {
	err = tx.QueryRow(ctx, `SELECT s.full_name, coalesce((SELECT code FROM units WHERE id = p.unit_id), ''), coalesce(p.returned_on, '0001-01-01'::date)
		FROM family_members m JOIN staff s ON s.id = m.staff_id JOIN postings p ON p.staff_id = m.staff_id AND p.kind = 'foreign_institution'
		WHERE m.staff_ref = $1 AND m.relation = 'spouse' AND p.start_date <= $2
		  AND (EXISTS (SELECT 1 FROM rotation_case_family f JOIN rotation_cases c ON c.id = f.case_id
		               WHERE c.posting_id = p.id AND f.family_member_id = m.id AND f.state IN ('included', 'exclusion_ground', 'exclusion_docs_submitted', 'excluded', 'early_recall_trigger'))
		    OR EXISTS (SELECT 1 FROM spouse_retentions r WHERE r.posting_id = p.id AND r.family_member_id = m.id))
		ORDER BY p.returned_on DESC NULLS FIRST LIMIT 1`, staffID, before).Scan(&name, &unit, &returned)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", Date{}, false, nil
	}
	if returned.Year() == 1 {
		returned = Date{}
	}
	return name, unit, returned, err == nil, err
}

// --- V15, V16 (R§29) ---

// Sibling is an adult brother or sister of the officer, for the R§29(1) test.
type Sibling struct {
	FullName      string `json:"full_name"`
	Adult         bool   `json:"adult"`
	ResidesInRK   bool   `json:"resides_in_rk"`
	MonthlySalary int64  `json:"monthly_salary"` // the regular salary, tenge a month
	// FamilyMembers: the members of the sibling's family, the sibling included.
	FamilyMembers int `json:"family_members"`
}

// ParentException is the R§29 exceptional case on which a parent unable to
// work is admitted: no_capable_sibling (R§29(1)), single_parent or
// spouse_refuses (R§29(2)).
type ParentException struct {
	Case       string    `json:"case"`
	FiscalYear int       `json:"fiscal_year,omitempty"` // (1): the year of the republican budget law
	Parents    int       `json:"parents,omitempty"`     // (1): how many parents are to be supported (1 or 2)
	Siblings   []Sibling `json:"siblings,omitempty"`    // (1): every adult sibling
	// Document: (2) the spouse's statement refusing to go (spouse_refuses), or
	// what shows the officer is the single parent of a minor child.
	Document *Document `json:"document,omitempty"`
	// Tests: computed, the outcome for each sibling (subsistence minimum × N).
	Tests []SiblingTest `json:"tests,omitempty"`
}

// SiblingTest is the outcome of R§29(1) for one sibling.
type SiblingTest struct {
	FullName  string `json:"full_name"`
	N         int    `json:"n"`
	Threshold int64  `json:"threshold"`
	Capable   bool   `json:"capable"`
	Counted   bool   `json:"counted"` // an adult in the RK (only they count)
}

// checkParentException evaluates an R§29 exceptional case for the officer
// on date on; it fills x.Tests for the record.
func checkParentException(ctx context.Context, tx pgx.Tx, staffID string, on Date, x *ParentException) ([]valise.FieldError, error) {
	if x == nil {
		return []valise.FieldError{fe("exception", "R§29: a parent unable to work is admitted only in an exceptional case: no_capable_sibling (R§29(1)), single_parent or spouse_refuses (R§29(2))")}, nil
	}
	var fs []valise.FieldError
	switch x.Case {
	case "no_capable_sibling":
		if x.FiscalYear < 1991 || x.FiscalYear > 2200 {
			fs = append(fs, fe("exception.fiscal_year", "R§29(1): the fiscal year of the republican budget law"))
		}
		if x.Parents != 1 && x.Parents != 2 {
			fs = append(fs, fe("exception.parents", "R§29(1): the parents to be supported, 1 or 2"))
		}
		for i, sb := range x.Siblings {
			if strings.TrimSpace(sb.FullName) == "" || sb.MonthlySalary < 0 || sb.FamilyMembers < 1 {
				fs = append(fs, fe(fmt.Sprintf("exception.siblings[%d]", i), "a sibling: full_name, monthly_salary >= 0 (tenge), family_members >= 1 (the sibling included)"))
			}
		}
		if len(fs) > 0 {
			return fs, nil
		}
		var sm struct {
			Amount int64 `json:"amount"`
		}
		found, err := refValue(ctx, tx, RefSubsistenceMinimum, strconv.Itoa(x.FiscalYear), &sm)
		if err != nil {
			return nil, err
		}
		if !found {
			return []valise.FieldError{fe("exception.fiscal_year", fmt.Sprintf("R§29(1): no subsistence minimum for %d in the reference list %s (the republican budget law's value)", x.FiscalYear, RefSubsistenceMinimum))}, nil
		}
		x.Tests = nil
		for i, sb := range x.Siblings {
			t := SiblingTest{FullName: sb.FullName, N: sb.FamilyMembers + x.Parents, Counted: sb.Adult && sb.ResidesInRK}
			t.Threshold = sm.Amount * int64(t.N)
			t.Capable = t.Counted && sb.MonthlySalary >= t.Threshold
			x.Tests = append(x.Tests, t)
			if t.Capable {
				fs = append(fs, fe(fmt.Sprintf("exception.siblings[%d]", i), fmt.Sprintf("R§29(1): %s, an adult in the Republic of Kazakhstan, can support the parents: salary %d ≥ subsistence minimum %d × %d (the sibling's family and the parents) = %d",
					sb.FullName, sb.MonthlySalary, sm.Amount, t.N, t.Threshold)))
			}
		}
	case "single_parent", "spouse_refuses":
		if d := x.Document; d == nil || strings.TrimSpace(d.Kind) == "" || strings.TrimSpace(d.Number) == "" || d.Date.IsZero() {
			what := "the spouse's statement refusing to go as accompanying family (R§29(2) part 2)"
			if x.Case == "single_parent" {
				what = "the document showing the officer is the single parent of a minor child (R§29(2))"
			}
			fs = append(fs, fe("exception.document", what+": kind, number, date"))
		}
		fam, err := familyOf(ctx, tx, staffID, on)
		if err != nil {
			return nil, err
		}
		switch x.Case {
		case "single_parent":
			if !slices.ContainsFunc(fam, func(m FamilyMember) bool {
				return (m.Relation == "child" || m.Relation == "adopted_child") && on.Before(m.BirthDate.AddDate(18, 0, 0))
			}) {
				fs = append(fs, fe("exception.case", fmt.Sprintf("R§29(2): no minor child on the record on %s", on)))
			}
		default:
			if !slices.ContainsFunc(fam, func(m FamilyMember) bool { return m.Relation == "spouse" }) {
				fs = append(fs, fe("exception.case", "R§29(2): no spouse on the record"))
			}
		}
	default:
		fs = append(fs, fe("exception.case", "R§29: no_capable_sibling, single_parent or spouse_refuses"))
	}
	return fs, nil
}

// --- R§31: pregnancy recall ---

// PregnancyInput records a certified pregnancy of an officer abroad: the
// gestational age (weeks + days) on the certificate's date.
type PregnancyInput struct {
	CertifiedOn Date `json:"certified_on"`
	Weeks       int  `json:"weeks"`
	Days        int  `json:"days"`
	Change
}

// Pregnancy is a recorded pregnancy with the day the recall is due.
type Pregnancy struct {
	ID          string `json:"id"`
	PostingID   string `json:"posting_id"`
	CertifiedOn Date   `json:"certified_on"`
	Weeks       int    `json:"weeks"`
	Days        int    `json:"days"`
	// RecallBy: the day the pregnancy completes 26 weeks, the last day of
	// the term "up to and including 26 weeks" at which R§31 recalls.
	RecallBy Date `json:"recall_by"`
}

// PregnancyRecallBy is the day a pregnancy of weeks+days on certified
// completes 26 weeks (R§31).
func PregnancyRecallBy(certified Date, weeks, days int) Date {
	return certified.AddDate(0, 0, 26*7-(weeks*7+days))
}

// RecordPregnancy records a certified pregnancy on a running posting abroad
// (R§31); the recall itself is a recall decision with the ground
// pregnancy_air_transport, the arrival the posting's return.
func (s *Service) RecordPregnancy(ctx context.Context, check Check, by policy.Subject, id, postingID string, in PregnancyInput) (Pregnancy, error) {
	out := Pregnancy{PostingID: postingID, CertifiedOn: in.CertifiedOn, Weeks: in.Weeks, Days: in.Days}
	_, err := s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		fs := in.fields()
		if in.CertifiedOn.IsZero() {
			fs = append(fs, fe("certified_on", "the date of the medical certificate"))
		} else if in.CertifiedOn.After(Today(s.now())) {
			fs = append(fs, fe("certified_on", "not a future date"))
		}
		if in.Weeks < 0 || in.Weeks > 45 || in.Days < 0 || in.Days > 6 {
			fs = append(fs, fe("weeks", "the gestational age on the certificate: weeks 0-45 and days 0-6"))
		}
		if len(fs) > 0 {
			return refusal("the pregnancy record is invalid", fs...)
		}
		if p.Kind != PostingForeign || !p.ReturnedOn.IsZero() {
			return conflict("R§31", "the recall by week 26 is of an officer serving at a foreign institution (no running posting abroad)")
		}
		out.RecallBy = PregnancyRecallBy(in.CertifiedOn, in.Weeks, in.Days)
		if !out.RecallBy.After(in.CertifiedOn) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("R§31: the pregnancy completed 26 weeks on %s: the recall is overdue", out.RecallBy))
		}
		ev, err := record(ctx, tx, id, "pregnancy_recorded", map[string]any{"posting_id": p.ID, "certified_on": in.CertifiedOn,
			"weeks": in.Weeks, "days": in.Days, "recall_by": out.RecallBy}, in.Change, "", by)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO posting_pregnancies (posting_id, staff_id, certified_on, weeks, days, recall_by, event_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, p.ID, id, in.CertifiedOn, in.Weeks, in.Days, out.RecallBy, ev).Scan(&out.ID)
	})
	return out, err
}

// pregnancyAlerts: the recall of a pregnant officer abroad is due when the
// pregnancy completes 26 weeks (R§31), from the general lead time (the
// Rules set none), until the return is recorded.
func pregnancyAlerts(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error) {
	lead, err := LeadTime(ctx, q, "personnel.alert_lead")
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (g.posting_id) g.posting_id, g.staff_id, s.full_name, g.recall_by,
		coalesce((SELECT code FROM units WHERE id = p.unit_id), '')
		FROM posting_pregnancies g JOIN postings p ON p.id = g.posting_id JOIN staff s ON s.id = g.staff_id
		WHERE p.returned_on IS NULL AND s.terminated_on IS NULL
		ORDER BY g.posting_id, g.recorded_at DESC`)
	if err != nil {
		return nil, err
	}
	var out []Alert
	var a Alert
	var due Date
	var unit string
	_, err = pgx.ForEachRow(rows, []any{&a.Ref, &a.StaffID, &a.StaffName, &due, &unit}, func() error {
		if Within(due.Time, asOf, lead) {
			out = append(out, Alert{Kind: "pregnancy_recall_due", Rule: "R§31", StaffID: a.StaffID, StaffName: a.StaffName, Ref: a.Ref, Due: due.Time,
				Subject: "recall to the Republic of Kazakhstan from " + unit + " at a term of up to and including 26 weeks (international air-travel requirements)"})
		}
		return nil
	})
	return out, err
}

// --- V20 (R§30, R§32-34): leave only after recall and employment ---

// Leave kinds the Rules regulate (their durations are the Labour Code's).
var LeaveKinds = map[string]string{
	"maternity":                "R§30, R§32",
	"adoption":                 "R§30, R§32",
	"childcare_unpaid":         "R§30, R§33",
	"educational_postgraduate": "R§34",
}

// LeaveInput grants a leave.
type LeaveInput struct {
	Kind           string `json:"kind"`
	From           Date   `json:"from"`
	Until          Date   `json:"until,omitzero"`
	ChildBirthDate Date   `json:"child_birth_date,omitzero"` // childcare_unpaid: until the child is three (R§33)
	Change
}

// Leave is a granted leave.
type Leave struct {
	ID             string `json:"id"`
	Kind           string `json:"kind"`
	Basis          string `json:"basis"`
	From           Date   `json:"from"`
	Until          Date   `json:"until"`
	ChildBirthDate Date   `json:"child_birth_date"`
}

// GrantLeave records a maternity, adoption, unpaid childcare or full-time
// postgraduate educational leave. The Rules allow it only after the officer
// is recalled from the foreign institution and employed in the ministry
// (R§30, R§34; V20): on its first day no posting abroad may be running and
// the officer holds a position in the ministry. Unpaid childcare leave runs
// at most until the child is three (R§33: the child's third birthday is the
// last day, the counting convention).
func (s *Service) GrantLeave(ctx context.Context, check Check, by policy.Subject, id string, in LeaveInput) (Leave, error) {
	out := Leave{Kind: in.Kind, Basis: LeaveKinds[in.Kind], From: in.From, Until: in.Until, ChildBirthDate: in.ChildBirthDate}
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		if out.Basis == "" {
			fs = append(fs, fe("kind", "one of "+strings.Join(sortedKeys(LeaveKinds), ", ")))
		}
		if in.From.IsZero() {
			fs = append(fs, fe("from", "the first day of the leave"))
		}
		if !in.Until.IsZero() && in.Until.Before(in.From) {
			fs = append(fs, fe("until", "on or after the first day"))
		}
		if in.Kind == "childcare_unpaid" {
			switch {
			case in.ChildBirthDate.IsZero():
				fs = append(fs, fe("child_birth_date", "R§33: unpaid childcare leave runs until the child is three: the birth date"))
			case in.Until.IsZero():
				fs = append(fs, fe("until", fmt.Sprintf("R§33: the last day, at most %s (the child's third birthday)", in.ChildBirthDate.AddDate(3, 0, 0))))
			case in.Until.After(in.ChildBirthDate.AddDate(3, 0, 0)):
				fs = append(fs, fe("until", fmt.Sprintf("R§33: until the child is three: at most %s", in.ChildBirthDate.AddDate(3, 0, 0))))
			}
		} else if !in.ChildBirthDate.IsZero() && in.Kind != "maternity" && in.Kind != "adoption" {
			fs = append(fs, fe("child_birth_date", "only for a leave about a child"))
		}
		if len(fs) > 0 {
			return refusal("the leave is invalid", fs...)
		}
		var unit string
		err := tx.QueryRow(ctx, `SELECT coalesce((SELECT code FROM units WHERE id = unit_id), '') FROM postings WHERE staff_id = $1 AND kind = 'foreign_institution'
			AND start_date <= $2 AND (returned_on IS NULL OR returned_on > $2) LIMIT 1`, id, in.From).Scan(&unit)
		if err == nil {
			return &valise.Error{Code: valise.ECONFLICT, Message: fmt.Sprintf("%s, V20: the leave is granted after the recall from the foreign institution (%s) and employment in the ministry: record the recall (ground %s) and the return first",
				out.Basis, unit, map[bool]string{true: "educational_leave", false: "maternity_or_adoption"}[in.Kind == "educational_postgraduate"]),
				Extra: map[string]any{"rule": "V20"}}
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM staff_positions p JOIN units u ON u.id = p.unit_id WHERE p.staff_id = $1
			AND u.kind IN ('ministry', 'department') AND p.start_date <= $2 AND (p.end_date IS NULL OR p.end_date >= $2)`, id, in.From).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return conflict(out.Basis, "the leave is granted after employment in the ministry (R§30, R§32, R§34): no ministry position on %s", in.From)
		}
		ev, err := record(ctx, tx, id, "leave_granted", out, in.Change, "", by)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO staff_leaves (staff_id, kind, from_date, until, child_birth_date, event_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			id, in.Kind, in.From, nullDate(in.Until), nullDate(in.ChildBirthDate), ev).Scan(&out.ID)
	})
	return out, err
}

func nullDate(d Date) *Date {
	if d.IsZero() {
		return nil
	}
	return &d
}

// Leaves lists a person's leaves.
func (s *Service) Leaves(ctx context.Context, check Check, id string) ([]Leave, error) {
	out := []Leave{}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, kind, from_date, coalesce(until, '0001-01-01'::date), coalesce(child_birth_date, '0001-01-01'::date)
			FROM staff_leaves WHERE staff_id = $1 ORDER BY from_date`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Leave, error) {
			var l Leave
			err := row.Scan(&l.ID, &l.Kind, &l.From, &l.Until, &l.ChildBirthDate)
			if l.Until.Year() == 1 {
				l.Until = Date{}
			}
			if l.ChildBirthDate.Year() == 1 {
				l.ChildBirthDate = Date{}
			}
			l.Basis = LeaveKinds[l.Kind]
			return l, err
		})
		if out == nil {
			out = []Leave{}
		}
		return err
	})
	return out, err
}

// --- Annex 2: the notice of return, printed ---

var annex2 = template.Must(template.New("a2").Parse(`<!DOCTYPE html>
<html lang="kk"><head><meta charset="utf-8"><title>Қазақстан Республикасына оралғаны жөніндегі хабарлама</title>
<style>
@page { size: A4; margin: 20mm }
body { font: 12pt "Times New Roman", serif }
.annex, .to { text-align: right; margin-left: 50% }
h1 { font-size: 13pt; text-align: center; margin: 2em 0 1em }
p { text-indent: 1.25cm; text-align: justify }
.sign { display: flex; justify-content: space-between; margin-top: 3em }
</style></head><body>
<div class="annex">Қазақстан Республикасының дипломатиялық қызмет персоналын ротациялау қағидаларына 2-қосымша<br>Annex 2 to the Rules for the rotation of diplomatic service personnel</div>
<div class="to">Қазақстан Республикасының Сыртқы істер министрі<br><b>{{.N.Addressee}}</b><br>(Minister of Foreign Affairs)<br><br><b>{{.Name}}</b><br>(sender)</div>
<h1>Қазақстан Республикасына оралғаны жөніндегі хабарлама<br>Notice of return to the Republic of Kazakhstan</h1>
<p>Осымен Сізге сыртқы ротация шеңберінде <b>{{.N.Institution}}</b> үздіксіз жұмыс мерзімінің аяқталғаны және Қазақстан Республикасына оралғаным жөнінде хабарлаймын.
(I hereby notify you of the end of the continuous work period in {{.N.Institution}} within external rotation and of my return to the Republic of Kazakhstan.)</p>
<p>Мекен-жайы, байланыс телефоны және электрондық мекенжайы (address, phone, e-mail): {{.N.Address}}{{with .N.Phone}}, {{.}}{{end}}{{with .N.Email}}, {{.}}{{end}}</p>
<p>Негіздеме: сыртқы ротация шеңберінде Қазақстан Республикасының дипломатиялық қызмет органдарындағы лауазымынан босату (Қазақстан Республикасы Сыртқы істер министрінің {{.N.BasisOrder.Date}} № {{.N.BasisOrder.Number}} бұйрығы).
(Basis: release from the position within external rotation, order of {{.N.BasisOrder.Date}} No. {{.N.BasisOrder.Number}}.)</p>
<div class="sign"><span>{{.N.Date}}</span><span>Қолы (signature): ______________</span></div>
<p class="note">Returned on {{.Returned}}; due by {{.N.Deadline}}{{if .N.Late}} (submitted late: R§12){{end}}.</p>
</body></html>
`))

// WriteAnnex2 prints the notice of return of a posting in the layout of
// Annex 2 (HTML to print); a posting without a notice is 404.
func (s *Service) WriteAnnex2(ctx context.Context, check Check, id, postingID string, w io.Writer) error {
	var p Posting
	var name string
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		if !db.ValidUUID(postingID) {
			return valise.Errorf(valise.ENOTFOUND, "no such posting")
		}
		var err error
		p, err = scanPosting(tx.QueryRow(ctx, `SELECT `+postingCols+` FROM postings p WHERE p.id = $1 AND p.staff_id = $2`, postingID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Errorf(valise.ENOTFOUND, "no such posting")
		}
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT full_name FROM staff WHERE id = $1`, id).Scan(&name)
	})
	if err != nil {
		return err
	}
	if p.Notice == nil {
		return valise.Errorf(valise.ENOTFOUND, "no notice of return on this posting (R§10)")
	}
	return annex2.Execute(w, map[string]any{"N": p.Notice, "Name": name, "Returned": p.ReturnedOn})
}
