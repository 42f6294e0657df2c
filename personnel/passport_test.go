package personnel_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"valise"
	"valise/personnel"
	"valise/policy"
)

// passportSnapshot fingerprints every table a passport change touches.
func (w *world) passportSnapshot() string {
	w.t.Helper()
	out := w.snapshot()
	for _, tbl := range []string{"passports", "passport_journal", "passport_destruction_acts", "passport_holders", "passport_holder_events", "passport_blanks", "passport_blank_events"} {
		var n int
		var sum string
		if err := w.db.Pool.QueryRow(context.Background(), `SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM `+tbl+` t`).Scan(&n, &sum); err != nil {
			w.t.Fatal(err)
		}
		out += fmt.Sprintf(" %s=%d/%s", tbl, n, sum)
	}
	return out
}

// refusedUnchanged runs a change that must be refused with code naming
// want, and proves that nothing changed.
func (w *world) refusedUnchanged(code, want string, run func() error) {
	w.t.Helper()
	before := w.passportSnapshot()
	err := run()
	refused(w.t, err, code, want)
	if after := w.passportSnapshot(); after != before {
		w.t.Fatalf("a refusal changed something:\nbefore %s\nafter  %s", before, after)
	}
}

func fullDocs(country string) personnel.PassportDocuments {
	return personnel.PassportDocuments{
		RequestLetter: &personnel.RequestLetter{Number: "01-12/345", Date: d("2025-02-28"), SendingBody: "MFA", Signatory: "head",
			SignatoryName: "A. Head", Country: country, Departure: d("2025-03-20"), DurationDays: 30, Purpose: "official duties at the embassy",
			Basis: "posting order", FundedBy: "MFA"},
		OrderCopy:       &personnel.OrderCopy{Number: "ORD-77", Date: d("2025-02-27"), CertifiedBy: "HR officer B. Certifier"},
		ApplicationForm: true, Photos: 2, IdentityCopy: "id_card",
	}
}

func application(typ, basis, received string) personnel.PassportApplication {
	return personnel.PassportApplication{Type: typ, Basis: basis, ReceivedOn: d(received), Documents: fullDocs("DE"), Change: act}
}

func (w *world) apply(staffID string, in personnel.PassportApplication) personnel.Passport {
	w.t.Helper()
	p, err := w.svc.Apply(context.Background(), w.check(w.po), w.po, staffID, in)
	if err != nil {
		w.t.Fatalf("apply: %v %+v", err, fields(err))
	}
	return p
}

func handout(holder, on string) personnel.HandOut {
	return personnel.HandOut{On: d(on), Recipient: holder, RecipientDoc: personnel.IDDocument{Kind: "id_card", Number: "045612345"}, Signed: true}
}

func (w *world) issue(staffID string, p personnel.Passport, number, on string) personnel.PassportAction {
	w.t.Helper()
	a, err := w.svc.Issue(context.Background(), w.check(w.po), w.po, staffID, p.ID, personnel.IssueInput{Number: number, HandOut: handout(p.HolderName, on), Change: act})
	if err != nil {
		w.t.Fatalf("issue: %v %+v", err, fields(err))
	}
	return a
}

// ambassador admits an ambassador with the rank of Ambassador E&P (11).
func (w *world) ambassador() personnel.Staff {
	w.t.Helper()
	st := w.admit(w.candidate("ambassador", "MFA", "2015-01-05"))
	w.mustRank(st.ID, personnel.RankInput{Change: personnel.RankAssign, Rank: 11, EffectiveDate: d("2015-01-05"), Authority: "president",
		Submission: &personnel.Act{Number: "Submission 1", Date: d("2014-12-20")}})
	return st
}

