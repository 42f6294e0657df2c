package personnel_test

import (
	"context"
	"testing"

	"valise"
	"valise/personnel"
)

func TestRankDelayPenalty(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	w.mustRank(st.ID, personnel.RankInput{Change: "assign", Rank: 1, EffectiveDate: d("2020-01-01")})
	impose := func(in personnel.PenaltyInput) (personnel.Penalty, error) {
		in.Change = act
		return w.svc.Impose(ctx, w.check(w.po), w.po, st.ID, in)
	}
	// HR-36: a rank delay of 12 months and a day is refused; of 12 months it is imposed.
	before := w.snapshot()
	_, err := impose(personnel.PenaltyInput{Kind: "rank_delay", ImposedOn: d("2023-03-01"), DelayUntil: d("2024-03-02")})
	refused(t, err, valise.EINVALID, "at most until 2024-03-01")
	_, err = impose(personnel.PenaltyInput{Kind: "caution", ImposedOn: d("2023-03-01")})
	refused(t, err, valise.EINVALID, "HR-36: one of remark, reprimand, severe_reprimand, rank_delay")
	w.unchanged(before)
	p, err := impose(personnel.PenaltyInput{Kind: "rank_delay", ImposedOn: d("2023-03-01"), DelayUntil: d("2024-03-01")})
	if err != nil || p.Ordinal != 4 {
		t.Fatalf("rank delay: %v %+v", err, p)
	}
	// The minimum time is complete (2022-01-01) but the delay blocks the promotion while it runs.
	before = w.snapshot()
	_, err = w.rank(st.ID, personnel.RankInput{Change: "assign", Rank: 2, EffectiveDate: d("2024-02-29")})
	refused(t, err, valise.ECONFLICT, "HR-36: a rank-delay penalty runs until 2024-03-01")
	w.unchanged(before)
	el, _ := w.svc.EligibleOn(ctx, scopeAll, w.po, d("2024-02-29"))
	if len(el) != 0 {
		t.Fatalf("eligible while delayed: %+v", el)
	}
	el, _ = w.svc.EligibleOn(ctx, scopeAll, w.po, d("2024-03-01"))
	if len(el) != 1 {
		t.Fatalf("eligible when the delay ends: %+v", el)
	}
	w.mustRank(st.ID, personnel.RankInput{Change: "assign", Rank: 2, EffectiveDate: d("2024-03-01")})
	// A demotion of rank lowers it in the same transaction; the kind of demotion must be named.
	_, err = impose(personnel.PenaltyInput{Kind: "demotion", ImposedOn: d("2024-06-01"), Authority: "minister"})
	refused(t, err, valise.EINVALID, "say which")
	p, err = impose(personnel.PenaltyInput{Kind: "demotion", DemotionOf: "rank", Rank: 1, ImposedOn: d("2024-06-01"), Authority: "minister"})
	if err != nil || p.Ordinal != 5 || p.Rank == nil || p.Rank.Rank != 1 {
		t.Fatalf("demotion: %v %+v", err, p)
	}
}

