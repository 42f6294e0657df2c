package personnel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"valise"
	"valise/personnel"
)

// TestRotationV01Secondee: no rotation case for a person on an R2
// secondment (R§3); the same name with another birth date, or the file once
// refused, opens one.
func TestRotationV01Secondee(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	s := w.propose(r2("2023-03-03", "counsellor"))
	in := w.candidate("attache", "MFA", "2020-01-01")
	in.FullName, in.BirthDate = "Outside Person", d("1985-01-01")
	st := w.admit(in)
	open := func(id string) (personnel.RotationCase, error) {
		return w.svc.OpenRotationCase(ctx, chk, w.po, id, personnel.CaseOpenInput{Direction: "outbound", OutOfPlan: "business_necessity", Position: "attache", Unit: "DE-BER", Change: act})
	}
	before := w.snapshot()
	_, err := open(st.ID)
	refused(t, err, valise.EINVALID, "V01, R§3")
	if w.snapshot() != before {
		t.Fatal("a refused case changed something")
	}
	other := w.candidate("attache", "MFA", "2020-01-01")
	other.FullName, other.BirthDate = "Outside Person", d("1985-01-02")
	if _, err := open(w.admit(other).ID); err != nil {
		t.Fatalf("another person of the same name: %v %+v", err, fields(err))
	}
	c := w.cal()
	w.mustStep(s.ID, "review_done", personnel.StepInput{On: wdays(c, "2023-03-03", 5), DocumentsChecked: true, Interview: &personnel.Clearance{Result: "not prepared", Date: d("2023-03-06")}})
	w.mustStep(s.ID, "mfa_decision", personnel.StepInput{On: wdays(c, "2023-03-03", 6), Outcome: "refused"})
	if _, err := open(st.ID); err != nil {
		t.Fatalf("after the R2 file was refused: %v %+v", err, fields(err))
	}
}

