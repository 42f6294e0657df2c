package personnel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"valise"
	"valise/personnel"
	"valise/policy"
)

// entWorld is a world with the entitlement reference values of two years:
// salaries change on 1 January 2026, and so does the monthly calculation index.
func entWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	for _, r := range []struct{ kind, code, from, value string }{
		{"official_salary", "second_secretary", "2020-01-01", `{"steps":[{"from_years":0,"amount":"300000"},{"from_years":5,"amount":"330000"}]}`},
		{"official_salary", "second_secretary", "2026-01-01", `{"steps":[{"from_years":0,"amount":"320000"},{"from_years":5,"amount":"352000"}]}`},
		{"official_salary", "department_director", "2020-01-01", `{"steps":[{"from_years":0,"amount":"600000"}]}`},
		{"mci", "mci", "2025-01-01", `{"amount":"3932"}`},
		{"mci", "mci", "2026-01-01", `{"amount":"4325"}`},
		{"minimum", "death_allowance", "2020-01-01", `{"mci":"30"}`},
		{"payment", "rank_3", "2020-01-01", `{"amount":"50000"}`},
		{"payment", "rare_language", "2020-01-01", `{"mci":"2.5"}`},
		{"payment", "state_secrets", "2020-01-01", `{"amount":"40000"}`},
		{"payment", "representation_attire", "2020-01-01", `{"amount":"250000"}`},
		{"payment", "veteran_monthly", "2020-01-01", `{"mci":"20"}`},
		{"retirement_age", "general", "2020-01-01", `{"years":63,"months":0}`},
		{"rare_language", "ja", "2020-01-01", `{"name":"Japanese"}`},
	} {
		w.ref(r.kind, r.code, r.from, r.value)
	}
	return w
}

func (w *world) ref(kind, code, from, value string) personnel.EntRef {
	w.t.Helper()
	r, err := w.svc.AddEntitlementReference(context.Background(), w.check(w.po), w.po, kind, code,
		personnel.EntRefInput{ValidFrom: d(from), Value: json.RawMessage(value), Change: act})
	if err != nil {
		w.t.Fatalf("reference %s/%s: %v %+v", kind, code, err, fields(err))
	}
	return r
}

// entSnapshot is snapshot plus the entitlement tables.
func (w *world) entSnapshot() string {
	w.t.Helper()
	out := w.snapshot()
	for _, tbl := range []string{"entitlement_reference", "duty_incidents", "entitlement_decisions"} {
		var n int
		if err := w.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			w.t.Fatal(err)
		}
		out += fmt.Sprintf(" %s=%d", tbl, n)
	}
	return out
}

