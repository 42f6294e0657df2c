package personnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Language is a language the person commands, at a CEFR level (or native).
type Language struct {
	Language string `json:"language"` // ISO 639-1: kk, ru, en, ...
	Level    string `json:"level"`    // A1 ... C2, native
}

var languageLevels = []string{"A1", "A2", "B1", "B2", "C1", "C2", "native"}

func levelRank(l string) int { return slices.Index(languageLevels, l) }

// Education is one completed education.
type Education struct {
	Level       string `json:"level"` // secondary, vocational, bachelor, specialist, master, doctorate
	Institution string `json:"institution"`
	Year        int    `json:"year"`
}

var educationLevels = []string{"secondary", "vocational", "bachelor", "specialist", "master", "doctorate"}

// higher education levels (Art. 9(1)).
var higherEducation = []string{"bachelor", "specialist", "master", "doctorate"}

// Clearance is a dated result: the health clearance, the special check.
type Clearance struct {
	Result string `json:"result"` // positive or negative
	Date   Date   `json:"date"`
	Ref    string `json:"ref,omitempty"` // the conclusion's number
}

// Probation is the mandatory probation of a first-time entrant (HR-14).
type Probation struct {
	Start Date `json:"start"`
	End   Date `json:"end"`
}

// AppointmentInput appoints a person to a position.
type AppointmentInput struct {
	Position  string `json:"position"` // code of a position reference entry
	Unit      string `json:"unit"`     // unit code
	StartDate Date   `json:"start_date"`
	Authority string `json:"authority"` // who appoints: must be the position's appointing authority (HR-35)
	// HR-50: an ambassador may be located in RK and accredited to several
	// states and organisations at once.
	LocatedInRK    bool     `json:"located_in_rk,omitempty"`
	Accreditations []string `json:"accreditations,omitempty"`
	// HR-49: a permanent representative whose organisation's documents say
	// permanent representatives are not appointed by heads of state is not
	// a political civil servant.
	NotAppointedByHeadsOfState bool `json:"not_appointed_by_heads_of_state,omitempty"`
}

// AdmissionInput admits a person to the diplomatic service (Art. 9).
type AdmissionInput struct {
	PersonnelNumber string      `json:"personnel_number"`
	FullName        string      `json:"full_name"`
	BirthDate       Date        `json:"birth_date"`
	Citizenships    []string    `json:"citizenships"`
	Languages       []Language  `json:"languages"`
	Education       []Education `json:"education"`
	Health          Clearance   `json:"health"`
	SpecialCheck    Clearance   `json:"special_check"`
	// FirstEntry: entering diplomatic service bodies for the first time (HR-14).
	FirstEntry bool `json:"first_entry"`
	// ExclusionGrounds lists the civil-service exclusion grounds found in
	// the candidate's checks (codes of the exclusion_ground list); HR-15.
	ExclusionGrounds []string         `json:"exclusion_grounds"`
	Appointment      AppointmentInput `json:"appointment"`
	Change
}

// Position is a position held.
type Position struct {
	ID             string   `json:"id"`
	Position       string   `json:"position"`
	Title          string   `json:"title"`
	StaffKind      string   `json:"staff_kind"`
	Category       string   `json:"category"`
	Unit           string   `json:"unit"`
	StartDate      Date     `json:"start_date"`
	EndDate        Date     `json:"end_date"`
	Authority      string   `json:"authority"`
	Political      bool     `json:"political"`
	LocatedInRK    bool     `json:"located_in_rk"`
	Accreditations []string `json:"accreditations"`
	NominalRank    int      `json:"nominal_rank,omitempty"`
}

// Staff is a staff record.
type Staff struct {
	ID              string       `json:"id"`
	PersonnelNumber string       `json:"personnel_number"`
	FullName        string       `json:"full_name"`
	BirthDate       Date         `json:"birth_date"`
	Citizenships    []string     `json:"citizenships"`
	Languages       []Language   `json:"languages"`
	Education       []Education  `json:"education"`
	Health          Clearance    `json:"health"`
	SpecialCheck    Clearance    `json:"special_check"`
	Probation       *Probation   `json:"probation"`
	StaffKind       string       `json:"staff_kind"` // of the current (or last) position (HR-01)
	Unit            string       `json:"unit"`
	Account         string       `json:"account,omitempty"` // linked username
	AdmittedOn      Date         `json:"admitted_on"`
	Status          string       `json:"status"` // serving, termination_pending, terminated
	Termination     *Termination `json:"termination"`
	Rank            *RankHeld    `json:"rank"`
	Position        *Position    `json:"position"`
	Positions       []Position   `json:"positions"`
	Warnings        []string     `json:"warnings"`
	Version         int          `json:"version"`
}

