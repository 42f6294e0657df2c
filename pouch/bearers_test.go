package pouch_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"valise"
	"valise/policy"
	"valise/pouch"
)

// maxBearerLevel sets the reference data bearer.max_level.
func (w *world) maxBearerLevel(l string) {
	w.t.Helper()
	if _, err := w.svc.Pool().Exec(context.Background(), `UPDATE custody_settings SET value = $1 WHERE key = 'bearer.max_level'`, l); err != nil {
		w.t.Fatal(err)
	}
}

// reason asserts a refusal's named reason.
func reason(t *testing.T, ve *valise.Error, want string) {
	t.Helper()
	if got, _ := ve.Extra["reason"].(string); got != want {
		t.Fatalf("reason %q, want %q (%v)", got, want, ve)
	}
}

// fields asserts that a 422 names field.
func hasField(t *testing.T, ve *valise.Error, field string) {
	t.Helper()
	for _, f := range ve.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("no field %s in %+v", field, ve.Fields)
}

// lastEvent is the bag's newest event and its custody block.
func (w *world) lastEvent(bagID string) (pouch.Event, pouch.Block) {
	w.t.Helper()
	evs, err := pouch.History(context.Background(), w.svc.Pool(), bagID)
	if err != nil || len(evs) == 0 {
		w.t.Fatal(evs, err)
	}
	ev := evs[len(evs)-1]
	var blk pouch.Block
	if err := json.Unmarshal(ev.Custody, &blk); err != nil {
		w.t.Fatal(err)
	}
	return ev, blk
}