func (w *world) entUnchanged(before string) {
	w.t.Helper()
	if after := w.entSnapshot(); after != before {
		w.t.Fatalf("a refusal changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// posted is a second secretary in the ministry from 2018, posted to Berlin from 2022.
func (w *world) servingAbroad() personnel.Staff {
	w.t.Helper()
	st := w.admit(w.candidate("second_secretary", "MFA", "2018-01-01"))
	st, err := w.svc.Appoint(context.Background(), w.check(w.po), w.po, st.ID, personnel.AppointInput{
		AppointmentInput: personnel.AppointmentInput{Position: "second_secretary", Unit: "DE-BER", StartDate: d("2022-01-01"), Authority: "minister"},
		Change:           act})
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *world) incident(id, kind, severity, on string) personnel.Incident {
	w.t.Helper()
	x, err := w.svc.RecordIncident(context.Background(), w.check(w.po), w.po, id, personnel.IncidentInput{Kind: kind, Severity: severity,
		OccurredOn: d(on), Country: "DE", Description: "car accident on the way to a meeting at the Foreign Office", Change: act})
	if err != nil {
		w.t.Fatalf("incident: %v %+v", err, fields(err))
	}
	return x
}

func (w *world) preview(id string, in personnel.EntitlementInput) personnel.Computation {
	w.t.Helper()
	c, err := w.svc.PreviewEntitlement(context.Background(), w.check(w.po), id, in)
	if err != nil {
		w.t.Fatalf("preview %+v: %v %+v", in, err, fields(err))
	}
	return c
}

func money(s string) *personnel.Money {
	m, err := personnel.ParseMoney(s)
	if err != nil {
		panic(err)
	}
	return &m
}

// expect checks the outcome and amount ("" = no amount).
func expect(t *testing.T, c personnel.Computation, outcome, amount string) {
	t.Helper()
	got := ""
	if c.Amount != nil {
		got = c.Amount.String()
	}
	if c.Outcome != outcome || got != amount {
		t.Fatalf("%s: want %s %s, got %s %s\n%s", c.Kind, outcome, amount, c.Outcome, got, c.Text())
	}
}

func TestMoney(t *testing.T) {
	for in, want := range map[string]string{"0": "0.00", "12345": "12345.00", "12345.6": "12345.60", "12345.67": "12345.67"} {
		m, err := personnel.ParseMoney(in)
		if err != nil || m.String() != want {
			t.Errorf("%s: %v %v", in, m, err)
		}
	}
	for _, bad := range []string{"", "-1", "1.234", "01", "1e5", "12,5"} {
		if _, err := personnel.ParseMoney(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if m := money("4325").Times(250); m.String() != "10812.50" { // 2.5 MCI
		t.Errorf("2.5 × 4325 = %s", m)
	}
}

func TestEntitlementReferenceValidFrom(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	at := func(on string) string {
		refs, err := w.svc.EntitlementReference(ctx, w.check(w.po), "mci", d(on))
		if err != nil || len(refs) != 1 {
			t.Fatalf("%v %v", refs, err)
		}
		return string(refs[0].Value)
	}
	if v := at("2025-12-31"); !strings.Contains(v, "3932") {
		t.Errorf("on 2025-12-31 the 2025 MCI applies, got %s", v)
	}
	if v := at("2026-01-01"); !strings.Contains(v, "4325") {
		t.Errorf("from 2026-01-01 the 2026 MCI applies, got %s", v)
	}
	if refs, _ := w.svc.EntitlementReference(ctx, w.check(w.po), "mci", d("2024-12-31")); len(refs) != 0 {
		t.Errorf("nothing is valid before the first value: %v", refs)
	}
	h, err := w.svc.EntitlementReferenceHistory(ctx, w.check(w.po), "mci", "mci")
	if err != nil || len(h) != 2 || !h[0].ValidFrom.Equal(d("2026-01-01")) {
		t.Fatalf("history %v %v", h, err)
	}
	// A correction of a value from the same date is a new version; the old one stays as history.
	w.ref("mci", "mci", "2026-01-01", `{"amount":"4330"}`)
	if v := at("2026-06-01"); !strings.Contains(v, "4330") {
		t.Errorf("the later version of the same date wins, got %s", v)
	}
	before := w.entSnapshot()
	add := func(by policy.Subject, kind, code string, in personnel.EntRefInput) error {
		_, err := w.svc.AddEntitlementReference(ctx, w.check(by), by, kind, code, in)
		return err
	}
	good := personnel.EntRefInput{ValidFrom: d("2027-01-01"), Value: json.RawMessage(`{"amount":"5000"}`), Change: act}
	refused(t, add(w.po, "salary_table", "x", good), valise.ENOTFOUND, "no entitlement reference list")
	refused(t, add(w.po, "mci", "index", good), valise.EINVALID, "one entry: mci")
	refused(t, add(w.po, "payment", "bonus", good), valise.EINVALID, "payments: one of")
	refused(t, add(w.po, "mci", "mci", personnel.EntRefInput{Value: good.Value, Change: act}), valise.EINVALID, "valid_from")
	refused(t, add(w.po, "payment", "rank_3", personnel.EntRefInput{ValidFrom: good.ValidFrom, Value: json.RawMessage(`{"amount":"1","mci":"2"}`), Change: act}), valise.EINVALID, "{amount")
	refused(t, add(w.po, "official_salary", "attache", personnel.EntRefInput{ValidFrom: good.ValidFrom, Value: json.RawMessage(`{"steps":[{"from_years":3,"amount":"1"}]}`), Change: act}), valise.EINVALID, "from_years: 0")
	refused(t, add(w.po, "mci", "mci", personnel.EntRefInput{ValidFrom: good.ValidFrom, Value: good.Value}), valise.EINVALID, "reason")
	// Only an officer of every unit edits reference data; others are refused (and the deny is logged).
	ber := w.user("po.ber", "DE-BER", []string{policy.RolePersonnelOfficer}, nil)
	if err := add(ber, "mci", "mci", good); valise.ErrorCode(err) != valise.EFORBIDDEN {
		t.Errorf("a unit's officer edits reference data: %v", err)
	}
	w.entUnchanged(before)
}

// HR-40, HR-41: 60 monthly amounts for a death in the line of duty abroad,
// or within one year of a duty injury; Art. 25(14) blocks it.
func TestDeathInDutyWithinAYear(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	st := w.servingAbroad()
	inj := w.incident(st.ID, "injury", "severe", "2025-03-10")
	death := func(died, on string, x personnel.Incident, cause string) personnel.Computation {
		return w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDeathInDuty, IncidentID: x.ID, DiedOn: d(died), Cause: cause, On: d(on)})
	}
	// 2026-03-10 is the 365th day after the injury (a common year): within the year.
	c := death("2026-03-10", "2026-04-01", inj, "died_of_injury")
	// Eight full years of service (2018-01-01 .. 2026-03-10): the 5-year step of the 2026 table, 352 000.
	expect(t, c, personnel.OutcomePayable, "21120000.00")
	if !strings.Contains(strings.Join(c.Arithmetic, "\n"), "60 × 352000.00 = 21120000.00") ||
		len(c.References) != 1 || !c.References[0].ValidFrom.Equal(d("2026-01-01")) || c.Factors[0].Value != "not established" {
		t.Errorf("the derivation is incomplete:\n%s", c.Text())
	}
	if !strings.Contains(c.Text(), "day 365 after the injury") {
		t.Errorf("the printable form does not show the day count:\n%s", c.Text())
	}
	// The 366th day: past the year.
	expect(t, death("2026-03-11", "2026-04-01", inj, "died_of_injury"), personnel.OutcomeNotEntitled, "0.00")
	// A leap year: the 366th day is still within it, the 367th is not.
	leap := w.incident(st.ID, "injury", "light", "2023-03-10")
	c = death("2024-03-10", "2024-04-01", leap, "died_of_injury")
	expect(t, c, personnel.OutcomePayable, "19800000.00") // six years, the 2020 table: 60 × 330 000
	expect(t, death("2024-03-11", "2024-04-01", leap, "died_of_injury"), personnel.OutcomeNotEntitled, "0.00")
	// Killed on duty: the death is the incident's day.
	expect(t, death("2025-03-10", "2025-04-01", inj, "killed_on_duty"), personnel.OutcomePayable, "19800000.00")
	expect(t, death("2025-03-11", "2025-04-01", inj, "killed_on_duty"), personnel.OutcomeNotEntitled, "0.00")
	// An illness is not an injury: 25(9) covers death from a duty injury.
	ill := w.incident(st.ID, "illness", "", "2025-05-01")
	expect(t, death("2025-06-01", "2025-07-01", ill, "died_of_injury"), personnel.OutcomeNotEntitled, "0.00")
	// HR-40 block: established as unrelated to official duties.
	c = w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDeathInDuty, IncidentID: inj.ID, DiedOn: d("2026-03-10"), Cause: "died_of_injury",
		On: d("2026-04-01"), UnrelatedToDuties: &personnel.Act{Number: "Commission conclusion 7", Date: d("2026-03-20")}})
	expect(t, c, personnel.OutcomeBlocked, "0.00")

	// Recording: the payee is required; one decision per death; an event with who, why and act.
	ctx := context.Background()
	before := w.entSnapshot()
	in := personnel.RecordEntitlementInput{EntitlementInput: personnel.EntitlementInput{Kind: personnel.EntDeathInDuty, IncidentID: inj.ID,
		DiedOn: d("2026-03-10"), Cause: "died_of_injury", On: d("2026-04-01")}, Change: act}
	_, err := w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, in)
	refused(t, err, valise.EINVALID, "payee")
	w.entUnchanged(before)
	in.Payee = &personnel.Payee{FullName: "Dana Spouse", Relation: "spouse"}
	dec, err := w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, in)
	if err != nil || dec.Amount.String() != "21120000.00" || dec.EventID == "" || dec.RecordedBy != "po.all" {
		t.Fatalf("record: %+v %v", dec, err)
	}
	before = w.entSnapshot()
	_, err = w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, in)
	refused(t, err, valise.ECONFLICT, "already decided")
	w.entUnchanged(before)
	evs, _ := w.svc.Events(ctx, w.check(w.po), st.ID)
	last := evs[len(evs)-1]
	if last.Kind != "entitlement_decided" || last.Act.Number != act.Act.Number || last.Reason != act.Reason || last.ID != dec.EventID {
		t.Errorf("the decision's event: %+v", last)
	}
	got, err := w.svc.Entitlement(ctx, w.check(w.po), st.ID, dec.ID)
	if err != nil || got.Computation.Amount.String() != "21120000.00" || got.Act.Number != act.Act.Number {
		t.Errorf("read back: %+v %v", got, err)
	}
}

