package personnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Postings abroad (law-digest §2.3, §2.5; HR-16 … HR-28, HR-47, HR-48). A
// posting is one period of work abroad: it starts with the appointment to a
// foreign institution, inter-mission transfers and raises keep it going
// (erratum 9: one period), and it ends with the return to RK. Work in an
// international organisation is a posting of kind international_organisation
// (HR-27: no Art. 15(4) term, a 3-month appointment deadline after release).

// Posting kinds and the Art. 15(4) categories.
const (
	PostingForeign = "foreign_institution"
	PostingIO      = "international_organisation"

	CategoryHeadOfMission = "head_of_mission" // 15(4)(1): ambassadors, permanent representatives
	CategoryConsulGeneral = "consul_general"  // 15(4)(2)
	CategorySenior        = "senior"          // 15(4)(3): minister-counsellors, deputy permanent representatives, rare languages
	CategoryOther         = "other"           // 15(4)(4)
)

// TermYears is the maximum continuous work abroad by category (HR-19,
// Art. 15(4); the same limits for Art. 15-2 secondees, erratum 1).
var TermYears = map[string]int{CategoryHeadOfMission: 5, CategoryConsulGeneral: 4, CategorySenior: 4, CategoryOther: 3}

// Exemptions from the home periods of Art. 15(3) (HR-18, Art. 15(7)).
var Exemptions = map[string]string{
	"art15_2_secondee":                  "15(7)(1)",
	"political_civil_servant":           "15(7)(2)",
	"presidential_admin_foreign_policy": "15(7)(3)",
	"parliament_international_5y":       "15(7)(3-1)",
	"government_office_international":   "15(7)(4)",
	"rare_language":                     "15(7)(5)",
}

// Reference lists of this file (the Minister's lists and other acts' values).
const (
	RefRareLanguage  = "rare_language"     // Art. 15(7) part 2: the Minister's list (HR-21)
	RefRefusalReason = "refusal_reason"    // Art. 15(5): the Minister's list of valid reasons (HR-23)
	RefAllowance     = "posting_allowance" // Art. 15(6): the one-time allowance, code one_time (HR-24)
	RefAttestation   = "attestation"       // Art. 16: after_return {months}: when attestation is due (procedure by the President)
)

// Exemption is a recorded Art. 15(7) exemption.
type Exemption struct {
	Code  string `json:"code"`
	Note  string `json:"note"`
	Since Date   `json:"since,omitzero"` // parliament_international_5y: start of the continuous work
}

// Allowance is the one-time allowance recorded on departure (HR-24).
type Allowance struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	PaidOn   Date   `json:"paid_on,omitzero"`
	Basis    string `json:"basis,omitempty"`
}

// HomePosition is the ministry position held before leaving (HR-26).
type HomePosition struct {
	Position    string `json:"position"`
	Title       string `json:"title"`
	Unit        string `json:"unit"`
	NominalRank int    `json:"nominal_rank,omitempty"`
}

// Notice is the notice of return (Annex 2, R§10).
type Notice struct {
	Date        Date   `json:"date"`
	Addressee   string `json:"addressee"`
	Institution string `json:"institution"`
	Address     string `json:"address"`
	Phone       string `json:"phone"`
	Email       string `json:"email"`
	BasisOrder  Act    `json:"basis_order"`
	Deadline    Date   `json:"deadline"`
	Late        bool   `json:"late"`
}

// Posting is a period of work abroad or in an international organisation.
type Posting struct {
	ID              string        `json:"id"`
	StaffID         string        `json:"staff_id"`
	Kind            string        `json:"kind"`
	Category        string        `json:"category,omitempty"`
	TermYears       int           `json:"term_years,omitempty"`
	RareLanguage    string        `json:"rare_language,omitempty"`
	Organisation    string        `json:"organisation,omitempty"`
	Unit            string        `json:"unit,omitempty"`
	StartDate       Date          `json:"start_date"`
	TermEnd         Date          `json:"term_end"`
	EndDate         Date          `json:"end_date"`
	PlannedEnd      Date          `json:"planned_end"`
	RotationType    string        `json:"rotation_type"`
	Exemption       *Exemption    `json:"exemption,omitempty"`
	Allowance       *Allowance    `json:"allowance,omitempty"`
	HomePosition    *HomePosition `json:"home_position,omitempty"`
	PoliticalBefore bool          `json:"political_before,omitempty"`
	InServiceBefore bool          `json:"in_service_before"`
	Raises          int           `json:"raises"`
	Extended        bool          `json:"extended"`
	ReturnedOn      Date          `json:"returned_on"`
	Notice          *Notice       `json:"notice,omitempty"`
	NoticeDeadline  Date          `json:"notice_deadline"`
	NoticeExtended  Date          `json:"notice_extended_until"`
	AppointmentDue  Date          `json:"appointment_due"`
	AppointedOn     Date          `json:"appointed_on"`
	Warnings        []string      `json:"warnings,omitempty"`
}

const postingCols = `p.id, p.staff_id, p.kind, coalesce(p.category, ''), coalesce(p.rare_language, ''), coalesce(p.organisation, ''),
	coalesce((SELECT code FROM units WHERE id = p.unit_id), ''), p.start_date, p.term_end, p.end_date, p.planned_end, p.rotation_type,
	p.exemption, p.allowance, p.home_position, p.political_before, p.in_service_before, p.raises,
	EXISTS (SELECT 1 FROM posting_extensions x WHERE x.posting_id = p.id), p.returned_on, p.notice, p.notice_extended_until, p.appointed_on`

func scanPosting(row pgx.Row) (Posting, error) {
	var p Posting
	var ex, al, hp, no []byte
	err := row.Scan(&p.ID, &p.StaffID, &p.Kind, &p.Category, &p.RareLanguage, &p.Organisation, &p.Unit, &p.StartDate, &p.TermEnd,
		&p.EndDate, &p.PlannedEnd, &p.RotationType, &ex, &al, &hp, &p.PoliticalBefore, &p.InServiceBefore, &p.Raises, &p.Extended,
		&p.ReturnedOn, &no, &p.NoticeExtended, &p.AppointedOn)
	if err != nil {
		return p, err
	}
	for _, x := range []struct {
		b   []byte
		dst any
	}{{ex, &p.Exemption}, {al, &p.Allowance}, {hp, &p.HomePosition}, {no, &p.Notice}} {
		if len(x.b) > 0 {
			if err := json.Unmarshal(x.b, x.dst); err != nil {
				return p, err
			}
		}
	}
	p.TermYears = TermYears[p.Category]
	return p, nil
}