func TestCourierHandsBagToCaptainAndTakesItBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	b := w.dispatchedBag("cap1") // SECRET, held by courier1 on a sheet
	rel := func(actor policy.Subject, in pouch.BearerReleaseInput) func() error {
		return func() error {
			_, err := w.svc.ReleaseToBearer(ctx, actor, in, w.check(actor))
			return err
		}
	}
	captain := func() pouch.BearerReleaseInput {
		return pouch.BearerReleaseInput{BagID: b.ID, Kind: pouch.BearerCaptain, Name: "Nurlan Captain",
			Document: "KZ passport N777", SealScan: w.scan(ctx, b.ID), Where: pouch.Where{Place: "FRA gate B44"}}
	}

	// bearer.max_level (UNCLASSIFIED by default) bounds what a bearer carries.
	reason(t, w.refused("captain above bearer.max_level", valise.ECONFLICT, rel(w.carrier, captain())), "receiver_clearance")
	w.maxBearerLevel("SECRET")

	// Incomplete records: each field named, nothing changed.
	for _, c := range []struct {
		field string
		edit  func(*pouch.BearerReleaseInput)
	}{
		{"name", func(in *pouch.BearerReleaseInput) { in.Name = "  " }},
		{"name", func(in *pouch.BearerReleaseInput) { in.Name = strings.Repeat("n", 201) }},
		{"document", func(in *pouch.BearerReleaseInput) { in.Document = "" }},
		{"document", func(in *pouch.BearerReleaseInput) { in.Document = strings.Repeat("d", 101) }},
		{"kind", func(in *pouch.BearerReleaseInput) { in.Kind = "pilot" }},
		{"packages_counted", func(in *pouch.BearerReleaseInput) { in.PackagesCounted = nil }},
		{"seals", func(in *pouch.BearerReleaseInput) { in.SealScan = pouch.SealScan{PackagesCounted: ptr(1)} }},
	} {
		in := captain()
		c.edit(&in)
		hasField(t, w.refused("release without "+c.field, valise.EINVALID, rel(w.carrier, in)), c.field)
	}
	// Only the custodian: the registry clerk of the origin is not.
	reason(t, w.refused("clerk releases the courier's bag", valise.ECONFLICT, rel(w.clerk, captain())), "not_custodian")
	// No other hand-off may be open: a release to the destination first.
	_, h, err := w.svc.Deliver(ctx, w.carrier, pouch.Mutation{BagID: b.ID}, pouch.DeliverInput{}, w.check(w.carrier))
	if err != nil {
		t.Fatal(err)
	}
	reason(t, w.refused("release to a captain while a delivery is open", valise.ECONFLICT, rel(w.carrier, captain())), "handoff_open")
	if _, err := w.svc.Cancel(ctx, w.carrier, h.ID, pouch.Where{}, w.check(w.carrier)); err != nil {
		t.Fatal(err)
	}

	// The courier's record moves custody to the captain at once.
	tr, err := w.svc.ReleaseToBearer(ctx, w.carrier, captain(), w.check(w.carrier))
	if err != nil {
		t.Fatal(err)
	}
	if tr.IncidentID != "" || !tr.SealCheck.OK {
		t.Fatalf("clean hand-over: %+v", tr)
	}
	cur, err := pouch.CurrentCustodian(ctx, w.svc.Pool(), b.ID)
	if err != nil || cur.Kind != pouch.CustodianBearer || cur.Name != "Nurlan Captain" || cur.Document != "KZ passport N777" || cur.SheetID == "" {
		t.Fatalf("custodian after the hand-over: %+v %v", cur, err)
	}
	ev, blk := w.lastEvent(b.ID)
	if ev.Kind != "released_to_bearer" || ev.ToState != pouch.InTransit || ev.Place != "FRA gate B44" || ev.LogEntry == nil {
		t.Fatalf("event %+v", ev)
	}
	if blk.Transfer != pouch.TransferOneSided || blk.From.User != w.carrier.UserID || blk.To.Kind != pouch.CustodianBearer ||
		blk.Seals == nil || blk.Seals.Method != "vs1" || *blk.Seals.PackagesCounted != 1 {
		t.Fatalf("custody block %+v", blk)
	}
	// The courier no longer holds it.
	reason(t, w.refused("second release of a bag the captain holds", valise.ECONFLICT, rel(w.carrier, captain())), "not_custodian")

	// Taking it back.
	recv := func(actor policy.Subject, in pouch.BearerReceiptInput) func() error {
		return func() error {
			_, err := w.svc.ReceiveFromBearer(ctx, actor, in, w.check(actor))
			return err
		}
	}
	back := pouch.BearerReceiptInput{BagID: b.ID, SealScan: w.scan(ctx, b.ID)}
	noCount := back
	noCount.PackagesCounted = nil
	hasField(t, w.refused("receipt without a count", valise.EINVALID, recv(w.carrier, noCount)), "packages_counted")
	// A clerk of a registry on the route may see the bag but is on no sheet.
	reason(t, w.refused("receipt by someone on no courier sheet", valise.ECONFLICT, recv(w.clerk, back)), "no_courier_sheet")
	// An outsider: the bag looks missing.
	w.refused("receipt by a user who may not see the bag", valise.ENOTFOUND, recv(w.mod, back))

	// A seal reported broken: custody still moves to the courier, and a
	// breach incident is opened with the receipt.
	broken := pouch.BearerReceiptInput{BagID: b.ID, SealScan: pouch.SealScan{PackagesCounted: ptr(1), SealsIntact: ptr(false),
		Seals: w.scan(ctx, b.ID).Seals}, Where: pouch.Where{Place: "BER apron", Note: "tape lifted"}}
	tr, err = w.svc.ReceiveFromBearer(ctx, w.carrier, broken, w.check(w.carrier))
	if err != nil {
		t.Fatal(err)
	}
	if tr.IncidentID == "" || tr.SealCheck.OK || tr.From.Name != "Nurlan Captain" {
		t.Fatalf("broken seal at receipt: %+v", tr)
	}
	var class string
	if err := w.svc.Pool().QueryRow(ctx, `SELECT class FROM incidents WHERE id = $1 AND bag_id = $2`, tr.IncidentID, b.ID).Scan(&class); err != nil || class != pouch.ClassBreach {
		t.Fatalf("incident class %q %v", class, err)
	}
	cur, _ = pouch.CurrentCustodian(ctx, w.svc.Pool(), b.ID)
	if cur.Kind != pouch.CustodianPerson || cur.User != w.carrier.UserID || cur.SheetID == "" {
		t.Fatalf("custodian after the receipt: %+v", cur)
	}
	evs, _ := pouch.History(ctx, w.svc.Pool(), b.ID)
	var taken *pouch.Event
	for i := range evs {
		if evs[i].Kind == "taken_from_bearer" {
			taken = &evs[i]
		}
	}
	if taken == nil || taken.CustodianBefore.Kind != pouch.CustodianBearer || taken.CustodianAfter.User != w.carrier.UserID {
		t.Fatalf("taken_from_bearer event %+v", taken)
	}
	// Nothing to take back from a bearer now.
	reason(t, w.refused("receipt of a bag the courier holds", valise.ECONFLICT, recv(w.carrier, back)), "not_with_bearer")

	// The courier delivers it as usual afterwards; once the registry has
	// accepted it, the courier does not hold it.
	if _, err := w.deliverAs(ctx, w.carrier, pouch.Mutation{BagID: b.ID}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.Accept(ctx, w.berlin, pouch.Mutation{BagID: b.ID}, pouch.AcceptInput{SealScan: w.scan(ctx, b.ID)}, w.check(w.berlin)); err != nil {
		t.Fatal(err)
	}
	reason(t, w.refused("release of an accepted bag", valise.ECONFLICT, rel(w.carrier, captain())), "not_custodian")

	// A bag reported missing is not handed on: the loss comes first.
	lost := w.dispatchedBag("cap2")
	if _, _, err := w.svc.ReportMissing(ctx, w.carrier, pouch.Mutation{BagID: lost.ID}, pouch.LossInput{Territory: "home",
		LastSeenAt: ptr(time.Now().Add(-time.Hour)), LastSeenPlace: "Astana airport"}, w.check(w.carrier)); err != nil {
		t.Fatal(err)
	}
	in := captain()
	in.BagID, in.SealScan = lost.ID, w.scan(ctx, lost.ID)
	reason(t, w.refused("release of a missing bag", valise.ECONFLICT, rel(w.carrier, in)), "bag_state")
}