// HR-40: disability groups I/II/III = 30/18/6; severe injury 3, light 1, not after a disability.
func TestDisabilityAndInjuryMultipliers(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	st := w.servingAbroad()
	inj := w.incident(st.ID, "injury", "severe", "2025-03-10")
	light := w.incident(st.ID, "injury", "light", "2025-04-10")
	// On 2025-06-01: seven full years, the 2020 table's 5-year step: 330 000.
	for group, want := range map[int]string{1: "9900000.00", 2: "5940000.00", 3: "1980000.00"} {
		c := w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDisability, IncidentID: inj.ID, DisabilityGroup: group,
			DisabilityEstablishedOn: d("2025-05-20"), On: d("2025-06-01")})
		expect(t, c, personnel.OutcomePayable, want)
	}
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: inj.ID, On: d("2025-06-01")}), personnel.OutcomePayable, "990000.00")
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: light.ID, On: d("2025-06-01")}), personnel.OutcomePayable, "330000.00")
	// Just before the 5-year step (2022-12-31: four full years) the 0-year step applies.
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: light.ID, On: d("2022-12-31")}), personnel.OutcomePayable, "300000.00")
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: light.ID, On: d("2023-01-01")}), personnel.OutcomePayable, "330000.00")
	// HR-40 block for 25(12) and 25(13).
	blocked := &personnel.Act{Number: "Conclusion 3", Date: d("2025-05-01")}
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: inj.ID, On: d("2025-06-01"), UnrelatedToDuties: blocked}), personnel.OutcomeBlocked, "0.00")
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDisability, IncidentID: inj.ID, DisabilityGroup: 2,
		DisabilityEstablishedOn: d("2025-05-20"), On: d("2025-06-01"), UnrelatedToDuties: blocked}), personnel.OutcomeBlocked, "0.00")
	// A disability established before the incident does not follow from it.
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDisability, IncidentID: inj.ID, DisabilityGroup: 3,
		DisabilityEstablishedOn: d("2025-03-09"), On: d("2025-06-01")}), personnel.OutcomeNotEntitled, "0.00")
	// Once the injury's disability is decided, 25(13) (no disability) no longer applies to it.
	if _, err := w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, personnel.RecordEntitlementInput{EntitlementInput: personnel.EntitlementInput{
		Kind: personnel.EntDisability, IncidentID: inj.ID, DisabilityGroup: 2, DisabilityEstablishedOn: d("2025-05-20"), On: d("2025-06-01")}, Change: act}); err != nil {
		t.Fatal(err)
	}
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: inj.ID, On: d("2025-06-01")}), personnel.OutcomeNotEntitled, "0.00")

	// Bad input: 422 naming the field, nothing changes.
	before := w.entSnapshot()
	for _, c := range []struct {
		in   personnel.EntitlementInput
		want string
	}{
		{personnel.EntitlementInput{Kind: "bonus"}, "kind"},
		{personnel.EntitlementInput{Kind: personnel.EntDisability, IncidentID: inj.ID, DisabilityGroup: 4, DisabilityEstablishedOn: d("2025-05-20")}, "disability_group"},
		{personnel.EntitlementInput{Kind: personnel.EntDisability, IncidentID: inj.ID, DisabilityGroup: 1}, "disability_established_on"},
		{personnel.EntitlementInput{Kind: personnel.EntDutyInjury}, "incident_id"},
		{personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: "00000000-0000-4000-8000-000000000009"}, "no duty incident"},
		{personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: inj.ID, Payee: &personnel.Payee{FullName: "X", Relation: "spouse"}}, "payee"},
		{personnel.EntitlementInput{Kind: personnel.EntBurial, DiedOn: d("2025-01-01"), DiedAbroad: true, UnrelatedToDuties: blocked}, "25(14) applies only"},
	} {
		_, err := w.svc.PreviewEntitlement(ctx, w.check(w.po), st.ID, c.in)
		refused(t, err, valise.EINVALID, c.want)
		_, err = w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, personnel.RecordEntitlementInput{EntitlementInput: c.in, Change: act})
		refused(t, err, valise.EINVALID, c.want)
	}
	_, err := w.svc.RecordIncident(ctx, w.check(w.po), w.po, st.ID, personnel.IncidentInput{Kind: "injury", OccurredOn: d("2025-01-01"), Country: "KZ", Change: act})
	refused(t, err, valise.EINVALID, "abroad")
	w.entUnchanged(before)
}