var (
	countryRe = regexp.MustCompile(`^[A-Z]{2}$`)
	langRe    = regexp.MustCompile(`^[a-z]{2}$`)
)

// admissionFailures checks HR-13 and HR-15 and returns each failed
// condition as a field error naming the rule.
func admissionFailures(ctx context.Context, q db.Querier, in AdmissionInput) ([]valise.FieldError, error) {
	var fs []valise.FieldError
	appointed := in.Appointment.StartDate
	// HR-13: citizenship of RK, and no other (Art. 18(1)(4-1) ends the service of a foreign citizen).
	if !slices.Contains(in.Citizenships, "KZ") {
		fs = append(fs, fe("citizenships", "HR-13: citizenship of the Republic of Kazakhstan is required (Art. 9(1))"))
	}
	for i, c := range in.Citizenships {
		if !countryRe.MatchString(c) {
			fs = append(fs, fe(fmt.Sprintf("citizenships[%d]", i), "an ISO 3166 country code"))
		} else if c != "KZ" {
			fs = append(fs, fe(fmt.Sprintf("citizenships[%d]", i), "HR-13: holds a foreign citizenship ("+c+"), which ends diplomatic service (Art. 18(1)(4-1))"))
		}
	}
	// HR-13: higher education.
	if !slices.ContainsFunc(in.Education, func(e Education) bool { return slices.Contains(higherEducation, e.Level) }) {
		fs = append(fs, fe("education", "HR-13: higher education is required (Art. 9(1))"))
	}
	for i, e := range in.Education {
		if !slices.Contains(educationLevels, e.Level) {
			fs = append(fs, fe(fmt.Sprintf("education[%d].level", i), fmt.Sprintf("one of %v", educationLevels)))
		}
	}
	// HR-13: free command of Kazakh, Russian and a foreign language.
	var flu struct {
		Level string `json:"level"`
	}
	if ok, err := refValue(ctx, q, RefFluency, "min_level", &flu); err != nil {
		return nil, err
	} else if !ok {
		flu.Level = "C1"
	}
	fluent := func(l Language) bool { return levelRank(l.Level) >= levelRank(flu.Level) }
	has := func(code string) bool {
		return slices.ContainsFunc(in.Languages, func(l Language) bool { return l.Language == code && fluent(l) })
	}
	for i, l := range in.Languages {
		if !langRe.MatchString(l.Language) || levelRank(l.Level) < 0 {
			fs = append(fs, fe(fmt.Sprintf("languages[%d]", i), fmt.Sprintf("an ISO 639-1 code and a level, one of %v", languageLevels)))
		}
	}
	if !has("kk") {
		fs = append(fs, fe("languages", "HR-13: free command of Kazakh (level "+flu.Level+" or above) is required (Art. 9(1))"))
	}
	if !has("ru") {
		fs = append(fs, fe("languages", "HR-13: free command of Russian (level "+flu.Level+" or above) is required (Art. 9(1))"))
	}
	if !slices.ContainsFunc(in.Languages, func(l Language) bool { return l.Language != "kk" && l.Language != "ru" && fluent(l) }) {
		fs = append(fs, fe("languages", "HR-13: free command of a foreign language (level "+flu.Level+" or above) is required (Art. 9(1))"))
	}
	// HR-13: health clearance and a positive special check, both on or before the appointment date.
	dated := func(field, what, article string, c Clearance) {
		switch {
		case c.Result != "positive":
			fs = append(fs, fe(field, "HR-13: a positive "+what+" is required ("+article+")"))
		case c.Date.IsZero():
			fs = append(fs, fe(field+".date", "HR-13: the "+what+" needs its date"))
		case !appointed.IsZero() && c.Date.After(appointed):
			fs = append(fs, fe(field+".date", fmt.Sprintf("HR-13: the %s of %s is after the appointment date %s; it must come first (%s)", what, c.Date, appointed, article)))
		}
	}
	dated("health", "health clearance", "Art. 9(1)", in.Health)
	dated("special_check", "special check result", "Art. 9(3)", in.SpecialCheck)
	// HR-15: the civil-service exclusion grounds (reference list).
	for i, g := range in.ExclusionGrounds {
		var v struct {
			Label  string `json:"label"`
			Active bool   `json:"active"`
		}
		ok, err := refValue(ctx, q, RefExclusion, g, &v)
		if err != nil {
			return nil, err
		}
		field := fmt.Sprintf("exclusion_grounds[%d]", i)
		switch {
		case !ok:
			fs = append(fs, fe(field, fmt.Sprintf("unknown exclusion ground %q (see the exclusion_ground reference list)", g)))
		case v.Active:
			fs = append(fs, fe(field, fmt.Sprintf("HR-15: excluded from admission: %s (Art. 9(6))", v.Label)))
		}
	}
	return fs, nil
}