func TestPassportEntitlementAndApplication(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	dip := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	at := w.admit(w.candidate("accountant", "MFA", "2020-01-01"))
	apply := func(id string, in personnel.PassportApplication) func() error {
		return func() error { _, err := w.svc.Apply(ctx, w.check(w.po), w.po, id, in); return err }
	}
	// R§12: received Monday 3 March 2025, prepared within five working days: Monday 10 March.
	p := w.apply(dip.ID, application("diplomatic", "dl_27", "2025-03-03"))
	if p.Status != "applied" || p.PrepareBy.String() != "2025-03-10" || p.Location != "mfa_processing" || p.Destination != "DE" {
		t.Fatalf("application: %+v", p)
	}
	// V-01 / DL-27 vs SL-6: an administrative-technical worker gets a service passport, not a diplomatic one.
	w.refusedUnchanged(valise.EINVALID, "List item dl_27 covers diplomatic staff", apply(at.ID, application("diplomatic", "dl_27", "2025-03-03")))
	w.refusedUnchanged(valise.EINVALID, "entitles to a service passport", apply(at.ID, application("diplomatic", "sl_6", "2025-03-03")))
	w.apply(at.ID, application("service", "sl_6", "2025-03-03"))
	w.refusedUnchanged(valise.EINVALID, "V-01, R§5: an active item", apply(at.ID, application("service", "sl_99", "2025-03-03")))
	// R§5 part 2: the Minister's exception, diplomatic only, with the President's agreement.
	w.refusedUnchanged(valise.EINVALID, "diplomatic passports only", apply(at.ID, application("service", "minister_exception", "2025-03-03")))
	exc := application("diplomatic", "minister_exception", "2025-03-03")
	w.refusedUnchanged(valise.EINVALID, "president_agreement", apply(at.ID, exc))
	exc.BasisDetail = personnel.BasisDetail{MinisterDecision: &personnel.Act{Number: "MD-1", Date: d("2025-02-01")},
		PresidentAgreement: &personnel.Act{Number: "PA-1", Date: d("2025-02-10")}, Evidence: ""}
	// R§11: the worker already holds a (pending) service passport? Pending is not held: allowed.
	w.apply(at.ID, exc)

	// R§9: every missing document is named, each with its sub-item.
	bad := application("diplomatic", "dl_27", "2025-03-03")
	bad.Documents = personnel.PassportDocuments{Photos: 1, IdentityCopy: "driving_licence"}
	_, err := w.svc.Apply(ctx, w.check(w.po), w.po, dip.ID, bad)
	for _, want := range []string{"R§9(1)", "R§9(2)", "R§9(3)", "R§9(4)", "R§9(5)"} {
		refused(t, err, valise.EINVALID, want)
	}
	bad = application("diplomatic", "dl_27", "2025-03-03")
	bad.Documents.RequestLetter.Signatory = "deputy_head"
	w.refusedUnchanged(valise.EINVALID, "R§2(6)", apply(dip.ID, bad))
	bad = application("diplomatic", "dl_27", "2025-03-03")
	bad.Documents.RequestLetter.Purpose = ""
	w.refusedUnchanged(valise.EINVALID, "R§3", apply(dip.ID, bad))

	// R§11: an additional passport while one is valid needs a ground.
	w.issue(dip.ID, p, "D0000001", "2025-03-10")
	w.refusedUnchanged(valise.EINVALID, "R§11", apply(dip.ID, application("diplomatic", "dl_27", "2025-04-01")))
	second := application("diplomatic", "dl_27", "2025-04-01")
	second.SecondGround, second.Instruction = "written_instruction", &personnel.Instruction{Author: "ambassador", Act: personnel.Act{Number: "I-1", Date: d("2025-03-30")}}
	w.refusedUnchanged(valise.EINVALID, "R§11(3)", apply(dip.ID, second))
	second.Instruction.Author = "deputy_minister"
	if q := w.apply(dip.ID, second); q.SecondGround != "written_instruction" {
		t.Fatalf("second passport: %+v", q)
	}
	visa := application("service", "sl_6", "2025-04-01")
	visa.SecondGround = "visa_obstacle"
	w.apply(at.ID, visa)

	// Family (V-04): DL-27 covers spouses and children, not parents.
	spouse, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, dip.ID, personnel.FamilyInput{Relation: "spouse", FullName: "Spouse D", BirthDate: d("1991-01-01"), Change: act})
	if err != nil {
		t.Fatal(err)
	}
	parent, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, dip.ID, personnel.FamilyInput{Relation: "parent", FullName: "Parent D", BirthDate: d("1950-01-01"), Change: act})
	if err != nil {
		t.Fatal(err)
	}
	fam := application("diplomatic", "dl_27", "2025-03-03")
	fam.Holder = parent.ID
	w.refusedUnchanged(valise.EINVALID, "does not cover a parent", apply(dip.ID, fam))
	fam.Holder = spouse.ID
	if sp := w.apply(dip.ID, fam); sp.HolderName != "Spouse D" || sp.FamilyMemberID != spouse.ID {
		t.Fatalf("spouse's passport: %+v", sp)
	}
	// DL-30: a dependent departing jointly.
	dep := application("diplomatic", "dl_30", "2025-03-03")
	dep.Holder = parent.ID
	w.refusedUnchanged(valise.EINVALID, "joint_departure", apply(dip.ID, dep))
	dep.BasisDetail.JointDeparture = true
	w.apply(dip.ID, dep)
	// Another record's family member is no holder here.
	fam.Holder = spouse.ID
	w.refusedUnchanged(valise.EINVALID, "no such family member", apply(at.ID, fam))
}

