package personnel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"valise"
	"valise/internal/dbtest"
	"valise/personnel"
	"valise/policy"
)

var scopeAll = policy.Scope{All: true}

func TestMain(m *testing.M) { dbtest.Main(m) }

type world struct {
	t     *testing.T
	svc   *personnel.Service
	authz *policy.Authorizer
	po    policy.Subject // personnel officer of every unit
	db    *dbtest.Database
	seq   int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, u := range [][]string{{"MFA", "ministry", "KZ"}, {"DE-BER", "embassy", "DE"}, {"JP-TYO", "embassy", "JP"}, {"MOD", "state_body", "KZ"}} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO units (code, name, kind, country) VALUES ($1, $1, $2, $3)`, u[0], u[1], u[2]); err != nil {
			t.Fatal(err)
		}
	}
	a, err := policy.New(ctx, d.Pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, svc: personnel.New(d.Pool), authz: a, db: d}
	w.po = w.user("po.all", "MFA", []string{policy.RolePersonnelOfficer}, []string{"*"})
	return w
}

func (w *world) user(name, unit string, roles, scope []string) policy.Subject {
	w.t.Helper()
	if scope == nil {
		scope = []string{}
	}
	s := policy.Subject{Username: name, Roles: roles, UnitCode: unit, Scope: scope}
	if err := w.db.Pool.QueryRow(context.Background(), `INSERT INTO users (username, full_name, unit_id, roles, scope)
		SELECT $1, $1, id, $3, $4 FROM units WHERE code = $2 RETURNING id`, name, unit, roles, scope).Scan(&s.UserID); err != nil {
		w.t.Fatal(err)
	}
	return s
}

func (w *world) check(s policy.Subject) personnel.Check {
	return func(ctx context.Context, action string, r policy.Resource) error {
		return w.authz.Authorize(ctx, s, action, r)
	}
}

var act = personnel.Change{Reason: "test", Act: personnel.Act{Number: "Order 1", Date: personnel.D(2020, 1, 1)}}

func d(s string) personnel.Date {
	v, err := personnel.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

// candidate is a person who meets every admission condition, appointed to position at unit on start.
func (w *world) candidate(position, unit, start string) personnel.AdmissionInput {
	w.seq++
	auth := "minister"
	if position == "ambassador" || position == "permanent_representative" {
		auth = "president"
	}
	return personnel.AdmissionInput{
		PersonnelNumber: fmt.Sprintf("P-%04d", w.seq), FullName: fmt.Sprintf("Person %d", w.seq), BirthDate: d("1990-05-05"),
		Citizenships: []string{"KZ"},
		Languages:    []personnel.Language{{Language: "kk", Level: "native"}, {Language: "ru", Level: "C2"}, {Language: "en", Level: "C1"}},
		Education:    []personnel.Education{{Level: "master", Institution: "KazNU", Year: 2014}},
		Health:       personnel.Clearance{Result: "positive", Date: d(start)},
		SpecialCheck: personnel.Clearance{Result: "positive", Date: d(start)},
		FirstEntry:   true,
		Appointment:  personnel.AppointmentInput{Position: position, Unit: unit, StartDate: d(start), Authority: auth},
		Change:       act,
	}
}

func (w *world) admit(in personnel.AdmissionInput) personnel.Staff {
	w.t.Helper()
	st, err := w.svc.Admit(context.Background(), w.check(w.po), w.po, in)
	if err != nil {
		w.t.Fatalf("admit: %v %+v", err, fields(err))
	}
	return st
}

func (w *world) rank(id string, in personnel.RankInput) (personnel.RankChange, error) {
	if in.Authority == "" {
		in.Authority = "minister"
	}
	in.ChangeInfo = act
	return w.svc.ChangeRank(context.Background(), w.check(w.po), w.po, id, in)
}

func (w *world) mustRank(id string, in personnel.RankInput) personnel.RankChange {
	w.t.Helper()
	c, err := w.rank(id, in)
	if err != nil {
		w.t.Fatalf("rank %+v: %v %+v", in, err, fields(err))
	}
	return c
}

func fields(err error) []valise.FieldError {
	if e, ok := err.(*valise.Error); ok {
		return e.Fields
	}
	return nil
}

// refused asserts err is code with a message or field naming want.
func refused(t *testing.T, err error, code, want string) {
	t.Helper()
	if valise.ErrorCode(err) != code {
		t.Fatalf("want %s naming %q, got %v", code, want, err)
	}
	b, _ := json.Marshal(fields(err))
	if !strings.Contains(valise.ErrorMessage(err)+string(b), want) {
		t.Fatalf("the refusal does not name %q: %s %s", want, valise.ErrorMessage(err), b)
	}
}

// snapshot counts every personnel table's rows, to prove a refusal changed nothing.
func (w *world) snapshot() string {
	w.t.Helper()
	var out string
	for _, tbl := range []string{"staff", "staff_positions", "service_periods", "staff_ranks", "penalties", "disciplinary_cases",
		"family_members", "personnel_reserve", "staff_studies", "staff_events", "personnel_reference"} {
		var n int
		if err := w.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			w.t.Fatal(err)
		}
		out += fmt.Sprintf("%s=%d ", tbl, n)
	}
	var v int
	_ = w.db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(version), 0) FROM staff`).Scan(&v)
	return out + fmt.Sprintf("versions=%d", v)
}