func TestTermination(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("first_secretary", "DE-BER", "2018-01-01"))
	w.mustRank(st.ID, personnel.RankInput{Change: "assign", Rank: 5, EffectiveDate: d("2018-01-01")})
	term := func(in personnel.TerminationInput) (personnel.Termination, error) {
		in.Change = act
		if in.Authority == "" {
			in.Authority = "minister"
		}
		return w.svc.Terminate(ctx, w.check(w.po), w.po, st.ID, in)
	}
	c, err := w.svc.OpenCase(ctx, w.check(w.po), w.po, st.ID, personnel.CaseInput{Offence: "corruption", OpenedOn: d("2024-02-01"), Summary: "gift from a contractor", Change: act})
	if err != nil {
		t.Fatal(err)
	}
	before := w.snapshot()
	// HR-33: the ground must be statutory. HR-35: the Minister dismisses a first secretary.
	_, err = term(personnel.TerminationInput{Ground: "restructuring", EffectiveDate: d("2024-03-01")})
	refused(t, err, valise.EINVALID, "HR-33")
	_, err = term(personnel.TerminationInput{Ground: "contract_ended", EffectiveDate: d("2024-03-01"), Authority: "president"})
	refused(t, err, valise.EINVALID, "HR-35: a First Secretary is dismissed by the minister")
	// HR-34: no own resignation while the corruption case is open.
	_, err = term(personnel.TerminationInput{Ground: "own_resignation", EffectiveDate: d("2024-03-01")})
	refused(t, err, valise.ECONFLICT, "HR-34: own resignation is not available while liability for a corruption offence")
	w.unchanged(before)
	// The case closes on 2024-03-10: a resignation on 2024-03-09 is still refused, on 2024-03-10 it is not.
	type closing = struct {
		ClosedOn personnel.Date `json:"closed_on"`
		personnel.Change
	}
	if _, err := w.svc.CloseCase(ctx, w.check(w.po), w.po, st.ID, c.ID, closing{d("2024-03-10"), act}); err != nil {
		t.Fatal(err)
	}
	_, err = term(personnel.TerminationInput{Ground: "own_resignation", EffectiveDate: d("2024-03-09")})
	refused(t, err, valise.ECONFLICT, "HR-34")
	out, err := term(personnel.TerminationInput{Ground: "own_resignation", EffectiveDate: d("2024-03-10")})
	if err != nil || out.Reserve == nil || out.Reserve.Basis != "own_will" || out.RankDeprived != nil {
		t.Fatalf("resignation: %v %+v", err, out)
	}
	// HR-31: in the reserve automatically.
	res, _ := w.svc.Reserve(ctx, scopeAll, w.po)
	if len(res) != 1 || !res[0].Automatic || res[0].Article != "18(2)" {
		t.Fatalf("reserve: %+v", res)
	}
	_, err = term(personnel.TerminationInput{Ground: "contract_ended", EffectiveDate: d("2024-04-01")})
	refused(t, err, valise.ECONFLICT, "already ended")
}

func TestDismissalDeprivesRank(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("counsellor", "MFA", "2015-01-01"))
	w.mustRank(st.ID, personnel.RankInput{Change: "assign", Rank: 7, EffectiveDate: d("2015-01-01")})
	// HR-11: the dismissal penalty for violating official discipline deprives the rank in the same transaction.
	p, err := w.svc.Impose(ctx, w.check(w.po), w.po, st.ID, personnel.PenaltyInput{Kind: "dismissal", ImposedOn: d("2024-05-31"),
		Authority: "minister", Change: act})
	if err != nil || p.Ordinal != 8 || p.Termination == nil || p.Termination.RankDeprived == nil || p.Termination.Reserve == nil {
		t.Fatalf("dismissal: %v %+v", err, p)
	}
	got, _ := w.svc.Get(ctx, w.check(w.po), st.ID)
	if got.Rank != nil || got.Status != "terminated" || got.Termination.Article != "18(1)(5)" {
		t.Fatalf("after dismissal: %+v %s %+v", got.Rank, got.Status, got.Termination)
	}
	// An administrative corruption offence deprives too; a dismissal authority error changes nothing.
	st2 := w.admit(w.candidate("counsellor", "MFA", "2015-01-01"))
	w.mustRank(st2.ID, personnel.RankInput{Change: "assign", Rank: 7, EffectiveDate: d("2015-01-01")})
	before := w.snapshot()
	_, err = w.svc.Terminate(ctx, w.check(w.po), w.po, st2.ID, personnel.TerminationInput{Ground: "other_law", Violation: "administrative_corruption",
		EffectiveDate: d("2030-01-31"), Authority: "government", Change: act})
	refused(t, err, valise.EINVALID, "HR-35")
	w.unchanged(before)
	out, err := w.svc.Terminate(ctx, w.check(w.po), w.po, st2.ID, personnel.TerminationInput{Ground: "other_law", Violation: "administrative_corruption",
		EffectiveDate: d("2030-01-31"), Authority: "minister", Change: act})
	if err != nil || out.RankDeprived == nil {
		t.Fatalf("%v %+v", err, out)
	}
	// A future effective date is a pending dismissal.
	got, _ = w.svc.Get(ctx, w.check(w.po), st2.ID)
	if got.Status != "termination_pending" {
		t.Fatalf("pending: %s", got.Status)
	}
}