func TestLifelongAmbassadorEntitlement(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	amb := w.ambassador()
	spouse, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, amb.ID, personnel.FamilyInput{Relation: "spouse", FullName: "Ambassador's Spouse", BirthDate: d("1962-01-01"), Change: act})
	if err != nil {
		t.Fatal(err)
	}
	child, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, amb.ID, personnel.FamilyInput{Relation: "child", FullName: "Ambassador's Child", BirthDate: d("2010-01-01"), Change: act})
	if err != nil {
		t.Fatal(err)
	}
	// The ambassador retires on 31 December 2024.
	if _, err := w.svc.Terminate(ctx, w.check(w.po), w.po, amb.ID, personnel.TerminationInput{Ground: "own_resignation",
		EffectiveDate: d("2024-12-31"), Authority: "president", Change: act}); err != nil {
		t.Fatal(err, fields(err))
	}
	apply := func(in personnel.PassportApplication) func() error {
		return func() error { _, err := w.svc.Apply(ctx, w.check(w.po), w.po, amb.ID, in); return err }
	}
	// DL-27 covers serving staff only: after retirement it is refused ...
	w.refusedUnchanged(valise.EINVALID, "service ended on 2024-12-31", apply(application("diplomatic", "dl_27", "2025-03-03")))
	// ... HR-38 (Art. 19(1-1)) keeps the right for life, for the holder and the spouse.
	own := w.apply(amb.ID, application("diplomatic", "lifelong", "2025-03-03"))
	sp := application("diplomatic", "lifelong", "2025-03-03")
	sp.Holder = spouse.ID
	spp := w.apply(amb.ID, sp)
	sp.Holder = child.ID
	w.refusedUnchanged(valise.EINVALID, "only the spouse", apply(sp))
	w.refusedUnchanged(valise.EINVALID, "diplomatic passport (Art. 19(1-1))", apply(application("service", "lifelong", "2025-03-03")))
	// A lower rank has no lifelong right.
	att := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	w.refusedUnchanged(valise.EINVALID, "HR-38", func() error {
		_, err := w.svc.Apply(ctx, w.check(w.po), w.po, att.ID, application("diplomatic", "lifelong", "2025-03-03"))
		return err
	})
	// R§6 still gives the document five years; R§17 asks no surrender of a lifelong holder after a return.
	a := w.issue(amb.ID, own, "D0000101", "2025-03-05")
	if a.Passport.ExpiresOn.String() != "2030-03-05" {
		t.Fatalf("R§6: %+v", a.Passport)
	}
	r, err := w.svc.RecordReturn(ctx, w.check(w.po), w.po, amb.ID, own.ID, personnel.ReturnInput{ReturnDate: d("2025-05-01"), Change: act})
	if err != nil || !r.Passport.SurrenderDue.IsZero() {
		t.Fatalf("HR-38 holder after return: %+v %v", r.Passport, err)
	}
	w.issue(amb.ID, spp, "D0000102", "2025-03-05")
	// R§15(5): an attaché's DL-27 passport after the service ends is flagged; the lifelong ones are not.
	ap := w.apply(att.ID, application("diplomatic", "dl_27", "2025-03-03"))
	w.issue(att.ID, ap, "D0000103", "2025-03-05")
	if _, err := w.svc.Terminate(ctx, w.check(w.po), w.po, att.ID, personnel.TerminationInput{Ground: "own_resignation",
		EffectiveDate: d("2025-06-30"), Authority: "minister", Change: act}); err != nil {
		t.Fatal(err, fields(err))
	}
	left := func(on string) []string {
		as, err := personnel.PassportAlerts(ctx, w.db.Pool, nil, d(on).Time)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			if a.Kind == personnel.AlertPassportHolderLeft {
				out = append(out, a.Ref)
			}
		}
		return out
	}
	if got := left("2025-06-30"); len(got) != 0 {
		t.Fatalf("on the last day of service: %v", got)
	}
	if got := left("2025-07-01"); len(got) != 1 || got[0] != ap.ID {
		t.Fatalf("the day after: %v", got)
	}
}