// HR-40: burial, 3 monthly amounts: of the staff member (part 1) or of an
// accompanying family member (part 2).
func TestBurial(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	st := w.servingAbroad()
	add := func(in personnel.FamilyInput) personnel.FamilyMember {
		in.Change = act
		m, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, st.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	spouse := add(personnel.FamilyInput{Relation: "spouse", FullName: "Spouse", BirthDate: d("1988-01-01")})
	adult := add(personnel.FamilyInput{Relation: "child", FullName: "Adult child", BirthDate: d("2000-01-01")})
	c := w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntBurial, DiedOn: d("2025-06-01"), DiedAbroad: true, On: d("2025-06-10")})
	expect(t, c, personnel.OutcomePayable, "990000.00")
	if c.Article != "26(1) part 1" {
		t.Errorf("article %s", c.Article)
	}
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntBurial, DiedOn: d("2025-06-01"), On: d("2025-06-10")}), personnel.OutcomeNotEntitled, "0.00")
	c = w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntBurial, FamilyMemberID: spouse.ID, DiedOn: d("2025-06-01"), DiedAbroad: true, On: d("2025-06-10")})
	expect(t, c, personnel.OutcomePayable, "990000.00")
	if c.Article != "26(1) part 2" {
		t.Errorf("article %s", c.Article)
	}
	// HR-39: an adult child without a medical conclusion is not accompanying family.
	expect(t, w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntBurial, FamilyMemberID: adult.ID, DiedOn: d("2025-06-01"), DiedAbroad: true, On: d("2025-06-10")}),
		personnel.OutcomeNotEntitled, "0.00")
	// Part 1 is paid to a family member: the payee's relation is checked.
	_, err := w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, personnel.RecordEntitlementInput{EntitlementInput: personnel.EntitlementInput{
		Kind: personnel.EntBurial, DiedOn: d("2025-06-01"), DiedAbroad: true, On: d("2025-06-10"), Payee: &personnel.Payee{FullName: "S", Relation: "spouse"}}, Change: act})
	refused(t, err, valise.EINVALID, "family_member")
}

// HR-43: 3 average monthly wages, not below the Social Code minimum (30 MCI here).
func TestDeathAllowanceMinimum(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	st := w.servingAbroad()
	allowance := func(wage, on string) personnel.Computation {
		return w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDeathAllowance, DiedOn: d("2025-12-20"), On: d(on), AverageMonthlyWage: money(wage)})
	}
	// 2026 minimum: 30 × 4 325 = 129 750.
	expect(t, allowance("100000", "2026-01-10"), personnel.OutcomePayable, "300000.00")
	expect(t, allowance("43250.01", "2026-01-10"), personnel.OutcomePayable, "129750.03") // just above the minimum
	expect(t, allowance("43250", "2026-01-10"), personnel.OutcomePayable, "129750.00")    // at it
	c := allowance("43249.99", "2026-01-10")                                              // just below: the minimum
	expect(t, c, personnel.OutcomePayable, "129750.00")
	if len(c.References) != 2 || !strings.Contains(strings.Join(c.Arithmetic, "\n"), "max(129749.97, Social Code minimum 129750.00) = 129750.00") {
		t.Errorf("the derivation does not show the minimum:\n%s", c.Text())
	}
	// Accrued in 2025, the 2025 index applies: 30 × 3 932 = 117 960.
	expect(t, allowance("1000", "2025-12-31"), personnel.OutcomePayable, "117960.00")
	// Not at a foreign institution on the day of death (still in the ministry in 2021).
	c = w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntDeathAllowance, DiedOn: d("2021-12-31"), On: d("2022-01-10"), AverageMonthlyWage: money("100000")})
	expect(t, c, personnel.OutcomeNotEntitled, "0.00")
	// A missing reference value is named (409), not guessed.
	_, err := w.svc.PreviewEntitlement(context.Background(), w.check(w.po), st.ID, personnel.EntitlementInput{Kind: personnel.EntDeathAllowance,
		DiedOn: d("2022-06-01"), On: d("2022-06-10"), AverageMonthlyWage: money("1000")})
	refused(t, err, valise.ECONFLICT, "no mci/mci reference value is valid on 2022-06-10")
}