func (w *world) unchanged(before string) {
	w.t.Helper()
	if after := w.snapshot(); after != before {
		w.t.Fatalf("a refusal changed something:\nbefore %s\nafter  %s", before, after)
	}
}

func TestAdmissionConditions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		edit  func(*personnel.AdmissionInput)
		field string
		want  string
	}{
		{"no RK citizenship", func(in *personnel.AdmissionInput) { in.Citizenships = []string{"RU"} }, "citizenships", "HR-13: citizenship of the Republic of Kazakhstan"},
		{"a second citizenship", func(in *personnel.AdmissionInput) { in.Citizenships = []string{"KZ", "TR"} }, "citizenships[1]", "foreign citizenship (TR)"},
		{"no higher education", func(in *personnel.AdmissionInput) { in.Education[0].Level = "vocational" }, "education", "HR-13: higher education"},
		{"Russian below fluency", func(in *personnel.AdmissionInput) { in.Languages[1].Level = "B2" }, "languages", "free command of Russian"},
		{"no Kazakh", func(in *personnel.AdmissionInput) { in.Languages = in.Languages[1:] }, "languages", "free command of Kazakh"},
		{"no foreign language", func(in *personnel.AdmissionInput) { in.Languages = in.Languages[:2] }, "languages", "free command of a foreign language"},
		{"health not cleared", func(in *personnel.AdmissionInput) { in.Health.Result = "negative" }, "health", "positive health clearance"},
		{"special check a day after appointment", func(in *personnel.AdmissionInput) { in.SpecialCheck.Date = d("2024-03-02") }, "special_check.date", "is after the appointment date"},
		{"special check negative", func(in *personnel.AdmissionInput) { in.SpecialCheck.Result = "negative" }, "special_check", "positive special check"},
		{"exclusion ground", func(in *personnel.AdmissionInput) { in.ExclusionGrounds = []string{"barred_by_court"} }, "exclusion_grounds[0]", "HR-15: excluded from admission: barred by a court"},
		{"unknown exclusion ground", func(in *personnel.AdmissionInput) { in.ExclusionGrounds = []string{"nope"} }, "exclusion_grounds[0]", "unknown exclusion ground"},
	}
	before := w.snapshot()
	for _, c := range cases {
		in := w.candidate("attache", "MFA", "2024-03-01")
		c.edit(&in)
		_, err := w.svc.Admit(ctx, w.check(w.po), w.po, in)
		if valise.ErrorCode(err) != valise.EINVALID {
			t.Fatalf("%s: want invalid, got %v", c.name, err)
		}
		found := false
		for _, f := range fields(err) {
			if f.Field == c.field && strings.Contains(f.Reason, c.want) {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: no field %s naming %q in %+v", c.name, c.field, c.want, fields(err))
		}
	}
	w.unchanged(before)

	// Just inside: the special check and health clearance on the appointment day.
	st := w.admit(w.candidate("attache", "MFA", "2024-03-01"))
	if st.StaffKind != personnel.KindDiplomatic || st.Probation == nil || st.Probation.End.String() != "2024-09-01" {
		t.Fatalf("HR-01/HR-14: %+v %+v", st.StaffKind, st.Probation)
	}
	if st.Status != "serving" || len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "HR-02") {
		t.Fatalf("HR-02 soft flag for a diplomat without rank: %+v", st.Warnings)
	}
	// Not a first entry: no probation.
	in := w.candidate("attache", "MFA", "2024-03-01")
	in.FirstEntry = false
	if st := w.admit(in); st.Probation != nil {
		t.Fatalf("a returning entrant got a probation: %+v", st.Probation)
	}

	// Reference data is edited with history: the exclusion ground is lifted,
	// the probation lengthened; the old versions stay.
	if _, err := w.svc.SetReference(ctx, w.check(w.po), w.po, personnel.RefExclusion, "barred_by_court",
		personnel.ReferenceInput{Value: json.RawMessage(`{"label":"barred by a court from holding state positions","active":false}`), Change: act}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.SetReference(ctx, w.check(w.po), w.po, personnel.RefProbation, "months",
		personnel.ReferenceInput{Value: json.RawMessage(`{"months":3}`), Change: act}); err != nil {
		t.Fatal(err)
	}
	in = w.candidate("attache", "MFA", "2024-03-01")
	in.ExclusionGrounds = []string{"barred_by_court"}
	if st := w.admit(in); st.Probation.End.String() != "2024-06-01" {
		t.Fatalf("probation from the edited reference: %+v", st.Probation)
	}
	h, err := w.svc.ReferenceHistory(ctx, w.check(w.po), personnel.RefProbation, "months")
	if err != nil || len(h) != 2 || string(h[1].Value) != `{"months": 6}` {
		t.Fatalf("history: %v %+v", err, h)
	}
	// An invalid reference value is refused and changes nothing.
	before = w.snapshot()
	_, err = w.svc.SetReference(ctx, w.check(w.po), w.po, personnel.RefProbation, "months",
		personnel.ReferenceInput{Value: json.RawMessage(`{"months":0}`), Change: act})
	refused(t, err, valise.EINVALID, "probation is {months: 1-24}")
	// A personnel officer of one unit may not edit ministry-wide reference data.
	ber := w.user("po.ber", "DE-BER", []string{policy.RolePersonnelOfficer}, nil)
	_, err = w.svc.SetReference(ctx, w.check(ber), ber, personnel.RefProbation, "months",
		personnel.ReferenceInput{Value: json.RawMessage(`{"months":4}`), Change: act})
	refused(t, err, valise.EFORBIDDEN, "not allowed")
	w.unchanged(before)
}