func TestPassportIssueReturnSurrender(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	p := w.apply(st.ID, application("diplomatic", "dl_27", "2025-03-03")) // prepare by 2025-03-10
	issue := func(in personnel.IssueInput) func() error {
		return func() error { _, err := w.svc.Issue(ctx, w.check(w.po), w.po, st.ID, p.ID, in); return err }
	}
	in := personnel.IssueInput{Number: "D1000001", HandOut: handout(p.HolderName, "2025-03-10"), Change: act}
	in.HandOut.Signed = false
	w.refusedUnchanged(valise.EINVALID, "R§13: the authorized person signs", issue(in))
	in = personnel.IssueInput{Number: "D1000001", HandOut: handout("Someone Else", "2025-03-10"), Change: act}
	w.refusedUnchanged(valise.EINVALID, "R§2(3)", issue(in))
	in.HandOut.RecipientDoc.Kind = "driving_licence"
	w.refusedUnchanged(valise.EINVALID, "R§13: the RK identity card or passport", issue(in))
	in = personnel.IssueInput{Number: "bad no", HandOut: handout(p.HolderName, "2025-03-10"), Change: act}
	w.refusedUnchanged(valise.EINVALID, "R§18", issue(in))
	// R§12: issued on the fifth working day: on time; R§6: valid five years, the expiry day included.
	a := w.issue(st.ID, p, "D1000001", "2025-03-10")
	if a.Late || a.Passport.Status != "issued" || a.Passport.Location != "with_holder" || a.Passport.ExpiresOn.String() != "2030-03-10" || !a.Passport.Valid {
		t.Fatalf("issue: %+v", a)
	}
	w.refusedUnchanged(valise.ECONFLICT, "R§13", issue(personnel.IssueInput{Number: "D1000009", HandOut: handout(p.HolderName, "2025-03-10"), Change: act}))
	// The day after the fifth working day: recorded late (R§12 is an alert, not a block).
	q := w.apply(st.ID, func() personnel.PassportApplication {
		x := application("service", "dl_27", "2025-03-03")
		x.Type, x.SecondGround = "diplomatic", "several_visas"
		return x
	}())
	if a := w.issue(st.ID, q, "D1000002", "2025-03-11"); !a.Late || !strings.Contains(a.Deadline, "R§12") {
		t.Fatalf("R§12 late: %+v", a)
	}
	third := application("diplomatic", "dl_27", "2025-03-03")
	third.SecondGround = "visa_obstacle"
	r := w.apply(st.ID, third)
	w.refusedUnchanged(valise.EINVALID, "R§7", func() error {
		_, err := w.svc.Issue(ctx, w.check(w.po), w.po, st.ID, r.ID, personnel.IssueInput{Number: "D1000002", HandOut: handout(r.HolderName, "2025-03-10"), Change: act})
		return err
	})

	// R§17, reading A, calendar days: returned 2 June, no departure within a month: surrender by 12 June.
	ret := func(id, on, next string) personnel.PassportAction {
		t.Helper()
		in := personnel.ReturnInput{ReturnDate: d(on), Change: act}
		if next != "" {
			in.NextDeparture = d(next)
		}
		a, err := w.svc.RecordReturn(ctx, w.check(w.po), w.po, st.ID, id, in)
		if err != nil {
			t.Fatalf("return: %v %+v", err, fields(err))
		}
		return a
	}
	if a := ret(p.ID, "2025-06-02", ""); a.Passport.SurrenderDue.String() != "2025-06-12" || a.Passport.SurrenderBasis != "return" {
		t.Fatalf("R§17 reading A: %+v", a.Passport)
	}
	// A new departure on the last day of the month: nothing due; a day later: due.
	if a := ret(q.ID, "2025-06-02", "2025-07-02"); !a.Passport.SurrenderDue.IsZero() {
		t.Fatalf("departure within the month: %+v", a.Passport)
	}
	if a := ret(q.ID, "2025-06-02", "2025-07-03"); a.Passport.SurrenderDue.String() != "2025-06-12" {
		t.Fatalf("departure after the month: %+v", a.Passport)
	}
	// Alerts: on the due day none; the day after, overdue (R§17).
	alerts := func(on string) map[string]string {
		t.Helper()
		as, err := personnel.PassportAlerts(ctx, w.db.Pool, nil, d(on).Time)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, a := range as {
			m[a.Ref] = a.Kind + " " + a.Rule + " " + a.Due.Format(time.DateOnly)
		}
		return m
	}
	if got := alerts("2025-06-12")[p.ID]; got != "" {
		t.Fatalf("on the last day: %q", got)
	}
	if got := alerts("2025-06-13")[p.ID]; got != "passport_surrender_overdue R§17 2025-06-12" {
		t.Fatalf("the day after: %q", got)
	}
	surrender := func(id, on string, unjust bool) (personnel.PassportAction, error) {
		return w.svc.Surrender(ctx, w.check(w.po), w.po, st.ID, id, personnel.SurrenderInput{On: d(on), By: "the owner", DelayUnjustified: unjust, Change: act})
	}
	// Surrender on the last allowed day: on time, in the archive, still valid.
	a, err := surrender(p.ID, "2025-06-12", false)
	if err != nil || a.Late || a.Passport.Status != "in_archive" || a.Passport.Location != "archive" || !a.Passport.Valid {
		t.Fatalf("on the last day: %+v %v", a, err)
	}
	// The day after: late; the MFA may recognise the delay unjustified, making it invalid (R§17).
	w.refusedUnchanged(valise.EINVALID, "R§17", func() error { _, err := surrender(q.ID, "2025-06-12", true); return err })
	a, err = surrender(q.ID, "2025-06-13", true)
	if err != nil || !a.Late || a.Passport.Status != "invalid_in_mfa" || a.Passport.InvalidReason != "surrender_delayed" {
		t.Fatalf("the day after: %+v %v", a, err)
	}
	// R§14: out of the archive again, with the trip data and the journal.
	arch := personnel.ArchiveIssueInput{RequestLetter: fullDocs("JP").RequestLetter, HandOut: handout(p.HolderName, "2025-09-01"), Change: act}
	w.refusedUnchanged(valise.EINVALID, "R§9(2)", func() error {
		_, err := w.svc.IssueFromArchive(ctx, w.check(w.po), w.po, st.ID, p.ID, arch)
		return err
	})
	arch.OrderCopy = fullDocs("JP").OrderCopy
	if a, err := w.svc.IssueFromArchive(ctx, w.check(w.po), w.po, st.ID, p.ID, arch); err != nil || a.Passport.Status != "issued" || a.Passport.Destination != "JP" {
		t.Fatalf("R§14: %+v %v", a, err)
	}
	w.refusedUnchanged(valise.ECONFLICT, "R§14", func() error {
		_, err := w.svc.IssueFromArchive(ctx, w.check(w.po), w.po, st.ID, q.ID, arch)
		return err
	})
	// Registers: R§18 alphabetically with the re-issue count; R§13 journal with three hand-outs.
	reg, err := w.svc.PassportRegister(ctx, scopeAll, w.po, personnel.RegisterFilter{})
	if err != nil || len(reg) != 3 || reg[0].Number != "D1000001" || reg[0].Reissues != 1 || reg[0].Position != "Attaché" {
		t.Fatalf("register: %+v %v", reg, err)
	}
	j, err := w.svc.PassportJournal(ctx, scopeAll, w.po)
	if err != nil || len(j) != 3 || !j[2].FromArchive {
		t.Fatalf("journal: %+v %v", j, err)
	}
	var buf bytes.Buffer
	if err := personnel.PrintRegister(&buf, reg, d("2025-09-02")); err != nil || !strings.Contains(buf.String(), "D1000001") {
		t.Fatalf("print: %v", err)
	}
}

