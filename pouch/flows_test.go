package pouch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"valise"
	"valise/courier"
	"valise/policy"
	"valise/pouch"
)

// snapshot fingerprints every table a bag action may touch, so a refusal
// can be shown to change nothing.
func (w *world) snapshot() string {
	w.t.Helper()
	var b strings.Builder
	for _, tbl := range []string{"bags", "bag_custody", "bag_events", "handoffs", "bag_packages", "incidents", "loss_reports", "examinations",
		"courier_sheets", "courier_sheet_bags", "bag_receipts", "submissions", "tlog_entries"} {
		var n int
		var sum string
		err := w.svc.Pool().QueryRow(context.Background(), `SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM `+tbl+` t`).Scan(&n, &sum)
		if err != nil {
			w.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %s\n", tbl, n, sum)
	}
	return b.String()
}

// refused asserts that run fails with code and leaves the database as it was.
func (w *world) refused(what, code string, run func() error) *valise.Error {
	w.t.Helper()
	before := w.snapshot()
	err := run()
	var ve *valise.Error
	if !errors.As(err, &ve) || ve.Code != code {
		w.t.Fatalf("%s: got %v, want %s", what, err, code)
	}
	if after := w.snapshot(); after != before {
		w.t.Fatalf("%s: refused but changed the database:\n%s\n---\n%s", what, before, after)
	}
	return ve
}

// sealedBag drives an MFA → DE-BER SECRET bag (MFA's own mail) to sealed.
func (w *world) sealedBag(tag string) *pouch.Bag {
	w.t.Helper()
	ctx := context.Background()
	sub, err := w.svc.Submit(ctx, w.clerk, pouch.SubmissionInput{Sender: "MFA", Registry: "MFA", Destination: "DE-BER",
		ResponsiblePerson: "Head of Department", Items: []pouch.Item{{Kind: "correspondence", Level: policy.Secret,
			RegistryNumber: "REG-" + tag, Count: 1, Description: "cipher telegram " + tag}}}, w.check(w.clerk))
	if err != nil {
		w.t.Fatal(err)
	}
	b, err := w.svc.CreateBag(ctx, w.disp, pouch.CreateBagInput{Origin: "MFA", Destination: "DE-BER"}, w.check(w.disp))
	if err != nil {
		w.t.Fatal(err)
	}
	if b, err = w.svc.Assemble(ctx, w.clerk, pouch.Mutation{BagID: b.ID}, []string{sub.ID}, w.check(w.clerk)); err != nil {
		w.t.Fatal(err)
	}
	b, err = w.svc.Seal(ctx, w.clerk, pouch.Mutation{BagID: b.ID}, pouch.SealInput{Container: "envelope", Packages: 1,
		SealSerials: []string{"SEAL-" + strings.ToUpper(tag)}}, w.check(w.clerk))
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// courierRecord records the career courier of the world once.
func (w *world) courierRecord() *courier.Courier {
	w.t.Helper()
	ctx := context.Background()
	list, err := w.cour.List(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, c := range list {
		if c.UserID == w.carrier.UserID {
			return c
		}
	}
	c, err := w.cour.Create(ctx, w.disp, courier.CourierInput{Kind: "career", UserID: w.carrier.UserID, FullName: "Arman Courier"})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// issue puts bag on a courier sheet naming the career courier.
func (w *world) issue(b *pouch.Bag, replaces string) *courier.Sheet {
	w.t.Helper()
	sh, err := w.cour.Issue(context.Background(), w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier",
		CourierID: w.courierRecord().ID, BagIDs: []string{b.ID}, ValidUntil: ptr(time.Now().Add(72 * time.Hour)), Replaces: replaces}, w.check(w.clerk))
	if err != nil {
		w.t.Fatal(err)
	}
	return sh
}

// dispatchedBag is a sealed bag on a sheet, dispatched.
func (w *world) dispatchedBag(tag string) *pouch.Bag {
	w.t.Helper()
	b := w.sealedBag(tag)
	w.issue(b, "")
	b, err := w.dispatchAs(context.Background(), w.clerk, pouch.Mutation{BagID: b.ID})
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func TestLossHomeAndAbroad(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	seen := ptr(time.Now().Add(-2 * time.Hour))

	// On home territory the search starts at once; the bag can be found.
	home := w.dispatchedBag("home")
	home, lr, err := w.svc.ReportMissing(ctx, w.carrier, pouch.Mutation{BagID: home.ID}, pouch.LossInput{Territory: "home",
		LastSeenAt: seen, LastSeenPlace: "Astana airport"}, w.check(w.carrier))
	if err != nil {
		t.Fatal(err)
	}
	if home.State != pouch.Missing || lr.Workflow != "search_and_guard" || lr.Status != "searching" || lr.IncidentID == "" {
		t.Fatalf("home loss: bag %s, report %+v", home.State, lr)
	}
	// Bad reports are refused and record nothing.
	w.refused("loss without territory", valise.EINVALID, func() error {
		_, _, err := w.svc.ReportMissing(ctx, w.carrier, pouch.Mutation{BagID: home.ID}, pouch.LossInput{LastSeenAt: seen, LastSeenPlace: "x"}, w.check(w.carrier))
		return err
	})
	w.refused("a home loss report needs no agreement", valise.ECONFLICT, func() error {
		_, err := w.svc.RecordAgreement(ctx, w.sec, lr.ID, pouch.AgreementInput{Body: "FIS", Reference: "1"}, w.check(w.sec))
		return err
	})
	home, err = w.svc.MarkFound(ctx, w.sec, pouch.Mutation{BagID: home.ID, Place: "Astana airport lost and found"}, w.check(w.sec))
	if err != nil || home.State != pouch.Found {
		t.Fatalf("found at home: %v %v", home, err)
	}
	if lr, _ = w.svc.GetLoss(ctx, lr.ID, w.check(w.sec)); lr.Status != "closed" {
		t.Fatalf("loss report after found: %s", lr.Status)
	}

	// Abroad: the report waits for the agreement with the foreign-intelligence bodies.
	w.refused("abroad without a country", valise.EINVALID, func() error {
		_, _, err := w.svc.ReportMissing(ctx, w.carrier, pouch.Mutation{BagID: home.ID}, pouch.LossInput{Territory: "abroad", LastSeenAt: seen, LastSeenPlace: "FRA"}, w.check(w.carrier))
		return err
	})
	abroad := w.dispatchedBag("abroad")
	abroad, lr, err = w.svc.ReportMissing(ctx, w.carrier, pouch.Mutation{BagID: abroad.ID}, pouch.LossInput{Territory: "abroad", Country: "DE",
		LastSeenAt: seen, LastSeenPlace: "Frankfurt transfer"}, w.check(w.carrier))
	if err != nil {
		t.Fatal(err)
	}
	if lr.Workflow != "locate_and_guard" || lr.Status != "awaiting_agreement" || lr.Country != "DE" {
		t.Fatalf("abroad report %+v", lr)
	}
	ve := w.refused("found abroad before the agreement", valise.ECONFLICT, func() error {
		_, err := w.svc.MarkFound(ctx, w.sec, pouch.Mutation{BagID: abroad.ID, Place: "Frankfurt"}, w.check(w.sec))
		return err
	})
	if ve.Extra["missing"] != "agreement" || ve.Extra["current_state"] != pouch.Missing {
		t.Fatalf("refusal does not name the missing agreement: %v", ve.Extra)
	}
	w.refused("agreement without reference", valise.EINVALID, func() error {
		_, err := w.svc.RecordAgreement(ctx, w.sec, lr.ID, pouch.AgreementInput{Body: "Foreign Intelligence Service"}, w.check(w.sec))
		return err
	})
	w.refused("a courier may not record the agreement", valise.EFORBIDDEN, func() error {
		_, err := w.svc.RecordAgreement(ctx, w.carrier, lr.ID, pouch.AgreementInput{Body: "FIS", Reference: "1"}, w.check(w.carrier))
		return err
	})
	lr, err = w.svc.RecordAgreement(ctx, w.sec, lr.ID, pouch.AgreementInput{Body: "Foreign Intelligence Service", Reference: "FIS-2026-17"}, w.check(w.sec))
	if err != nil || lr.Status != "locating" || lr.AgreementAt == nil {
		t.Fatalf("agreement: %+v %v", lr, err)
	}
	abroad, err = w.svc.MarkFound(ctx, w.sec, pouch.Mutation{BagID: abroad.ID, Place: "Frankfurt"}, w.check(w.sec))
	if err != nil || abroad.State != pouch.Found {
		t.Fatalf("found abroad after the agreement: %v %v", abroad, err)
	}
	// The breach incident stays open for the security officer: the bag may have been compromised.
	incs, err := w.svc.BagIncidents(ctx, abroad.ID)
	if err != nil || len(incs) != 1 || incs[0].Class != pouch.ClassBreach || incs[0].Outcome != "" {
		t.Fatalf("incidents after found: %+v %v", incs, err)
	}
}

func TestExaminationAndResealing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	b := w.dispatchedBag("exam")
	c := w.courierRecord()
	base := pouch.ExamineInput{Opening: true, InitiatingBody: "State Revenue Committee", InitiatingOfficial: "Inspector Omarov",
		Grounds: "x-ray shows a metallic object"}
	for _, tc := range []struct {
		name string
		in   func(pouch.ExamineInput) pouch.ExamineInput
	}{
		{"no witness", func(in pouch.ExamineInput) pouch.ExamineInput { return in }},
		{"witness of a kind the law does not allow", func(in pouch.ExamineInput) pouch.ExamineInput {
			in.WitnessKind, in.WitnessName = "customs_officer", "A. Customs"
			return in
		}},
		{"representative without a body", func(in pouch.ExamineInput) pouch.ExamineInput {
			in.WitnessKind, in.WitnessName = "authorized_representative", "B. Rep"
			return in
		}},
		{"representative of a body outside the diplomatic service", func(in pouch.ExamineInput) pouch.ExamineInput {
			in.WitnessKind, in.WitnessName, in.WitnessUnit = "authorized_representative", "B. Rep", "MOD"
			return in
		}},
		{"courier record of another kind", func(in pouch.ExamineInput) pouch.ExamineInput {
			in.WitnessKind, in.WitnessName, in.WitnessCourierID = "ad_hoc_courier", "Arman", c.ID
			return in
		}},
		{"no grounds", func(in pouch.ExamineInput) pouch.ExamineInput {
			in.Grounds, in.WitnessKind, in.WitnessName = "", "career_courier", "Arman"
			return in
		}},
	} {
		w.refused(tc.name, valise.EINVALID, func() error {
			_, _, err := w.svc.Examine(ctx, w.sec, pouch.Mutation{BagID: b.ID}, tc.in(base), w.check(w.sec))
			return err
		})
	}
	// A registry clerk may not examine; the security officer with a witness may.
	in := base
	in.WitnessKind, in.WitnessName, in.WitnessCourierID = "career_courier", "Arman Courier", c.ID
	w.refused("a clerk examining", valise.EFORBIDDEN, func() error {
		_, _, err := w.svc.Examine(ctx, w.clerk, pouch.Mutation{BagID: b.ID}, in, w.check(w.clerk))
		return err
	})
	b, ex, err := w.svc.Examine(ctx, w.sec, pouch.Mutation{BagID: b.ID, Place: "Astana airport customs"}, in, w.check(w.sec))
	if err != nil || b.State != pouch.UnderExamination || ex.WitnessName != "Arman Courier" {
		t.Fatalf("examine: %v %+v %v", b, ex, err)
	}
	// An opened bag must be re-sealed before it goes on.
	w.refused("concluding an opening without new seals", valise.EINVALID, func() error {
		_, err := w.svc.ConcludeExamination(ctx, w.sec, pouch.Mutation{BagID: b.ID}, pouch.ConcludeInput{Findings: "documents only"}, w.check(w.sec))
		return err
	})
	w.sealedBag("other")
	w.refused("re-sealing with a serial already on another bag", valise.EINVALID, func() error {
		_, err := w.svc.ConcludeExamination(ctx, w.sec, pouch.Mutation{BagID: b.ID}, pouch.ConcludeInput{Findings: "documents only",
			ResealedSerials: []string{"SEAL-OTHER"}}, w.check(w.sec))
		return err
	})
	b, err = w.svc.ConcludeExamination(ctx, w.sec, pouch.Mutation{BagID: b.ID}, pouch.ConcludeInput{Findings: "documents only",
		ResealedSerials: []string{"RESEAL-1"}}, w.check(w.sec))
	if err != nil || b.State != pouch.Dispatched || len(b.Packages) != 1 || b.Packages[0].SealSerial != "RESEAL-1" {
		t.Fatalf("conclude: %+v %v", b, err)
	}
	// Concluding again: the bag is no longer under examination.
	ve := w.refused("concluding twice", valise.ECONFLICT, func() error {
		_, err := w.svc.ConcludeExamination(ctx, w.sec, pouch.Mutation{BagID: b.ID}, pouch.ConcludeInput{Findings: "x", ResealedSerials: []string{"R2"}}, w.check(w.sec))
		return err
	})
	if ve.Extra["current_state"] != pouch.Dispatched {
		t.Fatalf("refusal names %v", ve.Extra)
	}
	// An examination that finds the bag compromised opens a breach.
	b2 := w.dispatchedBag("exam2")
	in.WitnessKind, in.WitnessCourierID, in.WitnessUnit = "authorized_representative", "", "DE-BER"
	if _, _, err := w.svc.Examine(ctx, w.sec, pouch.Mutation{BagID: b2.ID}, in, w.check(w.sec)); err != nil {
		t.Fatal(err)
	}
	b2, err = w.svc.ConcludeExamination(ctx, w.sec, pouch.Mutation{BagID: b2.ID}, pouch.ConcludeInput{Findings: "inner envelope torn", Compromised: true}, w.check(w.sec))
	if err != nil || b2.State != pouch.Compromised {
		t.Fatalf("compromised: %v %v", b2, err)
	}
	if incs, _ := w.svc.BagIncidents(ctx, b2.ID); len(incs) != 1 || incs[0].Class != pouch.ClassBreach || incs[0].Source != "examination" {
		t.Fatalf("incidents %+v", incs)
	}
}

func TestIncidentDeadlinesAndOutcomes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	// Deadlines come from pouch_settings, not constants.
	if _, err := w.svc.Pool().Exec(ctx, `UPDATE pouch_settings SET value = '90 minutes' WHERE key = 'breach.notify_within';
		UPDATE pouch_settings SET value = '10 days' WHERE key = 'breach.close_within';
		UPDATE pouch_settings SET value = '5 hours' WHERE key = 'incident.notify_within'`); err != nil {
		t.Fatal(err)
	}
	accept := func(tag string, counted int, intact bool) (*pouch.Bag, *pouch.Incident) {
		t.Helper()
		b := w.dispatchedBag(tag)
		b, err := w.deliverAs(ctx, w.carrier, pouch.Mutation{BagID: b.ID})
		if err != nil {
			t.Fatal(err)
		}
		b, rc, err := w.svc.Accept(ctx, w.berlin, pouch.Mutation{BagID: b.ID}, pouch.AcceptInput{SealScan: pouch.SealScan{PackagesCounted: &counted, SealsIntact: &intact}}, w.check(w.berlin))
		if err != nil || rc.IncidentID == "" {
			t.Fatalf("accept %s: %+v %v", tag, rc, err)
		}
		inc, err := w.svc.GetIncident(ctx, rc.IncidentID, w.check(w.sec))
		if err != nil {
			t.Fatal(err)
		}
		return b, inc
	}
	_, breach := accept("torn", 1, false)
	if breach.Class != pouch.ClassBreach || breach.NotifyDue.Sub(breach.OpenedAt).Round(time.Minute) != 90*time.Minute ||
		breach.CloseDue.Sub(breach.OpenedAt).Round(time.Hour) != 240*time.Hour {
		t.Fatalf("breach deadlines %+v", breach)
	}
	extraBag, extra := accept("extra", 2, true)
	if extra.Class != pouch.ClassIncident || extra.NotifyDue.Sub(extra.OpenedAt).Round(time.Minute) != 5*time.Hour {
		t.Fatalf("incident deadlines %+v", extra)
	}
	// Nothing to record, an unknown outcome, or closing without a note: refused.
	for _, in := range []pouch.IncidentUpdate{{}, {Outcome: "resolved", Note: "x"}, {Outcome: pouch.OutcomeFound}} {
		w.refused(fmt.Sprintf("update %+v", in), valise.EINVALID, func() error {
			_, err := w.svc.UpdateIncident(ctx, w.sec, extra.ID, 0, in, w.check(w.sec))
			return err
		})
	}
	w.refused("a clerk closing", valise.EFORBIDDEN, func() error {
		_, err := w.svc.UpdateIncident(ctx, w.berlin, extra.ID, 0, pouch.IncidentUpdate{Outcome: pouch.OutcomeFound, Note: "x"}, w.check(w.berlin))
		return err
	})
	w.refused("stale incident version", valise.EPRECONDITION, func() error {
		_, err := w.svc.UpdateIncident(ctx, w.sec, extra.ID, extra.Version+1, pouch.IncidentUpdate{Notified: true}, w.check(w.sec))
		return err
	})
	got, err := w.svc.UpdateIncident(ctx, w.sec, extra.ID, extra.Version, pouch.IncidentUpdate{Notified: true}, w.check(w.sec))
	if err != nil || got.NotifiedAt == nil || got.Outcome != "" {
		t.Fatalf("notify: %+v %v", got, err)
	}
	got, err = w.svc.UpdateIncident(ctx, w.sec, extra.ID, 0, pouch.IncidentUpdate{Outcome: pouch.OutcomeFound, Note: "a packing slip counted as a package"}, w.check(w.sec))
	if err != nil || got.Outcome != pouch.OutcomeFound || got.ClosedAt == nil {
		t.Fatalf("close found: %+v %v", got, err)
	}
	if b, _ := w.svc.Get(ctx, extraBag.ID, w.check(w.sec)); b.State != pouch.Accepted {
		t.Fatalf("closing as found moved the bag to %s", b.State)
	}
	w.refused("closing a closed incident", valise.ECONFLICT, func() error {
		_, err := w.svc.UpdateIncident(ctx, w.sec, extra.ID, 0, pouch.IncidentUpdate{Outcome: pouch.OutcomeLost, Note: "x"}, w.check(w.sec))
		return err
	})
	// Closing as compromised moves the bag to compromised, in the same transaction.
	got, err = w.svc.UpdateIncident(ctx, w.sec, breach.ID, 0, pouch.IncidentUpdate{Outcome: pouch.OutcomeCompromised, Note: "seal forged"}, w.check(w.sec))
	if err != nil || got.Outcome != pouch.OutcomeCompromised {
		t.Fatalf("close compromised: %+v %v", got, err)
	}
	if b, _ := w.svc.Get(ctx, breach.BagID, w.check(w.sec)); b.State != pouch.Compromised {
		t.Fatalf("bag after compromise: %s", b.State)
	}
	// A missing bag's incident: found is refused while it is missing; lost closes the loss report.
	lost := w.dispatchedBag("lost")
	_, lr, err := w.svc.ReportMissing(ctx, w.carrier, pouch.Mutation{BagID: lost.ID}, pouch.LossInput{Territory: "home",
		LastSeenAt: ptr(time.Now()), LastSeenPlace: "car park"}, w.check(w.carrier))
	if err != nil {
		t.Fatal(err)
	}
	w.refused("closing as found while the bag is missing", valise.ECONFLICT, func() error {
		_, err := w.svc.UpdateIncident(ctx, w.sec, lr.IncidentID, 0, pouch.IncidentUpdate{Outcome: pouch.OutcomeFound, Note: "x"}, w.check(w.sec))
		return err
	})
	if _, err := w.svc.UpdateIncident(ctx, w.sec, lr.IncidentID, 0, pouch.IncidentUpdate{Outcome: pouch.OutcomeLost, Note: "search ended"}, w.check(w.sec)); err != nil {
		t.Fatal(err)
	}
	if lr, _ = w.svc.GetLoss(ctx, lr.ID, w.check(w.sec)); lr.Status != "closed" {
		t.Fatalf("loss report after lost: %s", lr.Status)
	}
	// Open incidents list: only the still-open ones (none left).
	sc, _ := w.authz.ListScope(ctx, w.sec, "incident")
	if open, err := w.svc.ListIncidents(ctx, w.sec, sc, true); err != nil || len(open) != 0 {
		t.Fatalf("open incidents %d %v", len(open), err)
	}
}

func TestSheetRevokeAndReissue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	b := w.sealedBag("rev")
	sh := w.issue(b, "")
	w.refused("a second sheet for a bag already on one", valise.ECONFLICT, func() error {
		_, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "aircraft_captain", BearerName: "Capt. X",
			BagIDs: []string{b.ID}, ValidUntil: ptr(time.Now().Add(time.Hour))}, w.check(w.clerk))
		return err
	})
	rev2 := w.sealedBag("rev2")
	// An aircraft captain has no clearance record: not for a SECRET bag.
	if ve := w.refused("a captain for a SECRET bag", valise.ECONFLICT, func() error {
		_, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "aircraft_captain", BearerName: "Capt. X",
			BagIDs: []string{rev2.ID}, ValidUntil: ptr(time.Now().Add(time.Hour))}, w.check(w.clerk))
		return err
	}); ve.Extra["reason"] != "courier_clearance" {
		t.Fatalf("captain for a SECRET bag: %v", ve.Extra)
	}
	w.refused("reissuing a sheet that is still issued", valise.EINVALID, func() error {
		_, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: w.courierRecord().ID,
			BagIDs: []string{rev2.ID}, ValidUntil: ptr(time.Now().Add(time.Hour)), Replaces: sh.ID}, w.check(w.clerk))
		return err
	})
	w.refused("revoking without a reason", valise.EINVALID, func() error {
		_, err := w.cour.Revoke(ctx, w.clerk, sh.ID, 0, " ", w.check(w.clerk))
		return err
	})
	w.refused("the courier named on it revoking", valise.EFORBIDDEN, func() error {
		_, err := w.cour.Revoke(ctx, w.carrier, sh.ID, 0, "x", w.check(w.carrier))
		return err
	})
	rev, err := w.cour.Revoke(ctx, w.clerk, sh.ID, sh.Version, "courier fell ill", w.check(w.clerk))
	if err != nil || rev.Status != "revoked" || rev.RevokedReason != "courier fell ill" || rev.ValidAt(time.Now()) {
		t.Fatalf("revoke: %+v %v", rev, err)
	}
	w.refused("revoking twice", valise.ECONFLICT, func() error {
		_, err := w.cour.Revoke(ctx, w.clerk, sh.ID, 0, "again", w.check(w.clerk))
		return err
	})
	// A bag whose only sheet is revoked is not diplomatic mail: no dispatch.
	ve := w.refused("dispatch on a revoked sheet", valise.ECONFLICT, func() error {
		_, err := w.dispatchAs(ctx, w.clerk, pouch.Mutation{BagID: b.ID})
		return err
	})
	if ve.Extra["missing"] != "courier_sheet" || ve.Extra["current_state"] != pouch.Sealed {
		t.Fatalf("refusal %v", ve.Extra)
	}
	re := w.issue(b, sh.ID)
	if re.Replaces != sh.ID || re.Number == sh.Number {
		t.Fatalf("reissued %+v", re)
	}
	if b, err = w.dispatchAs(ctx, w.clerk, pouch.Mutation{BagID: b.ID}); err != nil || b.State != pouch.Dispatched {
		t.Fatalf("dispatch on the reissued sheet: %v %v", b, err)
	}
	hist, _ := pouch.History(ctx, w.svc.Pool(), b.ID)
	// The courier holds the bag under the reissued sheet.
	if last := hist[len(hist)-1]; last.CustodianAfter == nil || last.CustodianAfter.SheetID != re.ID || b.Custodian.SheetID != re.ID {
		t.Fatalf("dispatch event's custodian %+v, want the courier under the reissued sheet %s", last.CustodianAfter, re.ID)
	}
}