func TestPositionsKindAndAuthority(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	// HR-01: the kind follows the position.
	st := w.admit(w.candidate("accountant", "DE-BER", "2022-01-10"))
	if st.StaffKind != personnel.KindAdminTechnical || len(st.Warnings) != 0 {
		t.Fatalf("accountant: %+v %v", st.StaffKind, st.Warnings)
	}
	type appoint = struct {
		personnel.AppointmentInput
		personnel.Change
	}
	st, err := w.svc.Appoint(ctx, w.check(w.po), w.po, st.ID, appoint{personnel.AppointmentInput{Position: "attache", Unit: "MFA", StartDate: d("2023-02-01"), Authority: "minister"}, act})
	if err != nil || st.StaffKind != personnel.KindDiplomatic || st.Unit != "MFA" || len(st.Positions) != 2 || st.Positions[0].EndDate.String() != "2023-01-31" {
		t.Fatalf("appointed attaché: %v %+v", err, st)
	}
	// HR-35: an ambassador is appointed by the President, not the Minister.
	before := w.snapshot()
	in := w.candidate("ambassador", "JP-TYO", "2024-01-01")
	in.Appointment.Authority = "minister"
	_, err = w.svc.Admit(ctx, w.check(w.po), w.po, in)
	refused(t, err, valise.EINVALID, "HR-35: a Ambassador Extraordinary and Plenipotentiary is appointed by the president")
	// HR-50: accreditations only for heads of mission.
	in = w.candidate("attache", "MFA", "2024-01-01")
	in.Appointment.Accreditations = []string{"KR"}
	_, err = w.svc.Admit(ctx, w.check(w.po), w.po, in)
	refused(t, err, valise.EINVALID, "HR-50")
	w.unchanged(before)
	// HR-50: an ambassador located in RK, accredited to several states.
	in = w.candidate("ambassador", "MFA", "2024-01-01")
	in.Appointment.LocatedInRK, in.Appointment.Accreditations = true, []string{"MN", "KR", "UN-ESCAP"}
	amb := w.admit(in)
	if !amb.Position.LocatedInRK || len(amb.Position.Accreditations) != 3 || !amb.Position.Political {
		t.Fatalf("HR-49/HR-50: %+v", amb.Position)
	}
	// HR-49: a permanent representative not appointed by heads of state is not political.
	in = w.candidate("permanent_representative", "JP-TYO", "2024-01-01")
	in.Appointment.NotAppointedByHeadsOfState = true
	if pr := w.admit(in); pr.Position.Political {
		t.Fatalf("HR-49: %+v", pr.Position)
	}
}