func TestAccompanyingFamily(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("first_secretary", "JP-TYO", "2020-01-01"))
	add := func(in personnel.FamilyInput) {
		t.Helper()
		in.Change = act
		if _, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, st.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	mc := &personnel.MedicalConclusion{Organisation: "City Polyclinic No. 4", Number: "MC-17", Date: d("2023-05-01")}
	add(personnel.FamilyInput{Relation: "spouse", FullName: "Spouse", BirthDate: d("1988-01-01")})
	add(personnel.FamilyInput{Relation: "child", FullName: "Child turning 18", BirthDate: d("2006-09-15"),
		Documents: []personnel.Document{{Kind: "birth_certificate", Number: "BC-1", Date: d("2006-09-20")}}})
	add(personnel.FamilyInput{Relation: "child", FullName: "Adult child cared for", BirthDate: d("2000-01-01"), MedicalConclusion: mc})
	add(personnel.FamilyInput{Relation: "parent", FullName: "Parent without conclusion", BirthDate: d("1950-01-01")})
	add(personnel.FamilyInput{Relation: "parent", FullName: "Parent R29", BirthDate: d("1952-01-01"), UnableToWork: true})
	want := func(on string, expect map[string]bool) {
		t.Helper()
		fam, err := w.svc.Family(ctx, w.check(w.po), st.ID, d(on))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fam {
			if m.Accompanying != expect[m.FullName] {
				t.Errorf("%s on %s: accompanying %v (%s)", m.FullName, on, m.Accompanying, m.Ground)
			}
		}
	}
	// HR-39: a child is accompanying family the day before their 18th birthday, not on it.
	want("2024-09-14", map[string]bool{"Spouse": true, "Child turning 18": true, "Adult child cared for": true, "Parent R29": true})
	want("2024-09-15", map[string]bool{"Spouse": true, "Adult child cared for": true, "Parent R29": true})
	before := w.snapshot()
	_, err := w.svc.AddFamily(ctx, w.check(w.po), w.po, st.ID, personnel.FamilyInput{Relation: "cousin", FullName: "X", BirthDate: d("2000-01-01"), Change: act})
	refused(t, err, valise.EINVALID, "Art. 1(12)")
	w.unchanged(before)
}

func TestStudyWithConsent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.admit(w.candidate("second_secretary", "MFA", "2020-01-01"))
	in := personnel.StudyInput{Institution: "Academy of Public Administration", Purpose: "professional_training",
		StartDate: d("2024-09-01"), EndDate: d("2025-06-30"), Change: act}
	before := w.snapshot()
	_, err := w.svc.SendToStudy(ctx, w.check(w.po), w.po, st.ID, in)
	refused(t, err, valise.EINVALID, "HR-32: the person's consent")
	in.Consent.Given, in.Consent.Date = true, d("2024-09-02")
	_, err = w.svc.SendToStudy(ctx, w.check(w.po), w.po, st.ID, in)
	refused(t, err, valise.EINVALID, "before the study starts")
	w.unchanged(before)
	in.Consent.Date = d("2024-09-01")
	s, err := w.svc.SendToStudy(ctx, w.check(w.po), w.po, st.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	type done = struct {
		CompletedOn personnel.Date `json:"completed_on"`
		personnel.Change
	}
	s, err = w.svc.CompleteStudy(ctx, w.check(w.po), w.po, st.ID, s.ID, done{d("2025-06-30"), act})
	if err != nil || s.Reserve == nil || s.Reserve.Basis != "study_completed" || s.Reserve.Article != "17(2)" {
		t.Fatalf("completion: %v %+v", err, s)
	}
	var n int
	_ = w.db.Pool.QueryRow(ctx, `SELECT count(*) FROM service_periods WHERE staff_id = $1 AND period_type = 'study' AND counted`, st.ID).Scan(&n)
	if n != 1 {
		t.Fatalf("the study period counts toward time in rank: %d", n)
	}
}