func TestPassportSurrenderSettings(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	set := func(v string) {
		t.Helper()
		if _, err := w.svc.SetReference(ctx, w.check(w.po), w.po, "passport", "settings", personnel.ReferenceInput{Value: []byte(v), Change: act}); err != nil {
			t.Fatal(err, fields(err))
		}
	}
	mk := func(n string, second string) personnel.Passport {
		in := application("diplomatic", "dl_27", "2025-03-03")
		in.SecondGround = second
		p := w.apply(st.ID, in)
		return w.issue(st.ID, p, n, "2025-03-05").Passport
	}
	// Reading B: ten days after the month without departure: 2 July + 10 = Saturday 12 July, moved to Monday 14 July.
	set(`{"return_reading": "B", "surrender_days": "calendar", "commission_min": 3}`)
	p := mk("D2000001", "")
	a, err := w.svc.RecordReturn(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.ReturnInput{ReturnDate: d("2025-06-02"), Change: act})
	if err != nil || a.Passport.SurrenderDue.String() != "2025-07-14" {
		t.Fatalf("reading B: %+v %v", a.Passport, err)
	}
	// Working days (R§16 demand): notice on Monday 2 June 2025, ten working days: Monday 16 June.
	set(`{"return_reading": "A", "surrender_days": "working", "commission_min": 3}`)
	q := mk("D2000002", "several_visas")
	dem := personnel.DemandInput{Ground: "status_mismatch", NoticeOn: d("2025-06-02"), Channel: "written", Recipient: "the owner", Change: act}
	a, err = w.svc.Demand(ctx, w.check(w.po), w.po, st.ID, q.ID, dem)
	if err != nil || a.Passport.SurrenderDue.String() != "2025-06-16" || a.Passport.Valid {
		t.Fatalf("working days: %+v %v", a.Passport, err)
	}
	w.refusedUnchanged(valise.EINVALID, "passport settings are", func() error {
		_, err := w.svc.SetReference(ctx, w.check(w.po), w.po, "passport", "settings", personnel.ReferenceInput{Value: []byte(`{"return_reading": "C"}`), Change: act})
		return err
	})
}