func TestLinkAccountOnePersonOneRecord(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	a := w.admit(w.candidate("attache", "MFA", "2024-01-01"))
	b := w.admit(w.candidate("attache", "MFA", "2024-01-01"))
	u := w.user("kairat", "MFA", []string{policy.RoleRegistryClerk}, nil)
	_ = u
	type link = struct {
		Username string `json:"username"`
		personnel.Change
	}
	st, err := w.svc.LinkAccount(ctx, w.check(w.po), w.po, a.ID, link{"kairat", act})
	if err != nil || st.Account != "kairat" {
		t.Fatalf("link: %v %+v", err, st.Account)
	}
	before := w.snapshot()
	_, err = w.svc.LinkAccount(ctx, w.check(w.po), w.po, b.ID, link{"kairat", act})
	refused(t, err, valise.ECONFLICT, "already linked to another staff record")
	w.user("other", "MFA", []string{}, nil)
	_, err = w.svc.LinkAccount(ctx, w.check(w.po), w.po, a.ID, link{"other", act})
	refused(t, err, valise.ECONFLICT, "already linked to an account")
	w.unchanged(before)
	// The person reads their own record and nobody else's; they change nothing of it.
	me := policy.Subject{UserID: u.UserID, Username: "kairat", Roles: []string{policy.RoleRegistryClerk}, UnitCode: "MFA"}
	if _, err := w.svc.Get(ctx, w.check(me), a.ID); err != nil {
		t.Fatalf("own record: %v", err)
	}
	_, err = w.svc.Get(ctx, w.check(me), b.ID)
	refused(t, err, valise.ENOTFOUND, "not found")
	_, err = w.svc.ChangeRank(ctx, w.check(me), me, a.ID, personnel.RankInput{Change: "assign", Rank: 1, EffectiveDate: d("2024-01-01"), Authority: "minister", ChangeInfo: act})
	refused(t, err, valise.ENOTFOUND, "not found")
	var n int
	_ = w.authz.Flush(ctx) // denies are written to the decision log off the request path
	_ = w.db.Pool.QueryRow(ctx, `SELECT count(*) FROM decision_log WHERE username = 'kairat' AND NOT allowed AND detail LIKE 'personal data:%'`).Scan(&n)
	if n != 2 {
		t.Fatalf("the denied read and change are in the decision log: %d", n)
	}
}