// resolvePosition validates an appointment and returns the position entry,
// the unit id and whether the position is political.
func resolvePosition(ctx context.Context, q db.Querier, a AppointmentInput, field string) (PositionRef, string, bool, []valise.FieldError, error) {
	var p PositionRef
	var fs []valise.FieldError
	ok, err := refValue(ctx, q, RefPosition, a.Position, &p)
	if err != nil {
		return p, "", false, nil, err
	}
	if !ok {
		return p, "", false, []valise.FieldError{fe(field+".position", fmt.Sprintf("no position %q in the position reference list", a.Position))}, nil
	}
	var unitID, unitKind string
	err = q.QueryRow(ctx, `SELECT id, kind FROM units WHERE code = $1`, a.Unit).Scan(&unitID, &unitKind)
	if errors.Is(err, pgx.ErrNoRows) {
		fs = append(fs, fe(field+".unit", fmt.Sprintf("no unit has code %q", a.Unit)))
	} else if err != nil {
		return p, "", false, nil, err
	} else if !slices.Contains([]string{"ministry", "department", "embassy", "consulate", "permanent_mission"}, unitKind) {
		fs = append(fs, fe(field+".unit", "a staff position is in the ministry or a foreign institution (a diplomatic service body)"))
	}
	if a.StartDate.IsZero() {
		fs = append(fs, fe(field+".start_date", "required"))
	}
	want, err := appointingAuthority(ctx, q, p.Category)
	if err != nil {
		return p, "", false, nil, err
	}
	if a.Authority != want {
		fs = append(fs, fe(field+".authority", fmt.Sprintf("HR-35: a %s is appointed by the %s (Art. 9(2)), not %q", p.Title, want, a.Authority)))
	}
	headOfMission := p.Category == "ambassador" || p.Category == "permanent_representative"
	if (a.LocatedInRK || len(a.Accreditations) > 0) && !headOfMission {
		fs = append(fs, fe(field+".accreditations", "HR-50: only an ambassador or permanent representative has accreditations or is located in RK"))
	}
	for i, c := range a.Accreditations {
		if strings.TrimSpace(c) == "" {
			fs = append(fs, fe(fmt.Sprintf("%s.accreditations[%d]", field, i), "a state or organisation"))
		}
	}
	political := p.Political
	if p.Category == "permanent_representative" && a.NotAppointedByHeadsOfState {
		political = false // HR-49, Art. 9(2) part 3
	}
	return p, unitID, political, fs, nil
}