// derived fills the computed deadlines.
func (p *Posting) derived(cal *Calendar) {
	if p.ReturnedOn.IsZero() {
		return
	}
	if p.Kind == PostingForeign {
		p.NoticeDeadline = NoticeDeadline(cal, p.ReturnedOn)
		if p.Notice != nil {
			p.AppointmentDue = AppointmentDeadline(cal, p.Notice.Date)
		}
	} else {
		p.AppointmentDue = AppointmentDeadline(cal, p.ReturnedOn)
	}
}

// NoticeDeadline is the last day for the notice of return: 5 working days
// after the return (R§10).
func NoticeDeadline(cal *Calendar, returned Date) Date {
	return Date{cal.AddWorkingDays(returned.Time, 5)}
}

// NoticeExtensionCap is the latest a notice deadline may be extended to for
// valid reasons: the 5-working-day deadline plus one month (erratum 3).
func NoticeExtensionCap(cal *Calendar, returned Date) Date {
	return Date{cal.NextWorkingDay(NoticeDeadline(cal, returned).AddDate(0, 1, 0).Time)}
}

// AppointmentDeadline is 3 months after the notice of return (R§12,
// erratum 14) or after release from an international organisation (HR-27,
// Art. 9(4-1)); a deadline on a day off moves to the next working day.
func AppointmentDeadline(cal *Calendar, from Date) Date {
	return Date{cal.NextWorkingDay(from.AddDate(0, 3, 0).Time)}
}

// Postings lists a staff record's postings, newest first.
func (s *Service) Postings(ctx context.Context, check Check, id string) ([]Posting, error) {
	var out []Posting
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		cal, err := LoadCalendar(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+postingCols+` FROM postings p WHERE p.staff_id = $1 ORDER BY p.start_date DESC`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Posting, error) {
			p, err := scanPosting(row)
			p.derived(cal)
			return p, err
		})
		return err
	})
	if out == nil {
		out = []Posting{}
	}
	return out, err
}

func loadPosting(ctx context.Context, tx pgx.Tx, staffID, postingID string) (Posting, error) {
	if !db.ValidUUID(postingID) {
		return Posting{}, valise.Errorf(valise.ENOTFOUND, "no such posting")
	}
	p, err := scanPosting(tx.QueryRow(ctx, `SELECT `+postingCols+` FROM postings p WHERE p.id = $1 AND p.staff_id = $2 FOR UPDATE OF p`, postingID, staffID))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, valise.Errorf(valise.ENOTFOUND, "no such posting")
	}
	return p, err
}

// writePosting runs fn on a locked staff record and posting, then returns
// the posting as it stands.
func (s *Service) writePosting(ctx context.Context, check Check, staffID, postingID string, fn func(tx pgx.Tx, cal *Calendar, p *Posting) error) (Posting, error) {
	var out Posting
	err := s.write(ctx, staffID, check, func(tx pgx.Tx, r resource) error {
		p, err := loadPosting(ctx, tx, staffID, postingID)
		if err != nil {
			return err
		}
		cal, err := LoadCalendar(ctx, tx)
		if err != nil {
			return err
		}
		warnings := p.Warnings
		if err := fn(tx, cal, &p); err != nil {
			return err
		}
		warnings = append(warnings, p.Warnings...)
		out, err = loadPosting(ctx, tx, staffID, postingID)
		out.derived(cal)
		out.Warnings = warnings
		return err
	})
	return out, err
}

// currentPosition is the open position with its unit.
type currentPosition struct {
	HomePosition
	UnitKind string
	Category string
	Start    Date
}

func openPosition(ctx context.Context, q db.Querier, staffID string) (currentPosition, bool, error) {
	var c currentPosition
	var rank *int16
	err := q.QueryRow(ctx, `SELECT p.position_code, p.title, u.code, p.nominal_rank, u.kind, p.category, p.start_date
		FROM staff_positions p JOIN units u ON u.id = p.unit_id WHERE p.staff_id = $1 AND p.end_date IS NULL`, staffID).
		Scan(&c.Position, &c.Title, &c.Unit, &rank, &c.UnitKind, &c.Category, &c.Start)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if rank != nil {
		c.NominalRank = int(*rank)
	}
	return c, err == nil, err
}

func foreignUnit(kind string) bool {
	return kind == "embassy" || kind == "consulate" || kind == "permanent_mission"
}

// PostingInput starts a posting (departure, HR-24) or work in an
// international organisation.
type PostingInput struct {
	Kind         string            `json:"kind"`
	Appointment  *AppointmentInput `json:"appointment,omitempty"` // foreign institution: the position abroad
	Organisation string            `json:"organisation,omitempty"`
	StartDate    Date              `json:"start_date,omitzero"` // international organisation
	RareLanguage string            `json:"rare_language,omitempty"`
	PlannedEnd   Date              `json:"planned_end,omitzero"`
	Exemption    *Exemption        `json:"exemption,omitempty"`
	Allowance    *Allowance        `json:"allowance,omitempty"`
	// HR-27 / Art. 9(4-1): the guarantee needs service immediately before,
	// and does not apply after a political position.
	PoliticalBefore bool  `json:"political_before,omitempty"`
	InServiceBefore *bool `json:"in_service_before,omitempty"`
	Change
}

// postingCategory is the Art. 15(4) category of a position (HR-19, HR-21).
func postingCategory(position string, p PositionRef, rareLanguage bool) string {
	switch {
	case p.Category == "ambassador" || p.Category == "permanent_representative":
		return CategoryHeadOfMission
	case position == "consul_general":
		return CategoryConsulGeneral
	case position == "minister_counsellor" || position == "deputy_permanent_representative" || rareLanguage:
		return CategorySenior
	}
	return CategoryOther
}

// TermEnd is the day a term of years started on start is reached (the
// counting convention of docs/personnel.md): work up to and including it is
// within the term, the next day is over.
func TermEnd(start Date, years int) Date { return start.AddDate(years, 0, 0) }

// StartPosting records a departure on a posting: the appointment abroad,
// the category and term end (HR-19), the home-period checks or a recorded
// exemption (HR-16, HR-17, HR-18), the one-time allowance (HR-24) and the
// rotation type (HR-28).
func (s *Service) StartPosting(ctx context.Context, check Check, by policy.Subject, id string, in PostingInput) (Posting, error) {
	var out Posting
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		var err error
		out, err = startPosting(ctx, tx, check, by, id, in)
		return err
	})
	return out, err
}