func TestMinimumTimeInRank(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("attache", "MFA", "2023-03-01"))
	c := w.mustRank(st.ID, personnel.RankInput{Change: "assign", Rank: 1, EffectiveDate: d("2023-03-01")})
	if c.Certificate == "" || !strings.Contains(c.Entry, "assigned the diplomatic rank of Attaché") {
		t.Fatalf("HR-09: %+v", c)
	}
	// HR-06: one day before the 2-year minimum is early and needs grounds; on the day it is not.
	before := w.snapshot()
	_, err := w.rank(st.ID, personnel.RankInput{Change: "assign", Rank: 2, EffectiveDate: d("2025-02-28")})
	refused(t, err, valise.EINVALID, "HR-06: before the minimum 2 years in rank")
	w.unchanged(before)
	tr, err := w.svc.TimeInRank(ctx, w.check(w.po), st.ID, d("2025-02-28"))
	if err != nil || tr.Reached || tr.ReachedOn.String() != "2025-03-01" || tr.Eligible {
		t.Fatalf("time in rank a day before: %v %+v", err, tr)
	}
	el, _ := w.svc.EligibleOn(ctx, policy.Scope{All: true}, w.po, d("2025-02-28"))
	if len(el) != 0 {
		t.Fatalf("eligible a day early: %+v", el)
	}
	el, _ = w.svc.EligibleOn(ctx, policy.Scope{All: true}, w.po, d("2025-03-01"))
	if len(el) != 1 || el[0].NextRank != 2 || el[0].ReachedOn.String() != "2025-03-01" {
		t.Fatalf("eligible on the day: %+v", el)
	}
	c = w.mustRank(st.ID, personnel.RankInput{Change: "assign", Rank: 2, EffectiveDate: d("2025-03-01")})
	if c.Early || c.OutOfTurn {
		t.Fatalf("on the day is not early: %+v", c)
	}
	// Early with grounds is recorded as early.
	st2 := w.admit(w.candidate("attache", "MFA", "2023-03-01"))
	w.mustRank(st2.ID, personnel.RankInput{Change: "assign", Rank: 1, EffectiveDate: d("2023-03-01")})
	c = w.mustRank(st2.ID, personnel.RankInput{Change: "assign", Rank: 2, EffectiveDate: d("2025-02-28"), Grounds: "special merit: evacuation of citizens"})
	if !c.Early || !strings.Contains(c.Entry, "assigned early") {
		t.Fatalf("early: %+v", c)
	}
	// HR-07: skipping a rank is out of turn and needs grounds.
	_, err = w.rank(st2.ID, personnel.RankInput{Change: "assign", Rank: 4, EffectiveDate: d("2027-03-01")})
	refused(t, err, valise.EINVALID, "HR-07: skips from rank 2 to 4")
	// No minimum is set from Counsellor I class (Art. 12(1), the Kazakh "and higher").
	in := w.candidate("department_director", "MFA", "2020-01-01")
	st3 := w.admit(in)
	w.mustRank(st3.ID, personnel.RankInput{Change: "assign", Rank: 8, EffectiveDate: d("2024-01-01")})
	c = w.mustRank(st3.ID, personnel.RankInput{Change: "assign", Rank: 9, EffectiveDate: d("2024-01-02"), Authority: "president",
		Submission: &personnel.Act{Number: "S-1", Date: d("2023-12-20")}})
	if c.Early {
		t.Fatalf("rank 8 has no minimum: %+v", c)
	}
}