func TestCorrections(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	b := w.dispatchedBag("corr")
	other := w.sealedBag("corr-other")
	hist, _ := pouch.History(ctx, w.svc.Pool(), b.ID)
	dispatch := hist[len(hist)-1]
	otherHist, _ := pouch.History(ctx, w.svc.Pool(), other.ID)
	for name, in := range map[string]pouch.CorrectionInput{
		"no such event":         {EventID: 1 << 40, Reason: "did_not_occur", Note: "typo"},
		"another bag's event":   {EventID: otherHist[0].ID, Reason: "did_not_occur", Note: "wrong bag"},
		"unknown reason":        {EventID: dispatch.ID, Reason: "oops", Note: "x"},
		"no note":               {EventID: dispatch.ID, Reason: "incorrect_data"},
		"no event named at all": {Reason: "did_not_occur", Note: "x"},
	} {
		w.refused(name, valise.EINVALID, func() error {
			_, err := w.svc.Correct(ctx, w.clerk, b.ID, in, w.check(w.clerk))
			return err
		})
	}
	w.refused("a reader without need-to-know", valise.ENOTFOUND, func() error {
		_, err := w.svc.Correct(ctx, w.mod, b.ID, pouch.CorrectionInput{EventID: dispatch.ID, Reason: "did_not_occur", Note: "x"}, w.check(w.mod))
		return err
	})
	ev, err := w.svc.Correct(ctx, w.clerk, b.ID, pouch.CorrectionInput{EventID: dispatch.ID, Reason: "incorrect_data",
		Note: "dispatched from the Almaty office, not Astana", Data: []byte(`{"place":"Almaty"}`)}, w.check(w.clerk))
	if err != nil || ev.Corrects == nil || *ev.Corrects != dispatch.ID || ev.LogEntry == nil {
		t.Fatalf("correction: %+v %v", ev, err)
	}
	after, _ := pouch.History(ctx, w.svc.Pool(), b.ID)
	if len(after) != len(hist)+1 {
		t.Fatalf("history %d → %d events", len(hist), len(after))
	}
	for i := range hist {
		if string(after[i].Data) != string(hist[i].Data) || after[i].Reason != hist[i].Reason || after[i].Kind != hist[i].Kind {
			t.Fatalf("event %d was edited: %+v → %+v", hist[i].ID, hist[i], after[i])
		}
	}
	// The version counts the bag's events: the correction is one more; the
	// state and custodian stay.
	if got, _ := w.svc.Get(ctx, b.ID, w.check(w.clerk)); got.State != pouch.Dispatched || got.Version != b.Version+1 ||
		!got.Custodian.Same(b.Custodian) {
		t.Fatalf("a correction changed the bag: %s v%d %+v", got.State, got.Version, got.Custodian)
	}
}