// insertPosition opens a position held and the service period it counts as.
func insertPosition(ctx context.Context, tx pgx.Tx, staffID, unitID string, a AppointmentInput, p PositionRef, political bool) (string, error) {
	acc := a.Accreditations
	if acc == nil {
		acc = []string{}
	}
	var id, unitKind string
	err := tx.QueryRow(ctx, `
		INSERT INTO staff_positions (staff_id, position_code, title, staff_kind, category, unit_id, start_date,
		                             authority, political, located_in_rk, accreditations, nominal_rank)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, nullif($12, 0)) RETURNING id,
		(SELECT kind FROM units WHERE id = $6)`,
		staffID, a.Position, p.Title, p.StaffKind, p.Category, unitID, a.StartDate, a.Authority, political,
		a.LocatedInRK, acc, p.NominalRank).Scan(&id, &unitKind)
	if err != nil {
		return "", fmt.Errorf("insert position: %w", err)
	}
	ptype := PeriodMFA
	if slices.Contains([]string{"embassy", "consulate", "permanent_mission"}, unitKind) {
		ptype = PeriodForeignInstitution
	}
	if _, err := tx.Exec(ctx, `INSERT INTO service_periods (staff_id, period_type, counted, start_date, note)
		VALUES ($1, $2, true, $3, 'position held')`, staffID, ptype, a.StartDate); err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, `UPDATE staff SET unit_id = $2, staff_kind = $3 WHERE id = $1`, staffID, unitID, p.StaffKind)
	return id, err
}