func TestCountedPeriods(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("first_secretary", "MFA", "2020-01-01"))
	w.mustRank(st.ID, personnel.RankInput{Change: "assign", Rank: 5, EffectiveDate: d("2021-01-01")})
	// HR-08: close the MFA period, 10 days not counted ("other"), then a counted international organisation.
	if _, err := w.db.Pool.Exec(ctx, `UPDATE service_periods SET end_date = '2022-12-31' WHERE staff_id = $1`, st.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []personnel.PeriodInput{
		{Type: "other", StartDate: d("2023-01-01"), EndDate: d("2023-01-10"), Note: "between postings"},
		{Type: "international_organisation", StartDate: d("2023-01-11"), Note: "OSCE secretariat"},
	} {
		p.Change = act
		if _, err := w.svc.AddPeriod(ctx, w.check(w.po), w.po, st.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	// 3 years from 2021-01-01, pushed 10 days by the uncounted period: 2024-01-11.
	tr, err := w.svc.TimeInRank(ctx, w.check(w.po), st.ID, d("2024-01-10"))
	if err != nil || tr.Reached || tr.ReachedOn.String() != "2024-01-11" {
		t.Fatalf("a day before: %v %+v", err, tr)
	}
	tr, _ = w.svc.TimeInRank(ctx, w.check(w.po), st.ID, d("2024-01-11"))
	if !tr.Reached || !tr.Eligible {
		t.Fatalf("on the day: %+v", tr)
	}
	_, err = w.rank(st.ID, personnel.RankInput{Change: "assign", Rank: 6, EffectiveDate: d("2024-01-10")})
	refused(t, err, valise.EINVALID, "HR-06")
	w.mustRank(st.ID, personnel.RankInput{Change: "assign", Rank: 6, EffectiveDate: d("2024-01-11")})
	// An unknown period type is refused.
	_, err = w.svc.AddPeriod(ctx, w.check(w.po), w.po, st.ID, personnel.PeriodInput{Type: "sabbatical", StartDate: d("2024-01-01"), Change: act})
	refused(t, err, valise.EINVALID, "Art. 12(2)")
}

func TestRankAuthorityKindAndLifelong(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	at := w.admit(w.candidate("accountant", "MFA", "2020-01-01"))
	before := w.snapshot()
	// HR-02: no rank for administrative-technical staff.
	_, err := w.rank(at.ID, personnel.RankInput{Change: "assign", Rank: 1, EffectiveDate: d("2021-01-01")})
	refused(t, err, valise.ECONFLICT, "HR-02")
	// HR-03: eleven ranks.
	_, err = w.rank(at.ID, personnel.RankInput{Change: "assign", Rank: 12, EffectiveDate: d("2021-01-01")})
	refused(t, err, valise.EINVALID, "HR-03")
	w.unchanged(before)

	dir := w.admit(w.candidate("department_director", "MFA", "2015-01-01"))
	w.mustRank(dir.ID, personnel.RankInput{Change: "assign", Rank: 8, EffectiveDate: d("2016-01-01")})
	// HR-04: rank 9 by the Minister is refused; by the President without the submission too.
	before = w.snapshot()
	_, err = w.rank(dir.ID, personnel.RankInput{Change: "assign", Rank: 9, EffectiveDate: d("2020-01-01")})
	refused(t, err, valise.EINVALID, "HR-04: rank 9")
	_, err = w.rank(dir.ID, personnel.RankInput{Change: "assign", Rank: 9, EffectiveDate: d("2020-01-01"), Authority: "president"})
	refused(t, err, valise.EINVALID, "Minister's submission")
	w.unchanged(before)
	sub := &personnel.Act{Number: "S-9", Date: d("2019-12-01")}
	w.mustRank(dir.ID, personnel.RankInput{Change: "assign", Rank: 9, EffectiveDate: d("2020-01-01"), Authority: "president", Submission: sub})
	// Lowering from 9 needs the President too (Art. 13(2) part 3).
	_, err = w.rank(dir.ID, personnel.RankInput{Change: "lower", Rank: 8, EffectiveDate: d("2021-01-01"), Grounds: "liability abroad"})
	refused(t, err, valise.EINVALID, "HR-04")
	// HR-12: lowering needs grounds.
	_, err = w.rank(dir.ID, personnel.RankInput{Change: "lower", Rank: 8, EffectiveDate: d("2021-01-01"), Authority: "president", Submission: sub})
	refused(t, err, valise.EINVALID, "HR-12")
	// HR-10: restore only what was lowered or deprived.
	_, err = w.rank(dir.ID, personnel.RankInput{Change: "restore", EffectiveDate: d("2021-01-01"), Authority: "president", Submission: sub})
	refused(t, err, valise.ECONFLICT, "HR-10")
	w.mustRank(dir.ID, personnel.RankInput{Change: "deprive", EffectiveDate: d("2021-01-01"), Authority: "president", Submission: sub, Grounds: "conviction in the host state"})
	c := w.mustRank(dir.ID, personnel.RankInput{Change: "restore", EffectiveDate: d("2022-01-01"), Authority: "president", Submission: sub, Grounds: "acquitted"})
	if c.Rank != 9 || c.Certificate == "" {
		t.Fatalf("restored: %+v", c)
	}

	// HR-05: a rank more than one step from the position's nominal rank needs a justification.
	a := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	_, err = w.rank(a.ID, personnel.RankInput{Change: "assign", Rank: 4, EffectiveDate: d("2020-01-01")})
	refused(t, err, valise.EINVALID, "HR-05")
	c = w.mustRank(a.ID, personnel.RankInput{Change: "assign", Rank: 3, EffectiveDate: d("2020-01-01"), Justification: "prior service in the Foreign Ministry"})
	if len(c.Warnings) != 1 {
		t.Fatalf("HR-05 warning recorded: %+v", c)
	}
	// Erratum 2: the rank is held for life: it survives a move to an administrative-technical
	// position and the end of service; only a new assignment is refused.
	type appoint = struct {
		personnel.AppointmentInput
		personnel.Change
	}
	st, err := w.svc.Appoint(ctx, w.check(w.po), w.po, a.ID, appoint{personnel.AppointmentInput{Position: "accountant", Unit: "MFA", StartDate: d("2023-01-01"), Authority: "minister"}, act})
	if err != nil || st.StaffKind != personnel.KindAdminTechnical || st.Rank == nil || st.Rank.Rank != 3 {
		t.Fatalf("rank after the move: %v %+v", err, st.Rank)
	}
	_, err = w.rank(a.ID, personnel.RankInput{Change: "assign", Rank: 4, EffectiveDate: d("2024-01-01")})
	refused(t, err, valise.ECONFLICT, "HR-02")
	if _, err := w.svc.Terminate(ctx, w.check(w.po), w.po, a.ID, personnel.TerminationInput{Ground: "contract_ended", EffectiveDate: d("2024-06-30"), Authority: "minister", Change: act}); err != nil {
		t.Fatal(err)
	}
	st, _ = w.svc.Get(ctx, w.check(w.po), a.ID)
	if st.Rank == nil || st.Rank.Rank != 3 || st.Status != "terminated" {
		t.Fatalf("rank after dismissal: %+v %s", st.Rank, st.Status)
	}
	// HR-12: a dismissed person's rank may still be lowered.
	w.mustRank(a.ID, personnel.RankInput{Change: "lower", Rank: 2, EffectiveDate: d("2025-01-01"), Grounds: "offence under the host state's law"})
	sr, err := w.svc.ServiceRecord(ctx, w.check(w.po), a.ID)
	if err != nil || len(sr.Entries) != 2 || !strings.Contains(sr.Entries[1].Entry, "lowered from Second Secretary, 2nd class to Third Secretary") {
		t.Fatalf("service record: %v %+v", err, sr)
	}
}
