package personnel_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"valise"
	"valise/personnel"
)

func TestRotationPlanCalendarAndAnnex1(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	id, _, err := w.posted("attache", "2020-01-01", "2021-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	cand := w.admit(w.candidate("attache", "MFA", "2022-01-01"))
	p, err := w.svc.CreatePlan(ctx, chk, w.po, personnel.PlanInput{Year: 2026, Change: act})
	if err != nil || p.State != "nominations_open" {
		t.Fatalf("plan: %+v %v", p, err)
	}
	if _, err := w.svc.CreatePlan(ctx, chk, w.po, personnel.PlanInput{Year: 2026, Change: act}); valise.ErrorCode(err) != valise.ECONFLICT {
		t.Fatalf("second plan of a year: %v", err)
	}
	// D01: 30 January 2026 is a Friday; D02: the end of February (Saturday 28th) moves to Monday 2 March.
	dl := map[string]personnel.PlanDeadline{}
	for _, x := range p.Deadlines {
		dl[x.ID] = x
	}
	if !dl["D01"].Due.Equal(d("2026-01-30")) || !dl["D02"].Due.Equal(d("2026-03-02")) || !dl["D05"].Due.Equal(d("2026-04-01")) {
		t.Fatalf("deadlines: %+v", p.Deadlines)
	}
	p, err = w.svc.AddPlanEntry(ctx, chk, w.po, p.ID, personnel.PlanEntryInput{Unit: "DE-BER", StaffID: id, PlannedRotation: "June 2026",
		MinistryProposal: "Third Secretary, Europe department", Candidates: []string{cand.ID}, Change: act})
	if err != nil || p.Totals["total"] != 1 || p.Totals["diplomatic"] != 1 {
		t.Fatalf("entry: %+v %v %+v", p, err, fields(err))
	}
	_, err = w.svc.AddPlanEntry(ctx, chk, w.po, p.ID, personnel.PlanEntryInput{Unit: "MFA", PlannedRotation: "x", Change: act})
	refused(t, err, valise.EINVALID, "foreign institution")
	step := func(to, on string) error {
		q, err := w.svc.TransitionPlan(ctx, chk, w.po, p.ID, personnel.PlanTransitionInput{To: to, On: d(on), Change: act})
		if err == nil {
			p = q
		}
		return err
	}
	if err := step("approved", "2026-01-30"); valise.ErrorCode(err) != valise.ECONFLICT {
		t.Fatalf("skipping steps: %v", err)
	}
	if err := step("drafting", "2026-01-30"); err != nil {
		t.Fatal(err)
	}
	if err := step("unit_review", "2026-02-27"); valise.ErrorCode(err) != valise.ECONFLICT {
		t.Fatalf("review without units: %v", err)
	}
	// D03: 10 working days after receipt; 2026-03-09 (Monday) a holiday → 2026-03-13 becomes 2026-03-16.
	if _, err := w.svc.SetCalendarDay(ctx, chk, w.po, "2026-03-09", personnel.CalendarDayInput{Kind: personnel.DayHoliday, Name: "Women's Day (moved)", Change: act}); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.SetPlanUnit(ctx, chk, w.po, p.ID, personnel.PlanUnitInput{Unit: "DE-BER", DraftReceived: d("2026-02-27"), ProposalsOn: d("2026-03-10"), Change: act})
	refused(t, err, valise.EINVALID, "agreed_with")
	if p, err = w.svc.SetPlanUnit(ctx, chk, w.po, p.ID, personnel.PlanUnitInput{Unit: "DE-BER", DraftReceived: d("2026-02-27"), Change: act}); err != nil {
		t.Fatal(err)
	}
	if !p.Units[0].Deadline.Equal(d("2026-03-16")) {
		t.Fatalf("unit deadline over a holiday: %s", p.Units[0].Deadline)
	}
	if err := step("unit_review", "2026-02-27"); err != nil {
		t.Fatal(err)
	}
	if err := step("finalising", "2026-03-10"); valise.ErrorCode(err) != valise.ECONFLICT {
		t.Fatalf("finalising without proposals: %v", err)
	}
	if p, err = w.svc.SetPlanUnit(ctx, chk, w.po, p.ID, personnel.PlanUnitInput{Unit: "DE-BER", DraftReceived: d("2026-02-27"), ProposalsOn: d("2026-03-16"), AgreedWith: "deputy_minister", Change: act}); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]string{{"finalising", "2026-03-16"}, {"submitted", "2026-03-27"}, {"approved", "2026-03-30"}, {"budget_submitted", "2026-04-01"}} {
		if err := step(s[0], s[1]); err != nil {
			t.Fatalf("%s: %v", s[0], err)
		}
	}
	for _, x := range p.Deadlines {
		if x.ID == "D04" && (!x.Due.Equal(d("2026-03-30")) || x.Met == nil || !*x.Met) {
			t.Fatalf("D04: %+v", x)
		}
	}
	_, err = w.svc.AddPlanEntry(ctx, chk, w.po, p.ID, personnel.PlanEntryInput{Unit: "JP-TYO", PlannedRotation: "July", Change: act})
	refused(t, err, valise.ECONFLICT, "out-of-plan")
	var buf bytes.Buffer
	if err := w.svc.WriteAnnex1(ctx, chk, p.ID, &buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{"Сыртқы ротациялау", "DE-BER", "Person 1", "Person 2", "June 2026", "дипломатиялық құрам (diplomatic staff) — 1", "2021-01-01, 3 years"} {
		if !strings.Contains(html, want) {
			t.Errorf("Annex 1 lacks %q", want)
		}
	}
	// Only an officer of every unit sees the plan.
	one := w.user("po.ber", "DE-BER", []string{"personnel_officer"}, []string{"DE-BER"})
	if _, err := w.svc.GetPlan(ctx, w.check(one), p.ID, time.Now()); valise.ErrorCode(err) != valise.EFORBIDDEN {
		t.Fatalf("a unit's officer reads the plan: %v", err)
	}
}

func TestRotationCaseDocumentsFamilyTrainingDeparture(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	chk := w.check(w.po)
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	spouse, _ := w.svc.AddFamily(ctx, chk, w.po, st.ID, personnel.FamilyInput{Relation: "spouse", FullName: "Spouse", BirthDate: d("1990-01-01"), Change: act})
	parent, _ := w.svc.AddFamily(ctx, chk, w.po, st.ID, personnel.FamilyInput{Relation: "parent", FullName: "Parent", BirthDate: d("1950-01-01"), Change: act})
	c, err := w.svc.OpenRotationCase(ctx, chk, w.po, st.ID, personnel.CaseOpenInput{Direction: "outbound", OutOfPlan: "business_necessity", Position: "attache", Unit: "DE-BER", Change: act})
	if err != nil || c.State != "nominated" || c.MissingDocs == 0 || c.MedicalFormCode != "072/у" {
		t.Fatalf("case: %+v %v %+v", c, err, fields(err))
	}
	move := func(to, on string) (personnel.RotationCase, error) {
		return w.svc.TransitionCase(ctx, chk, w.po, st.ID, c.ID, personnel.CaseTransitionInput{To: to, On: d(on), Authority: "minister", Change: act})
	}
	if _, err := move("in_plan", "2025-03-01"); err != nil {
		t.Fatal(err)
	}
	if _, err := move("training_exempt", "2025-03-02"); valise.ErrorCode(err) != valise.ECONFLICT {
		t.Fatalf("R§19: an attaché is not exempt: %v", err)
	}
	// R§16: 15 working days from Tuesday 2025-04-01 → Monday 2025-04-21; the 22nd is over.
	tr := personnel.Training{StartDate: d("2025-04-01"), EndDate: d("2025-04-22"), AckJobDesc: true, AckMemo: true, Conclusion: "depart",
		Items: []personnel.TrainingItem{{Code: "1.1", CompletedOn: d("2025-04-03")}}}
	_, err = w.svc.SetTraining(ctx, chk, w.po, st.ID, c.ID, personnel.TrainingInput{Training: tr, Change: act})
	refused(t, err, valise.EINVALID, "R§16")
	// Consular, extended: one month more (erratum 5).
	tr.Consular, tr.Extended = true, true
	if _, err := w.svc.SetTraining(ctx, chk, w.po, st.ID, c.ID, personnel.TrainingInput{Training: tr, Change: act}); err != nil {
		t.Fatalf("consular extension: %v", err)
	}
	tr.Consular, tr.Extended, tr.EndDate = false, false, d("2025-04-21")
	if _, err := w.svc.SetTraining(ctx, chk, w.po, st.ID, c.ID, personnel.TrainingInput{Training: tr, Change: act}); err != nil {
		t.Fatalf("15 working days: %v", err)
	}
	for _, s := range []string{"in_training", "training_concluded", "departure_recommended", "appointed"} {
		if c, err = move(s, "2025-05-01"); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	// Family: the spouse qualifies; a parent without a care document nor an R§29 case is refused (HR-39).
	fam := func(m string, basis, to string) error {
		_, err := w.svc.SetCaseFamily(ctx, chk, w.po, st.ID, c.ID, personnel.CaseFamilyInput{FamilyMemberID: m, Basis: basis, To: to, Change: act})
		return err
	}
	for _, x := range [][3]string{{spouse.ID, "spouse", "proposed"}, {spouse.ID, "", "docs_pending"}, {parent.ID, "parent_needing_care", "proposed"}, {parent.ID, "", "docs_pending"}} {
		if err := fam(x[0], x[1], x[2]); err != nil {
			t.Fatalf("%v: %v", x, err)
		}
	}
	if err := fam(spouse.ID, "", "eligible"); err == nil || !strings.Contains(valise.ErrorMessage(err), "R§25") {
		t.Fatalf("eligible without documents: %v", err)
	}
	doc := func(code, holder, status string) error {
		_, err := w.svc.RecordDocument(ctx, chk, w.po, st.ID, c.ID, personnel.DocumentInput{Code: code, Holder: holder, Status: status, ReceivedOn: d("2025-05-10"), Note: "none", Change: act})
		return err
	}
	for _, code := range []string{"personal_sheet", "autobiography", "spouse_id", "marriage_divorce_cert", "medical_cert_abroad"} {
		if err := doc(code, spouse.ID, "received"); err != nil {
			t.Fatal(err)
		}
	}
	if err := fam(spouse.ID, "", "eligible"); err != nil {
		t.Fatal(err)
	}
	if err := fam(parent.ID, "", "eligible"); err == nil || !strings.Contains(valise.ErrorMessage(err), "HR-39") {
		t.Fatalf("parent without grounds: %v", err)
	}
	if err := fam(parent.ID, "", "rejected"); err != nil {
		t.Fatal(err)
	}
	if err := fam(spouse.ID, "", "included"); err != nil {
		t.Fatal(err)
	}
	if err := doc("driving_licence", "officer", "not_applicable"); err != nil {
		t.Fatal(err)
	}
	if err := doc("air_tickets", "officer", "not_applicable"); err == nil {
		t.Fatal("V11: air tickets declared not applicable")
	}
	// V11: departure documents incomplete → 409 naming them.
	_, err = move("docs_complete", "2025-05-20")
	if valise.ErrorCode(err) != valise.ECONFLICT || !strings.Contains(valise.ErrorMessage(err), "V11") {
		t.Fatalf("incomplete docs: %v", err)
	}
	for _, code := range []string{"personal_sheet", "autobiography", "education_doc", "medical_cert_abroad", "work_record_book", "tax_declaration_cert",
		"departure_clearance_sheet", "fin_appt_order", "fin_id", "fin_bank_card", "fin_iban_cert", "fin_pension_contract", "air_tickets", "training_plan_a3"} {
		if err := doc(code, "officer", "received"); err != nil {
			t.Fatal(err)
		}
	}
	if err := doc("military_id", "officer", "not_applicable"); err != nil {
		t.Fatal(err)
	}
	if _, err := move("docs_complete", "2025-05-20"); err != nil {
		t.Fatal(err)
	}
	c, err = move("departed", "2025-06-02")
	if err != nil || c.PostingID == "" {
		t.Fatalf("departure starts the posting: %+v %v %+v", c, err, fields(err))
	}
	if _, err := move("arrived", "2025-06-03"); err != nil {
		t.Fatal(err)
	}
	_, err = move("handed_over", "2025-06-10")
	refused(t, err, valise.EINVALID, "note")
	if _, err := w.svc.TransitionCase(ctx, chk, w.po, st.ID, c.ID, personnel.CaseTransitionInput{To: "handed_over", On: d("2025-06-10"), Note: "files of the consular section from the predecessor", Change: act}); err != nil {
		t.Fatal(err)
	}
	// R§29-1: an exclusion ground: documents due in 10 working days.
	if err := fam(spouse.ID, "", "exclusion_ground"); err == nil {
		t.Fatal("exclusion ground without its date")
	}
	_, err = w.svc.SetCaseFamily(ctx, chk, w.po, st.ID, c.ID, personnel.CaseFamilyInput{FamilyMemberID: spouse.ID, To: "exclusion_ground", GroundOn: d("2025-09-01"), Change: act})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := w.svc.GetRotationCase(ctx, chk, st.ID, c.ID)
	if !got.Family[1].DocsDue.Equal(d("2025-09-15")) && !got.Family[0].DocsDue.Equal(d("2025-09-15")) {
		t.Fatalf("exclusion docs due: %+v", got.Family)
	}
}