// Admit admits a person (HR-13, HR-14, HR-15) to a first position (HR-01).
// Every failed condition is named; nothing is written unless all pass.
func (s *Service) Admit(ctx context.Context, check Check, by policy.Subject, in AdmissionInput) (Staff, error) {
	fs := in.fields()
	if strings.TrimSpace(in.FullName) == "" {
		fs = append(fs, fe("full_name", "required"))
	}
	if strings.TrimSpace(in.PersonnelNumber) == "" {
		fs = append(fs, fe("personnel_number", "required"))
	}
	if in.BirthDate.IsZero() {
		fs = append(fs, fe("birth_date", "required"))
	}
	var id string
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		adm, err := admissionFailures(ctx, tx, in)
		if err != nil {
			return err
		}
		p, unitID, political, pfs, err := resolvePosition(ctx, tx, in.Appointment, "appointment")
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActStaffManage, policy.Resource{Kind: "staff", Origin: in.Appointment.Unit}); err != nil {
			return err
		}
		fs = append(append(fs, adm...), pfs...)
		if len(fs) > 0 {
			return refusal("admission refused", fs...)
		}
		var prob *Probation
		if in.FirstEntry { // HR-14: mandatory probation, its length from the reference data
			var v struct {
				Months int `json:"months"`
			}
			if ok, err := refValue(ctx, tx, RefProbation, "months", &v); err != nil {
				return err
			} else if !ok || v.Months < 1 {
				return refusal("admission refused", fe("first_entry", "HR-14: no probation length is set (reference probation/months)"))
			}
			prob = &Probation{Start: in.Appointment.StartDate, End: in.Appointment.StartDate.AddDate(0, v.Months, 0)}
		}
		langs, _ := json.Marshal(nonNil(in.Languages))
		edu, _ := json.Marshal(nonNil(in.Education))
		health, _ := json.Marshal(in.Health)
		sc, _ := json.Marshal(in.SpecialCheck)
		var ps, pe Date
		if prob != nil {
			ps, pe = prob.Start, prob.End
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO staff (personnel_number, full_name, birth_date, citizenships, languages, education, health,
			                   special_check, probation_start, probation_end, unit_id, staff_kind, admitted_on)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (personnel_number) DO NOTHING RETURNING id`,
			in.PersonnelNumber, in.FullName, in.BirthDate, in.Citizenships, langs, edu, health, sc, ps, pe,
			unitID, p.StaffKind, in.Appointment.StartDate).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Errorf(valise.ECONFLICT, "personnel number %s is taken", in.PersonnelNumber)
		}
		if err != nil {
			return err
		}
		if _, err := insertPosition(ctx, tx, id, unitID, in.Appointment, p, political); err != nil {
			return err
		}
		data := in
		data.Change = Change{}
		_, err = record(ctx, tx, id, "admitted", data, in.Change, "", by)
		return err
	})
	if err != nil {
		return Staff{}, err
	}
	return s.Get(ctx, check, id)
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// AppointInput is an appointment with its reason and act.
type AppointInput struct {
	AppointmentInput
	Change
}

// LinkInput links an account (by username) to a staff record.
type LinkInput struct {
	Username string `json:"username"`
	Change
}

// Appoint moves a serving person to another position: the current one ends
// the day before (HR-01: the new position sets the staff kind).
func (s *Service) Appoint(ctx context.Context, check Check, by policy.Subject, id string, in AppointInput) (Staff, error) {
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		_, err := appoint(ctx, tx, check, by, id, in, "appointed", nil)
		return err
	})
	if err != nil {
		return Staff{}, err
	}
	return s.Get(ctx, check, id)
}

// appoint moves a serving person to another position in tx (Appoint, and
// the posting moves of postings.go); the event is kind, its data the
// appointment merged with extra. It returns the position reference.
func appoint(ctx context.Context, tx pgx.Tx, check Check, by policy.Subject, id string, in AppointInput, kind string, extra map[string]any) (PositionRef, error) {
	p, unitID, political, fs, err := resolvePosition(ctx, tx, in.AppointmentInput, "")
	if err != nil {
		return p, err
	}
	fs = append(in.fields(), fs...)
	for i := range fs {
		fs[i].Field = strings.TrimPrefix(fs[i].Field, ".")
	}
	if len(fs) > 0 {
		return p, refusal("appointment refused", fs...)
	}
	if err := check(ctx, policy.ActStaffManage, policy.Resource{Kind: "staff", Origin: in.Unit}); err != nil {
		return p, err
	}
	var terminated *Date
	var cur Date
	if err := tx.QueryRow(ctx, `SELECT terminated_on, (SELECT start_date FROM staff_positions WHERE staff_id = s.id AND end_date IS NULL)
		FROM staff s WHERE id = $1`, id).Scan(&terminated, &cur); err != nil {
		return p, err
	}
	if terminated != nil && !terminated.IsZero() {
		return p, conflict("HR-33", "the person's service ended on %s", terminated)
	}
	if !cur.IsZero() && !in.StartDate.After(cur) {
		return p, refusal("appointment refused", fe("start_date", fmt.Sprintf("must be after the start of the current position (%s)", cur)))
	}
	end := in.StartDate.AddDate(0, 0, -1)
	if _, err := tx.Exec(ctx, `UPDATE staff_positions SET end_date = $2 WHERE staff_id = $1 AND end_date IS NULL`, id, end); err != nil {
		return p, err
	}
	if _, err := tx.Exec(ctx, `UPDATE service_periods SET end_date = $2 WHERE staff_id = $1 AND end_date IS NULL AND note = 'position held'`, id, end); err != nil {
		return p, err
	}
	if _, err := insertPosition(ctx, tx, id, unitID, in.AppointmentInput, p, political); err != nil {
		return p, err
	}
	var data any = in.AppointmentInput
	if extra != nil {
		b, _ := json.Marshal(in.AppointmentInput)
		m := map[string]any{}
		_ = json.Unmarshal(b, &m)
		for k, v := range extra {
			m[k] = v
		}
		data = m
	}
	_, err = record(ctx, tx, id, kind, data, in.Change, "", by)
	return p, err
}

// LinkAccount links a user account to the staff record: one person, one
// record (a second link of either side is refused).
func (s *Service) LinkAccount(ctx context.Context, check Check, by policy.Subject, id string, in LinkInput) (Staff, error) {
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		if fs := in.fields(); len(fs) > 0 {
			return refusal("the link is invalid", fs...)
		}
		var uid string
		err := tx.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, in.Username).Scan(&uid)
		if errors.Is(err, pgx.ErrNoRows) {
			return refusal("the link is invalid", fe("username", "no such account"))
		}
		if err != nil {
			return err
		}
		if r.userID != "" {
			return valise.Errorf(valise.ECONFLICT, "the record is already linked to an account (one person, one record)")
		}
		var other string
		err = tx.QueryRow(ctx, `SELECT id FROM staff WHERE user_id = $1`, uid).Scan(&other)
		if err == nil {
			return valise.Errorf(valise.ECONFLICT, "the account %s is already linked to another staff record (one person, one record)", in.Username)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE staff SET user_id = $2 WHERE id = $1`, id, uid); err != nil {
			return err
		}
		_, err = record(ctx, tx, id, "account_linked", map[string]string{"username": in.Username}, in.Change, "", by)
		return err
	})
	if err != nil {
		return Staff{}, err
	}
	return s.Get(ctx, check, id)
}