// HR-42: accompanying family keep the Art. 25 guarantees not more than one month after the death.
func TestFamilyRetentionOneMonth(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	st := w.servingAbroad()
	if _, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, st.ID, personnel.FamilyInput{Relation: "spouse", FullName: "Spouse", BirthDate: d("1988-01-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	ret := func(died, on, ends string) personnel.Computation {
		in := personnel.EntitlementInput{Kind: personnel.EntFamilyRetention, DiedOn: d(died), On: d(on)}
		if ends != "" {
			in.EndsOn = d(ends)
		}
		return w.preview(st.ID, in)
	}
	// Died 31 January: one month ends on 28 February (the month has no 31st).
	c := ret("2026-01-31", "2026-02-28", "")
	if !c.Determination.RetainedUntil.Equal(d("2026-02-28")) || len(c.Determination.Family) != 1 || !strings.Contains(c.Arithmetic[len(c.Arithmetic)-1], "keep") {
		t.Fatalf("%s", c.Text())
	}
	if c = ret("2026-01-31", "2026-03-01", ""); !strings.Contains(c.Arithmetic[len(c.Arithmetic)-1], "no longer have") {
		t.Fatalf("the day after the month: %s", c.Text())
	}
	if c = ret("2026-03-15", "2026-04-15", ""); !c.Determination.RetainedUntil.Equal(d("2026-04-15")) {
		t.Fatalf("%s", c.Text())
	}
	// A reasonable period shorter than the month.
	if c = ret("2026-03-15", "2026-04-01", "2026-03-31"); !c.Determination.RetainedUntil.Equal(d("2026-03-31")) || !strings.Contains(c.Arithmetic[len(c.Arithmetic)-1], "no longer have") {
		t.Fatalf("%s", c.Text())
	}
	before := w.entSnapshot()
	_, err := w.svc.PreviewEntitlement(ctx, w.check(w.po), st.ID, personnel.EntitlementInput{Kind: personnel.EntFamilyRetention, DiedOn: d("2026-03-15"),
		On: d("2026-03-20"), EndsOn: d("2026-04-16")})
	refused(t, err, valise.EINVALID, "2026-04-15 at the latest")
	w.entUnchanged(before)
	// The ministry is not a posting: Art. 25(10) does not apply.
	expect(t, ret("2021-06-01", "2021-06-02", ""), personnel.OutcomeNotEntitled, "")
}

// HR-44: 30 days of leave; posted: 2 × salary and round-trip travel for the family.
func TestAnnualLeave(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	st := w.servingAbroad()
	if _, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, st.ID, personnel.FamilyInput{Relation: "spouse", FullName: "Spouse", BirthDate: d("1988-01-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	c := w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntAnnualLeave, LeaveStart: d("2026-07-01")})
	expect(t, c, personnel.OutcomePayable, "704000.00") // 2 × 352 000
	if c.Determination.LeaveDays != 30 || len(c.Determination.TravelRoundTrip) != 2 {
		t.Errorf("%s", c.Text())
	}
	c = w.preview(st.ID, personnel.EntitlementInput{Kind: personnel.EntAnnualLeave, LeaveStart: d("2021-07-01")})
	expect(t, c, personnel.OutcomeDetermined, "")
	if c.Determination.LeaveDays != 30 || len(c.Determination.TravelRoundTrip) != 0 {
		t.Errorf("%s", c.Text())
	}
}

// HR-45: rare-language, state-secrets and representation payments for all
// personnel; the rank payment for serving diplomatic officers only.
func TestPaymentsByKindOfStaff(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	in := w.candidate("second_secretary", "JP-TYO", "2020-01-01")
	in.Languages = append(in.Languages, personnel.Language{Language: "ja", Level: "B2"})
	dip := w.admit(in)
	driver := w.admit(w.candidate("driver", "JP-TYO", "2020-01-01"))
	pay := func(id, payment, lang string) personnel.Computation {
		return w.preview(id, personnel.EntitlementInput{Kind: personnel.EntPayment, Payment: payment, Language: lang, On: d("2026-02-01")})
	}
	expect(t, pay(dip.ID, "rank", ""), personnel.OutcomeNotEntitled, "0.00") // no rank yet
	w.mustRank(dip.ID, personnel.RankInput{Change: "assign", Rank: 3, EffectiveDate: d("2021-01-01")})
	expect(t, pay(dip.ID, "rank", ""), personnel.OutcomePayable, "50000.00")
	// The rank held on the date: none the day before it was assigned.
	expect(t, w.preview(dip.ID, personnel.EntitlementInput{Kind: personnel.EntPayment, Payment: "rank", On: d("2020-12-31")}), personnel.OutcomeNotEntitled, "0.00")
	expect(t, w.preview(dip.ID, personnel.EntitlementInput{Kind: personnel.EntPayment, Payment: "rank", On: d("2021-01-01")}), personnel.OutcomePayable, "50000.00")
	expect(t, pay(driver.ID, "rank", ""), personnel.OutcomeNotEntitled, "0.00")
	for _, id := range []string{dip.ID, driver.ID} {
		expect(t, pay(id, "representation_attire", ""), personnel.OutcomePayable, "250000.00")
		expect(t, pay(id, "state_secrets", ""), personnel.OutcomePayable, "40000.00")
	}
	expect(t, pay(dip.ID, "rare_language", "ja"), personnel.OutcomePayable, "10812.50") // 2.5 × 4 325
	expect(t, pay(dip.ID, "rare_language", "en"), personnel.OutcomeNotEntitled, "0.00") // not on the Minister's list
	expect(t, pay(driver.ID, "rare_language", "ja"), personnel.OutcomeNotEntitled, "0.00")
	// Erratum 2: after service ends the rank stays, its pay does not.
	if _, err := w.svc.Terminate(ctx, w.check(w.po), w.po, dip.ID, personnel.TerminationInput{Ground: "own_resignation", EffectiveDate: d("2026-01-31"),
		Authority: "minister", Change: act}); err != nil {
		t.Fatal(err)
	}
	expect(t, pay(dip.ID, "rank", ""), personnel.OutcomeNotEntitled, "0.00")
	c := w.preview(dip.ID, personnel.EntitlementInput{Kind: personnel.EntPayment, Payment: "rank", On: d("2026-01-31")})
	expect(t, c, personnel.OutcomePayable, "50000.00") // the last day of service
}

// HR-46: the veteran flag and the Art. 29-1 monthly payment.
func TestVeteran(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	person := func(position, unit string) personnel.Staff {
		in := w.candidate(position, unit, "2005-01-01")
		in.BirthDate = d("1962-06-15") // 63 on 2025-06-15
		return w.admit(in)
	}
	amb := person("ambassador", "DE-BER")
	dirRank := person("department_director", "MFA")
	dir := person("department_director", "MFA")
	short := person("second_secretary", "MFA")
	w.mustRank(dirRank.ID, personnel.RankInput{Change: "assign", Rank: 11, EffectiveDate: d("2010-01-01"), Authority: "president",
		Submission: &personnel.Act{Number: "Submission 1", Date: d("2009-12-01")}, Justification: "head of a key department"})
	years := func(n int) *int { return &n }
	vet := func(id, on string, total int) personnel.Computation {
		return w.preview(id, personnel.EntitlementInput{Kind: personnel.EntVeteran, On: d(on), TotalExperienceYears: years(total), RetirementAge: "general"})
	}
	// Still serving: not (yet) a veteran.
	expect(t, vet(amb.ID, "2025-06-15", 30), personnel.OutcomeNotEntitled, "")
	end := func(id, on, authority string) {
		t.Helper()
		if _, err := w.svc.Terminate(ctx, w.check(w.po), w.po, id, personnel.TerminationInput{Ground: "own_resignation", EffectiveDate: d(on),
			Authority: authority, Change: act}); err != nil {
			t.Fatalf("%v %+v", err, fields(err))
		}
	}
	end(amb.ID, "2014-12-31", "president") // ten full years: 2005-01-01 .. 2014-12-31
	end(dirRank.ID, "2016-12-31", "minister")
	end(dir.ID, "2016-12-31", "minister")
	end(short.ID, "2014-12-30", "minister") // one day short of ten years
	// Retirement age reached on 2025-06-15, not the day before.
	c := vet(amb.ID, "2025-06-14", 30)
	expect(t, c, personnel.OutcomeNotEntitled, "")
	if *c.Determination.Veteran {
		t.Fatal("a veteran before the retirement age")
	}
	c = vet(amb.ID, "2025-06-15", 30)
	expect(t, c, personnel.OutcomePayable, "78640.00") // 20 MCI × 3 932
	if !*c.Determination.Veteran || !*c.Determination.VeteranPayment || c.Period != "monthly" {
		t.Fatalf("%s", c.Text())
	}
	// 25 years of total experience, not 24.
	expect(t, vet(amb.ID, "2025-06-15", 25), personnel.OutcomePayable, "78640.00")
	expect(t, vet(amb.ID, "2025-06-15", 24), personnel.OutcomeNotEntitled, "")
	// Ten years in diplomatic service bodies, not one day less.
	expect(t, vet(short.ID, "2025-06-15", 30), personnel.OutcomeNotEntitled, "")
	// A veteran with the Ambassador rank (held for life, erratum 2) is paid; one with neither the position nor the rank is a veteran unpaid.
	expect(t, vet(dirRank.ID, "2025-06-15", 30), personnel.OutcomePayable, "78640.00")
	c = vet(dir.ID, "2025-06-15", 30)
	expect(t, c, personnel.OutcomeDetermined, "")
	if !*c.Determination.Veteran || *c.Determination.VeteranPayment {
		t.Fatalf("%s", c.Text())
	}
	// Recording the flag is a decision with its event.
	dec, err := w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, dir.ID, personnel.RecordEntitlementInput{EntitlementInput: personnel.EntitlementInput{
		Kind: personnel.EntVeteran, On: d("2025-06-15"), TotalExperienceYears: years(30), RetirementAge: "general"}, Change: act})
	if err != nil || dec.Outcome != personnel.OutcomeDetermined || dec.Amount != nil {
		t.Fatalf("%+v %v", dec, err)
	}
}

// Personal data: a preview needs the right to manage the record; the person
// reads their own decisions but does not compute them; everyone else sees nothing.
func TestEntitlementPrivacy(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	st := w.servingAbroad()
	inj := w.incident(st.ID, "injury", "light", "2025-03-10")
	self := w.user("self", "DE-BER", []string{policy.RoleRegistryClerk}, nil)
	if _, err := w.svc.LinkAccount(ctx, w.check(w.po), w.po, st.ID, personnel.LinkInput{Username: "self", Change: act}); err != nil {
		t.Fatal(err)
	}
	in := personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: inj.ID, On: d("2025-06-01")}
	dec, err := w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, personnel.RecordEntitlementInput{EntitlementInput: in, Change: act})
	if err != nil {
		t.Fatal(err)
	}
	tyo := w.user("po.tyo", "JP-TYO", []string{policy.RolePersonnelOfficer}, nil)
	security := w.user("sec", "MFA", []string{policy.RoleSecurityOfficer}, []string{"*"})
	before := w.entSnapshot()
	for _, who := range []policy.Subject{tyo, security, self} {
		if _, err := w.svc.PreviewEntitlement(ctx, w.check(who), st.ID, in); valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Errorf("%s previews: %v", who.Username, err)
		}
		_, err := w.svc.RecordEntitlement(ctx, w.check(who), who, st.ID, personnel.RecordEntitlementInput{EntitlementInput: in, Change: act})
		if valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Errorf("%s records: %v", who.Username, err)
		}
		if _, err := w.svc.RecordIncident(ctx, w.check(who), who, st.ID, personnel.IncidentInput{}); valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Errorf("%s records an incident: %v", who.Username, err)
		}
	}
	for _, who := range []policy.Subject{tyo, security} {
		if _, err := w.svc.Entitlements(ctx, w.check(who), st.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Errorf("%s lists: %v", who.Username, err)
		}
		if _, err := w.svc.Entitlement(ctx, w.check(who), st.ID, dec.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Errorf("%s reads: %v", who.Username, err)
		}
		if _, err := w.svc.Incidents(ctx, w.check(who), st.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Errorf("%s reads incidents: %v", who.Username, err)
		}
	}
	w.entUnchanged(before)
	if got, err := w.svc.Entitlements(ctx, w.check(self), st.ID); err != nil || len(got) != 1 {
		t.Errorf("the person reads their own decisions: %v %v", got, err)
	}
	var denies int
	if err := w.authz.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Pool.QueryRow(ctx, `SELECT count(*) FROM decision_log WHERE NOT allowed AND username IN ('po.tyo', 'sec', 'self')`).Scan(&denies); err != nil {
		t.Fatal(err)
	}
	if denies == 0 {
		t.Error("the denies are not in the decision log")
	}
}