func TestPassportDemandBorderLossDestruction(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	mk := func(n, issued string, second string) personnel.Passport {
		in := application("diplomatic", "dl_27", "2020-03-02")
		in.SecondGround = second
		return w.issue(st.ID, w.apply(st.ID, in), n, issued).Passport
	}
	p := mk("D3000001", "2025-03-05", "")
	demand := func(in personnel.DemandInput) func() error {
		return func() error { _, err := w.svc.Demand(ctx, w.check(w.po), w.po, st.ID, p.ID, in); return err }
	}
	dem := personnel.DemandInput{Ground: "expired", NoticeOn: d("2025-06-02"), Channel: "oral", Recipient: "the owner", Change: act}
	w.refusedUnchanged(valise.EINVALID, "R§15(2)", demand(dem))
	dem.Ground, dem.Channel = "gender_change", "pigeon"
	w.refusedUnchanged(valise.EINVALID, "R§16: oral or written", demand(dem))
	// R§16: notice on 2 June, ten calendar days: due 12 June.
	dem.Channel = "written"
	a, err := w.svc.Demand(ctx, w.check(w.po), w.po, st.ID, p.ID, dem)
	if err != nil || a.Passport.Status != "surrender_demanded" || a.Passport.SurrenderDue.String() != "2025-06-12" || a.Passport.InvalidReason != "gender_change" {
		t.Fatalf("demand: %+v %v", a.Passport, err)
	}
	border := func(on string) (personnel.PassportAction, error) {
		return w.svc.NotifyBorder(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.BorderInput{On: d(on), LetterRef: "MFA-NSC-1", Change: act})
	}
	// The Border Service is told only after the ten days: refused on the last day, accepted the day after.
	w.refusedUnchanged(valise.ECONFLICT, "R§16", func() error { _, err := border("2025-06-12"); return err })
	if a, err := border("2025-06-13"); err != nil || a.Passport.Status != "border_alert" {
		t.Fatalf("border: %+v %v", a, err)
	}
	if a, err := w.svc.Withdraw(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.WithdrawInput{On: d("2025-07-01"), Change: act}); err != nil || a.Passport.Status != "invalid_in_mfa" || a.Passport.Location != "archive" {
		t.Fatalf("seized: %+v %v", a, err)
	}

	// Loss (R§15(4), R§19): abroad, both bodies told; invalid from the application.
	l := mk("D3000002", "2025-03-05", "several_visas")
	loss := personnel.LossInput{ApplicationOn: d("2025-08-01"), Place: "abroad", Notified: []string{"host_police"}, Change: act}
	w.refusedUnchanged(valise.EINVALID, "R§19", func() error { _, err := w.svc.ReportLoss(ctx, w.check(w.po), w.po, st.ID, l.ID, loss); return err })
	loss.Notified = append(loss.Notified, "foreign_institution")
	if a, err := w.svc.ReportLoss(ctx, w.check(w.po), w.po, st.ID, l.ID, loss); err != nil || a.Passport.InvalidFrom.String() != "2025-08-01" || a.Passport.Valid {
		t.Fatalf("loss: %+v %v", a, err)
	}
	// Replacement (R§15, R§19): a valid passport is not replaced; a lost one after verification.
	v := mk("D3000003", "2025-03-05", "several_visas")
	rep := application("diplomatic", "dl_27", "2025-08-05")
	rep.Replaces, rep.SecondGround = v.ID, "several_visas"
	w.refusedUnchanged(valise.EINVALID, "only an invalid passport is replaced", func() error { _, err := w.svc.Apply(ctx, w.check(w.po), w.po, st.ID, rep); return err })
	rep.Replaces = l.ID
	w.refusedUnchanged(valise.EINVALID, "R§19", func() error { _, err := w.svc.Apply(ctx, w.check(w.po), w.po, st.ID, rep); return err })
	rep.LossVerified = &personnel.Act{Number: "VER-1", Date: d("2025-08-04")}
	if r := w.apply(st.ID, rep); r.Replaces != l.ID {
		t.Fatalf("replacement: %+v", r)
	}
	// V-20: found, it is only ever invalid in the MFA.
	if a, err := w.svc.Withdraw(ctx, w.check(w.po), w.po, st.ID, l.ID, personnel.WithdrawInput{On: d("2025-09-01"), Change: act}); err != nil || a.Passport.Status != "invalid_in_mfa" || a.Passport.InvalidReason != "lost" {
		t.Fatalf("found: %+v %v", a, err)
	}

	// Destruction by act (R§21, App.2).
	commission := []personnel.Official{{FullName: "M One", Position: "Counsellor"}, {FullName: "M Two", Position: "First Secretary"}, {FullName: "M Three", Position: "Registrar"}}
	act1 := personnel.DestructionInput{ActDate: d("2025-10-01"), ApprovedBy: personnel.Official{FullName: "H Head", Position: "Head of Consular Service"},
		Commission: commission[:2], Order: personnel.Act{Number: "Order 44", Date: d("2025-01-10")},
		Passports:  []personnel.DestroyItem{{PassportID: p.ID, Ground: "invalidated"}, {PassportID: l.ID, Ground: "invalidated"}},
		FormCopies: []string{"scan-1.pdf", "scan-2.pdf"}, Executor: "E Executor", Change: act}
	destroy := func(in personnel.DestructionInput) func() error {
		return func() error { _, err := w.svc.Destroy(ctx, w.check(w.po), w.po, in); return err }
	}
	w.refusedUnchanged(valise.EINVALID, "at least 3 members", destroy(act1))
	act1.Commission = commission
	bad := act1
	bad.Passports = []personnel.DestroyItem{{PassportID: v.ID, Ground: "expired"}}
	bad.FormCopies = []string{"x"}
	w.refusedUnchanged(valise.EINVALID, "only an invalid passport held by the MFA", destroy(bad))
	bad.Passports = []personnel.DestroyItem{{PassportID: p.ID, Ground: "technical_mistake"}}
	w.refusedUnchanged(valise.EINVALID, "R§21(2)", destroy(bad))
	bad.FormCopies = nil
	w.refusedUnchanged(valise.EINVALID, "App.2: a copy", destroy(bad))
	// Hidden == missing: an officer of Tokyo only does not see MFA passports.
	tyo := w.user("po.tyo", "JP-TYO", []string{policy.RolePersonnelOfficer}, []string{"JP-TYO"})
	w.refusedUnchanged(valise.EINVALID, "no such passport", func() error { _, err := w.svc.Destroy(ctx, w.check(tyo), tyo, act1); return err })
	da, err := w.svc.Destroy(ctx, w.check(w.po), w.po, act1)
	if err != nil || !strings.HasPrefix(da.Number, "PDA-2025-") {
		t.Fatalf("act: %+v %v", da, err)
	}
	got, err := w.svc.GetPassport(ctx, w.check(w.po), st.ID, p.ID)
	if err != nil || got.Status != "destroyed" || got.DestructionAct != da.ID {
		t.Fatalf("destroyed: %+v %v", got, err)
	}
	var buf bytes.Buffer
	if err := personnel.PrintAct(&buf, da); err != nil || !strings.Contains(buf.String(), da.Number) || !strings.Contains(buf.String(), "D3000001") {
		t.Fatalf("print act: %v", err)
	}
	if _, err := w.svc.GetDestructionAct(ctx, w.check(tyo), da.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Fatalf("hidden act: %v", err)
	}
	// Every change is an event of the record.
	evs, err := w.svc.Events(ctx, w.check(w.po), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[e.Kind]++
	}
	for _, k := range []string{"passport_applied", "passport_issued", "passport_surrender_demanded", "passport_border_notified",
		"passport_withdrawn", "passport_lost", "passport_destroyed"} {
		if kinds[k] == 0 {
			t.Errorf("no %s event: %v", k, kinds)
		}
	}
	// Expiry ahead (R§6): 90 days by default: 2030-03-05 is ahead on 2029-12-05, not on 2029-12-04.
	as, _ := personnel.PassportAlerts(ctx, w.db.Pool, nil, d("2029-12-05").Time)
	as2, _ := personnel.PassportAlerts(ctx, w.db.Pool, nil, d("2029-12-04").Time)
	has := func(as []personnel.Alert, id string) bool {
		for _, a := range as {
			if a.Ref == id && a.Kind == personnel.AlertPassportExpiring {
				return true
			}
		}
		return false
	}
	if !has(as, v.ID) || has(as2, v.ID) {
		t.Fatalf("expiry ahead: %+v / %+v", as, as2)
	}
}