// CorrectionInput corrects identity data: a new event naming the one it corrects.
type CorrectionInput struct {
	Corrects     string      `json:"corrects"` // id of the event whose data was wrong
	FullName     *string     `json:"full_name,omitempty"`
	BirthDate    *Date       `json:"birth_date,omitempty"`
	Citizenships []string    `json:"citizenships,omitempty"`
	Languages    []Language  `json:"languages,omitempty"`
	Education    []Education `json:"education,omitempty"`
	Change
}

// Correct records a correction of identity data as a new event.
func (s *Service) Correct(ctx context.Context, check Check, by policy.Subject, id string, in CorrectionInput) (Staff, error) {
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		var n int
		if db.ValidUUID(in.Corrects) {
			_ = tx.QueryRow(ctx, `SELECT count(*) FROM staff_events WHERE id = $1 AND staff_id = $2`, in.Corrects, id).Scan(&n)
		}
		if n == 0 {
			fs = append(fs, fe("corrects", "the id of an event of this record"))
		}
		if in.FullName == nil && in.BirthDate == nil && in.Citizenships == nil && in.Languages == nil && in.Education == nil {
			fs = append(fs, fe("(body)", "correct at least one of full_name, birth_date, citizenships, languages, education"))
		}
		if in.FullName != nil && strings.TrimSpace(*in.FullName) == "" {
			fs = append(fs, fe("full_name", "must not be empty"))
		}
		if len(fs) > 0 {
			return refusal("the correction is invalid", fs...)
		}
		langs, _ := json.Marshal(in.Languages)
		edu, _ := json.Marshal(in.Education)
		var bd Date
		if in.BirthDate != nil {
			bd = *in.BirthDate
		}
		_, err := tx.Exec(ctx, `UPDATE staff SET
			full_name = coalesce($2, full_name), birth_date = coalesce($3, birth_date),
			citizenships = coalesce($4, citizenships),
			languages = CASE WHEN $5::jsonb = 'null' THEN languages ELSE $5 END,
			education = CASE WHEN $6::jsonb = 'null' THEN education ELSE $6 END WHERE id = $1`,
			id, in.FullName, bd, in.Citizenships, langs, edu)
		if err != nil {
			return err
		}
		data := in
		data.Change, data.Corrects = Change{}, ""
		_, err = record(ctx, tx, id, "corrected", data, in.Change, in.Corrects, by)
		return err
	})
	if err != nil {
		return Staff{}, err
	}
	return s.Get(ctx, check, id)
}

// Get returns a staff record the caller may read.
func (s *Service) Get(ctx context.Context, check Check, id string) (Staff, error) {
	var st Staff
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		var err error
		st, err = loadStaff(ctx, tx, id, Today(s.now()))
		return err
	})
	return st, err
}

func loadStaff(ctx context.Context, q db.Querier, id string, today Date) (Staff, error) {
	var st Staff
	var langs, edu, health, sc, term []byte
	var ps, pe Date
	var account *string
	err := q.QueryRow(ctx, `
		SELECT s.id, s.personnel_number, s.full_name, s.birth_date, s.citizenships, s.languages, s.education,
		       s.health, s.special_check, s.probation_start, s.probation_end, s.staff_kind, u.code, a.username,
		       s.admitted_on, s.termination, s.version
		FROM staff s JOIN units u ON u.id = s.unit_id LEFT JOIN users a ON a.id = s.user_id WHERE s.id = $1`, id).Scan(
		&st.ID, &st.PersonnelNumber, &st.FullName, &st.BirthDate, &st.Citizenships, &langs, &edu, &health, &sc,
		&ps, &pe, &st.StaffKind, &st.Unit, &account, &st.AdmittedOn, &term, &st.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	if err != nil {
		return st, err
	}
	_ = json.Unmarshal(langs, &st.Languages)
	_ = json.Unmarshal(edu, &st.Education)
	_ = json.Unmarshal(health, &st.Health)
	_ = json.Unmarshal(sc, &st.SpecialCheck)
	if !ps.IsZero() {
		st.Probation = &Probation{Start: ps, End: pe}
	}
	if account != nil {
		st.Account = *account
	}
	st.Status = "serving"
	if len(term) > 0 && string(term) != "null" {
		st.Termination = &Termination{}
		_ = json.Unmarshal(term, st.Termination)
		st.Status = "terminated"
		if st.Termination.EffectiveDate.After(today) {
			st.Status = "termination_pending"
		}
	}
	if st.Positions, err = loadPositions(ctx, q, id); err != nil {
		return st, err
	}
	for i := range st.Positions {
		if st.Positions[i].EndDate.IsZero() || i == len(st.Positions)-1 {
			p := st.Positions[i]
			st.Position = &p
		}
	}
	if st.Rank, err = currentRank(ctx, q, id); err != nil {
		return st, err
	}
	st.Warnings = []string{}
	if st.StaffKind == KindDiplomatic && st.Rank == nil && st.Status != "terminated" {
		st.Warnings = append(st.Warnings, "HR-02: holds a diplomatic position without a diplomatic rank (allowed: \"as a rule\", Art. 1(9))")
	}
	if st.Rank != nil && st.Position != nil && st.Position.NominalRank > 0 && st.Status != "terminated" {
		if d := st.Rank.Rank - st.Position.NominalRank; d > 1 || d < -1 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("HR-05: rank %d is %d steps from the position's nominal rank %d (Art. 11(2))", st.Rank.Rank, d, st.Position.NominalRank))
		}
	}
	return st, nil
}