func TestListsForRegistryAndSecurity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	stored := w.dispatchedBag("s1")
	stored, _ = w.deliverAs(ctx, w.carrier, pouch.Mutation{BagID: stored.ID})
	stored, _, _ = w.svc.Accept(ctx, w.berlin, pouch.Mutation{BagID: stored.ID}, pouch.AcceptInput{SealScan: pouch.SealScan{PackagesCounted: ptr(1), SealsIntact: ptr(true)}}, w.check(w.berlin))
	if _, err := w.svc.Store(ctx, w.berlin, pouch.Mutation{BagID: stored.ID}, pouch.StoreInput{Place: "Safe", Custodian: "berlin"}, w.check(w.berlin)); err != nil {
		t.Fatal(err)
	}
	onTime := w.dispatchedBag("s2")
	late := w.dispatchedBag("s3")
	if _, err := w.svc.Pool().Exec(ctx, `UPDATE bags SET due_at = now() - interval '1 hour', updated_at = now() - interval '5 days' WHERE id = $1`, late.ID); err != nil {
		t.Fatal(err)
	}
	tokyo, err := w.svc.CreateBag(ctx, w.disp, pouch.CreateBagInput{Origin: "MFA", Destination: "JP-TYO"}, w.check(w.disp))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(s policy.Subject, f pouch.BagFilter) []string {
		t.Helper()
		sc, err := w.authz.ListScope(ctx, s, "bag")
		if err != nil {
			t.Fatal(err)
		}
		bags, _, err := w.svc.ListBags(ctx, s, sc, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range bags {
			out = append(out, b.ID)
		}
		return out
	}
	same := func(name string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	// The Berlin registry: what is due to arrive, and what is overdue.
	same("due to Berlin", ids(w.berlin, pouch.BagFilter{DueTo: "DE-BER"}), late.ID, onTime.ID)
	same("overdue for Berlin", ids(w.berlin, pouch.BagFilter{DueTo: "DE-BER", Overdue: true}), late.ID)
	same("Berlin does not see Tokyo's bag", ids(w.berlin, pouch.BagFilter{Destination: "JP-TYO"}))
	// The security officer: by state, route, level and age.
	same("stored", ids(w.sec, pouch.BagFilter{States: []pouch.State{pouch.Stored}}), stored.ID)
	same("planned or dispatched", ids(w.sec, pouch.BagFilter{States: []pouch.State{pouch.Planned, pouch.Dispatched}}), tokyo.ID, late.ID, onTime.ID)
	same("route via JP-TYO", ids(w.sec, pouch.BagFilter{Unit: "JP-TYO"}), tokyo.ID)
	same("SECRET and above", ids(w.sec, pouch.BagFilter{MinLevel: lvl(policy.Secret)}), late.ID, onTime.ID, stored.ID)
	same("up to RESTRICTED", ids(w.sec, pouch.BagFilter{MaxLevel: lvl(policy.Restricted)}), tokyo.ID)
	same("unchanged for 3 days", ids(w.sec, pouch.BagFilter{OlderThan: 72 * time.Hour}), late.ID)
	// Paging: one at a time, the cursor walks every bag once.
	sc, _ := w.authz.ListScope(ctx, w.sec, "bag")
	var seen []string
	for after := (*pouch.BagCursor)(nil); ; {
		page, next, err := w.svc.ListBags(ctx, w.sec, sc, pouch.BagFilter{Limit: 1, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page {
			seen = append(seen, b.ID)
		}
		if next == nil {
			break
		}
		after = next
	}
	same("paged", seen, tokyo.ID, late.ID, onTime.ID, stored.ID)
	// Clearance: a RESTRICTED Berlin clerk sees none of the SECRET bags, nor their contents.
	low := w.berlin
	low.Clearance = policy.Restricted
	same("low clearance", ids(low, pouch.BagFilter{}))
	contents, _ := w.svc.BagContents(ctx, stored.ID)
	if _, err := w.svc.GetSubmission(ctx, contents[0].ID, w.check(low)); code(err) != valise.ENOTFOUND {
		t.Fatalf("content names above clearance: %v", err)
	}
	if sub, err := w.svc.GetSubmission(ctx, contents[0].ID, w.check(w.berlin)); err != nil || sub.Items[0].Description != "cipher telegram s1" {
		t.Fatalf("contents for the cleared destination: %+v %v", sub, err)
	}
}

func TestDirectBagOnlyOnStatutoryRoutes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	// DM-14: an institution-to-institution bag or a bag to a state body
	// cannot be planned directly; a plan with a review note can.
	for _, dest := range []string{"MOD", "AIR-ASTANA"} {
		w.refused("MFA → "+dest, valise.EINVALID, func() error {
			_, err := w.svc.CreateBag(ctx, w.disp, pouch.CreateBagInput{Origin: "MFA", Destination: dest}, w.check(w.disp))
			return err
		})
	}
	w.refused("DE-BER → JP-TYO without a plan", valise.EINVALID, func() error {
		_, err := w.svc.CreateBag(ctx, w.disp, pouch.CreateBagInput{Origin: "DE-BER", Destination: "JP-TYO"}, w.check(w.disp))
		return err
	})
	if _, err := w.svc.CreateBag(ctx, w.disp, pouch.CreateBagInput{Origin: "DE-BER", Destination: "MFA"}, w.check(w.disp)); err != nil {
		t.Fatalf("institution → ministry: %v", err)
	}
}