func startPosting(ctx context.Context, tx pgx.Tx, check Check, by policy.Subject, id string, in PostingInput) (Posting, error) {
	var out Posting
	fs := in.fields()
	switch in.Kind {
	case PostingForeign:
		if in.Appointment == nil {
			fs = append(fs, fe("appointment", "the position abroad: {position, unit, start_date, authority}"))
		}
	case PostingIO:
		if strings.TrimSpace(in.Organisation) == "" {
			fs = append(fs, fe("organisation", "name the international organisation"))
		}
		if in.StartDate.IsZero() {
			fs = append(fs, fe("start_date", "required"))
		}
	default:
		fs = append(fs, fe("kind", "foreign_institution or international_organisation"))
	}
	if in.Exemption != nil {
		if _, ok := Exemptions[in.Exemption.Code]; !ok {
			fs = append(fs, fe("exemption.code", "HR-18: one of "+strings.Join(sortedKeys(Exemptions), ", ")))
		}
	}
	if in.Allowance != nil && (in.Allowance.Amount < 0 || len(in.Allowance.Currency) != 3) {
		fs = append(fs, fe("allowance", "HR-24: {amount >= 0, currency: ISO 4217 code}"))
	}
	if len(fs) > 0 {
		return out, refusal("the posting is invalid", fs...)
	}
	var open int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM postings WHERE staff_id = $1 AND returned_on IS NULL`, id).Scan(&open); err != nil {
		return out, err
	}
	if open > 0 {
		return out, conflict("HR-19", "a posting is already running: record a move (inter-mission transfer) or the return first")
	}
	cur, ok, err := openPosition(ctx, tx, id)
	if err != nil {
		return out, err
	}
	if !ok || foreignUnit(cur.UnitKind) {
		return out, conflict("HR-26", "a posting starts from a position in the ministry (the position kept for the return)")
	}
	home := cur.HomePosition
	var staffKind string
	if err := tx.QueryRow(ctx, `SELECT staff_kind FROM staff WHERE id = $1`, id).Scan(&staffKind); err != nil {
		return out, err
	}
	if in.Kind == PostingIO {
		inService := in.InServiceBefore == nil || *in.InServiceBefore
		b, _ := json.Marshal(home)
		err := tx.QueryRow(ctx, `INSERT INTO postings (staff_id, kind, organisation, start_date, rotation_type, home_position,
			political_before, in_service_before) VALUES ($1, $2, $3, $4, 'external', $5, $6, $7) RETURNING id`,
			id, PostingIO, in.Organisation, in.StartDate, b, in.PoliticalBefore, inService).Scan(&out.ID)
		if err != nil {
			return out, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO service_periods (staff_id, period_type, counted, start_date, note)
			VALUES ($1, $2, true, $3, 'international organisation')`, id, PeriodInternationalOrg, in.StartDate); err != nil {
			return out, err
		}
		if _, err := record(ctx, tx, id, "posting_started", map[string]any{"posting_id": out.ID, "kind": PostingIO,
			"organisation": in.Organisation, "start_date": in.StartDate, "political_before": in.PoliticalBefore, "in_service_before": inService}, in.Change, "", by); err != nil {
			return out, err
		}
		return loadPosting(ctx, tx, id, out.ID)
	}
	a := *in.Appointment
	var p PositionRef
	okPos, err := refValue(ctx, tx, RefPosition, a.Position, &p)
	if err != nil {
		return out, err
	}
	var unitKind string
	if err := tx.QueryRow(ctx, `SELECT kind FROM units WHERE code = $1`, a.Unit).Scan(&unitKind); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return out, err
	}
	if okPos && unitKind != "" && !foreignUnit(unitKind) {
		return out, refusal("the posting is invalid", fe("appointment.unit", "a posting is to a foreign institution (embassy, consulate, permanent mission)"))
	}
	rare := false
	if in.RareLanguage != "" {
		var v struct {
			Active bool `json:"active"`
		}
		found, err := refValue(ctx, tx, RefRareLanguage, in.RareLanguage, &v)
		if err != nil {
			return out, err
		}
		if !found || !v.Active {
			return out, refusal("the posting is invalid", fe("rare_language", fmt.Sprintf("HR-21: %q is not on the Minister's list of rare foreign languages (reference rare_language)", in.RareLanguage)))
		}
		rare = true
	}
	start := a.StartDate
	// HR-16, HR-17 (erratum 6, 10): the home period in ministry subdivisions.
	if in.Exemption != nil {
		if err := checkExemption(*in.Exemption, in.RareLanguage, start); err != nil {
			return out, err
		}
	} else if err := checkHomePeriod(ctx, tx, id, staffKind, start); err != nil {
		return out, err
	}
	category := postingCategory(a.Position, p, rare)
	termEnd := TermEnd(start, TermYears[category])
	planned := in.PlannedEnd
	if planned.IsZero() {
		planned = termEnd
	}
	if planned.After(termEnd) {
		return out, refusal("the posting is invalid", fe("planned_end", fmt.Sprintf("HR-19: a %s posting runs at most %d years: from %s to %s (Art. 15(4))", category, TermYears[category], start, termEnd)))
	}
	if !planned.After(start) {
		return out, refusal("the posting is invalid", fe("planned_end", "must be after the start"))
	}
	allowance := in.Allowance
	if allowance == nil {
		var ref Allowance
		if found, err := refValue(ctx, tx, RefAllowance, "one_time", &ref); err != nil {
			return out, err
		} else if found {
			allowance = &ref
		}
	}
	if allowance != nil && allowance.PaidOn.IsZero() {
		allowance.PaidOn = start
	}
	if _, err := appoint(ctx, tx, check, by, id, AppointInput{AppointmentInput: a, Change: in.Change}, "appointed",
		map[string]any{"rotation_type": "external", "direction": "ministry_to_foreign_institution"}); err != nil {
		return out, err
	}
	hb, _ := json.Marshal(home)
	var ex, al []byte
	if in.Exemption != nil {
		ex, _ = json.Marshal(in.Exemption)
	}
	if allowance != nil {
		al, _ = json.Marshal(allowance)
	}
	err = tx.QueryRow(ctx, `INSERT INTO postings (staff_id, kind, category, rare_language, unit_id, start_date, term_end, end_date,
		planned_end, rotation_type, exemption, allowance, home_position)
		VALUES ($1, $2, $3, nullif($4, ''), (SELECT id FROM units WHERE code = $5), $6, $7, $7, $8, 'external', $9, $10, $11) RETURNING id`,
		id, PostingForeign, category, in.RareLanguage, a.Unit, start, termEnd, planned, ex, al, hb).Scan(&out.ID)
	if err != nil {
		return out, err
	}
	if _, err := record(ctx, tx, id, "posting_started", map[string]any{"posting_id": out.ID, "category": category,
		"term_years": TermYears[category], "term_end": termEnd, "planned_end": planned, "exemption": in.Exemption,
		"allowance": allowance, "rotation_type": "external", "home_position": home}, in.Change, "", by); err != nil {
		return out, err
	}
	return loadPosting(ctx, tx, id, out.ID)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// checkExemption verifies what the law lets us verify of an exemption (HR-18).
