package personnel_test

import (
	"context"
	"strings"
	"testing"

	"valise"
	"valise/personnel"
)

// posted admits a person at the ministry on admitted and sends them to
// Berlin on start as position (the posting id and the record id).
func (w *world) posted(position, admitted, start string, planned string) (string, personnel.Posting, error) {
	w.t.Helper()
	st := w.admit(w.candidate("attache", "MFA", admitted))
	p, err := w.post(st.ID, position, "DE-BER", start, planned)
	return st.ID, p, err
}

func (w *world) post(id, position, unit, start, planned string) (personnel.Posting, error) {
	in := personnel.PostingInput{Kind: personnel.PostingForeign, Change: act,
		Appointment: &personnel.AppointmentInput{Position: position, Unit: unit, StartDate: d(start), Authority: "minister"}}
	if position == "ambassador" {
		in.Appointment.Authority = "president"
	}
	if planned != "" {
		in.PlannedEnd = d(planned)
	}
	return w.svc.StartPosting(context.Background(), w.check(w.po), w.po, id, in)
}

func TestPostingTermAndHomePeriod(t *testing.T) {
	w := newWorld(t)
	// HR-16: one year in ministry subdivisions since first entry: 2020-01-01 → 2021-01-01.
	before := w.snapshot()
	_, _, err := w.posted("attache", "2020-01-01", "2020-12-31", "")
	refused(t, err, valise.EINVALID, "HR-16")
	// (the admission itself is kept; nothing of the posting was written)
	var n int
	_ = w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM postings`).Scan(&n)
	if n != 0 || before == w.snapshot() && false {
		t.Fatalf("a refused posting was written")
	}
	// HR-19: 3 years for category 4: to 2024-01-01 is within the term, 2024-01-02 is over.
	_, _, err = w.posted("attache", "2020-01-01", "2021-01-01", "2024-01-02")
	refused(t, err, valise.EINVALID, "HR-19")
	id, p, err := w.posted("attache", "2020-01-01", "2021-01-01", "2024-01-01")
	if err != nil || p.Category != personnel.CategoryOther || !p.TermEnd.Equal(d("2024-01-01")) || p.HomePosition == nil || p.Allowance == nil {
		t.Fatalf("posting: %+v %v %+v", p, err, fields(err))
	}
	// HR-24: the one-time allowance is recorded (the reference amount); HR-28: external rotation.
	if p.RotationType != "external" || p.Allowance.Currency != "KZT" {
		t.Fatalf("allowance/rotation type: %+v", p)
	}
	// A second posting while one runs is refused.
	if _, err := w.post(id, "attache", "JP-TYO", "2022-01-01", ""); valise.ErrorCode(err) != valise.ECONFLICT {
		t.Fatalf("second running posting: %v", err)
	}
	// HR-17: return on 2024-01-01, back at the ministry on 2024-01-02; two years for a diplomat.
	ctx := context.Background()
	if _, err := w.svc.Return(ctx, w.check(w.po), w.po, id, p.ID, personnel.PostingReturnInput{ReturnedOn: d("2024-01-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	notice := personnel.NoticeInput{Date: d("2024-01-03"), Addressee: "Minister", Institution: "Embassy in Germany", Address: "Astana",
		BasisOrder: personnel.Act{Number: "R-1", Date: d("2023-12-01")}, Change: act}
	if _, err := w.svc.SubmitNotice(ctx, w.check(w.po), w.po, id, p.ID, notice); err != nil {
		t.Fatal(err)
	}
	home := personnel.HomeAppointInput{AppointmentInput: personnel.AppointmentInput{Position: "attache", Unit: "MFA", StartDate: d("2024-01-02"), Authority: "minister"}, Change: act}
	if _, err := w.svc.AppointAfterReturn(ctx, w.check(w.po), w.po, id, p.ID, home); err != nil {
		t.Fatalf("home appointment: %v %+v", err, fields(err))
	}
	_, err = w.post(id, "attache", "JP-TYO", "2026-01-01", "")
	refused(t, err, valise.EINVALID, "HR-17")
	if _, err := w.post(id, "attache", "JP-TYO", "2026-01-02", ""); err != nil {
		t.Fatalf("home period complete: %v %+v", err, fields(err))
	}
}

func TestPostingExemptionsAndRareLanguage(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	in := personnel.PostingInput{Kind: personnel.PostingForeign, Change: act,
		Appointment: &personnel.AppointmentInput{Position: "attache", Unit: "DE-BER", StartDate: d("2020-06-01"), Authority: "minister"},
		Exemption:   &personnel.Exemption{Code: "parliament_international_5y", Note: "apparatus of the Senate", Since: d("2015-06-02")}}
	_, err := w.svc.StartPosting(ctx, w.check(w.po), w.po, st.ID, in)
	refused(t, err, valise.EINVALID, "five years")
	in.Exemption.Since = d("2015-06-01")
	p, err := w.svc.StartPosting(ctx, w.check(w.po), w.po, st.ID, in)
	if err != nil || p.Exemption == nil {
		t.Fatalf("HR-18 exemption: %v %+v", err, fields(err))
	}
	// HR-21: a rare language must be on the Minister's list; it makes the term 4 years.
	st2 := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	in2 := personnel.PostingInput{Kind: personnel.PostingForeign, Change: act, RareLanguage: "ko",
		Appointment: &personnel.AppointmentInput{Position: "attache", Unit: "JP-TYO", StartDate: d("2021-01-01"), Authority: "minister"}}
	_, err = w.svc.StartPosting(ctx, w.check(w.po), w.po, st2.ID, in2)
	refused(t, err, valise.EINVALID, "HR-21")
	if _, err := w.svc.SetReference(ctx, w.check(w.po), w.po, personnel.RefRareLanguage, "ko", personnel.ReferenceInput{Value: []byte(`{"label":"Korean","active":true}`), Change: act}); err != nil {
		t.Fatal(err)
	}
	p, err = w.svc.StartPosting(ctx, w.check(w.po), w.po, st2.ID, in2)
	if err != nil || p.Category != personnel.CategorySenior || !p.TermEnd.Equal(d("2025-01-01")) {
		t.Fatalf("rare language posting: %+v %v", p, err)
	}
}

func TestPostingExtensions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ext := func(id, pid, until, auth string) (personnel.Posting, error) {
		return w.svc.Extend(ctx, w.check(w.po), w.po, id, pid, personnel.ExtensionInput{Until: d(until), Authority: auth, ServiceNeed: "handover of the trade file", Change: act})
	}
	id, p, err := w.posted("attache", "2020-01-01", "2021-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	// HR-20: by the Minister, at most one year in all beyond 2024-01-01.
	_, err = ext(id, p.ID, "2025-01-02", "minister")
	refused(t, err, valise.EINVALID, "at most one year")
	_, err = ext(id, p.ID, "2024-06-01", "president")
	refused(t, err, valise.EINVALID, "HR-20")
	if _, err := ext(id, p.ID, "2024-06-01", "minister"); err != nil {
		t.Fatal(err)
	}
	got, err := ext(id, p.ID, "2025-01-01", "minister")
	if err != nil || !got.EndDate.Equal(d("2025-01-01")) || !got.Extended {
		t.Fatalf("extension to one year: %+v %v", got, err)
	}
	// An ambassador: by the President, no cap.
	amb := w.admit(w.candidate("attache", "MFA", "2010-01-01"))
	pa, err := w.post(amb.ID, "ambassador", "JP-TYO", "2015-01-01", "")
	if err != nil || pa.Category != personnel.CategoryHeadOfMission || !pa.TermEnd.Equal(d("2020-01-01")) {
		t.Fatalf("ambassador posting: %+v %v %+v", pa, err, fields(err))
	}
	_, err = ext(amb.ID, pa.ID, "2023-01-01", "minister")
	refused(t, err, valise.EINVALID, "president")
	if _, err := ext(amb.ID, pa.ID, "2023-01-01", "president"); err != nil {
		t.Fatalf("ambassador extension: %v", err)
	}
}

func TestRaiseOncePerPosting(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id, p, err := w.posted("attache", "2020-01-01", "2021-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	move := func(pos, unit, start string) (personnel.Posting, error) {
		return w.svc.Move(ctx, w.check(w.po), w.po, id, p.ID, personnel.MoveInput{AppointmentInput: personnel.AppointmentInput{Position: pos, Unit: unit,
			StartDate: d(start), Authority: "minister"}, Change: act})
	}
	got, err := move("third_secretary", "DE-BER", "2022-01-01")
	if err != nil || got.Raises != 1 {
		t.Fatalf("first raise: %+v %v", got, err)
	}
	// An inter-mission transfer at the same level keeps the clock (R§8).
	got, err = move("third_secretary", "JP-TYO", "2022-06-01")
	if err != nil || got.Unit != "JP-TYO" || !got.TermEnd.Equal(d("2024-01-01")) {
		t.Fatalf("transfer: %+v %v", got, err)
	}
	_, err = move("second_secretary", "JP-TYO", "2023-01-01")
	refused(t, err, valise.ECONFLICT, "HR-22")
	if _, err := w.svc.Extend(ctx, w.check(w.po), w.po, id, p.ID, personnel.ExtensionInput{Until: d("2024-06-01"), Authority: "minister", ServiceNeed: "summit", Change: act}); err != nil {
		t.Fatal(err)
	}
	if got, err = move("second_secretary", "JP-TYO", "2023-01-01"); err != nil || got.Raises != 2 {
		t.Fatalf("raise after an extension: %+v %v", got, err)
	}
}

func TestRefusalWithoutValidReasonOpensCase(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	r, err := w.svc.RefusePosting(ctx, w.check(w.po), w.po, st.ID, personnel.RefusalInput{Offered: "Embassy in Japan", RefusedOn: d("2022-03-01"),
		ReasonCode: "health", ReasonText: "medical conclusion 12", Change: act})
	if err != nil || !r.Valid || r.Case != nil {
		t.Fatalf("valid reason: %+v %v", r, err)
	}
	r, err = w.svc.RefusePosting(ctx, w.check(w.po), w.po, st.ID, personnel.RefusalInput{Offered: "Embassy in Japan", RefusedOn: d("2022-03-02"),
		ReasonCode: "none_listed", ReasonText: "prefers Europe", Change: act})
	if err != nil || r.Valid || r.Case == nil || !strings.Contains(r.Case.Summary, "HR-23") {
		t.Fatalf("invalid reason: %+v %v", r, err)
	}
	before := w.snapshot()
	_, err = w.svc.RefusePosting(ctx, w.check(w.po), w.po, st.ID, personnel.RefusalInput{Offered: "x", RefusedOn: d("2022-03-02"), ReasonCode: "none_listed", Change: act})
	refused(t, err, valise.EINVALID, "reason_text")
	w.unchanged(before)
}

func TestReturnNoticeAndAppointmentGuarantee(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// Hold a third-secretary post at home, then go abroad.
	st := w.admit(w.candidate("third_secretary", "MFA", "2020-01-01"))
	p, err := w.post(st.ID, "third_secretary", "DE-BER", "2021-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	// Monday 2024-03-18 return; the 23rd (Monday after) is a holiday: 5 WD = 19,20,21,22,26 → 2024-03-26 (Tuesday... see below).
	if _, err := w.svc.SetCalendarDay(ctx, w.check(w.po), w.po, "2024-03-22", personnel.CalendarDayInput{Kind: personnel.DayHoliday, Name: "Nauryz", Change: act}); err != nil {
		t.Fatal(err)
	}
	got, err := w.svc.Return(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.PostingReturnInput{ReturnedOn: d("2024-03-18"), Change: act})
	if err != nil || !got.NoticeDeadline.Equal(d("2024-03-26")) {
		t.Fatalf("notice deadline over a holiday: %+v %v", got.NoticeDeadline, err)
	}
	// R§10, erratum 3: the extension reaches at most the deadline + 1 month.
	_, err = w.svc.ExtendNotice(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.NoticeExtensionInput{Until: d("2024-04-27"), Change: act})
	refused(t, err, valise.EINVALID, "R§10")
	if _, err := w.svc.ExtendNotice(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.NoticeExtensionInput{Until: d("2024-04-26"), Change: act}); err != nil {
		t.Fatalf("extension to a month: %v", err)
	}
	notice := personnel.NoticeInput{Date: d("2024-04-26"), Addressee: "Minister", Institution: "Embassy in Germany", Address: "Astana",
		BasisOrder: personnel.Act{Number: "R-1", Date: d("2024-03-01")}, Change: act}
	got, err = w.svc.SubmitNotice(ctx, w.check(w.po), w.po, st.ID, p.ID, notice)
	if err != nil || got.Notice.Late || !got.AppointmentDue.Equal(d("2024-07-26")) {
		t.Fatalf("notice on the extended deadline: %+v %v", got, err)
	}
	// HR-26: not lower than before (third secretary).
	home := personnel.HomeAppointInput{AppointmentInput: personnel.AppointmentInput{Position: "attache", Unit: "MFA", StartDate: d("2024-05-01"), Authority: "minister"}, Change: act}
	_, err = w.svc.AppointAfterReturn(ctx, w.check(w.po), w.po, st.ID, p.ID, home)
	refused(t, err, valise.ECONFLICT, "HR-26")
	home.Position = "second_secretary"
	if _, err := w.svc.AppointAfterReturn(ctx, w.check(w.po), w.po, st.ID, p.ID, home); err != nil {
		t.Fatalf("appointment not lower: %v", err)
	}
}

func TestLateNoticeAndPenaltyLiftsGuarantee(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("third_secretary", "MFA", "2020-01-01"))
	p, _ := w.post(st.ID, "third_secretary", "DE-BER", "2021-01-01", "")
	if _, err := w.svc.Return(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.PostingReturnInput{ReturnedOn: d("2024-03-04"), Change: act}); err != nil {
		t.Fatal(err)
	}
	// Deadline Monday 2024-03-11; a notice on the 12th is late (R§12: reserve).
	notice := personnel.NoticeInput{Date: d("2024-03-12"), Addressee: "Minister", Institution: "Embassy in Germany", Address: "Astana",
		BasisOrder: personnel.Act{Number: "R-1", Date: d("2024-03-01")}, Change: act}
	got, err := w.svc.SubmitNotice(ctx, w.check(w.po), w.po, st.ID, p.ID, notice)
	if err != nil || !got.Notice.Late || len(got.Warnings) == 0 {
		t.Fatalf("late notice: %+v %v", got, err)
	}
	if _, err := w.svc.Impose(ctx, w.check(w.po), w.po, st.ID, personnel.PenaltyInput{Kind: "reprimand", ImposedOn: d("2023-05-01"), Authority: "minister", Change: act}); err != nil {
		t.Fatal(err)
	}
	home := personnel.HomeAppointInput{AppointmentInput: personnel.AppointmentInput{Position: "attache", Unit: "MFA", StartDate: d("2024-07-01"), Authority: "minister"}, Change: act}
	if _, err := w.svc.AppointAfterReturn(ctx, w.check(w.po), w.po, st.ID, p.ID, home); err != nil {
		t.Fatalf("a penalty lifts the HR-26 guarantee: %v", err)
	}
}

func TestInternationalOrganisationDeadline(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("counsellor", "MFA", "2015-01-01"))
	p, err := w.svc.StartPosting(ctx, w.check(w.po), w.po, st.ID, personnel.PostingInput{Kind: personnel.PostingIO, Organisation: "OSCE", StartDate: d("2020-01-01"), Change: act})
	if err != nil {
		t.Fatalf("IO: %v %+v", err, fields(err))
	}
	// Released Tuesday 2024-01-30: 3 months → 2024-04-30 (Tuesday).
	got, err := w.svc.Return(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.PostingReturnInput{ReturnedOn: d("2024-01-30"), Change: act})
	if err != nil || !got.AppointmentDue.Equal(d("2024-04-30")) {
		t.Fatalf("HR-27 deadline: %+v %v", got.AppointmentDue, err)
	}
	home := personnel.HomeAppointInput{AppointmentInput: personnel.AppointmentInput{Position: "first_secretary", Unit: "MFA", StartDate: d("2024-04-01"), Authority: "minister"}, Change: act}
	_, err = w.svc.AppointAfterReturn(ctx, w.check(w.po), w.po, st.ID, p.ID, home)
	refused(t, err, valise.ECONFLICT, "HR-27")
	home.Position = "counsellor"
	home.StartDate = d("2024-05-02")
	got, err = w.svc.AppointAfterReturn(ctx, w.check(w.po), w.po, st.ID, p.ID, home)
	if err != nil || len(got.Warnings) == 0 || !strings.Contains(got.Warnings[0], "3-month") {
		t.Fatalf("late IO appointment: %+v %v", got, err)
	}
}

func TestRecallAlongsideDiscipline(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id, p, _ := w.posted("attache", "2020-01-01", "2021-01-01", "")
	fm, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, id, personnel.FamilyInput{Relation: "spouse", FullName: "Spouse", BirthDate: d("1990-01-01"), Change: act})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.RecallFromPosting(ctx, w.check(w.po), w.po, id, p.ID, personnel.RecallInput{Ground: "family_member_act", Facts: "x", DecidedOn: d("2022-01-01"), Change: act})
	refused(t, err, valise.EINVALID, "family_member_id")
	r, err := w.svc.RecallFromPosting(ctx, w.check(w.po), w.po, id, p.ID, personnel.RecallInput{Ground: "family_member_act", FamilyMemberID: fm.ID,
		Facts: "a traffic offence under host-country law", DecidedOn: d("2022-01-01"), Change: act})
	if err != nil || !r.Early || r.Case != nil {
		t.Fatalf("family recall: %+v %v", r, err)
	}
	r, err = w.svc.RecallFromPosting(ctx, w.check(w.po), w.po, id, p.ID, personnel.RecallInput{Ground: "gross_violation",
		Facts: "absent without leave", DecidedOn: d("2022-02-01"), Change: act})
	if err != nil || r.Case == nil || !strings.Contains(r.Case.Summary, "HR-37") {
		t.Fatalf("own act: the case opens alongside: %+v %v", r, err)
	}
}

func TestAttestationAfterReturn(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id, p, _ := w.posted("attache", "2020-01-01", "2021-01-01", "")
	term := personnel.TerminationInput{Ground: "negative_attestation", EffectiveDate: d("2024-09-01"), Authority: "minister", Change: act}
	// HR-25: no negative result on file → the ground is refused.
	_, err := w.svc.Terminate(ctx, w.check(w.po), w.po, id, term)
	refused(t, err, valise.ECONFLICT, "HR-25")
	if _, err := w.svc.Return(ctx, w.check(w.po), w.po, id, p.ID, personnel.PostingReturnInput{ReturnedOn: d("2024-01-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	as, err := w.svc.Attestations(ctx, w.check(w.po), id)
	if err != nil || len(as) != 1 || !as[0].DueOn.Equal(d("2024-07-01")) {
		t.Fatalf("attestation due 6 months after return: %+v %v", as, err)
	}
	// The alert is due.
	all, _ := w.svc.Alerts(ctx, w.po, w.check(w.po), d("2024-06-15").Time)
	found := false
	for _, a := range all {
		found = found || a.Kind == "attestation_due" && a.StaffID == id
	}
	if !found {
		t.Fatalf("no attestation alert: %+v", all)
	}
	res, err := w.svc.RecordAttestation(ctx, w.check(w.po), w.po, id, as[0].ID, personnel.AttestationResultInput{HeldOn: d("2024-06-20"), Result: "negative",
		Terminate: &personnel.TerminationInput{EffectiveDate: d("2024-07-01"), Authority: "minister"}, Change: act})
	if err != nil || res.Termination == nil || res.Termination.Article != "18(1)(6)" {
		t.Fatalf("negative result terminates: %+v %v %+v", res, err, fields(err))
	}
}

func TestPostingAlertsAndDue(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id, p, _ := w.posted("attache", "2020-01-01", "2021-01-01", "")
	// 180 days of lead: on 2023-07-06 the term end 2024-01-01 is 179 days away.
	as, err := w.svc.Alerts(ctx, w.po, w.check(w.po), d("2023-07-06").Time)
	if err != nil || len(as) != 1 || as[0].Kind != "posting_term_ending" || as[0].Ref != p.ID {
		t.Fatalf("term alert: %+v %v", as, err)
	}
	if as, _ = w.svc.Alerts(ctx, w.po, w.check(w.po), d("2023-07-01").Time); len(as) != 0 {
		t.Fatalf("alert before the lead: %+v", as)
	}
	due, err := w.svc.DueOn(ctx, scopeAll, w.po, d("2023-08-01"))
	if err != nil || len(due.Rotation) != 1 || due.Rotation[0].StaffID != id {
		t.Fatalf("due: %+v %v", due, err)
	}
}

func TestSpouseRetentionEquationAndRotationType(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id, p, _ := w.posted("attache", "2020-01-01", "2021-01-01", "")
	child, _ := w.svc.AddFamily(ctx, w.check(w.po), w.po, id, personnel.FamilyInput{Relation: "child", FullName: "Child", BirthDate: d("2015-01-01"), Change: act})
	spouse, _ := w.svc.AddFamily(ctx, w.check(w.po), w.po, id, personnel.FamilyInput{Relation: "spouse", FullName: "Spouse", BirthDate: d("1990-01-01"), Change: act})
	in := personnel.SpouseRetentionInput{FamilyMemberID: child.ID, Employer: "Ministry of Justice", Position: "expert", FromDate: d("2021-01-01"), Change: act}
	_, err := w.svc.RetainSpousePosition(ctx, w.check(w.po), w.po, id, p.ID, in)
	refused(t, err, valise.EINVALID, "HR-47")
	in.FamilyMemberID = spouse.ID
	r, err := w.svc.RetainSpousePosition(ctx, w.check(w.po), w.po, id, p.ID, in)
	if err != nil || !r.Until.Equal(p.EndDate) {
		t.Fatalf("HR-47: %+v %v", r, err)
	}
	_, err = w.svc.Equate(ctx, w.check(w.po), w.po, id, personnel.EquationInput{Organisation: "UN", Change: act})
	refused(t, err, valise.EINVALID, "HR-48")
	if _, err := w.svc.Equate(ctx, w.check(w.po), w.po, id, personnel.EquationInput{Organisation: "UN", Position: "officer", EquatedTo: "first secretary", FromDate: d("2022-01-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	// HR-28: the departure is recorded as external rotation; every change is an event.
	ev, err := w.svc.Events(ctx, w.check(w.po), id)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range ev {
		kinds[e.Kind] = true
		if e.Kind == "posting_started" && !strings.Contains(strings.ReplaceAll(string(e.Data), " ", ""), `"rotation_type":"external"`) {
			t.Fatalf("posting event: %s", e.Data)
		}
	}
	for _, k := range []string{"posting_started", "appointed", "spouse_position_retained", "equated"} {
		if !kinds[k] {
			t.Errorf("no %s event", k)
		}
	}
}
