package personnel_test

import (
	"context"
	"strings"
	"testing"

	"valise"
	"valise/personnel"
	"valise/policy"
)

func (w *world) holder(in personnel.HolderInput) personnel.Holder {
	w.t.Helper()
	if in.Unit == "" {
		in.Unit = "MFA"
	}
	if in.BirthDate.IsZero() {
		in.BirthDate = d("1975-05-05")
	}
	in.Change = act
	h, err := w.svc.RegisterHolder(context.Background(), w.check(w.po), w.po, in)
	if err != nil {
		w.t.Fatalf("holder: %v %+v", err, fields(err))
	}
	return h
}

func listed(typ, basis, received, evidence string) personnel.PassportApplication {
	a := application(typ, basis, received)
	a.BasisDetail.Evidence = evidence
	return a
}

// Holders outside the diplomatic service (issue 15): the List's other
// categories, each with the conditions it states, on a holder record with
// its own history; everyone else is refused with the failed condition named.
func TestPassportHoldersOutsideService(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	apply := func(id string, in personnel.PassportApplication) func() error {
		return func() error { _, err := w.svc.Apply(ctx, w.check(w.po), w.po, id, in); return err }
	}
	register := func(in personnel.HolderInput) func() error {
		return func() error {
			in.Change = act
			_, err := w.svc.RegisterHolder(ctx, w.check(w.po), w.po, in)
			return err
		}
	}
	// A holder record: the R§18 data; bad input is refused and changes nothing.
	w.refusedUnchanged(valise.EINVALID, "position", register(personnel.HolderInput{FullName: "No Position", BirthDate: d("1970-01-01"), PlaceOfWork: "Mazhilis", Unit: "MFA"}))
	w.refusedUnchanged(valise.EINVALID, "unit", register(personnel.HolderInput{FullName: "X", BirthDate: d("1970-01-01"), PlaceOfWork: "Mazhilis", Position: "Deputy", Unit: "NOWHERE"}))
	w.refusedUnchanged(valise.EINVALID, "principal holder and the relation", register(personnel.HolderInput{FullName: "X", BirthDate: d("1970-01-01"),
		PlaceOfWork: "-", Position: "-", Relation: "spouse", Unit: "MFA"}))
	deputy := w.holder(personnel.HolderInput{FullName: "Aigerim Deputy", PlaceOfWork: "Mazhilis of Parliament", Position: "Deputy of the Mazhilis"})
	evs, err := w.svc.HolderEvents(ctx, w.check(w.po), deputy.ID)
	if err != nil || len(evs) != 1 || evs[0].Kind != "holder_registered" || evs[0].RecordedBy != "po.all" {
		t.Fatalf("holder history: %+v %v", evs, err)
	}

	// DL-21: deputies of Parliament. The personnel record cannot show it: the evidence is named.
	w.refusedUnchanged(valise.EINVALID, "basis_detail.evidence", apply(personnel.HolderOwner(deputy.ID), application("diplomatic", "dl_21", "2025-03-03")))
	p := w.apply(personnel.HolderOwner(deputy.ID), listed("diplomatic", "dl_21", "2025-03-03", "CEC resolution No. 12 on the registration of deputies"))
	if p.HolderID != deputy.ID || p.StaffID != "" || p.HolderName != "Aigerim Deputy" || p.PrepareBy.String() != "2025-03-10" {
		t.Fatalf("the deputy's application: %+v", p)
	}
	// Categories that are not the holder's: DL-27 is the service's own staff; HR-38 is the Ambassador rank;
	// an excluded item; a service item for a diplomatic passport; an unknown one.
	w.refusedUnchanged(valise.EINVALID, "the passport is kept under the staff record", apply(personnel.HolderOwner(deputy.ID), listed("diplomatic", "dl_27", "2025-03-03", "x")))
	w.refusedUnchanged(valise.EINVALID, "HR-38", apply(personnel.HolderOwner(deputy.ID), application("diplomatic", "lifelong", "2025-03-03")))
	w.refusedUnchanged(valise.EINVALID, "an active item of the List", apply(personnel.HolderOwner(deputy.ID), listed("diplomatic", "dl_14", "2025-03-03", "x")))
	w.refusedUnchanged(valise.EINVALID, "entitles to a service passport", apply(personnel.HolderOwner(deputy.ID), listed("diplomatic", "sl_8", "2025-03-03", "x")))
	// R§5 part 2: an unlisted person, by the Minister with the President's agreement.
	adviser := w.holder(personnel.HolderInput{FullName: "Unlisted Adviser", PlaceOfWork: "Akimat of Turkistan region", Position: "Adviser"})
	exc := application("diplomatic", "minister_exception", "2025-03-03")
	w.refusedUnchanged(valise.EINVALID, "minister_decision", apply(personnel.HolderOwner(adviser.ID), exc))
	exc.BasisDetail = personnel.BasisDetail{MinisterDecision: &personnel.Act{Number: "MD-9", Date: d("2025-02-01")}, PresidentAgreement: &personnel.Act{Number: "PA-9", Date: d("2025-02-10")}}
	w.apply(personnel.HolderOwner(adviser.ID), exc)

	// DL-27-1 was in force from 04.03.2016 until 31.12.2017: the last day inside, the day after outside.
	w.refusedUnchanged(valise.EINVALID, "in force from 2016-03-04 until 2017-12-31", apply(personnel.HolderOwner(adviser.ID), listed("diplomatic", "dl_27_1", "2018-01-01", "order")))
	w.refusedUnchanged(valise.EINVALID, "in force from 2016-03-04", apply(personnel.HolderOwner(adviser.ID), listed("diplomatic", "dl_27_1", "2016-03-03", "order")))
	w.apply(personnel.HolderOwner(adviser.ID), listed("diplomatic", "dl_27_1", "2017-12-31", "order"))

	// V-02: SL-3 excludes a person entitled to a diplomatic passport (the deputy has one in preparation).
	w.refusedUnchanged(valise.EINVALID, "V-02: List item sl_3 excludes persons entitled to a diplomatic passport", apply(personnel.HolderOwner(deputy.ID), listed("service", "sl_3", "2025-03-03", "Register of Positions, Corps A")))
	civil := w.holder(personnel.HolderInput{FullName: "Corps A Servant", PlaceOfWork: "Ministry of Energy", Position: "Executive Secretary"})
	w.apply(personnel.HolderOwner(civil.ID), listed("service", "sl_3", "2025-03-03", "Register of Positions, Corps A"))

	// V-03: SL-5 needs a rank (or law-enforcement activity) and no territorial body.
	officer := w.holder(personnel.HolderInput{FullName: "Prosecutor Officer", PlaceOfWork: "Prosecutor General's Office", Position: "Prosecutor"})
	sl5 := listed("service", "sl_5", "2025-03-03", "order on the class rank")
	w.refusedUnchanged(valise.EINVALID, "basis_detail.rank_or_activity", apply(personnel.HolderOwner(officer.ID), sl5))
	sl5.BasisDetail.RankOrActivity, sl5.BasisDetail.TerritorialBody = "class_rank", true
	w.refusedUnchanged(valise.EINVALID, "excludes employees of territorial bodies", apply(personnel.HolderOwner(officer.ID), sl5))
	sl5.BasisDetail.TerritorialBody = false
	w.apply(personnel.HolderOwner(officer.ID), sl5)

	// Family (V-04): DL-21 covers no family; DL-2 covers the President's family members; DL-29 spouses and children.
	spouse := w.holder(personnel.HolderInput{FullName: "Deputy's Spouse", PlaceOfWork: "-", Position: "-", Principal: deputy.ID, Relation: "spouse"})
	w.refusedUnchanged(valise.EINVALID, "List item dl_21 does not cover a spouse", apply(personnel.HolderOwner(spouse.ID), listed("diplomatic", "dl_21", "2025-03-03", "marriage certificate")))
	attache := w.holder(personnel.HolderInput{FullName: "Colonel Attache", PlaceOfWork: "Ministry of Defence", Position: "Military attaché in Berlin"})
	child := w.holder(personnel.HolderInput{FullName: "Attache's Child", PlaceOfWork: "-", Position: "-", Principal: attache.ID, Relation: "child"})
	parent := w.holder(personnel.HolderInput{FullName: "Attache's Mother", PlaceOfWork: "-", Position: "-", Principal: attache.ID, Relation: "parent"})
	w.apply(personnel.HolderOwner(child.ID), listed("diplomatic", "dl_29", "2025-03-03", "birth certificate; the attaché's appointment order"))
	w.refusedUnchanged(valise.EINVALID, "does not cover a parent", apply(personnel.HolderOwner(parent.ID), listed("diplomatic", "dl_29", "2025-03-03", "x")))
	// DL-30: a dependent of a diplomatic-passport holder, departing jointly: the principal holds none yet.
	dep := application("diplomatic", "dl_30", "2025-03-03")
	dep.BasisDetail.JointDeparture = true
	w.refusedUnchanged(valise.EINVALID, "the principal holds none", apply(personnel.HolderOwner(parent.ID), dep))
	w.apply(personnel.HolderOwner(attache.ID), listed("diplomatic", "dl_29", "2025-03-03", "appointment order No. 5"))
	dep.BasisDetail.JointDeparture = false
	w.refusedUnchanged(valise.EINVALID, "joint_departure", apply(personnel.HolderOwner(parent.ID), dep))
	dep.BasisDetail.JointDeparture = true
	w.apply(personnel.HolderOwner(parent.ID), dep)
	// A family member of a holder record has a record of their own: no family member id under a holder.
	fam := listed("diplomatic", "dl_29", "2025-03-03", "x")
	fam.Holder = child.ID
	w.refusedUnchanged(valise.EINVALID, "no such family member", apply(personnel.HolderOwner(attache.ID), fam))

	// Issue, the R§18 register (place of work and position of the holder record), the history, alerts.
	w.issue(personnel.HolderOwner(deputy.ID), p, "D7000001", "2025-03-10")
	rows, err := w.svc.PassportRegister(ctx, policy.Scope{All: true}, w.po, personnel.RegisterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var row personnel.RegisterRow
	for _, r := range rows {
		if r.Number == "D7000001" {
			row = r
		}
	}
	if row.HolderID != deputy.ID || row.PlaceOfWork != "Mazhilis of Parliament" || row.Position != "Deputy of the Mazhilis" || row.Basis != "dl_21" ||
		!row.BirthDate.Equal(d("1975-05-05")) || !row.ExpiresOn.Equal(d("2030-03-10")) {
		t.Errorf("register row: %+v", row)
	}
	for _, r := range rows {
		if r.HolderName == "Attache's Child" && r.Position != "- (child of Colonel Attache)" {
			t.Errorf("a family member's row names the principal: %+v", r)
		}
	}
	got, err := w.svc.GetHolder(ctx, w.check(w.po), deputy.ID)
	if err != nil || len(got.Passports) != 1 || got.Passports[0].Number != "D7000001" {
		t.Fatalf("holder: %+v %v", got, err)
	}
	evs, _ = w.svc.HolderEvents(ctx, w.check(w.po), deputy.ID)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "holder_registered,passport_applied,passport_issued" {
		t.Errorf("the holder's history: %v", kinds)
	}
	as, err := w.svc.Alerts(ctx, w.po, w.check(w.po), d("2029-12-10").Time)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range as {
		if a.Ref == "passport_holder/"+deputy.ID && a.Kind == personnel.AlertPassportExpiring && strings.Contains(a.Subject, "D7000001") {
			found = true
		}
	}
	if !found {
		t.Errorf("no expiry alert for the deputy's passport: %+v", as)
	}

	// The deputy's mandate ended: surrendered, invalidated (R§15(5)) and destroyed by act; the events are the holder's.
	dep0 := personnel.HolderOwner(deputy.ID)
	if _, err := w.svc.Surrender(ctx, w.check(w.po), w.po, dep0, p.ID, personnel.SurrenderInput{On: d("2025-06-02"), By: "the owner", Change: act}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Withdraw(ctx, w.check(w.po), w.po, dep0, p.ID, personnel.WithdrawInput{On: d("2025-06-03"), Ground: "status_mismatch", Change: act}); err != nil {
		t.Fatal(err)
	}
	da, err := w.svc.Destroy(ctx, w.check(w.po), w.po, personnel.DestructionInput{ActDate: d("2025-07-01"),
		ApprovedBy: personnel.Official{FullName: "H Head", Position: "Head of Consular Service"},
		Commission: []personnel.Official{{FullName: "M One", Position: "Counsellor"}, {FullName: "M Two", Position: "First Secretary"}, {FullName: "M Three", Position: "Registrar"}},
		Order:      personnel.Act{Number: "Order 45", Date: d("2025-01-10")}, Passports: []personnel.DestroyItem{{PassportID: p.ID, Ground: "invalidated"}},
		FormCopies: []string{"scan-1.pdf"}, Executor: "E Executor", Change: act})
	if err != nil {
		t.Fatalf("destroy the deputy's passport: %v %+v", err, fields(err))
	}
	evs, _ = w.svc.HolderEvents(ctx, w.check(w.po), deputy.ID)
	if last := evs[len(evs)-1]; last.Kind != "passport_destroyed" {
		t.Errorf("the holder's last event: %+v", last)
	}

	// A holder's id is no staff record's: the staff passport functions answer as for a missing record.
	if _, err := w.svc.Passports(ctx, w.check(w.po), deputy.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Errorf("a holder id read as a staff record: %v", err)
	}
	w.refusedUnchanged(valise.ENOTFOUND, "not found", apply(deputy.ID, listed("diplomatic", "dl_21", "2025-04-01", "x")))

	// Personal data: an officer of another unit sees nothing of a holder record and changes nothing.
	tyo := w.user("po.tyo", "JP-TYO", []string{policy.RolePersonnelOfficer}, nil)
	if _, err := w.svc.GetHolder(ctx, w.check(tyo), deputy.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Errorf("another unit's officer reads the holder: %v", err)
	}
	if _, err := w.svc.Passports(ctx, w.check(tyo), personnel.HolderOwner(deputy.ID)); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Errorf("another unit's officer lists the passports: %v", err)
	}
	w.refusedUnchanged(valise.ENOTFOUND, "not found", func() error {
		_, err := w.svc.Apply(ctx, w.check(tyo), tyo, personnel.HolderOwner(deputy.ID), listed("diplomatic", "dl_21", "2025-04-01", "x"))
		return err
	})
	w.refusedUnchanged(valise.EINVALID, "not a unit whose records you keep", func() error {
		_, err := w.svc.RegisterHolder(ctx, w.check(tyo), tyo, personnel.HolderInput{FullName: "X", BirthDate: d("1970-01-01"), PlaceOfWork: "-", Position: "-", Unit: "MFA", Change: act})
		return err
	})
	if _, err := w.svc.GetDestructionAct(ctx, w.check(tyo), da.ID); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Errorf("another unit's officer reads the act on a holder's passport: %v", err)
	}
	if _, err := w.svc.GetDestructionAct(ctx, w.check(w.po), da.ID); err != nil {
		t.Errorf("the act: %v", err)
	}
	for _, a := range mustAlerts(t, w, tyo) {
		if strings.HasPrefix(a.Ref, "passport_holder/") {
			t.Errorf("another unit's officer sees a holder's alert: %+v", a)
		}
	}
}

func mustAlerts(t *testing.T, w *world, who policy.Subject) []personnel.Alert {
	t.Helper()
	as, err := w.svc.Alerts(context.Background(), who, w.check(who), d("2029-12-10").Time)
	if err != nil {
		t.Fatal(err)
	}
	return as
}