func checkExemption(x Exemption, rareLanguage string, start Date) error {
	switch x.Code {
	case "parliament_international_5y":
		if x.Since.IsZero() || TermEnd(x.Since, 5).After(start) {
			return refusal("the posting is invalid", fe("exemption.since", fmt.Sprintf("HR-18: the Art. 15(7)(3-1) exemption needs at least five years of continuous work in the parliament's international subdivision before %s", start)))
		}
	case "rare_language":
		if rareLanguage == "" {
			return refusal("the posting is invalid", fe("rare_language", "HR-18: the rare-language exemption names a language on the Minister's list (HR-21)"))
		}
	}
	if strings.TrimSpace(x.Note) == "" {
		return refusal("the posting is invalid", fe("exemption.note", "HR-18: say what the exemption rests on (position, decision)"))
	}
	return nil
}

// checkHomePeriod: a first posting needs one year of work in ministry
// subdivisions (HR-16, erratum 10); a next one, after a return home, two
// years (diplomatic) or one (administrative-technical) since that return
// (HR-17, erratum 6). Time is counted on ministry positions only.
func checkHomePeriod(ctx context.Context, tx pgx.Tx, id, staffKind string, start Date) error {
	var lastReturn Date
	if err := tx.QueryRow(ctx, `SELECT max(returned_on) FROM postings WHERE staff_id = $1 AND kind = $2`, id, PostingForeign).Scan(&lastReturn); err != nil {
		return err
	}
	years, rule, what := 1, "HR-16", "a first posting abroad needs one year of work in ministry subdivisions (Art. 15(3) part 1)"
	if !lastReturn.IsZero() {
		rule = "HR-17"
		if staffKind == KindDiplomatic {
			years, what = 2, "between postings a diplomatic officer works two years in ministry subdivisions (Art. 15(3) part 2)"
		} else {
			what = "between postings an administrative-technical worker works one year in ministry subdivisions (Art. 15(3) part 2)"
		}
	}
	// R§6 (V05, erratum 15): an officer who was abroad as the accompanying
	// spouse of another officer works the Law's home period (2 years, 1 for
	// administrative-technical staff) in ministry subdivisions after that
	// posting before being appointed abroad; not alongside it while it runs.
	name, unit, accompanied, found, err := spouseAccompanied(ctx, tx, id, start)
	if err != nil {
		return err
	}
	if found && accompanied.IsZero() {
		return &valise.Error{Code: valise.EINVALID, Message: "the posting is refused", Extra: map[string]any{"rule": "R§6"},
			Fields: []valise.FieldError{fe("appointment.start_date", fmt.Sprintf("R§6: the officer accompanies the spouse %s at %s: spouses in the diplomatic service are not appointed abroad side by side before the accompanying spouse's ministry term (Art. 15(3)) is complete", name, unit))}}
	}
	if found && accompanied.After(lastReturn) {
		lastReturn, rule = accompanied, "R§6"
		years, what = 1, fmt.Sprintf("the accompanying spouse of %s (returned from %s on %s) works one year in ministry subdivisions before an appointment abroad (R§6, Art. 15(3) part 2)", name, unit, accompanied)
		if staffKind == KindDiplomatic {
			years, what = 2, fmt.Sprintf("the accompanying spouse of %s (returned from %s on %s) works two years in ministry subdivisions before an appointment abroad (R§6, Art. 15(3) part 2)", name, unit, accompanied)
		}
	}
	since := lastReturn
	if since.IsZero() {
		since = D(1900, time.January, 1)
	}
	rows, err := tx.Query(ctx, `SELECT greatest(p.start_date, $2::date), least(coalesce(p.end_date, $3::date - 1), $3::date - 1)
		FROM staff_positions p JOIN units u ON u.id = p.unit_id
		WHERE p.staff_id = $1 AND u.kind IN ('ministry', 'department') AND p.start_date < $3 AND coalesce(p.end_date, $3) >= $2
		ORDER BY p.start_date`, id, since, start)
	if err != nil {
		return err
	}
	var from, to Date
	var spans [][2]Date
	_, err = pgx.ForEachRow(rows, []any{&from, &to}, func() error {
		if !to.Before(from) {
			spans = append(spans, [2]Date{from, to})
		}
		return nil
	})
	if err != nil {
		return err
	}
	reached, ok := homeReached(spans, years)
	if !ok || reached.After(start) {
		msg := fmt.Sprintf("%s: %s; ", rule, what)
		if ok {
			msg += fmt.Sprintf("it is complete on %s, not by %s", reached, start)
		} else {
			msg += fmt.Sprintf("the ministry work before %s falls short", start)
		}
		return &valise.Error{Code: valise.EINVALID, Message: "the posting is refused",
			Fields: []valise.FieldError{fe("appointment.start_date", msg)}, Extra: map[string]any{"rule": rule}}
	}
	return nil
}

// homeReached is the first day a posting may start after spans of ministry
// work (inclusive days) total the years: with one unbroken span from S, the
// day S + years (the counting convention).
func homeReached(spans [][2]Date, years int) (Date, bool) {
	if len(spans) == 0 {
		return Date{}, false
	}
	first := spans[0][0]
	need := int(first.AddDate(years, 0, 0).Sub(first.Time).Hours() / 24)
	got := 0
	for _, sp := range spans {
		days := int(sp[1].Sub(sp[0].Time).Hours()/24) + 1
		if got+days >= need {
			return sp[0].AddDate(0, 0, need-got), true
		}
		got += days
	}
	last := spans[len(spans)-1][1]
	return last.AddDate(0, 0, need-got+1), false
}

// ExtensionInput extends a posting (HR-20).
type ExtensionInput struct {
	Until       Date   `json:"until"`
	Authority   string `json:"authority"`
	ServiceNeed string `json:"service_need"`
	Change
}