// Hidden == missing: a personnel officer of another unit, and everyone else,
// get not found for a record's passports, as for a missing record.
func TestPassportPrivacy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	p := w.apply(st.ID, application("diplomatic", "dl_27", "2025-03-03"))
	tyo := w.user("po.tyo2", "JP-TYO", []string{policy.RolePersonnelOfficer}, []string{"JP-TYO"})
	sec := w.user("sec", "MFA", []string{policy.RoleSecurityOfficer}, []string{"*"})
	for _, s := range []policy.Subject{tyo, sec} {
		if _, err := w.svc.Passports(ctx, w.check(s), st.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Fatalf("%s reads: %v", s.Username, err)
		}
		if _, err := w.svc.GetPassport(ctx, w.check(s), st.ID, p.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
			t.Fatalf("%s reads one: %v", s.Username, err)
		}
		w.refusedUnchanged(valise.ENOTFOUND, "not found", func() error {
			_, err := w.svc.Issue(ctx, w.check(s), s, st.ID, p.ID, personnel.IssueInput{Number: "D9", HandOut: handout(p.HolderName, "2025-03-10"), Change: act})
			return err
		})
		reg, err := w.svc.PassportRegister(ctx, policy.Scope{Units: []string{"JP-TYO"}}, s, personnel.RegisterFilter{})
		if err != nil || len(reg) != 0 {
			t.Fatalf("register for %s: %+v %v", s.Username, reg, err)
		}
	}
}
