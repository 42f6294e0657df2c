package mobileapi_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"valise/mobile-api/client"
	"valise/pouch"
)

// TestPhoneBearerHandOvers: the custodian's phone records handing the bag
// to an aircraft captain without an account (a signed offline record;
// custody moves at once, one-sided), and the other courier's phone records
// taking it back with a failed seal check (custody moves, a breach
// incident opens). Refusals come with the pouch's reasons; a re-sent batch
// answers the same and records nothing.
func TestPhoneBearerHandOvers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.pairs[0]
	holder, other := e.phone(t, p.Second), e.phone(t, p.Courier)
	captain := func(ph *client.Client, edit func(*client.Payload)) client.Record {
		pl := client.Payload{Kind: client.KindBearerRelease, BagID: p.BagID, BearerKind: client.BearerCaptain,
			BearerName: "Nurlan Captain", BearerDocument: "KZ passport N777", Seals: p.Seals, PackagesCounted: intp(2),
			SealsIntact: boolp(true), Place: "FRA gate B44"}
		if edit != nil {
			edit(&pl)
		}
		return ph.Sign(pl)
	}

	// The bench's bag is SECRET: above bearer.max_level (UNCLASSIFIED).
	res, err := holder.Sync(ctx, []client.Record{captain(holder, nil)})
	if err != nil || res[0].Status != "refused" || res[0].Reason != "receiver_clearance" {
		t.Fatalf("captain above bearer.max_level: %+v %v", res, err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE custody_settings SET value = 'SECRET' WHERE key = 'bearer.max_level'`); err != nil {
		t.Fatal(err)
	}
	events := e.count(t, `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID)
	batch := []client.Record{
		captain(holder, func(pl *client.Payload) { pl.BearerDocument = "" }),
		captain(holder, func(pl *client.Payload) { pl.BearerKind, pl.BearerName = client.BearerCarrier, "Unknown Logistics LLP" }),
		holder.Sign(client.Payload{Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals, BearerName: "X"}),
		captain(holder, nil),
		captain(holder, nil), // the captain holds it now
	}
	res, err = holder.Sync(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"invalid", "carrier_not_engaged", "malformed", "", "not_custodian"} {
		if res[i].Reason != want || (want == "") != (res[i].Status == "accepted") {
			t.Fatalf("record %d: %+v, want reason %q", i, res[i], want)
		}
	}
	if !strings.Contains(res[0].Detail, "document") {
		t.Fatalf("the refusal does not name the document: %+v", res[0])
	}
	if n := e.count(t, `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID); n != events+1 {
		t.Fatalf("events %d → %d: only the accepted record adds one", events, n)
	}
	c, _ := pouch.CurrentCustodian(ctx, e.Pool, p.BagID)
	if c.Kind != pouch.CustodianBearer || c.Name != "Nurlan Captain" || c.Document != "KZ passport N777" {
		t.Fatalf("custodian after the phone's hand-over to the captain: %+v", c)
	}
	var kind, transfer, device string
	if err := e.Pool.QueryRow(ctx, `SELECT kind, custody->>'transfer', custody->'device'->>'id' FROM bag_events WHERE id = $1`,
		res[3].EventID).Scan(&kind, &transfer, &device); err != nil {
		t.Fatal(err)
	}
	if kind != "released_to_bearer" || transfer != pouch.TransferOneSided || device != holder.DeviceID {
		t.Fatalf("event %s transfer %s device %s", kind, transfer, device)
	}

	// The other courier's phone takes it back; a seal reported broken opens a breach incident.
	receipt := []client.Record{
		other.Sign(client.Payload{Kind: client.KindBearerReceipt, BagID: p.BagID, Seals: p.Seals, SealsIntact: boolp(true)}),
		other.Sign(client.Payload{Kind: client.KindBearerReceipt, BagID: p.BagID, Seals: p.Seals, PackagesCounted: intp(2),
			SealsIntact: boolp(false), Place: "BER apron", Note: "tape lifted"}),
		other.Sign(client.Payload{Kind: client.KindBearerReceipt, BagID: p.BagID, Seals: p.Seals, PackagesCounted: intp(2), SealsIntact: boolp(true)}),
	}
	res, err = other.Sync(ctx, receipt)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Reason != "invalid" || !strings.Contains(res[0].Detail, "packages_counted") {
		t.Fatalf("receipt without a count: %+v", res[0])
	}
	if res[1].Status != "accepted" || res[1].EventID == 0 || res[1].IncidentID == "" {
		t.Fatalf("receipt with a broken seal: %+v", res[1])
	}
	if res[2].Reason != "not_with_bearer" {
		t.Fatalf("a second receipt: %+v", res[2])
	}
	if c, _ := pouch.CurrentCustodian(ctx, e.Pool, p.BagID); c.User != p.CourierID {
		t.Fatalf("custodian after the receipt: %+v", c)
	}
	if n := e.count(t, `SELECT count(*) FROM incidents WHERE id = $1 AND bag_id = $2 AND class = 'breach'`, res[1].IncidentID, p.BagID); n != 1 {
		t.Fatalf("breach incident: %d", n)
	}
	// Re-sent: the same answers, nothing recorded.
	events = e.count(t, `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID)
	again, err := other.Sync(ctx, receipt)
	if err != nil || !reflect.DeepEqual(withoutReceipts(again), withoutReceipts(res)) {
		t.Fatalf("re-sent: %+v (was %+v) %v", again, res, err)
	}
	if n := e.count(t, `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID); n != events {
		t.Fatalf("re-sending added events: %d → %d", events, n)
	}
}