// Extend extends a posting beyond its term: an ambassador's or permanent
// representative's by the President, without a cap; a consul general's by
// the Minister, without a cap; the others' by the Minister, at most one
// year in all beyond the term (HR-20, Art. 15(4)).
func (s *Service) Extend(ctx context.Context, check Check, by policy.Subject, id, postingID string, in ExtensionInput) (Posting, error) {
	return s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		fs := in.fields()
		if strings.TrimSpace(in.ServiceNeed) == "" {
			fs = append(fs, fe("service_need", "HR-20: an extension is for a need of the service: say which"))
		}
		if in.Until.IsZero() {
			fs = append(fs, fe("until", "required"))
		}
		if len(fs) > 0 {
			return refusal("the extension is invalid", fs...)
		}
		if p.Kind != PostingForeign || !p.ReturnedOn.IsZero() {
			return conflict("HR-20", "only a running posting abroad is extended")
		}
		want := "minister"
		if p.Category == CategoryHeadOfMission {
			want = "president"
		}
		if in.Authority != want {
			return refusal("the extension is invalid", fe("authority", fmt.Sprintf("HR-20: a posting of category %s is extended by the %s (Art. 15(4)), not %q", p.Category, want, in.Authority)))
		}
		if !in.Until.After(p.EndDate) {
			return refusal("the extension is invalid", fe("until", fmt.Sprintf("must be after the current end %s", p.EndDate)))
		}
		if p.Category == CategorySenior || p.Category == CategoryOther {
			limit := p.TermEnd.AddDate(1, 0, 0)
			if in.Until.After(limit) {
				return refusal("the extension is invalid", fe("until", fmt.Sprintf("HR-20: a posting of category %s is extended by at most one year in all: to %s at the latest (term end %s, Art. 15(4))", p.Category, limit, p.TermEnd)))
			}
		}
		ev, err := record(ctx, tx, id, "posting_extended", map[string]any{"posting_id": p.ID, "from": p.EndDate, "until": in.Until,
			"authority": in.Authority, "service_need": in.ServiceNeed}, in.Change, "", by)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO posting_extensions (posting_id, until, authority, service_need, event_id) VALUES ($1, $2, $3, $4, $5)`,
			p.ID, in.Until, in.Authority, in.ServiceNeed, ev); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE postings SET end_date = $2, planned_end = $2 WHERE id = $1`, p.ID, in.Until)
		return err
	})
}

// MoveInput moves a posted person within the posting: a raise of position
// at the same institution, or an inter-mission transfer (R§8).
type MoveInput struct {
	AppointmentInput
	PlannedEnd Date `json:"planned_end,omitzero"`
	Change
}

// Move records a change of position abroad within one posting: a raise at
// most once per posting unless it was extended (HR-22, erratum 9); an
// inter-mission transfer keeps the posting's clock (R§8, V06) and is
// external rotation (HR-28).
func (s *Service) Move(ctx context.Context, check Check, by policy.Subject, id, postingID string, in MoveInput) (Posting, error) {
	return s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		if p.Kind != PostingForeign || !p.ReturnedOn.IsZero() {
			return conflict("HR-22", "only a running posting abroad has moves")
		}
		var ref PositionRef
		okPos, err := refValue(ctx, tx, RefPosition, in.Position, &ref)
		if err != nil {
			return err
		}
		var unitKind string
		if err := tx.QueryRow(ctx, `SELECT kind FROM units WHERE code = $1`, in.Unit).Scan(&unitKind); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if okPos && unitKind != "" && !foreignUnit(unitKind) {
			return refusal("the move is invalid", fe("unit", "a move within a posting is to a foreign institution; a return home is recorded as the return"))
		}
		cur, _, err := openPosition(ctx, tx, id)
		if err != nil {
			return err
		}
		raise := okPos && ref.NominalRank > cur.NominalRank && cur.NominalRank > 0
		if raise && p.Raises >= 1 && !p.Extended {
			return conflict("HR-22", "the position was already raised once during this period abroad; a second raise needs the term extended for service needs (Art. 14(2))")
		}
		category := postingCategory(in.Position, ref, p.RareLanguage != "")
		termEnd := TermEnd(p.StartDate, TermYears[category])
		end := p.EndDate
		if !p.Extended || termEnd.After(end) {
			end = termEnd
		}
		planned := in.PlannedEnd
		if planned.IsZero() {
			planned = p.PlannedEnd
			if planned.After(end) {
				planned = end
			}
		}
		if planned.After(end) {
			return refusal("the move is invalid", fe("planned_end", fmt.Sprintf("R§8, HR-19: the whole period abroad from %s may run to %s at the latest, transfers included", p.StartDate, end)))
		}
		transfer := in.Unit != p.Unit
		if _, err := appoint(ctx, tx, check, by, id, AppointInput{AppointmentInput: in.AppointmentInput, Change: in.Change}, "posting_moved",
			map[string]any{"posting_id": p.ID, "raise": raise, "inter_mission_transfer": transfer, "rotation_type": "external"}); err != nil {
			return err
		}
		raises := p.Raises
		if raise {
			raises++
		}
		_, err = tx.Exec(ctx, `UPDATE postings SET unit_id = (SELECT id FROM units WHERE code = $2), category = $3, term_end = $4,
			end_date = $5, planned_end = $6, raises = $7 WHERE id = $1`, p.ID, in.Unit, category, termEnd, end, planned, raises)
		return err
	})
}

// PostingReturnInput records the return to RK (or the release from an
// international organisation).
type PostingReturnInput struct {
	ReturnedOn Date `json:"returned_on"`
	Change
}

// Return ends a posting: the notice of return is due within 5 working days
// (R§10); after a foreign institution, an attestation is due (HR-25).
func (s *Service) Return(ctx context.Context, check Check, by policy.Subject, id, postingID string, in PostingReturnInput) (Posting, error) {
	return s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		fs := in.fields()
		if in.ReturnedOn.IsZero() || in.ReturnedOn.Before(p.StartDate) {
			fs = append(fs, fe("returned_on", "required, on or after the start of the posting"))
		}
		if len(fs) > 0 {
			return refusal("the return is invalid", fs...)
		}
		if !p.ReturnedOn.IsZero() {
			return conflict("R§10", "the return was recorded on %s", p.ReturnedOn)
		}
		if p.Kind == PostingForeign && in.ReturnedOn.After(p.EndDate) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("HR-19: the return on %s is after the end of the term abroad (%s)", in.ReturnedOn, p.EndDate))
		}
		ev, err := record(ctx, tx, id, "posting_returned", map[string]any{"posting_id": p.ID, "returned_on": in.ReturnedOn}, in.Change, "", by)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE postings SET returned_on = $2 WHERE id = $1`, p.ID, in.ReturnedOn); err != nil {
			return err
		}
		if p.Kind == PostingIO {
			_, err = tx.Exec(ctx, `UPDATE service_periods SET end_date = $2 WHERE staff_id = $1 AND end_date IS NULL AND note = 'international organisation'`, id, in.ReturnedOn)
			return err
		}
		due, err := attestationDue(ctx, tx, cal, in.ReturnedOn)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO attestations (staff_id, posting_id, due_on, event_id) VALUES ($1, $2, $3, $4)`, id, p.ID, due, ev)
		return err
	})
}

// NoticeInput is the notice of return (Annex 2).
type NoticeInput struct {
	Date        Date   `json:"date"`
	Addressee   string `json:"addressee"`
	Institution string `json:"institution"`
	Address     string `json:"address"`
	Phone       string `json:"phone"`
	Email       string `json:"email"`
	BasisOrder  Act    `json:"basis_order"`
	Change
}

