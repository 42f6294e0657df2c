package personnel_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"valise"
	"valise/personnel"
	"valise/policy"
)

// secSnapshot counts the secondment tables and the staff history, to prove a refusal changed nothing.
func (w *world) secSnapshot() string {
	w.t.Helper()
	var a, b, c, e, v int
	if err := w.db.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM secondments), (SELECT count(*) FROM secondment_steps),
		(SELECT count(*) FROM secondment_events), (SELECT count(*) FROM staff_events), (SELECT coalesce(sum(version), 0) FROM secondments)`).Scan(&a, &b, &c, &e, &v); err != nil {
		w.t.Fatal(err)
	}
	return fmt.Sprint(a, b, c, e, v)
}

func docs(on string) []personnel.Doc {
	var out []personnel.Doc
	for _, k := range []string{"justified_letter", "nomination", "biography", "service_record", "written_consent"} {
		out = append(out, personnel.Doc{Kind: k, Number: "N-" + k, Date: d(on)})
	}
	return out
}

func effective(on string) []personnel.Assessment {
	y := d(on).Year()
	return []personnel.Assessment{{Year: y - 1, Result: "effective"}, {Year: y - 2, Result: "effective"}}
}

var ministry = personnel.Body{Name: "Ministry of Trade", Kind: personnel.BodyCentralExecutive}

// r1 is a valid R1 proposal for staff on the date.
func r1(staffID, on string) personnel.SecondmentInput {
	return personnel.SecondmentInput{RuleSet: personnel.RuleR1, StaffID: staffID, Receiving: ministry,
		Position: personnel.TargetPosition{Title: "Director", Vacant: true}, On: d(on), Documents: docs(on),
		Facts:  personnel.Facts{Assessments: effective(on), QualificationsMet: true, Consent: &personnel.Consent{To: ministry.Name, Date: d(on)}},
		Change: act}
}

// r2 is a valid R2 proposal of a civil servant of another body to Berlin.
func r2(on, position string) personnel.SecondmentInput {
	return personnel.SecondmentInput{RuleSet: personnel.RuleR2,
		Person:   &personnel.ExternalPerson{FullName: "Outside Person", BirthDate: d("1985-01-01"), Category: personnel.PersonCivilServant},
		Sending:  personnel.Body{Name: "Ministry of Finance", Kind: personnel.BodyState},
		Position: personnel.TargetPosition{Title: "Counsellor", Vacant: true, Unit: "DE-BER", Code: position},
		On:       d(on), Documents: docs(on),
		Facts: personnel.Facts{ServiceSince: d(on).AddDate(-3, 0, 0), Assessments: effective(on), QualificationsMet: true,
			Consent: &personnel.Consent{To: "DE-BER", Date: d(on)}, FirstHeadAgreement: &personnel.Act{Number: "FH-1", Date: d(on)}},
		Change: act}
}

func (w *world) propose(in personnel.SecondmentInput) personnel.Secondment {
	w.t.Helper()
	s, err := w.svc.Propose(context.Background(), w.check(w.po), w.po, in)
	if err != nil {
		w.t.Fatalf("propose: %v %+v", err, fields(err))
	}
	return s
}

func (w *world) step(id, step string, in personnel.StepInput) (personnel.Secondment, error) {
	if in.Reason == "" {
		in.Change = act
	}
	return w.svc.RecordStep(context.Background(), w.check(w.po), w.po, id, step, in)
}

func (w *world) mustStep(id, step string, in personnel.StepInput) personnel.Secondment {
	w.t.Helper()
	s, err := w.step(id, step, in)
	if err != nil {
		w.t.Fatalf("%s: %v %+v", step, err, fields(err))
	}
	return s
}

// refusedStep asserts a step is refused with code naming want, and changes nothing.
func (w *world) refusedStep(id, step string, in personnel.StepInput, code, want string) {
	w.t.Helper()
	before := w.secSnapshot()
	_, err := w.step(id, step, in)
	refused(w.t, err, code, want)
	if after := w.secSnapshot(); after != before {
		w.t.Fatalf("a refused %s changed something: %s → %s", step, before, after)
	}
}

func (w *world) cal() *personnel.Calendar {
	w.t.Helper()
	c, err := personnel.LoadCalendar(context.Background(), w.db.Pool)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func wdays(c *personnel.Calendar, from string, n int) personnel.Date {
	return personnel.Date{Time: c.AddWorkingDays(d(from).Time, n)}
}

func lastStep(s personnel.Secondment) personnel.Step { return s.Steps[len(s.Steps)-1] }

// TestSecondmentR1Eligibility: R1 §10(1) 3 years in the MFA, just inside and
// just outside; every failed condition named at once; nothing written.
func TestSecondmentR1Eligibility(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	st := w.admit(w.candidate("first_secretary", "MFA", "2020-03-02"))
	before := w.secSnapshot()
	_, err := w.svc.Propose(context.Background(), w.check(w.po), w.po, r1(st.ID, "2023-03-01"))
	refused(t, err, valise.EINVALID, "R1 §10(1): at least 3 years of civil service in the authorized body")
	if w.secSnapshot() != before {
		t.Fatal("a refused proposal changed something")
	}
	w.propose(r1(st.ID, "2023-03-02")) // 3 years reached on the same calendar day

	// Every condition at once.
	other := w.admit(w.candidate("first_secretary", "MFA", "2015-01-05"))
	if _, err := w.svc.Impose(context.Background(), w.check(w.po), w.po, other.ID, personnel.PenaltyInput{Kind: "reprimand", ImposedOn: d("2022-12-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	bad := r1(other.ID, "2023-03-01")
	bad.Receiving = personnel.Body{Name: "UN", Kind: personnel.BodyInternational}
	bad.Position.Vacant = false
	bad.Position.Category = personnel.PersonMilitary
	bad.Facts.Acting, bad.Facts.Substituting, bad.Facts.QualificationsMet = true, true, false
	bad.Facts.Assessments = []personnel.Assessment{{Year: 2022, Result: "effective"}, {Year: 2021, Result: "satisfactory"}}
	bad.Documents = bad.Documents[:4]
	bad.Change = personnel.Change{}
	before = w.secSnapshot()
	_, err = w.svc.Propose(context.Background(), w.check(w.po), w.po, bad)
	for _, want := range []string{"HR-29", "R1 §3 p2", "R1 §2", "R1 §10(2): 1 unexpunged", "R1 §10(3): temporarily acting", "substituting",
		"for 2021 must have been assessed", "R1 §10(5)", "R1 §10(6)", "R1 §12: the written_consent", "say why", "name the legal act"} {
		refused(t, err, valise.EINVALID, want)
	}
	if w.secSnapshot() != before {
		t.Fatal("a refused proposal changed something")
	}
	// The reprimand (6 months, reference penalty_term) is expunged on 1 June 2023.
	ok := r1(other.ID, "2023-06-01")
	w.propose(ok)
	_, err = w.svc.Propose(context.Background(), w.check(w.po), w.po, r1(other.ID, "2023-05-31"))
	refused(t, err, valise.EINVALID, "R1 §10(2)")
}

// TestSecondmentR1Workflow walks R1 with each deadline just inside and
// just outside, the routing, the order's start and term, the extension cap
// and the early recall.
func TestSecondmentR1Workflow(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.cal()
	st := w.admit(w.candidate("counsellor", "MFA", "2018-01-08"))
	on := "2023-03-02"
	s := w.propose(r1(st.ID, on))
	if s.State != personnel.SProposed || s.Coordinator != "prime_minister" || len(s.Next) != 1 || s.Next[0].Step != "receiver_decision" {
		t.Fatalf("proposal: %+v", s)
	}
	due := wdays(c, on, 10)
	if !s.Next[0].Due.Equal(due) {
		t.Fatalf("R1 §13 due %s, want %s", s.Next[0].Due, due)
	}
	// Out of order: 409, nothing changed.
	w.refusedStep(s.ID, "coordination_submitted", personnel.StepInput{On: d(on), Coordinator: "prime_minister"}, valise.ECONFLICT, "coordination_submitted is recorded when the file is agreed")
	w.refusedStep(s.ID, "no_such_step", personnel.StepInput{On: d(on)}, valise.ENOTFOUND, "R1 has no step")
	w.refusedStep(s.ID, "receiver_decision", personnel.StepInput{On: d(on)}, valise.EINVALID, "agreed or refused")
	// On the 10th working day: in time.
	s = w.mustStep(s.ID, "receiver_decision", personnel.StepInput{On: due, Outcome: "agreed"})
	if lastStep(s).Late || !lastStep(s).Due.Equal(due) {
		t.Fatalf("on the deadline: %+v", lastStep(s))
	}
	// Routing (R1 §11): a central executive body → the Prime Minister.
	recvLetter := []personnel.Doc{{Kind: "receiver_letter_copy", Number: "L-1", Date: due}}
	w.refusedStep(s.ID, "coordination_submitted", personnel.StepInput{On: due, Coordinator: "head_of_presidential_administration", Documents: recvLetter}, valise.EINVALID, "R1 §11")
	w.refusedStep(s.ID, "coordination_submitted", personnel.StepInput{On: due, Coordinator: "prime_minister"}, valise.EINVALID, "R1 §15")
	// One day after the 3rd working day: recorded, late.
	late := personnel.Date{Time: c.AddWorkingDays(due.Time, 3)}.AddDate(0, 0, 1)
	s = w.mustStep(s.ID, "coordination_submitted", personnel.StepInput{On: late, Coordinator: "prime_minister", Documents: recvLetter})
	if !lastStep(s).Late || len(s.Warnings) != 1 {
		t.Fatalf("after the deadline: %+v %v", lastStep(s), s.Warnings)
	}
	s = w.mustStep(s.ID, "coordination_decision", personnel.StepInput{On: late, Outcome: "agreed", Coordinator: "prime_minister"})
	start := d("2023-05-02")
	s = w.mustStep(s.ID, "appointment_confirmed", personnel.StepInput{On: d("2023-04-20"), StartDate: start})
	// R1 §17: the order runs from the confirming document's date; §8: at most 3 years.
	orderOn := wdays(c, "2023-04-20", 3)
	w.refusedStep(s.ID, "order_issued", personnel.StepInput{On: orderOn, StartDate: start.AddDate(0, 0, 1), TermEnd: start.AddDate(3, 0, 0)}, valise.EINVALID, "R1 §17")
	w.refusedStep(s.ID, "order_issued", personnel.StepInput{On: orderOn, StartDate: start, TermEnd: start.AddDate(3, 0, 1)}, valise.EINVALID, "R1 §8 p1: at most 3 years")
	s = w.mustStep(s.ID, "order_issued", personnel.StepInput{On: orderOn, StartDate: start, TermEnd: start.AddDate(3, 0, 0)})
	if s.State != personnel.SServing || lastStep(s).Late || !s.ExtendedTo.Equal(start.AddDate(3, 0, 0)) {
		t.Fatalf("order: %+v", s)
	}
	// HR-29, R1 §4: the person keeps the status and the former position; R1 §6: who pays.
	if s.HomePosition == nil || s.HomePosition.Position != "counsellor" || s.Pay.Para != "R1 §6" || s.Pay.NewPosition != "receiving_body" {
		t.Fatalf("retained position and pay: %+v %+v", s.HomePosition, s.Pay)
	}
	if kept, err := w.svc.Get(context.Background(), w.check(w.po), st.ID); err != nil || kept.Status != "serving" || kept.Position == nil || kept.Position.Position != "counsellor" {
		t.Fatalf("HR-29: the staff record after the order: %+v %v", kept, err)
	}
	// R1 §17: dispatch within 5 working days of signing; one day over is late.
	dispatchDue := wdays(c, orderOn.String(), 5)
	s = w.mustStep(s.ID, "order_dispatched", personnel.StepInput{On: dispatchDue.AddDate(0, 0, 1)})
	if !lastStep(s).Late || !lastStep(s).Due.Equal(dispatchDue) {
		t.Fatalf("dispatch: %+v", lastStep(s))
	}
	// §8 p2: an extension by the MFA with both consents, at most one year in all.
	end := start.AddDate(3, 0, 0)
	consents := []personnel.Consent{{Party: "receiving_body", Date: d("2025-06-01")}, {Party: "person", Date: d("2025-06-01")}}
	ext := personnel.StepInput{On: d("2025-06-02"), DecidedBy: "mfa", Consents: consents, Until: end.AddDate(1, 0, 1)}
	w.refusedStep(s.ID, "extension", ext, valise.EINVALID, "R1 §8 p2: an extension is at most one year in all")
	ext.Until, ext.Consents = end.AddDate(1, 0, 0), consents[:1]
	w.refusedStep(s.ID, "extension", ext, valise.EINVALID, "the consent of the person")
	ext.Consents, ext.DecidedBy = consents, "receiving_body"
	w.refusedStep(s.ID, "extension", ext, valise.EINVALID, "decided by the mfa")
	ext.DecidedBy, ext.Until = "mfa", end.AddDate(0, 6, 0)
	s = w.mustStep(s.ID, "extension", ext)
	ext.Until = end.AddDate(1, 0, 1) // cumulative: the second may not pass the one-year cap
	w.refusedStep(s.ID, "extension", ext, valise.EINVALID, "at most one year in all")
	ext.Until = end.AddDate(1, 0, 0)
	s = w.mustStep(s.ID, "extension", ext)
	if !s.ExtendedTo.Equal(end.AddDate(1, 0, 0)) {
		t.Fatalf("extended to %s", s.ExtendedTo)
	}
	// Misconduct materials (§9): 5 working days from detection.
	detected := "2025-09-01"
	s = w.mustStep(s.ID, "misconduct_materials", personnel.StepInput{On: wdays(c, detected, 5), Offence: &personnel.Offence{Severity: "minor", CommittedOn: d("2025-08-20"), DetectedOn: d(detected)}})
	if lastStep(s).Late {
		t.Fatal("materials on the 5th working day are in time")
	}
	// §18(3): only a significant or gross offence ends the secondment.
	off := &personnel.Offence{Severity: "minor", CommittedOn: d("2025-08-20")}
	w.refusedStep(s.ID, "early_recall", personnel.StepInput{On: d("2025-10-01"), Ground: "offence", Offence: off}, valise.EINVALID, "R1 §18(3)")
	w.refusedStep(s.ID, "early_recall", personnel.StepInput{On: d("2025-10-01"), Ground: "retirement"}, valise.EINVALID, "one of [joint_decision offence retirement_age other]")
	w.refusedStep(s.ID, "early_recall", personnel.StepInput{On: d("2025-10-01"), Ground: "joint_decision"}, valise.EINVALID, "the joint decision is written")
	off.Severity = "gross"
	s = w.mustStep(s.ID, "early_recall", personnel.StepInput{On: d("2025-10-01"), Ground: "offence", Offence: off})
	noticeDue := wdays(c, "2025-10-01", 3)
	if s.State != personnel.SEarlyRecall || len(s.Next) != 1 || !s.Next[0].Due.Equal(noticeDue) {
		t.Fatalf("early recall: %+v", s.Next)
	}
	s = w.mustStep(s.ID, "early_recall_notice", personnel.StepInput{On: noticeDue})
	if s.State != personnel.SClosed || lastStep(s).Late {
		t.Fatalf("closed: %+v", s)
	}
	// The person's own history and the file's history hold every change.
	ev, err := w.svc.SecondmentEvents(context.Background(), w.check(w.po), s.ID)
	if err != nil || len(ev) != len(s.Steps) {
		t.Fatalf("events %d, steps %d: %v", len(ev), len(s.Steps), err)
	}
	if ev[0].RecordedBy != "po.all" || ev[0].Act.Number != "Order 1" || ev[0].Reason != "test" {
		t.Fatalf("event: %+v", ev[0])
	}
}

// TestSecondmentR1Expiry: the expiry notice is written (§19 p1), the MFA's
// recall is due 5 working days after it (§19 p2), a release within 10
// working days of the notice is recorded with a warning.
func TestSecondmentR1Expiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.cal()
	st := w.admit(w.candidate("counsellor", "MFA", "2018-01-08"))
	s := w.serveR1(st.ID)
	w.refusedStep(s.ID, "expiry_notice", personnel.StepInput{On: d("2025-04-01")}, valise.EINVALID, "is written")
	s = w.mustStep(s.ID, "expiry_notice", personnel.StepInput{On: d("2025-04-01"), Written: true})
	recallDue := wdays(c, "2025-04-01", 5)
	found := false
	for _, n := range s.Next {
		found = found || n.Step == "recall" && n.Due.Equal(recallDue)
	}
	if !found {
		t.Fatalf("recall due %s: %+v", recallDue, s.Next)
	}
	s = w.mustStep(s.ID, "release", personnel.StepInput{On: wdays(c, "2025-04-01", 9)})
	if !strings.Contains(string(lastStep(s).Data), "less than 10 working days") {
		t.Fatalf("release data %s", lastStep(s).Data)
	}
	s = w.mustStep(s.ID, "recall", personnel.StepInput{On: wdays(c, "2025-04-01", 9)})
	if s.State != personnel.SClosed || !lastStep(s).Late {
		t.Fatalf("recall after the 5th working day is late: %+v", lastStep(s))
	}
}

// serveR1 files an R1 secondment and brings it to serving (start 2 May 2023).
func (w *world) serveR1(staffID string) personnel.Secondment {
	w.t.Helper()
	s := w.propose(r1(staffID, "2023-03-02"))
	w.mustStep(s.ID, "receiver_decision", personnel.StepInput{On: d("2023-03-06"), Outcome: "agreed"})
	w.mustStep(s.ID, "coordination_submitted", personnel.StepInput{On: d("2023-03-07"), Coordinator: "prime_minister",
		Documents: []personnel.Doc{{Kind: "receiver_letter_copy", Number: "L", Date: d("2023-03-06")}}})
	w.mustStep(s.ID, "coordination_decision", personnel.StepInput{On: d("2023-04-03"), Outcome: "agreed", Coordinator: "prime_minister"})
	w.mustStep(s.ID, "appointment_confirmed", personnel.StepInput{On: d("2023-04-04"), StartDate: d("2023-05-02")})
	return w.mustStep(s.ID, "order_issued", personnel.StepInput{On: d("2023-04-05"), StartDate: d("2023-05-02"), TermEnd: d("2025-05-02")})
}

// TestSecondmentR1Refusal: after a refusal the MFA proposes another
// candidate within 5 working days (R1 §14); the alert says so.
func TestSecondmentR1Refusal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.cal()
	a := w.admit(w.candidate("counsellor", "MFA", "2018-01-08"))
	b := w.admit(w.candidate("counsellor", "MFA", "2018-01-08"))
	s := w.propose(r1(a.ID, "2023-03-02"))
	s = w.mustStep(s.ID, "receiver_decision", personnel.StepInput{On: d("2023-03-06"), Outcome: "refused"})
	if s.State != personnel.SRefused {
		t.Fatal(s.State)
	}
	alerts, err := personnel.SecondmentAlerts(context.Background(), w.db.Pool, c, d("2023-03-07").Time)
	if err != nil || len(alerts) != 1 || alerts[0].Kind != personnel.AlertSecondmentReplace || !alerts[0].Due.Equal(wdays(c, "2023-03-06", 5).Time) {
		t.Fatalf("alerts %+v %v", alerts, err)
	}
	repl := r1(b.ID, wdays(c, "2023-03-06", 5).String())
	repl.Replaces = s.ID
	r := w.propose(repl)
	if r.Replaces != s.ID || r.Steps[0].Late {
		t.Fatalf("replacement: %+v", r)
	}
	// A second replacement of the same refusal is refused.
	again := r1(b.ID, "2023-03-20")
	again.Replaces = s.ID
	before := w.secSnapshot()
	if _, err := w.svc.Propose(context.Background(), w.check(w.po), w.po, again); err == nil || w.secSnapshot() != before {
		t.Fatalf("second replacement: %v", err)
	}
}

// TestSecondmentR2: HR-30 and R2 §11, §14, §16-§19, §12 and erratum 1.
func TestSecondmentR2(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.cal()
	ctx := context.Background()
	// Eligibility: NB KPIs ≥ 80 % in each of the last two years; political 6 months.
	nb := r2("2023-03-03", "counsellor")
	nb.Person.Category = personnel.PersonNB
	nb.Sending = personnel.Body{Name: "National Bank", Kind: personnel.BodyNationalBank}
	nb.Facts.KPIResults = []personnel.KPIResult{{Year: 2022, Percent: 80}, {Year: 2021, Percent: 79.9}}
	_, err := w.svc.Propose(ctx, w.check(w.po), w.po, nb)
	refused(t, err, valise.EINVALID, "R2 §11(5) p3: actual performance on the functional KPIs for 2021 must be at least 80%")
	nb.Facts.KPIResults[1].Percent = 80
	w.propose(nb)
	pol := r2("2023-03-03", "counsellor")
	pol.Person.Category = personnel.PersonPolitical
	pol.Facts.PoliticalSince = d("2022-09-04")
	_, err = w.svc.Propose(ctx, w.check(w.po), w.po, pol)
	refused(t, err, valise.EINVALID, "R2 §11(1): a political civil servant needs 6 months")
	pol.Facts.PoliticalSince = d("2022-09-03")
	w.propose(pol)
	mil := r2("2023-03-03", "counsellor")
	mil.Person.Category = personnel.PersonMilitary
	mil.Facts.LastAttestation = &personnel.Clearance{Result: "negative", Date: d("2022-05-05")}
	_, err = w.svc.Propose(ctx, w.check(w.po), w.po, mil)
	refused(t, err, valise.EINVALID, "R2 §11(5) p2")
	noHead := r2("2023-03-03", "counsellor")
	noHead.Facts.FirstHeadAgreement = nil
	noHead.Position.Unit = "MOD"
	_, err = w.svc.Propose(ctx, w.check(w.po), w.po, noHead)
	refused(t, err, valise.EINVALID, "R2 §3 p2, HR-30")
	short := r2("2023-03-03", "counsellor")
	short.Facts.ServiceSince = d("2020-03-04")
	_, err = w.svc.Propose(ctx, w.check(w.po), w.po, short)
	refused(t, err, valise.EINVALID, "R2 §11(1): at least 3 years of civil service in the sending body")

	on := "2023-03-03" // + 3 months = Saturday 3 June 2023: the deadline moves to the next working day
	s := w.propose(r2(on, "minister_counsellor"))
	reviewDue := wdays(c, on, 15)
	if s.Next[0].Step != "review_done" || !s.Next[0].Due.Equal(reviewDue) {
		t.Fatalf("next %+v", s.Next)
	}
	w.refusedStep(s.ID, "review_done", personnel.StepInput{On: reviewDue, DocumentsChecked: true}, valise.EINVALID, "R2 §14 p1: the interview")
	s = w.mustStep(s.ID, "review_done", personnel.StepInput{On: reviewDue.AddDate(0, 0, 1), DocumentsChecked: true, Interview: &personnel.Clearance{Result: "prepared", Date: reviewDue}})
	if !lastStep(s).Late {
		t.Fatal("the review one day after the 15th working day is late")
	}
	decisionDue := personnel.Date{Time: c.NextWorkingDay(d("2023-06-03").Time)}
	if s.Next[0].Step != "mfa_decision" || !s.Next[0].Due.Equal(decisionDue) || decisionDue.Weekday() == time.Saturday {
		t.Fatalf("R2 §14 p2 due %+v, want %s", s.Next, decisionDue)
	}
	s = w.mustStep(s.ID, "mfa_decision", personnel.StepInput{On: decisionDue, Outcome: "agreed"})
	if lastStep(s).Late {
		t.Fatal("a decision on the working day after a deadline on a Saturday is in time")
	}
	// §16 comes before §17 for a body other than the Presidential Administration.
	w.refusedStep(s.ID, "presidential_decision", personnel.StepInput{On: decisionDue, Outcome: "agreed", DecidedBy: "president"}, valise.ECONFLICT, "R2 §16")
	s = w.mustStep(s.ID, "pa_submitted", personnel.StepInput{On: decisionDue, Documents: []personnel.Doc{{Kind: "mfa_letter_copy", Number: "M", Date: decisionDue}}})
	// HR-30: the President, or the Head of the PA by authorisation.
	w.refusedStep(s.ID, "presidential_decision", personnel.StepInput{On: decisionDue, Outcome: "agreed", DecidedBy: "prime_minister"}, valise.EINVALID, "HR-30")
	w.refusedStep(s.ID, "presidential_decision", personnel.StepInput{On: decisionDue, Outcome: "agreed", DecidedBy: "head_of_presidential_administration"}, valise.EINVALID, "HR-30, R2 §10")
	s = w.mustStep(s.ID, "presidential_decision", personnel.StepInput{On: decisionDue, Outcome: "agreed", DecidedBy: "head_of_presidential_administration",
		Authorization: &personnel.Act{Number: "A-1", Date: d("2023-01-01")}})
	// Erratum 1: a minister-counsellor's Art. 15(4)(3) term is 4 years.
	start := d("2023-07-03")
	order := personnel.StepInput{On: decisionDue, StartDate: start, TermEnd: start.AddDate(4, 0, 1), Change: personnel.Change{Reason: "order", Act: personnel.Act{Number: "MFA-455", Date: decisionDue}}}
	w.refusedStep(s.ID, "mfa_order", order, valise.EINVALID, "erratum 1")
	order.TermEnd = start.AddDate(4, 0, 0)
	s = w.mustStep(s.ID, "mfa_order", order)
	w.refusedStep(s.ID, "sending_body_order", personnel.StepInput{On: decisionDue, MFAOrder: &personnel.Act{Number: "other", Date: decisionDue}}, valise.EINVALID, "R2 §19")
	s = w.mustStep(s.ID, "sending_body_order", personnel.StepInput{On: decisionDue, MFAOrder: &personnel.Act{Number: "MFA-455", Date: decisionDue}})
	s = w.mustStep(s.ID, "dispatched", personnel.StepInput{On: d("2023-07-03")})
	// §12 p2: KPIs with goal indicators within one month of the dispatch.
	kpiDue := personnel.Date{Time: d("2023-08-03").Time}
	if !c.IsWorkingDay(kpiDue.Time) {
		kpiDue = personnel.Date{Time: c.NextWorkingDay(kpiDue.Time)}
	}
	w.refusedStep(s.ID, "kpi_approved", personnel.StepInput{On: kpiDue, Indicators: []personnel.Indicator{{Name: "trade missions"}}}, valise.EINVALID, "goal-achievement indicator")
	s = w.mustStep(s.ID, "kpi_approved", personnel.StepInput{On: kpiDue.AddDate(0, 0, 1), Indicators: []personnel.Indicator{{Name: "trade missions", Goal: "4 a year"}}})
	if !lastStep(s).Late {
		t.Fatal("KPIs a day after a month are late")
	}
	// Reporting under the sending body's order.
	w.refusedStep(s.ID, "report", personnel.StepInput{On: d("2023-09-01"), Results: []personnel.KPIResult{{Year: 2023, Percent: 90}}}, valise.ECONFLICT, "reporting_procedure first")
	s = w.mustStep(s.ID, "reporting_procedure", personnel.StepInput{On: d("2023-08-01"), IntervalMonths: 6})
	s = w.mustStep(s.ID, "report", personnel.StepInput{On: d("2024-02-01"), Results: []personnel.KPIResult{{Year: 2023, Percent: 90}}})
	if lastStep(s).Late {
		t.Fatalf("a report on the day it is due: %+v", lastStep(s))
	}
	// §8 p2 via erratum 1: extension by the sending body with the MFA's and the person's consent, ≤ 1 year.
	end := start.AddDate(4, 0, 0)
	ext := personnel.StepInput{On: d("2026-01-05"), DecidedBy: "sending_body", Until: end.AddDate(1, 0, 1),
		Consents: []personnel.Consent{{Party: "mfa", Date: d("2026-01-05")}, {Party: "person", Date: d("2026-01-05")}}}
	w.refusedStep(s.ID, "extension", ext, valise.EINVALID, "at most")
	ext.Until = end.AddDate(1, 0, 0)
	s = w.mustStep(s.ID, "extension", ext)
	// §22: early recall by the sending body; an NB employee's any offence is a ground, a civil servant's minor one is not.
	w.refusedStep(s.ID, "early_recall", personnel.StepInput{On: d("2026-02-02"), Ground: "offence", Offence: &personnel.Offence{Severity: "minor", CommittedOn: d("2026-01-20")}}, valise.EINVALID, "R2 §20(4)")
	s = w.mustStep(s.ID, "early_recall", personnel.StepInput{On: d("2026-02-02"), Ground: "diplomatic_recall", Basis: &personnel.Basis{Kind: "law", Ref: "Law Art. 18"}})
	if s.Next[0].Due != wdays(c, "2026-02-02", 3) {
		t.Fatalf("R2 §22 notice due %+v", s.Next)
	}
}

// TestSecondmentR2PresidentialAdministration: R2 §16 p2 — no letter to the PA for its own civil servant.
func TestSecondmentR2PresidentialAdministration(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	in := r2("2023-03-03", "counsellor")
	in.Sending = personnel.Body{Name: "Presidential Administration", Kind: personnel.BodyPA}
	s := w.propose(in)
	w.mustStep(s.ID, "review_done", personnel.StepInput{On: d("2023-03-10"), DocumentsChecked: true, Interview: &personnel.Clearance{Result: "prepared", Date: d("2023-03-09")}})
	s = w.mustStep(s.ID, "mfa_decision", personnel.StepInput{On: d("2023-03-20"), Outcome: "agreed"})
	w.refusedStep(s.ID, "pa_submitted", personnel.StepInput{On: d("2023-03-21")}, valise.ECONFLICT, "R2 §16 p2")
	s = w.mustStep(s.ID, "presidential_decision", personnel.StepInput{On: d("2023-04-03"), Outcome: "agreed", DecidedBy: "president"})
	if s.State != personnel.SCoordAgreed {
		t.Fatal(s.State)
	}
}

// TestSecondmentR3: scope (§2), routing of international organisations
// (§11), treaty overrides of the receiver's deadlines (§13), the written
// early-recall notice (§20).
func TestSecondmentR3(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("registry_officer", "MFA", "2019-01-08"))
	un := personnel.Body{Name: "UNDP", Kind: personnel.BodyInternational}
	in := personnel.SecondmentInput{RuleSet: personnel.RuleR3, StaffID: st.ID, Receiving: un,
		Position: personnel.TargetPosition{Title: "Programme officer", Vacant: true}, On: d("2023-03-02"), Documents: docs("2023-03-02"),
		Facts: personnel.Facts{Assessments: effective("2023-03-02"), QualificationsMet: true, Consent: &personnel.Consent{To: "UNDP", Date: d("2023-03-01")},
			FirstHeadAgreement: &personnel.Act{Number: "FH", Date: d("2023-03-01")}},
		Override: &personnel.Override{Deadlines: &personnel.Basis{Kind: "treaty", Ref: "Agreement with UNDP"}},
		Change:   act}
	s := w.propose(in)
	if s.Coordinator != "prime_minister" || len(s.Next) != 1 || !s.Next[0].Due.IsZero() {
		t.Fatalf("R3 §11, §13: %+v %+v", s.Coordinator, s.Next)
	}
	ext := in
	ext.StaffID = ""
	ext.Person = &personnel.ExternalPerson{FullName: "Officer", BirthDate: d("1980-01-01"), Category: personnel.PersonMilitary}
	ext.Unit, ext.Sending = "MFA", personnel.Body{Name: "Ministry of Defence", Kind: personnel.BodyState}
	ext.Receiving = personnel.Body{Name: "Ministry of Foreign Affairs", Kind: personnel.BodyCentralExecutive}
	ext.Facts.Consent.To = ext.Receiving.Name
	ext.Facts.ServiceSince = d("2010-01-01")
	ext.Override = &personnel.Override{Deadlines: &personnel.Basis{Kind: "charter", Ref: "x"}}
	_, err := w.svc.Propose(ctx, w.check(w.po), w.po, ext)
	refused(t, err, valise.EINVALID, "R3 §13, §16")
	ext.Override = nil
	_, err = w.svc.Propose(ctx, w.check(w.po), w.po, ext)
	refused(t, err, valise.EINVALID, "R3 §2(1)")
	// R3 §8: a treaty may set a longer term.
	w.mustStep(s.ID, "receiver_decision", personnel.StepInput{On: d("2023-04-03"), Outcome: "agreed"})
	w.mustStep(s.ID, "coordination_submitted", personnel.StepInput{On: d("2023-04-04"), Coordinator: "prime_minister", Documents: []personnel.Doc{{Kind: "receiver_letter_copy", Number: "U", Date: d("2023-04-03")}}})
	w.mustStep(s.ID, "coordination_decision", personnel.StepInput{On: d("2023-04-20"), Outcome: "agreed", Coordinator: "prime_minister"})
	w.mustStep(s.ID, "appointment_confirmed", personnel.StepInput{On: d("2023-04-21"), StartDate: d("2023-05-02")})
	s = w.mustStep(s.ID, "order_issued", personnel.StepInput{On: d("2023-04-24"), StartDate: d("2023-05-02"), TermEnd: d("2026-05-02")})
	for _, n := range s.Next {
		if n.Step == "order_dispatched" && !n.Due.IsZero() {
			t.Fatal("R3 §17 sets no deadline for the dispatch")
		}
	}
	s = w.mustStep(s.ID, "early_recall", personnel.StepInput{On: d("2024-01-10"), Ground: "retirement_age", Basis: &personnel.Basis{Kind: "law", Ref: "Civil Service Law"}})
	w.refusedStep(s.ID, "early_recall_notice", personnel.StepInput{On: d("2024-01-11")}, valise.EINVALID, "R3 §20")
	w.mustStep(s.ID, "early_recall_notice", personnel.StepInput{On: d("2024-01-11"), Written: true})
}

// TestSecondmentPrivacy: a file is personal data under the personnel
// policy: an officer of another unit gets "not found" for it, as for a
// missing one, and lists leave it out; the person reads their own file but
// may not change it.
func TestSecondmentPrivacy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("counsellor", "MFA", "2018-01-08"))
	s := w.propose(r1(st.ID, "2023-03-02"))
	ber := w.user("po.ber", "DE-BER", []string{policy.RolePersonnelOfficer}, nil)
	for _, id := range []string{s.ID, "00000000-0000-4000-8000-00000000000a"} {
		_, err := w.svc.GetSecondment(ctx, w.check(ber), id)
		if valise.ErrorCode(err) != valise.ENOTFOUND || valise.ErrorMessage(err) != "not found" {
			t.Fatalf("get %s: %v", id, err)
		}
		before := w.secSnapshot()
		_, err = w.svc.RecordStep(ctx, w.check(ber), ber, id, "receiver_decision", personnel.StepInput{On: d("2023-03-03"), Outcome: "agreed", Change: act})
		if valise.ErrorCode(err) != valise.ENOTFOUND || valise.ErrorMessage(err) != "not found" || w.secSnapshot() != before {
			t.Fatalf("step %s: %v", id, err)
		}
	}
	sc, err := w.authz.ListScope(ctx, ber, "staff")
	if err != nil {
		t.Fatal(err)
	}
	if l, err := w.svc.ListSecondments(ctx, sc, ber, "", ""); err != nil || len(l) != 0 {
		t.Fatalf("list %v %v", l, err)
	}
	if l, err := w.svc.ListSecondments(ctx, scopeAll, w.po, "r1", ""); err != nil || len(l) != 1 {
		t.Fatalf("list %v %v", l, err)
	}
}

// TestSecondmentAlerts: the alert source lists each pending deadline and the term end.
func TestSecondmentAlerts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.cal()
	st := w.admit(w.candidate("counsellor", "MFA", "2018-01-08"))
	s := w.serveR1(st.ID)
	at := func(on string) map[string]time.Time {
		alerts, err := personnel.SecondmentAlerts(context.Background(), w.db.Pool, c, d(on).Time)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]time.Time{}
		for _, a := range alerts {
			if a.StaffID != st.ID || a.Ref != "secondment/"+s.ID {
				t.Fatalf("alert %+v", a)
			}
			kinds[a.Kind+" "+a.Rule] = a.Due
		}
		return kinds
	}
	// The documents are due on the 5th working day after the order: in the list from the start (lead 30 days).
	if k := at("2023-04-06"); !k["secondment_documents_missing R1 §17"].Equal(wdays(c, "2023-04-05", 5).Time) || len(k) != 1 {
		t.Fatalf("alerts %v", k)
	}
	// The term ends on 2 May 2025: its alert starts 30 days before (the setting personnel.alert_lead), not 31.
	if _, ok := at("2025-04-01")["secondment_ending R1 §8"]; ok {
		t.Fatal("the term-end alert 31 days before")
	}
	k := at("2025-04-02")
	if !k["secondment_ending R1 §8"].Equal(d("2025-05-02").Time) {
		t.Fatalf("alerts %v", k)
	}
	if due, ok := k["secondment_step_due R1 §19 p1"]; !ok || !due.Equal(c.AddWorkingDays(d("2025-05-02").Time, -10)) {
		t.Fatalf("expiry notice alert: %v", k)
	}
}

// TestSecondmentReference: the values taken from other acts are reference
// data, validated, with history, and the rules read the current one.
func TestSecondmentReference(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	for _, bad := range []string{`{"months": 0}`, `{"weeks": 3}`} {
		_, err := w.svc.SetReference(ctx, w.check(w.po), w.po, personnel.RefPenaltyTerm, "reprimand", personnel.ReferenceInput{Value: []byte(bad), Change: act})
		refused(t, err, valise.EINVALID, "a penalty term is {months: 1-120}")
	}
	_, err := w.svc.SetReference(ctx, w.check(w.po), w.po, personnel.RefSecondTerm, "other", personnel.ReferenceInput{Value: []byte(`{"years": 0}`), Change: act})
	refused(t, err, valise.EINVALID, "a term is {years: 1-10")
	if _, err := w.svc.SetReference(ctx, w.check(w.po), w.po, personnel.RefPenaltyTerm, "reprimand", personnel.ReferenceInput{Value: []byte(`{"months": 3}`), Change: act}); err != nil {
		t.Fatal(err)
	}
	st := w.admit(w.candidate("counsellor", "MFA", "2015-01-05"))
	if _, err := w.svc.Impose(ctx, w.check(w.po), w.po, st.ID, personnel.PenaltyInput{Kind: "reprimand", ImposedOn: d("2023-01-10"), Change: act}); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Propose(ctx, w.check(w.po), w.po, r1(st.ID, "2023-04-09"))
	refused(t, err, valise.EINVALID, "R1 §10(2)")
	w.propose(r1(st.ID, "2023-04-10")) // expunged 3 months after, under the edited term
}

// TestSecondmentAlertsPolicy: an alert about a secondee without a staff
// record is kept like a staff record's, by the unit that keeps the file: the
// Berlin officer sees the R2 file's alert of Berlin, the Tokyo officer none.
func TestSecondmentAlertsPolicy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	on := personnel.Today(time.Now()).AddDate(0, 0, -3)
	in := r2(on.String(), "counsellor")
	s := w.propose(in)
	ber := w.user("po.ber", "DE-BER", []string{policy.RolePersonnelOfficer}, nil)
	tyo := w.user("po.tyo", "JP-TYO", []string{policy.RolePersonnelOfficer}, nil)
	for _, c := range []struct {
		who  policy.Subject
		want int
	}{{ber, 1}, {tyo, 0}, {w.po, 1}} {
		who, want := c.who, c.want
		alerts, err := w.svc.Alerts(ctx, who, w.check(who), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range alerts {
			if a.Ref == "secondment/"+s.ID {
				n++
				if a.StaffName != "Outside Person" {
					t.Fatalf("alert %+v", a)
				}
			}
		}
		if n != want {
			t.Fatalf("%s sees %d alerts of the file, want %d: %+v", who.Username, n, want, alerts)
		}
	}
}