// HR-42 as an alert: from a recorded retention decision until its last day.
func TestFamilyRetentionAlert(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	st := w.servingAbroad()
	if _, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, st.ID, personnel.FamilyInput{Relation: "spouse", FullName: "Spouse", BirthDate: d("1988-01-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, personnel.RecordEntitlementInput{EntitlementInput: personnel.EntitlementInput{
		Kind: personnel.EntFamilyRetention, DiedOn: d("2026-01-31"), On: d("2026-02-02")}, Change: act}); err != nil {
		t.Fatal(err)
	}
	due := func(on string) bool {
		t.Helper()
		all, err := w.svc.Alerts(ctx, w.po, w.check(w.po), d(on).Time)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range all {
			if a.Kind == "family_guarantees_ending" && a.StaffID == st.ID {
				if a.Rule != "HR-42" || !a.Due.Equal(d("2026-02-28").Time) {
					t.Fatalf("%+v", a)
				}
				return true
			}
		}
		return false
	}
	if !due("2026-02-02") || !due("2026-02-28") || due("2026-03-01") {
		t.Fatal("the HR-42 alert runs from the decision to the last day of the guarantees")
	}
	// Not for someone who may not read the record.
	tyo := w.user("po.tyo", "JP-TYO", []string{policy.RolePersonnelOfficer}, nil)
	all, err := w.svc.Alerts(ctx, tyo, w.check(tyo), d("2026-02-10").Time)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if a.StaffID == st.ID {
			t.Fatalf("a personnel officer out of scope sees %+v", a)
		}
	}
}