// SubmitNotice records the notice of return (R§10, Annex 2). One after its
// deadline (5 working days, or the extension) is recorded as late: the
// officer is then liable to inclusion in the reserve (R§12, erratum 3).
func (s *Service) SubmitNotice(ctx context.Context, check Check, by policy.Subject, id, postingID string, in NoticeInput) (Posting, error) {
	return s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		fs := in.fields()
		for _, f := range []struct{ name, v string }{{"addressee", in.Addressee}, {"institution", in.Institution}, {"address", in.Address}} {
			if strings.TrimSpace(f.v) == "" {
				fs = append(fs, fe(f.name, "Annex 2: required"))
			}
		}
		if strings.TrimSpace(in.BasisOrder.Number) == "" || in.BasisOrder.Date.IsZero() {
			fs = append(fs, fe("basis_order", "Annex 2: the order releasing the officer (number and date)"))
		}
		if in.Date.IsZero() {
			fs = append(fs, fe("date", "required"))
		}
		if len(fs) > 0 {
			return refusal("the notice is invalid", fs...)
		}
		if p.Kind != PostingForeign || p.ReturnedOn.IsZero() {
			return conflict("R§10", "a notice of return follows a recorded return from a foreign institution")
		}
		if p.Notice != nil {
			return conflict("R§10", "the notice was submitted on %s", p.Notice.Date)
		}
		if in.Date.Before(p.ReturnedOn) {
			return refusal("the notice is invalid", fe("date", "on or after the return"))
		}
		deadline := NoticeDeadline(cal, p.ReturnedOn)
		if !p.NoticeExtended.IsZero() {
			deadline = p.NoticeExtended
		}
		n := Notice{Date: in.Date, Addressee: in.Addressee, Institution: in.Institution, Address: in.Address, Phone: in.Phone,
			Email: in.Email, BasisOrder: in.BasisOrder, Deadline: deadline, Late: in.Date.After(deadline)}
		if n.Late {
			p.Warnings = append(p.Warnings, fmt.Sprintf("R§12: the notice came after its deadline %s: the officer is liable to inclusion in the personnel reserve", deadline))
		}
		b, _ := json.Marshal(n)
		if _, err := record(ctx, tx, id, "return_notice", map[string]any{"posting_id": p.ID, "notice": n}, in.Change, "", by); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE postings SET notice = $2 WHERE id = $1`, p.ID, b)
		return err
	})
}

// NoticeExtensionInput extends the notice deadline for valid reasons.
type NoticeExtensionInput struct {
	Until Date `json:"until"`
	Change
}

// ExtendNotice extends the notice deadline, to at most the 5-working-day
// deadline plus one month (R§10 part 2, erratum 3).
func (s *Service) ExtendNotice(ctx context.Context, check Check, by policy.Subject, id, postingID string, in NoticeExtensionInput) (Posting, error) {
	return s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		fs := in.fields()
		if in.Until.IsZero() {
			fs = append(fs, fe("until", "required"))
		}
		if len(fs) > 0 {
			return refusal("the extension is invalid", fs...)
		}
		if p.Kind != PostingForeign || p.ReturnedOn.IsZero() || p.Notice != nil {
			return conflict("R§10", "the notice deadline runs only after a return and before the notice")
		}
		base, limit := NoticeDeadline(cal, p.ReturnedOn), NoticeExtensionCap(cal, p.ReturnedOn)
		if !in.Until.After(base) || in.Until.After(limit) {
			return refusal("the extension is invalid", fe("until", fmt.Sprintf("R§10: after %s and by %s at the latest (5 working days after the return, plus one month)", base, limit)))
		}
		if _, err := record(ctx, tx, id, "return_notice_extended", map[string]any{"posting_id": p.ID, "until": in.Until}, in.Change, "", by); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE postings SET notice_extended_until = $2 WHERE id = $1`, p.ID, in.Until)
		return err
	})
}

// HomeAppointInput appoints the returned person in the ministry.
type HomeAppointInput struct {
	AppointmentInput
	Change
}

// AppointAfterReturn appoints a returned person in the ministry: to a
// position not lower than the one held before (HR-26, Art. 9(4)) unless a
// penalty of Art. 22 was imposed; after an international organisation, the
// same guarantee for those in service immediately before and not in a
// political position (HR-27, Art. 9(4-1)). A late appointment (after the
// 3-month deadline) is recorded with a warning.
func (s *Service) AppointAfterReturn(ctx context.Context, check Check, by policy.Subject, id, postingID string, in HomeAppointInput) (Posting, error) {
	return s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		if p.ReturnedOn.IsZero() || !p.AppointedOn.IsZero() {
			return conflict("HR-26", "an appointment after return follows a recorded return, once")
		}
		var ref PositionRef
		okPos, err := refValue(ctx, tx, RefPosition, in.Position, &ref)
		if err != nil {
			return err
		}
		var unitKind string
		if err := tx.QueryRow(ctx, `SELECT kind FROM units WHERE code = $1`, in.Unit).Scan(&unitKind); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if okPos && unitKind != "" && foreignUnit(unitKind) {
			return refusal("the appointment is invalid", fe("unit", "the appointment after return is in the ministry"))
		}
		p.derived(cal)
		rule := "HR-26"
		guarantee := true
		if p.Kind == PostingIO {
			rule = "HR-27"
			guarantee = p.InServiceBefore && !p.PoliticalBefore
		} else if p.Notice == nil {
			return conflict("R§12", "the appointment after return follows the notice of return (Annex 2)")
		}
		var penalties int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM penalties WHERE staff_id = $1 AND imposed_on >= $2`, id, p.StartDate).Scan(&penalties); err != nil {
			return err
		}
		if penalties > 0 {
			guarantee = false
		}
		if guarantee && okPos && p.HomePosition != nil && p.HomePosition.NominalRank > 0 && ref.NominalRank < p.HomePosition.NominalRank {
			return conflict(rule, "the position on return must not be lower than the one held in the ministry before (%s, nominal rank %d; offered %s, %d)",
				p.HomePosition.Title, p.HomePosition.NominalRank, ref.Title, ref.NominalRank)
		}
		if !p.AppointmentDue.IsZero() && in.StartDate.After(p.AppointmentDue) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: the appointment on %s is after its 3-month deadline %s", rule, in.StartDate, p.AppointmentDue))
		}
		if _, err := appoint(ctx, tx, check, by, id, AppointInput{AppointmentInput: in.AppointmentInput, Change: in.Change}, "appointed_after_return",
			map[string]any{"posting_id": p.ID, "rotation_type": "external", "guarantee": guarantee, "direction": "to_ministry"}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE postings SET appointed_on = $2 WHERE id = $1`, p.ID, in.StartDate)
		return err
	})
}