// A carrier must be engaged for a freight leg on the bag's plan (DM-15);
// the destination registry then accepts from the carrier as from any bearer.
func TestCourierHandsBagToEngagedCarrier(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	w.maxBearerLevel("SECRET")
	plan, err := w.svc.CreatePlan(ctx, w.disp, pouch.PlanInput{Origin: "MFA", Destination: "DE-BER", Conveyance: "career_courier",
		PlannedDeparture: ptr(time.Now()), PlannedArrival: ptr(time.Now().Add(48 * time.Hour)),
		Legs: []pouch.Leg{{FromCity: "Astana", ToCity: "Frankfurt", Flight: "KC921"},
			{FromCity: "Frankfurt", ToCity: "Berlin", Conveyance: "freight", Carrier: "AIR-ASTANA"}}}, w.check(w.disp))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := w.svc.Submit(ctx, w.clerk, pouch.SubmissionInput{Sender: "MFA", Registry: "MFA", Destination: "DE-BER",
		ResponsiblePerson: "Head of Department", Items: []pouch.Item{{Kind: "correspondence", Level: policy.Secret,
			RegistryNumber: "REG-FR1", Count: 1, Description: "letter"}}}, w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.svc.CreateBag(ctx, w.disp, pouch.CreateBagInput{PlanID: plan.ID}, w.check(w.disp))
	if err != nil {
		t.Fatal(err)
	}
	if b, err = w.svc.Assemble(ctx, w.clerk, pouch.Mutation{BagID: b.ID}, []string{sub.ID}, w.check(w.clerk)); err != nil {
		t.Fatal(err)
	}
	if b, err = w.svc.Seal(ctx, w.clerk, pouch.Mutation{BagID: b.ID}, pouch.SealInput{Container: "sack", Packages: 1}, w.check(w.clerk)); err != nil {
		t.Fatal(err)
	}
	w.issue(b, "")
	if b, err = w.dispatchAs(ctx, w.clerk, pouch.Mutation{BagID: b.ID}); err != nil {
		t.Fatal(err)
	}
	in := pouch.BearerReleaseInput{BagID: b.ID, Kind: pouch.BearerCarrier, Name: "Unknown Logistics LLP", Document: "AWB 465-12345675",
		SealScan: w.scan(ctx, b.ID)}
	reason(t, w.refused("carrier not engaged on the plan", valise.ECONFLICT, func() error {
		_, err := w.svc.ReleaseToBearer(ctx, w.carrier, in, w.check(w.carrier))
		return err
	}), "carrier_not_engaged")
	in.Name = "air-astana"
	tr, err := w.svc.ReleaseToBearer(ctx, w.carrier, in, w.check(w.carrier))
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	_ = json.Unmarshal(tr.Event.Data, &data)
	if data["bearer_kind"] != "carrier" || !strings.Contains(data["engagement"].(string), "AIR-ASTANA") || tr.To.Document != "AWB 465-12345675" {
		t.Fatalf("carrier hand-over %+v %v", tr.To, data)
	}
	// The destination registry accepts from the carrier (Accept from a bearer).
	if _, rc, err := w.svc.Accept(ctx, w.berlin, pouch.Mutation{BagID: b.ID}, pouch.AcceptInput{SealScan: w.scan(ctx, b.ID)}, w.check(w.berlin)); err != nil || rc.IncidentID != "" {
		t.Fatalf("accept from the carrier: %+v %v", rc, err)
	}
	if ev, _ := w.lastEvent(b.ID); ev.Kind != "received_from_bearer" || ev.ToState != pouch.Accepted {
		t.Fatalf("last event %s → %s", ev.Kind, ev.ToState)
	}
}