func TestAddMonthsNoOverflow(t *testing.T) {
	for in, want := range map[string]string{"2026-01-31": "2026-02-28", "2024-01-31": "2024-02-29", "2026-03-15": "2026-04-15",
		"2026-12-31": "2027-01-31", "2026-08-31": "2026-09-30", "2026-02-28": "2026-03-28"} {
		if got := personnel.AddMonthsNoOverflow(d(in), 1); !got.Equal(d(want)) {
			t.Errorf("%s + 1 month = %s, want %s", in, got, want)
		}
	}
}

// A decision is corrected by a new one that supersedes it: the wrong
// disability group is corrected from II to I, both decisions stay, the
// history shows the correction naming the old event, the one-time rule
// counts only the live decision, and only a personnel officer of the scope
// corrects (others see no decision).
func TestEntitlementCorrection(t *testing.T) {
	t.Parallel()
	w := entWorld(t)
	ctx := context.Background()
	st := w.servingAbroad()
	inj := w.incident(st.ID, "injury", "severe", "2025-03-10")
	dis := func(group int) personnel.RecordEntitlementInput {
		return personnel.RecordEntitlementInput{EntitlementInput: personnel.EntitlementInput{Kind: personnel.EntDisability, IncidentID: inj.ID,
			DisabilityGroup: group, DisabilityEstablishedOn: d("2025-05-20"), On: d("2025-06-01")}, Change: act}
	}
	wrong, err := w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, dis(2))
	if err != nil || wrong.Amount.String() != "5940000.00" {
		t.Fatalf("record: %+v %v", wrong, err)
	}
	// Refusals change nothing: no reason, another kind, an unknown decision, another unit's officer, the person.
	before := w.entSnapshot()
	noReason := dis(1)
	noReason.Reason = ""
	_, err = w.svc.CorrectEntitlement(ctx, w.check(w.po), w.po, st.ID, wrong.ID, noReason)
	refused(t, err, valise.EINVALID, "reason")
	other := personnel.RecordEntitlementInput{EntitlementInput: personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: inj.ID, On: d("2025-06-01")}, Change: act}
	_, err = w.svc.CorrectEntitlement(ctx, w.check(w.po), w.po, st.ID, wrong.ID, other)
	refused(t, err, valise.EINVALID, "same entitlement")
	_, err = w.svc.CorrectEntitlement(ctx, w.check(w.po), w.po, st.ID, "00000000-0000-4000-8000-000000000009", dis(1))
	refused(t, err, valise.ENOTFOUND, "no such decision")
	tyo := w.user("po.tyo", "JP-TYO", []string{policy.RolePersonnelOfficer}, nil)
	self := w.user("self", "DE-BER", []string{policy.RoleRegistryClerk}, nil)
	if _, err := w.svc.LinkAccount(ctx, w.check(w.po), w.po, st.ID, personnel.LinkInput{Username: "self", Change: act}); err != nil {
		t.Fatal(err)
	}
	before = w.entSnapshot()
	for _, who := range []policy.Subject{tyo, self} {
		if _, err := w.svc.CorrectEntitlement(ctx, w.check(who), who, st.ID, wrong.ID, dis(1)); valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Errorf("%s corrects: %v", who.Username, err)
		}
	}
	w.entUnchanged(before)

	why := personnel.Change{Reason: "the medical commission's conclusion says group I, not II", Act: personnel.Act{Number: "Order 77-k", Date: d("2025-06-10")}}
	fix := dis(1)
	fix.Change = why
	right, err := w.svc.CorrectEntitlement(ctx, w.check(w.po), w.po, st.ID, wrong.ID, fix)
	if err != nil || right.Amount.String() != "9900000.00" || right.Supersedes != wrong.ID || right.Reason != why.Reason {
		t.Fatalf("correct: %+v %v %+v", right, err, fields(err))
	}
	// Both kept; the old one is marked superseded.
	list, err := w.svc.Entitlements(ctx, w.check(w.po), st.ID)
	if err != nil || len(list) != 2 || list[0].ID != wrong.ID || list[0].SupersededBy != right.ID || list[1].SupersededBy != "" {
		t.Fatalf("history: %+v %v", list, err)
	}
	evs, _ := w.svc.Events(ctx, w.check(w.po), st.ID)
	last := evs[len(evs)-1]
	var data struct {
		Supersedes string `json:"supersedes"`
		Was        struct {
			Amount string `json:"amount"`
		} `json:"was"`
	}
	_ = json.Unmarshal(last.Data, &data)
	if last.Kind != "entitlement_corrected" || last.Corrects != wrong.EventID || last.Reason != why.Reason || last.Act.Number != "Order 77-k" ||
		data.Supersedes != wrong.ID || data.Was.Amount != "5940000.00" {
		t.Errorf("the correction's event: %+v %s", last, last.Data)
	}
	// The superseded decision is corrected no more (409); the one-time amount is still paid once.
	before = w.entSnapshot()
	_, err = w.svc.CorrectEntitlement(ctx, w.check(w.po), w.po, st.ID, wrong.ID, dis(3))
	refused(t, err, valise.ECONFLICT, "already corrected")
	_, err = w.svc.RecordEntitlement(ctx, w.check(w.po), w.po, st.ID, dis(1))
	refused(t, err, valise.ECONFLICT, "already decided")
	w.entUnchanged(before)
	// The newest one can be corrected again (group III), and the chain grows.
	third := dis(3)
	third.Change = why
	again, err := w.svc.CorrectEntitlement(ctx, w.check(w.po), w.po, st.ID, right.ID, third)
	if err != nil || again.Amount.String() != "1980000.00" || again.Supersedes != right.ID {
		t.Fatalf("second correction: %+v %v", again, err)
	}
	// The person reads the chain.
	if got, err := w.svc.Entitlement(ctx, w.check(self), st.ID, right.ID); err != nil || got.SupersededBy != again.ID || got.Supersedes != wrong.ID {
		t.Errorf("the person reads the corrected decision: %+v %v", got, err)
	}
}