// RefusalInput records a refusal of a posting (HR-23).
type RefusalInput struct {
	Offered    string `json:"offered"`
	RefusedOn  Date   `json:"refused_on"`
	ReasonCode string `json:"reason_code"`
	ReasonText string `json:"reason_text"`
	Change
}

// Refusal is a recorded refusal.
type Refusal struct {
	ID         string `json:"id"`
	Offered    string `json:"offered"`
	RefusedOn  Date   `json:"refused_on"`
	ReasonCode string `json:"reason_code"`
	ReasonText string `json:"reason_text"`
	Valid      bool   `json:"valid"`
	Case       *Case  `json:"case,omitempty"`
}

// RefusePosting records a refusal to go abroad with its reason; a reason
// not on the Minister's list of valid reasons is a disciplinary offence, so
// a disciplinary case opens in the same transaction (HR-23, Art. 15(5)).
func (s *Service) RefusePosting(ctx context.Context, check Check, by policy.Subject, id string, in RefusalInput) (Refusal, error) {
	out := Refusal{Offered: in.Offered, RefusedOn: in.RefusedOn, ReasonCode: in.ReasonCode, ReasonText: in.ReasonText}
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		if strings.TrimSpace(in.Offered) == "" {
			fs = append(fs, fe("offered", "the post offered"))
		}
		if in.RefusedOn.IsZero() {
			fs = append(fs, fe("refused_on", "required"))
		}
		if strings.TrimSpace(in.ReasonText) == "" {
			fs = append(fs, fe("reason_text", "HR-23: record the reason given"))
		}
		if !refCodeRe.MatchString(in.ReasonCode) {
			fs = append(fs, fe("reason_code", "a code of the valid-reason list (reference refusal_reason), or none_listed"))
		}
		if len(fs) > 0 {
			return refusal("the refusal is invalid", fs...)
		}
		var v struct {
			Active bool `json:"active"`
		}
		found, err := refValue(ctx, tx, RefRefusalReason, in.ReasonCode, &v)
		if err != nil {
			return err
		}
		out.Valid = found && v.Active
		ev, err := record(ctx, tx, id, "posting_refused", out, in.Change, "", by)
		if err != nil {
			return err
		}
		var caseID *string
		if !out.Valid {
			c, err := openCase(ctx, tx, by, id, CaseInput{Offence: "other", OpenedOn: in.RefusedOn,
				Summary: fmt.Sprintf("HR-23: refused the posting %s without a valid reason (Art. 15(5)): %s", in.Offered, in.ReasonText), Change: in.Change})
			if err != nil {
				return err
			}
			out.Case, caseID = &c, &c.ID
		}
		return tx.QueryRow(ctx, `INSERT INTO posting_refusals (staff_id, offered, refused_on, reason_code, reason_text, valid, case_id, event_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, id, in.Offered, in.RefusedOn, in.ReasonCode, in.ReasonText, out.Valid, caseID, ev).Scan(&out.ID)
	})
	return out, err
}

// SpouseRetentionInput records a spouse's position kept (HR-47).
type SpouseRetentionInput struct {
	FamilyMemberID string `json:"family_member_id"`
	Employer       string `json:"employer"`
	Position       string `json:"position"`
	FromDate       Date   `json:"from_date"`
	Change
}

// SpouseRetention is a recorded retention.
type SpouseRetention struct {
	ID             string `json:"id"`
	FamilyMemberID string `json:"family_member_id"`
	Employer       string `json:"employer"`
	Position       string `json:"position"`
	FromDate       Date   `json:"from_date"`
	Until          Date   `json:"until"`
}

// RetainSpousePosition records that the spouse, in a state position when
// the posting was decided, keeps it on unpaid leave for the posting (HR-47,
// Art. 25(2)); it runs to the posting's end.
func (s *Service) RetainSpousePosition(ctx context.Context, check Check, by policy.Subject, id, postingID string, in SpouseRetentionInput) (SpouseRetention, error) {
	out := SpouseRetention{FamilyMemberID: in.FamilyMemberID, Employer: in.Employer, Position: in.Position, FromDate: in.FromDate}
	_, err := s.writePosting(ctx, check, id, postingID, func(tx pgx.Tx, cal *Calendar, p *Posting) error {
		fs := in.fields()
		if strings.TrimSpace(in.Employer) == "" || strings.TrimSpace(in.Position) == "" {
			fs = append(fs, fe("position", "HR-47: the spouse's employer and state position"))
		}
		if in.FromDate.IsZero() {
			fs = append(fs, fe("from_date", "required"))
		}
		if len(fs) > 0 {
			return refusal("the retention is invalid", fs...)
		}
		if p.Kind != PostingForeign {
			return conflict("HR-47", "a spouse's position is kept for a posting abroad")
		}
		var rel string
		if db.ValidUUID(in.FamilyMemberID) {
			if err := tx.QueryRow(ctx, `SELECT relation FROM family_members WHERE id = $1 AND staff_id = $2`, in.FamilyMemberID, id).Scan(&rel); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if rel != "spouse" {
			return refusal("the retention is invalid", fe("family_member_id", "HR-47: the spouse, as recorded in the family"))
		}
		out.Until = p.EndDate
		ev, err := record(ctx, tx, id, "spouse_position_retained", out, in.Change, "", by)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO spouse_retentions (posting_id, family_member_id, employer, position, from_date, until, event_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, p.ID, in.FamilyMemberID, in.Employer, in.Position, in.FromDate, p.EndDate, ev).Scan(&out.ID)
	})
	return out, err
}

// EquationInput records an equation of an official of an international
// organisation with foreign-institution staff (HR-48, Art. 32-1).
type EquationInput struct {
	Organisation string `json:"organisation"`
	Position     string `json:"position"`
	EquatedTo    string `json:"equated_to"`
	FromDate     Date   `json:"from_date"`
	Change
}

// Equation is a recorded equation.
type Equation struct {
	ID           string `json:"id"`
	Organisation string `json:"organisation"`
	Position     string `json:"position"`
	EquatedTo    string `json:"equated_to"`
	FromDate     Date   `json:"from_date"`
}

// Equate records the ministry's decision equating the person (HR-48); the
// decision is the act of the change.
func (s *Service) Equate(ctx context.Context, check Check, by policy.Subject, id string, in EquationInput) (Equation, error) {
	out := Equation{Organisation: in.Organisation, Position: in.Position, EquatedTo: in.EquatedTo, FromDate: in.FromDate}
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		if strings.TrimSpace(in.Organisation) == "" || strings.TrimSpace(in.Position) == "" || strings.TrimSpace(in.EquatedTo) == "" {
			fs = append(fs, fe("equated_to", "HR-48: the organisation, the position held there and the foreign-institution position it is equated to"))
		}
		if in.FromDate.IsZero() {
			fs = append(fs, fe("from_date", "required"))
		}
		if len(fs) > 0 {
			return refusal("the equation is invalid", fs...)
		}
		ev, err := record(ctx, tx, id, "equated", out, in.Change, "", by)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO io_equations (staff_id, organisation, position, equated_to, from_date, event_id)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, id, in.Organisation, in.Position, in.EquatedTo, in.FromDate, ev).Scan(&out.ID)
	})
	return out, err
}

// Due is "who is due for rotation, return, attestation" on a date, in a
// list scope.
type Due struct {
	On          Date       `json:"on"`
	Rotation    []DueEntry `json:"rotation"`    // postings whose end falls within the lead time (HR-19)
	Return      []DueEntry `json:"return"`      // returned, the notice or the appointment outstanding (R§10, R§12, HR-27)
	Attestation []DueEntry `json:"attestation"` // attestation after return not yet held (HR-25)
}

// DueEntry is one person due.
type DueEntry struct {
	StaffID  string `json:"staff_id"`
	FullName string `json:"full_name"`
	Unit     string `json:"unit"`
	Ref      string `json:"ref"`
	Due      Date   `json:"due"`
}

// DueOn lists who is due, as the personnel officer's scope allows.
func (s *Service) DueOn(ctx context.Context, sc policy.Scope, by policy.Subject, on Date) (Due, error) {
	out := Due{On: on, Rotation: []DueEntry{}, Return: []DueEntry{}, Attestation: []DueEntry{}}
	where, args := ScopeWhere(sc, by.UserID, 3)
	lead, err := LeadTime(ctx, s.pool, "personnel.term_end_lead")
	if err != nil {
		return out, err
	}
	horizon := on.Time.Add(lead)
	rows, err := s.pool.Query(ctx, `
		SELECT 'rotation', s.id, s.full_name, u.code, p.id, p.end_date FROM postings p JOIN staff s ON s.id = p.staff_id JOIN units u ON u.id = s.unit_id
		WHERE p.returned_on IS NULL AND p.kind = 'foreign_institution' AND p.end_date <= $2 AND `+where+`
		UNION ALL
		SELECT 'return', s.id, s.full_name, u.code, p.id, p.returned_on FROM postings p JOIN staff s ON s.id = p.staff_id JOIN units u ON u.id = s.unit_id
		WHERE p.returned_on IS NOT NULL AND p.returned_on <= $1 AND p.appointed_on IS NULL AND `+where+`
		UNION ALL
		SELECT 'attestation', s.id, s.full_name, u.code, a.id, a.due_on FROM attestations a JOIN staff s ON s.id = a.staff_id JOIN units u ON u.id = s.unit_id
		WHERE a.result IS NULL AND `+where+`
		ORDER BY 6, 3`, append([]any{on, horizon}, args...)...)
	if err != nil {
		return out, err
	}
	var kind string
	var e DueEntry
	_, err = pgx.ForEachRow(rows, []any{&kind, &e.StaffID, &e.FullName, &e.Unit, &e.Ref, &e.Due}, func() error {
		switch kind {
		case "rotation":
			out.Rotation = append(out.Rotation, e)
		case "return":
			out.Return = append(out.Return, e)
		default:
			out.Attestation = append(out.Attestation, e)
		}
		return nil
	})
	return out, err
}

func init() { RegisterAlertSource("postings", postingAlerts) }

// postingAlerts: term ending (HR-19) and its extension decision (HR-20),
// the notice of return (R§10) and the appointment after return (R§12,
// HR-26, HR-27), each from its lead time (settings personnel.*).
func postingAlerts(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error) {
	leads := map[string]time.Duration{}
	for _, k := range []string{"personnel.term_end_lead", "personnel.return_notice_lead", "personnel.appointment_lead"} {
		d, err := LeadTime(ctx, q, k)
		if err != nil {
			return nil, err
		}
		leads[k] = d
	}
	rows, err := q.Query(ctx, `SELECT `+postingCols+`, s.full_name FROM postings p JOIN staff s ON s.id = p.staff_id
		WHERE s.terminated_on IS NULL AND ((p.returned_on IS NULL AND p.kind = 'foreign_institution' AND p.end_date <= $1)
		   OR (p.returned_on IS NOT NULL AND p.appointed_on IS NULL))`, asOf.Add(leads["personnel.term_end_lead"]))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var p Posting
		var ex, al, hp, no []byte
		var name string
		if err := rows.Scan(&p.ID, &p.StaffID, &p.Kind, &p.Category, &p.RareLanguage, &p.Organisation, &p.Unit, &p.StartDate, &p.TermEnd,
			&p.EndDate, &p.PlannedEnd, &p.RotationType, &ex, &al, &hp, &p.PoliticalBefore, &p.InServiceBefore, &p.Raises, &p.Extended,
			&p.ReturnedOn, &no, &p.NoticeExtended, &p.AppointedOn, &name); err != nil {
			return nil, err
		}
		if len(no) > 0 {
			if err := json.Unmarshal(no, &p.Notice); err != nil {
				return nil, err
			}
		}
		p.derived(cal)
		a := Alert{StaffID: p.StaffID, StaffName: name, Ref: p.ID}
		switch {
		case p.ReturnedOn.IsZero():
			a.Kind, a.Rule, a.Due = "posting_term_ending", "HR-19", p.EndDate.Time
			a.Subject = fmt.Sprintf("the continuous term abroad (%s, %d years) ends at %s: extension (HR-20) or return decision due", p.Category, TermYears[p.Category], p.Unit)
		case p.Kind == PostingForeign && p.Notice == nil:
			deadline := p.NoticeDeadline
			if !p.NoticeExtended.IsZero() {
				deadline = p.NoticeExtended
			}
			if !Within(deadline.Time, asOf, leads["personnel.return_notice_lead"]) {
				continue
			}
			a.Kind, a.Rule, a.Due = "return_notice_due", "R§10", deadline.Time
			a.Subject = "the notice of return (Annex 2) with the settlement certificate and boarding passes"
		default:
			if p.AppointmentDue.IsZero() || !Within(p.AppointmentDue.Time, asOf, leads["personnel.appointment_lead"]) {
				continue
			}
			a.Kind, a.Due = "appointment_due", p.AppointmentDue.Time
			a.Rule, a.Subject = "R§12", "appointment in the ministry within 3 months of the notice, not lower than before (HR-26)"
			if p.Kind == PostingIO {
				a.Rule, a.Subject = "HR-27", "appointment within 3 months of the release from "+p.Organisation
			}
			if midnight(asOf).After(a.Due) {
				a.Kind = "appointment_overdue"
			}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