// TestRotationV05SpousesBothDSP: the accompanying spouse (a diplomatic
// officer) is not posted alongside the running posting, and afterwards only
// after two years in ministry subdivisions (R§6, erratum 15): one day short
// refused, the day accepted.
func TestRotationV05SpousesBothDSP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	a := w.admit(w.candidate("attache", "MFA", "2015-01-01"))
	b := w.admit(w.candidate("attache", "MFA", "2015-01-01"))
	// The link is to a record the officer may see, of a spouse.
	for _, bad := range []personnel.FamilyInput{
		{Relation: "child", FullName: "X", BirthDate: d("2010-01-01"), SpouseStaffID: b.ID, Change: act},
		{Relation: "spouse", FullName: "X", BirthDate: d("1990-01-01"), SpouseStaffID: "00000000-0000-4000-8000-000000000009", Change: act},
		{Relation: "spouse", FullName: "X", BirthDate: d("1990-01-01"), SpouseStaffID: a.ID, Change: act},
	} {
		before := w.snapshot()
		_, err := w.svc.AddFamily(ctx, chk, w.po, a.ID, bad)
		refused(t, err, valise.EINVALID, "spouse_staff_id")
		if w.snapshot() != before {
			t.Fatal("a refused family member changed something")
		}
	}
	sp, err := w.svc.AddFamily(ctx, chk, w.po, a.ID, personnel.FamilyInput{Relation: "spouse", FullName: b.FullName, BirthDate: d("1990-05-05"), SpouseStaffID: b.ID, Change: act})
	if err != nil || sp.SpouseStaffID != b.ID {
		t.Fatalf("spouse: %+v %v", sp, err)
	}
	pa, err := w.post(a.ID, "attache", "DE-BER", "2020-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RetainSpousePosition(ctx, chk, w.po, a.ID, pa.ID, personnel.SpouseRetentionInput{FamilyMemberID: sp.ID, Employer: "MFA", Position: "attache", FromDate: d("2020-01-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	_, err = w.post(b.ID, "attache", "JP-TYO", "2021-01-01", "")
	refused(t, err, valise.EINVALID, "R§6: the officer accompanies the spouse")
	if _, err := w.svc.Return(ctx, chk, w.po, a.ID, pa.ID, personnel.PostingReturnInput{ReturnedOn: d("2022-07-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	before := w.snapshot()
	_, err = w.post(b.ID, "attache", "JP-TYO", "2024-06-30", "")
	refused(t, err, valise.EINVALID, "R§6: the accompanying spouse")
	if w.snapshot() != before {
		t.Fatal("a refused posting changed something")
	}
	if _, err := w.post(b.ID, "attache", "JP-TYO", "2024-07-01", ""); err != nil {
		t.Fatalf("two years after the spouse's posting: %v %+v", err, fields(err))
	}
}

// TestRotationR29ParentException: a parent unable to work is admitted only
// in an R§29 exceptional case; the sibling-income test at its threshold
// (salary = subsistence minimum × N refuses, one tenge less admits).
func TestRotationR29ParentException(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	parent, err := w.svc.AddFamily(ctx, chk, w.po, st.ID, personnel.FamilyInput{Relation: "parent", FullName: "Parent", BirthDate: d("1950-01-01"), UnableToWork: true, Change: act})
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.svc.OpenRotationCase(ctx, chk, w.po, st.ID, personnel.CaseOpenInput{Direction: "outbound", OutOfPlan: "family_circumstances", Position: "attache", Unit: "DE-BER", Change: act})
	if err != nil {
		t.Fatal(err)
	}
	fam := func(to string, x *personnel.ParentException) error {
		_, err := w.svc.SetCaseFamily(ctx, chk, w.po, st.ID, c.ID, personnel.CaseFamilyInput{FamilyMemberID: parent.ID, Basis: "parent_unable_to_work_exceptional", To: to, Exception: x, Change: act})
		return err
	}
	if err := fam("proposed", nil); err != nil {
		t.Fatal(err)
	}
	if err := fam("docs_pending", nil); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"kinship_doc", "parent_id", "personal_sheet", "medical_cert_abroad"} {
		if _, err := w.svc.RecordDocument(ctx, chk, w.po, st.ID, c.ID, personnel.DocumentInput{Code: code, Holder: parent.ID, Status: "received", ReceivedOn: d("2025-05-01"), Change: act}); err != nil {
			t.Fatal(err)
		}
	}
	try := func(x *personnel.ParentException, want string) {
		t.Helper()
		before := w.snapshot()
		refused(t, fam("eligible", x), valise.EINVALID, want)
		if w.snapshot() != before {
			t.Fatal("a refused admission changed something")
		}
	}
	try(nil, "R§29: a parent unable to work is admitted only in an exceptional case")
	try(&personnel.ParentException{Case: "spouse_refuses"}, "the spouse's statement")
	try(&personnel.ParentException{Case: "spouse_refuses", Document: &personnel.Document{Kind: "statement", Number: "1", Date: d("2025-05-01")}}, "R§29(2): no spouse on the record")
	try(&personnel.ParentException{Case: "single_parent", Document: &personnel.Document{Kind: "court_decision", Number: "2", Date: d("2025-05-01")}}, "R§29(2): no minor child")
	sib := func(salary int64) *personnel.ParentException {
		return &personnel.ParentException{Case: "no_capable_sibling", FiscalYear: 2025, Parents: 2, Siblings: []personnel.Sibling{
			{FullName: "Brother", Adult: true, ResidesInRK: true, MonthlySalary: salary, FamilyMembers: 3},
			{FullName: "Sister abroad", Adult: true, ResidesInRK: false, MonthlySalary: 10_000_000, FamilyMembers: 1}}}
	}
	try(sib(1), "no subsistence minimum for 2025")
	if _, err := w.svc.SetReference(ctx, chk, w.po, personnel.RefSubsistenceMinimum, "2025", personnel.ReferenceInput{Value: json.RawMessage(`{"amount": 46228}`), Change: act}); err != nil {
		t.Fatal(err)
	}
	// N = the brother's family (3) + the two parents: 46,228 × 5 = 231,140.
	try(sib(231_140), "R§29(1): Brother, an adult in the Republic of Kazakhstan, can support the parents: salary 231140 ≥ subsistence minimum 46228 × 5")
	if err := fam("eligible", sib(231_139)); err != nil {
		t.Fatalf("a sibling below the threshold: %v %+v", err, fields(err))
	}
	var x []byte
	if err := w.db.Pool.QueryRow(ctx, `SELECT exception FROM rotation_case_family WHERE family_member_id = $1`, parent.ID).Scan(&x); err != nil ||
		!strings.Contains(string(x), `"threshold": 231140`) {
		t.Fatalf("the exception kept with the case: %s %v", x, err)
	}
}

// TestPregnancyRecallAlert: R§31, the recall is due the day the pregnancy
// completes 26 weeks; the alert starts at the lead time (30 days) and ends
// with the return.
func TestPregnancyRecallAlert(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	id, p, err := w.posted("attache", "2020-01-01", "2021-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.RecordPregnancy(ctx, chk, w.po, id, p.ID, personnel.PregnancyInput{CertifiedOn: d("2023-01-10"), Weeks: 20, Days: 7, Change: act})
	refused(t, err, valise.EINVALID, "weeks")
	g, err := w.svc.RecordPregnancy(ctx, chk, w.po, id, p.ID, personnel.PregnancyInput{CertifiedOn: d("2023-01-10"), Weeks: 20, Days: 0, Change: act})
	if err != nil || !g.RecallBy.Equal(d("2023-02-21")) {
		t.Fatalf("recall by: %+v %v", g, err)
	}
	if !personnel.PregnancyRecallBy(d("2023-01-10"), 26, 0).Equal(d("2023-01-10")) {
		t.Fatal("at 26 weeks the recall is due that day")
	}
	alerts := func(on string) int {
		t.Helper()
		as, err := personnel.AllAlerts(ctx, w.db.Pool, d(on).Time)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range as {
			if a.Kind == "pregnancy_recall_due" && a.Rule == "R§31" && a.StaffID == id && a.Due.Equal(d("2023-02-21").Time) {
				n++
			}
		}
		return n
	}
	if alerts("2023-01-21") != 0 || alerts("2023-01-22") != 1 || alerts("2023-03-01") != 1 {
		t.Fatal("the alert from 30 days before the 26th week, and overdue after it")
	}
	if _, err := w.svc.Return(ctx, chk, w.po, id, p.ID, personnel.PostingReturnInput{ReturnedOn: d("2023-02-15"), Change: act}); err != nil {
		t.Fatal(err)
	}
	if alerts("2023-02-16") != 0 {
		t.Fatal("no recall alert after the return")
	}
	_, err = w.svc.RecordPregnancy(ctx, chk, w.po, id, p.ID, personnel.PregnancyInput{CertifiedOn: d("2023-02-16"), Weeks: 21, Change: act})
	refused(t, err, valise.ECONFLICT, "R§31")
}

// TestLeaveOnlyAfterRecall: V20, R§30, R§33, R§34.
func TestLeaveOnlyAfterRecall(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	id, p, err := w.posted("attache", "2020-01-01", "2021-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	leave := func(kind, from, until, birth string) error {
		in := personnel.LeaveInput{Kind: kind, From: d(from), Change: act}
		if until != "" {
			in.Until = d(until)
		}
		if birth != "" {
			in.ChildBirthDate = d(birth)
		}
		before := w.snapshot()
		_, err := w.svc.GrantLeave(ctx, chk, w.po, id, in)
		if err != nil && w.snapshot() != before {
			t.Fatal("a refused leave changed something")
		}
		return err
	}
	refused(t, leave("maternity", "2022-05-01", "", ""), valise.ECONFLICT, "V20")
	refused(t, leave("educational_postgraduate", "2022-05-01", "", ""), valise.ECONFLICT, "R§34, V20")
	refused(t, leave("sabbatical", "2022-05-01", "", ""), valise.EINVALID, "kind")
	if _, err := w.svc.Return(ctx, chk, w.po, id, p.ID, personnel.PostingReturnInput{ReturnedOn: d("2022-06-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	notice := personnel.NoticeInput{Date: d("2022-06-02"), Addressee: "Minister", Institution: "Embassy in Germany", Address: "Astana",
		BasisOrder: personnel.Act{Number: "R-1", Date: d("2022-05-01")}, Change: act}
	if _, err := w.svc.SubmitNotice(ctx, chk, w.po, id, p.ID, notice); err != nil {
		t.Fatal(err)
	}
	home := personnel.HomeAppointInput{AppointmentInput: personnel.AppointmentInput{Position: "attache", Unit: "MFA", StartDate: d("2022-06-10"), Authority: "minister"}, Change: act}
	if _, err := w.svc.AppointAfterReturn(ctx, chk, w.po, id, p.ID, home); err != nil {
		t.Fatal(err)
	}
	refused(t, leave("maternity", "2022-06-09", "", ""), valise.ECONFLICT, "employment in the ministry")
	if err := leave("maternity", "2022-06-10", "2022-10-10", ""); err != nil {
		t.Fatalf("after recall and employment: %v %+v", err, fields(err))
	}
	// R§33: until the child is three (the third birthday the last day).
	refused(t, leave("childcare_unpaid", "2022-10-11", "2025-09-02", "2022-09-01"), valise.EINVALID, "R§33")
	if err := leave("childcare_unpaid", "2022-10-11", "2025-09-01", "2022-09-01"); err != nil {
		t.Fatalf("childcare to the third birthday: %v %+v", err, fields(err))
	}
	ls, err := w.svc.Leaves(ctx, chk, id)
	if err != nil || len(ls) != 2 || ls[1].Basis != "R§30, R§33" {
		t.Fatalf("leaves: %+v %v", ls, err)
	}
}

// TestAnnex2Print: the notice of return printed in the Annex 2 layout; a
// posting without a notice has none to print.
func TestAnnex2Print(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	id, p, err := w.posted("attache", "2020-01-01", "2021-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := w.svc.WriteAnnex2(ctx, chk, id, p.ID, &b); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Fatalf("no notice yet: %v", err)
	}
	if _, err := w.svc.Return(ctx, chk, w.po, id, p.ID, personnel.PostingReturnInput{ReturnedOn: d("2023-06-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	notice := personnel.NoticeInput{Date: d("2023-06-05"), Addressee: "M. Minister", Institution: "Embassy in Germany", Address: "Astana, Mangilik El 8",
		Phone: "+7 7172 000000", Email: "a@example.kz", BasisOrder: personnel.Act{Number: "R-77", Date: d("2023-05-01")}, Change: act}
	if _, err := w.svc.SubmitNotice(ctx, chk, w.po, id, p.ID, notice); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.WriteAnnex2(ctx, chk, id, p.ID, &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Қазақстан Республикасына оралғаны жөніндегі хабарлама", "M. Minister", "Embassy in Germany", "R-77", "2023-05-01", "2023-06-05", "Astana, Mangilik El 8"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Annex 2 lacks %q", want)
		}
	}
}

// TestSecondmentEligibilityAtOrder: the order re-checks every condition on
// its date; a penalty imposed after the proposal refuses the order until it
// is expunged (a day before refused, the day accepted); an order in the next
// year needs that year's assessments, given with the step.
func TestSecondmentEligibilityAtOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	toOrder := func(staffID, on, confirmed string) (personnel.Secondment, personnel.Date) {
		t.Helper()
		s := w.propose(r1(staffID, on))
		w.mustStep(s.ID, "receiver_decision", personnel.StepInput{On: d(on), Outcome: "agreed"})
		w.mustStep(s.ID, "coordination_submitted", personnel.StepInput{On: d(on), Coordinator: "prime_minister", Documents: []personnel.Doc{{Kind: "receiver_letter_copy", Number: "L", Date: d(on)}}})
		w.mustStep(s.ID, "coordination_decision", personnel.StepInput{On: d(on), Outcome: "agreed", Coordinator: "prime_minister"})
		start := d(confirmed)
		return w.mustStep(s.ID, "appointment_confirmed", personnel.StepInput{On: d(confirmed), StartDate: start}), start
	}
	st := w.admit(w.candidate("counsellor", "MFA", "2018-01-08"))
	s, start := toOrder(st.ID, "2023-03-02", "2023-04-20")
	if _, err := w.svc.Impose(ctx, w.check(w.po), w.po, st.ID, personnel.PenaltyInput{Kind: "reprimand", ImposedOn: d("2023-04-10"), Change: act}); err != nil {
		t.Fatal(err)
	}
	order := func(on string) personnel.StepInput {
		return personnel.StepInput{On: d(on), StartDate: start, TermEnd: start.AddDate(3, 0, 0)}
	}
	w.refusedStep(s.ID, "order_issued", order("2023-04-21"), valise.EINVALID, "at the order (2023-04-21): R1 §10(2): 1 unexpunged")
	w.refusedStep(s.ID, "order_issued", order("2023-10-09"), valise.EINVALID, "R1 §10(2)")
	if got := w.mustStep(s.ID, "order_issued", order("2023-10-10")); got.State != personnel.SServing {
		t.Fatalf("order once the penalty is expunged: %+v", got)
	}

	st2 := w.admit(w.candidate("counsellor", "MFA", "2018-01-08"))
	s2, start2 := toOrder(st2.ID, "2023-11-01", "2023-12-01")
	in := personnel.StepInput{On: d("2024-01-03"), StartDate: start2, TermEnd: start2.AddDate(3, 0, 0)}
	w.refusedStep(s2.ID, "order_issued", in, valise.EINVALID, "at the order (2024-01-03): R1 §10(4): the performance for 2023 must have been assessed")
	facts := r1(st2.ID, "2024-01-03").Facts
	facts.Consent.Date = d("2023-11-01")
	in.Facts = &facts
	if got, err := w.step(s2.ID, "order_issued", in); err != nil || got.State != personnel.SServing {
		t.Fatalf("order with the facts as they stand: %v %+v", err, fields(err))
	}
}

// TestRotationR29AllParentsSetting: erratum 8. By default a parent admitted
// on R§28 documents (basis parent_needing_care) needs no R§29 exceptional
// case; with rotation/settings r29_all_parents on, that parent is refused
// without one and admitted with one, which is kept with the case.
func TestRotationR29AllParentsSetting(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	mc := &personnel.MedicalConclusion{Organisation: "City Polyclinic No. 4", Number: "MC-29", Date: d("2025-04-01")}
	caseWithParent := func(name string) (staff, member, caseID string) {
		t.Helper()
		st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
		p, err := w.svc.AddFamily(ctx, chk, w.po, st.ID, personnel.FamilyInput{Relation: "parent", FullName: name, BirthDate: d("1950-01-01"), MedicalConclusion: mc, Change: act})
		if err != nil {
			t.Fatal(err)
		}
		c, err := w.svc.OpenRotationCase(ctx, chk, w.po, st.ID, personnel.CaseOpenInput{Direction: "outbound", OutOfPlan: "family_circumstances", Position: "attache", Unit: "DE-BER", Change: act})
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range []string{"proposed", "docs_pending"} {
			if _, err := w.svc.SetCaseFamily(ctx, chk, w.po, st.ID, c.ID, personnel.CaseFamilyInput{FamilyMemberID: p.ID, Basis: "parent_needing_care", To: to, Change: act}); err != nil {
				t.Fatal(err)
			}
		}
		for _, code := range []string{"kinship_doc", "parent_id", "personal_sheet", "care_need_doc", "medical_cert_abroad"} {
			if _, err := w.svc.RecordDocument(ctx, chk, w.po, st.ID, c.ID, personnel.DocumentInput{Code: code, Holder: p.ID, Status: "received", ReceivedOn: d("2025-05-01"), Change: act}); err != nil {
				t.Fatal(err)
			}
		}
		return st.ID, p.ID, c.ID
	}
	eligible := func(staff, member, caseID string, x *personnel.ParentException) error {
		_, err := w.svc.SetCaseFamily(ctx, chk, w.po, staff, caseID, personnel.CaseFamilyInput{FamilyMemberID: member, Basis: "parent_needing_care", To: "eligible", Exception: x, Change: act})
		return err
	}

	s1, m1, c1 := caseWithParent("Parent One")
	before := w.snapshot()
	refused(t, eligible(s1, m1, c1, &personnel.ParentException{Case: "spouse_refuses"}), valise.EINVALID, "the exceptional case is for a parent unable to work")
	if w.snapshot() != before {
		t.Fatal("a refused admission changed something")
	}
	if err := eligible(s1, m1, c1, nil); err != nil {
		t.Fatalf("by default a parent on R§28 documents needs no exceptional case: %v %+v", err, fields(err))
	}

	before = w.snapshot()
	_, err := w.svc.SetReference(ctx, chk, w.po, personnel.RefRotation, "settings", personnel.ReferenceInput{Value: json.RawMessage(`{"r29_all_parents": "yes"}`), Change: act})
	refused(t, err, valise.EINVALID, "r29_all_parents: true|false")
	if w.snapshot() != before {
		t.Fatal("a refused setting changed something")
	}
	if _, err := w.svc.SetReference(ctx, chk, w.po, personnel.RefRotation, "settings", personnel.ReferenceInput{Value: json.RawMessage(`{"r29_all_parents": true}`), Change: act}); err != nil {
		t.Fatal(err)
	}
	s2, m2, c2 := caseWithParent("Parent Two")
	before = w.snapshot()
	refused(t, eligible(s2, m2, c2, nil), valise.EINVALID, "R§29")
	if w.snapshot() != before {
		t.Fatal("a refused admission changed something")
	}
	if _, err := w.svc.SetReference(ctx, chk, w.po, personnel.RefSubsistenceMinimum, "2025", personnel.ReferenceInput{Value: json.RawMessage(`{"amount": 46228}`), Change: act}); err != nil {
		t.Fatal(err)
	}
	x := &personnel.ParentException{Case: "no_capable_sibling", FiscalYear: 2025, Parents: 1, Siblings: []personnel.Sibling{
		{FullName: "Brother", Adult: true, ResidesInRK: true, MonthlySalary: 100_000, FamilyMembers: 3}}}
	if err := eligible(s2, m2, c2, x); err != nil {
		t.Fatalf("with the setting on, an exceptional case admits the parent: %v %+v", err, fields(err))
	}
	var kept []byte
	if err := w.db.Pool.QueryRow(ctx, `SELECT exception FROM rotation_case_family WHERE family_member_id = $1`, m2).Scan(&kept); err != nil ||
		!strings.Contains(string(kept), `"no_capable_sibling"`) {
		t.Fatalf("the exception kept with the case: %s %v", kept, err)
	}
}