func loadPositions(ctx context.Context, q db.Querier, id string) ([]Position, error) {
	rows, err := q.Query(ctx, `
		SELECT p.id, p.position_code, p.title, p.staff_kind, p.category, u.code, p.start_date, p.end_date, p.authority,
		       p.political, p.located_in_rk, p.accreditations, coalesce(p.nominal_rank, 0)
		FROM staff_positions p JOIN units u ON u.id = p.unit_id WHERE p.staff_id = $1 ORDER BY p.start_date`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Position, error) {
		var p Position
		err := row.Scan(&p.ID, &p.Position, &p.Title, &p.StaffKind, &p.Category, &p.Unit, &p.StartDate, &p.EndDate,
			&p.Authority, &p.Political, &p.LocatedInRK, &p.Accreditations, &p.NominalRank)
		return p, err
	})
}

// StaffSummary is one row of a staff list.
type StaffSummary struct {
	ID              string `json:"id"`
	PersonnelNumber string `json:"personnel_number"`
	FullName        string `json:"full_name"`
	StaffKind       string `json:"staff_kind"`
	Unit            string `json:"unit"`
	Rank            int    `json:"rank,omitempty"`
	Terminated      bool   `json:"terminated"`
}

// ScopeWhere turns a policy list scope into SQL on staff s: rows of a unit
// in scope (or every unit), and the caller's own record when Self. Arguments
// are numbered from n.
func ScopeWhere(sc policy.Scope, userID string, n int) (string, []any) {
	if sc.None() {
		return "false", nil
	}
	if sc.All {
		return "true", nil
	}
	units := sc.Units
	if units == nil {
		units = []string{}
	}
	cond := fmt.Sprintf("(SELECT code FROM units WHERE id = s.unit_id) = ANY($%d::text[])", n)
	args := []any{units}
	if sc.Self && userID != "" {
		cond = fmt.Sprintf("(%s OR s.user_id = $%d::uuid)", cond, n+1)
		args = append(args, userID)
	}
	return cond, args
}

// List returns the staff records in scope (filtered in SQL), by personnel number.
func (s *Service) List(ctx context.Context, sc policy.Scope, by policy.Subject, unit, kind string) ([]StaffSummary, error) {
	where, args := ScopeWhere(sc, by.UserID, 3)
	rows, err := s.pool.Query(ctx, `
		SELECT s.id, s.personnel_number, s.full_name, s.staff_kind, u.code,
		       coalesce((SELECT rank FROM staff_ranks r WHERE r.staff_id = s.id ORDER BY id DESC LIMIT 1), 0),
		       s.terminated_on IS NOT NULL AND s.terminated_on <= current_date
		FROM staff s JOIN units u ON u.id = s.unit_id
		WHERE ($1 = '' OR u.code = $1) AND ($2 = '' OR s.staff_kind = $2) AND `+where+`
		ORDER BY s.personnel_number`, append([]any{unit, kind}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (StaffSummary, error) {
		var x StaffSummary
		err := row.Scan(&x.ID, &x.PersonnelNumber, &x.FullName, &x.StaffKind, &x.Unit, &x.Rank, &x.Terminated)
		return x, err
	})
}
