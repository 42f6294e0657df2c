package mobileapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"valise/custody"
	mobileapi "valise/mobile-api"
	"valise/mobile-api/client"
	"valise/pouch"
	"valise/tlog"
)

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }

func TestBundleOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.pairs[0]
	phone := e.phone(t, p.Second)

	b, etag, err := phone.Bundle(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Sheets) != 1 || len(b.Bags) != 1 || b.Bags[0].ID != p.BagID {
		t.Fatalf("bundle sheets %v bags %v: want the one bag of the courier's sheet", b.Sheets, b.Bags)
	}
	bag := b.Bags[0]
	if bag.Packages != 2 || !reflect.DeepEqual(bag.SealSerials, p.Physical) || !bag.Held || bag.Custodian != p.Second {
		t.Fatalf("bag in bundle: %+v", bag)
	}
	if !b.OfflineUntil.After(time.Now().Add(24*time.Hour)) || b.LogKey != phone.LogKey {
		t.Fatalf("offline_until %v, log key %q", b.OfflineUntil, b.LogKey)
	}
	// Unchanged: 304; the phone keeps its copy.
	if again, same, err := phone.Bundle(ctx, etag); err != nil || again != nil || same != etag {
		t.Fatalf("If-None-Match: %v %v %v", again, same, err)
	}
	// Offline: a seal of the bag verifies from the saved bundle alone; a
	// tampered one does not.
	cl, got, err := client.VerifySeal(b, phone.TrustRoot, p.Seals[0], time.Now())
	if err != nil || got.ID != p.BagID || cl.Package != 1 {
		t.Fatalf("verify seal offline: %v %+v %v", cl, got, err)
	}
	if _, _, err := client.VerifySeal(b, phone.TrustRoot, p.Seals[0][:len(p.Seals[0])-4]+"AAAA", time.Now()); err == nil {
		t.Fatal("a tampered seal verified")
	}
	// A bundle past its offline period is not used.
	if _, _, err := client.VerifySeal(b, phone.TrustRoot, p.Seals[0], b.OfflineUntil.Add(time.Minute)); err == nil {
		t.Fatal("a bundle past offline_until was used")
	}
	// Another pair's bag is not on this courier's sheets.
	if _, got, err := client.VerifySeal(b, phone.TrustRoot, e.pairs[1].Seals[0], time.Now()); err == nil || got != nil {
		t.Fatal("a bag off the courier's sheets passed")
	}
	// A release changes the bundle: new ETag, the open hand-off is shown.
	res, err := phone.Sync(ctx, []client.Record{phone.Sign(client.Payload{Kind: client.KindRelease, BagID: p.BagID, To: p.Courier})})
	if err != nil || res[0].Status != "accepted" {
		t.Fatalf("release: %+v %v", res, err)
	}
	b2, etag2, err := phone.Bundle(ctx, etag)
	if err != nil || b2 == nil || etag2 == etag || b2.Bags[0].Open == nil || b2.Bags[0].NextHolder != p.Courier {
		t.Fatalf("bundle after release: %+v %q %v", b2, etag2, err)
	}
}

// TestPhoneHandoff: a scan and a release signed on one phone, the
// confirmation on the receiver's phone, land as the same events as online
// ones; a re-sent batch changes nothing; receipts verify offline.
func TestPhoneHandoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.pairs[0]
	from, to := e.phone(t, p.Second), e.phone(t, p.Courier)

	batch := []client.Record{
		from.Sign(client.Payload{Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals, SealsIntact: boolp(true),
			Place: "FRA transit", Coordinates: &client.Coordinates{Lat: 50.03, Lon: 8.57}}),
		from.Sign(client.Payload{Kind: client.KindRelease, BagID: p.BagID, To: p.Courier, Place: "FRA gate B20"}),
	}
	res, err := from.Sync(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != "accepted" || r.EventID == 0 {
			t.Fatalf("record %d: %+v", r.Index, r)
		}
	}
	handoff := res[1].HandoffID
	if handoff == "" {
		t.Fatal("the release names no hand-off")
	}
	// Re-sending the batch changes nothing and answers the same.
	events := e.count(t, `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID)
	again, err := from.Sync(ctx, batch)
	if err != nil || !reflect.DeepEqual(withoutReceipts(again), withoutReceipts(res)) {
		t.Fatalf("re-sent batch: %+v (was %+v) %v", again, res, err)
	}
	if n := e.count(t, `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID); n != events {
		t.Fatalf("re-sending added events: %d → %d", events, n)
	}
	// Possession has not moved yet: the receiver confirms on their phone.
	if c, _ := pouch.CurrentCustodian(ctx, e.Pool, p.BagID); c.User != p.SecondID {
		t.Fatalf("custody moved on release: %v", c)
	}
	res, err = to.Sync(ctx, []client.Record{to.Sign(client.Payload{Kind: client.KindConfirm, HandoffID: handoff,
		Seals: p.Seals, PackagesCounted: intp(2), SealsIntact: boolp(true), Place: "FRA gate B20"})})
	if err != nil || res[0].Status != "accepted" || res[0].HandoffID != handoff {
		t.Fatalf("confirm: %+v %v", res, err)
	}
	// Online, one record at a time: the receipt comes at once.
	if v, err := client.VerifyReceipt(to.LogKey, res[0].Receipt); err != nil || v.Index != *res[0].LogIndex {
		t.Fatalf("the single record's receipt: %v", err)
	}
	if c, _ := pouch.CurrentCustodian(ctx, e.Pool, p.BagID); c.User != p.CourierID {
		t.Fatalf("custody after the phone hand-off: %v", c)
	}
	// The events are the pouch's own, with the device in the custody block.
	var kind, device string
	var counter int64
	if err := e.Pool.QueryRow(ctx, `SELECT kind, custody->'device'->>'id', (custody->'device'->>'counter')::bigint
		FROM bag_events WHERE id = $1`, res[0].EventID).Scan(&kind, &device, &counter); err != nil {
		t.Fatal(err)
	}
	if kind != "handoff_accepted" || device != to.DeviceID || counter != 1 {
		t.Fatalf("accepted event: %s device %s counter %d", kind, device, counter)
	}
	// Once the log has integrated them, a re-send carries receipts that
	// verify offline with the log key from the bundle.
	if _, err := e.log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	again, err = from.Sync(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again {
		if r.Receipt == "" || r.LogIndex == nil {
			t.Fatalf("no receipt after integration: %+v", r)
		}
		v, err := client.VerifyReceipt(from.LogKey, r.Receipt)
		if err != nil || v.Index != *r.LogIndex || !strings.Contains(string(v.Extra), from.DeviceID) {
			t.Fatalf("receipt does not verify offline: %v %+v", err, v)
		}
	}
}

// forge signs payload p as is with phone c's key (no chain bookkeeping).
func forge(t *testing.T, c *client.Client, p client.Payload) client.Record {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return c.SignRaw(b)
}

func TestSyncAttacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p, other := e.pairs[0], e.pairs[1]
	phone, thief := e.phone(t, p.Second), e.phone(t, other.Second)
	receiver := e.phone(t, p.Courier)
	scan := func(c *client.Client) client.Payload {
		return client.Payload{Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals, Place: "ALA"}
	}

	// Malformed records mixed with good ones: the good ones land, each bad
	// one gets its reason.
	good1 := phone.Sign(scan(phone))
	badPayload := client.Record{Payload: "bm90IGpzb24=", Signature: good1.Signature} // "not json"
	good2 := phone.Sign(scan(phone))
	notBase64 := client.Record{Payload: "%%%", Signature: "%%%"}
	// A record signed by another device, naming this one.
	h := sha256.Sum256([]byte("x"))
	stolen := forge(t, thief, client.Payload{DeviceID: phone.DeviceID, Counter: 3, Prev: hex.EncodeToString(h[:]),
		IdempotencyKey: "stolen-1", Kind: client.KindScan, BagID: p.BagID, DeviceTime: time.Now()})
	res, err := phone.Sync(ctx, []client.Record{good1, badPayload, good2, notBase64, stolen})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"accepted", "malformed", "accepted", "malformed", "bad_signature"}
	for i, r := range res {
		if got := r.Status; (want[i] == "accepted") != (got == "accepted") || (got != "accepted" && r.Reason != want[i]) {
			t.Fatalf("record %d: %+v, want %s", i, r, want[i])
		}
	}
	if n := e.count(t, `SELECT count(*) FROM bag_events WHERE custody->'device'->>'id' = $1`, phone.DeviceID); n != 2 {
		t.Fatalf("%d events from the phone, want the 2 good scans", n)
	}

	// A replayed record (same bytes): the same answer, nothing new.
	again, err := phone.Sync(ctx, []client.Record{good1})
	if err != nil || again[0].EventID != res[0].EventID {
		t.Fatalf("replay: %+v %v", again, err)
	}
	// A counter that goes backwards (a new record reusing counter 1):
	// refused, and an incident for security officers.
	zero := strings.Repeat("0", 64)
	back := forge(t, phone, client.Payload{DeviceID: phone.DeviceID, Counter: 1, Prev: zero, IdempotencyKey: "back-1",
		Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals, DeviceTime: time.Now()})
	// A forged chain link: the next counter but not the previous record's hash.
	forged := forge(t, phone, client.Payload{DeviceID: phone.DeviceID, Counter: 3, Prev: zero, IdempotencyKey: "forged-3",
		Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals, DeviceTime: time.Now()})
	res, err = phone.Sync(ctx, []client.Record{back, forged})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Reason != "counter_not_increasing" || res[0].IncidentID == "" || res[1].Reason != "chain_broken" || res[1].IncidentID == "" {
		t.Fatalf("counter backwards / forged link: %+v", res)
	}
	// Re-sending them opens no second incident.
	incidents := e.count(t, `SELECT count(*) FROM incidents WHERE bag_id = $1`, p.BagID)
	if again, err := phone.Sync(ctx, []client.Record{back, forged}); err != nil || !reflect.DeepEqual(again, res) {
		t.Fatalf("re-sent refusals: %+v %v", again, err)
	}
	if n := e.count(t, `SELECT count(*) FROM incidents WHERE bag_id = $1`, p.BagID); n != incidents {
		t.Fatalf("re-sending refusals opened incidents: %d → %d", incidents, n)
	}

	// A bag not on the courier's sheet; a hand-off from a courier who is
	// not the custodian; a release that the pouch refuses for its own rule.
	res, err = phone.Sync(ctx, []client.Record{
		phone.Sign(client.Payload{Kind: client.KindScan, BagID: other.BagID, Seals: other.Seals}),
		receiver.Sign(client.Payload{Kind: client.KindRelease, BagID: p.BagID, To: p.Second}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Reason != "bag_not_on_sheet" || res[1].Reason != "wrong_device" {
		t.Fatalf("off-sheet / other device's record: %+v", res)
	}
	res, err = receiver.Sync(ctx, []client.Record{receiver.Sign(client.Payload{Kind: client.KindRelease, BagID: p.BagID, To: p.Second})})
	if err != nil || res[0].Reason != "not_custodian" {
		t.Fatalf("hand-off from a non-custodian: %+v %v", res, err)
	}
	// A signed record with a bad action is refused but keeps its place in
	// the chain; the phone's chain goes on after every refused record.
	res, err = phone.Sync(ctx, []client.Record{phone.Sign(client.Payload{Kind: "checkpoint", BagID: p.BagID}), phone.Sign(scan(phone))})
	if err != nil || res[0].Reason != "malformed" || res[1].Status != "accepted" || len(res[1].Flags) != 0 {
		t.Fatalf("bad action, then the next good record: %+v %v", res, err)
	}

	// A gap in the counter: accepted as far as consistent, flagged, and an incident.
	gap := forge(t, phone, client.Payload{DeviceID: phone.DeviceID, Counter: 9, Prev: zero, IdempotencyKey: "gap-9",
		Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals, DeviceTime: time.Now()})
	// A device clock far ahead of the server: flagged, never trusted.
	ahead := client.Payload{DeviceID: phone.DeviceID, Counter: 10, IdempotencyKey: "ahead-10",
		Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals, DeviceTime: time.Now().Add(3 * time.Hour)}
	gb, _ := json.Marshal(gapPayload(t, gap))
	s := sha256.Sum256(gb)
	ahead.Prev = hex.EncodeToString(s[:])
	res, err = phone.Sync(ctx, []client.Record{gap, forge(t, phone, ahead)})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != "accepted" || fmt.Sprint(res[0].Flags) != "[counter_gap]" || res[0].IncidentID == "" {
		t.Fatalf("gap: %+v", res[0])
	}
	if res[1].Status != "accepted" || fmt.Sprint(res[1].Flags) != "[device_clock_ahead]" {
		t.Fatalf("clock ahead: %+v", res[1])
	}
	var occurred time.Time
	if err := e.Pool.QueryRow(ctx, `SELECT occurred_at FROM bag_events WHERE id = $1`, res[1].EventID).Scan(&occurred); err != nil {
		t.Fatal(err)
	}
	if occurred.After(time.Now().Add(time.Hour)) {
		t.Fatal("the flagged device time became the event's time")
	}

	// A batch over the limit is refused whole.
	big := make([]client.Record, client.MaxBatch+1)
	for i := range big {
		big[i] = good1
	}
	_, err = phone.Sync(ctx, big)
	problem(t, err, 413, "batch_too_large")
	// Every refused record is logged with its reason.
	if !containsAll(e.Logs(), "sync record refused", "bad_signature", "chain_broken", "bag_not_on_sheet") {
		t.Fatal("refused records are not logged")
	}
}

// gapPayload decodes a forged record's payload back (to chain on it).
func gapPayload(t *testing.T, r client.Record) json.RawMessage {
	t.Helper()
	b, err := base64Std(r.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func base64Std(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// TestPhoneToPhoneHandoff: the releasing phone's signed release is shown as
// a QR code; the receiving phone's confirmation embeds it (both
// signatures). Whichever phone syncs first lands both, release then
// confirmation; the other phone's later sync changes nothing and its chain
// goes on.
func TestPhoneToPhoneHandoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for i, receiverFirst := range []bool{true, false} {
		p := e.pairs[i]
		from, to := e.phone(t, p.Second), e.phone(t, p.Courier)
		// A scan synced earlier; then offline, at the gate, the release shown as a QR code.
		if res, err := from.Sync(ctx, []client.Record{from.Sign(client.Payload{Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals})}); err != nil || res[0].Status != "accepted" {
			t.Fatalf("scan: %+v %v", res, err)
		}
		release := from.Sign(client.Payload{Kind: client.KindRelease, BagID: p.BagID, To: p.Courier, Place: "ALA gate 3"})
		shown, err := client.ParseRecordQR(client.RecordQR(release))
		if err != nil {
			t.Fatal(err)
		}
		confirm := to.Sign(client.Payload{Kind: client.KindConfirm, Release: &shown, Seals: p.Seals,
			PackagesCounted: intp(2), SealsIntact: boolp(true), Place: "ALA gate 3"})
		var got []client.Result
		if receiverFirst {
			got, err = to.Sync(ctx, []client.Record{confirm})
			if err != nil || got[0].Status != "accepted" {
				t.Fatalf("receiver syncs first: %+v %v", got, err)
			}
			got, err = from.Sync(ctx, []client.Record{release})
		} else {
			if got, err = from.Sync(ctx, []client.Record{release}); err == nil {
				got, err = to.Sync(ctx, []client.Record{confirm})
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			if r.Status != "accepted" {
				t.Fatalf("receiver first %v: %+v", receiverFirst, got)
			}
		}
		if c, _ := pouch.CurrentCustodian(ctx, e.Pool, p.BagID); c.User != p.CourierID {
			t.Fatalf("receiver first %v: custodian %v", receiverFirst, c)
		}
		// One release and one acceptance, each carrying its own phone.
		rows, err := e.Pool.Query(ctx, `SELECT kind, custody->'device'->>'id' FROM bag_events
			WHERE bag_id = $1 AND kind LIKE 'handoff_%' ORDER BY id`, p.BagID)
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for rows.Next() {
			var kind, dev string
			if err := rows.Scan(&kind, &dev); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, kind+"@"+dev)
		}
		if want := []string{"handoff_released@" + from.DeviceID, "handoff_accepted@" + to.DeviceID}; !reflect.DeepEqual(seen, want) {
			t.Fatalf("receiver first %v: events %v, want %v", receiverFirst, seen, want)
		}
		// The releasing phone's chain goes on from its release.
		res, err := from.Sync(ctx, []client.Record{from.Sign(client.Payload{Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals})})
		if err != nil || res[0].Reason != "not_custodian" || len(res[0].Flags) != 0 {
			t.Fatalf("next record of the releasing phone: %+v %v", res, err)
		}
	}
	// A release not addressed to the confirming courier is refused.
	p := e.pairs[0]
	from, other := e.phone(t, p.Courier), e.phone(t, e.pairs[1].Courier)
	rel := from.Sign(client.Payload{Kind: client.KindRelease, BagID: p.BagID, To: p.Second})
	res, err := other.Sync(ctx, []client.Record{other.Sign(client.Payload{Kind: client.KindConfirm, Release: &rel, Seals: p.Seals, PackagesCounted: intp(2)})})
	if err != nil || res[0].Reason != "not_receiver" {
		t.Fatalf("a release to someone else: %+v %v", res, err)
	}
	// A release the custody rules refuse (its phone's courier no longer
	// holds the bag) refuses the confirmation that embeds it; the releasing
	// phone later gets the same refusal and its chain goes on.
	q := e.pairs[1]
	notHolder := e.phone(t, q.Second)
	rel2 := notHolder.Sign(client.Payload{Kind: client.KindRelease, BagID: q.BagID, To: q.Courier})
	res, err = other.Sync(ctx, []client.Record{other.Sign(client.Payload{Kind: client.KindConfirm, Release: &rel2, Seals: q.Seals, PackagesCounted: intp(2)})})
	if err != nil || res[0].Reason != "release_refused" {
		t.Fatalf("confirming a refused release: %+v %v", res, err)
	}
	res, err = notHolder.Sync(ctx, []client.Record{rel2, notHolder.Sign(client.Payload{Kind: client.KindScan, BagID: q.BagID, Seals: q.Seals})})
	if err != nil || res[0].Reason != "not_custodian" || res[1].Reason != "not_custodian" || len(res[1].Flags) != 0 {
		t.Fatalf("the releasing phone's sync: %+v %v", res, err)
	}
}

// withoutReceipts: results as stored (receipts come once the log has
// integrated the events, whenever that is).
func withoutReceipts(rs []client.Result) []client.Result {
	out := make([]client.Result, len(rs))
	for i, r := range rs {
		r.Receipt, r.LogIndex = "", nil
		out[i] = r
	}
	return out
}

// TestPhoneCancelAndDelivery: the custodian's phone withdraws an
// unconfirmed release (by the bag's open hand-off), then releases the bag to
// the destination registry: the bag is delivered, as online.
func TestPhoneCancelAndDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.pairs[0]
	phone := e.phone(t, p.Second)
	res, err := phone.Sync(ctx, []client.Record{
		phone.Sign(client.Payload{Kind: client.KindRelease, BagID: p.BagID, To: p.Courier}),
		phone.Sign(client.Payload{Kind: client.KindCancel, BagID: p.BagID, Note: "flight cancelled"}),
		phone.Sign(client.Payload{Kind: client.KindCancel, BagID: p.BagID}),
		phone.Sign(client.Payload{Kind: client.KindRelease, BagID: p.BagID, ToUnit: "DE-BER", Place: "Berlin embassy"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != "accepted" || res[1].Status != "accepted" || res[1].HandoffID != res[0].HandoffID || res[1].EventID == 0 {
		t.Fatalf("release and cancel: %+v", res[:2])
	}
	if res[2].Reason != "no_open_handoff" {
		t.Fatalf("a second cancel: %+v", res[2])
	}
	if res[3].Status != "accepted" {
		t.Fatalf("delivery: %+v", res[3])
	}
	var state, kind string
	if err := e.Pool.QueryRow(ctx, `SELECT b.state, h.purpose FROM bags b JOIN handoffs h ON h.bag_id = b.id AND h.status = 'released'
		WHERE b.id = $1`, p.BagID).Scan(&state, &kind); err != nil {
		t.Fatal(err)
	}
	if state != "delivered" || kind != "delivery" {
		t.Fatalf("after the phone's delivery: state %s, purpose %s", state, kind)
	}
}

// TestSyncBatchOfScans: a batch of checkpoint scans is recorded together
// (pouch.ScanMany) but answered record by record: a forged signature and a
// scan with another bag's seals (a failed seal check: an incident) among
// good scans change nothing for the good ones (the forged one leaves a
// gap: an incident, as does the seal check); every event chains to the one
// before it; re-sending the batch answers the same and records nothing.
func TestSyncBatchOfScans(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.pairs[0]
	phone := e.phone(t, p.Second)
	batch := make([]client.Record, 12)
	for i := range batch {
		seals := p.Seals
		if i == 7 {
			seals = e.pairs[1].Seals
		}
		batch[i] = phone.Sign(client.Payload{Kind: client.KindScan, BagID: p.BagID, Seals: seals, SealsIntact: boolp(true),
			Place: fmt.Sprint("checkpoint ", i)})
	}
	batch[4].Signature = batch[3].Signature
	res, err := phone.Sync(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	events := map[int64]bool{}
	for i, r := range res {
		switch {
		case i == 4:
			if r.Status != "refused" || r.Reason != mobileapi.ReasonBadSignature {
				t.Errorf("forged record: %+v", r)
			}
		case r.Status != "accepted" || r.EventID == 0 || events[r.EventID]:
			t.Errorf("record %d: %+v", i, r)
		}
		events[r.EventID] = true
	}
	// The forged record leaves a gap in the chain before record 5.
	if n := e.count(t, `SELECT count(*) FROM incidents WHERE bag_id = $1`, p.BagID); n != 2 {
		t.Errorf("%d incidents on the bag, want two: the failed seal check's and the counter gap's", n)
	}
	n := e.count(t, `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID)
	again, err := phone.Sync(ctx, batch)
	if err != nil || !reflect.DeepEqual(withoutReceipts(again), withoutReceipts(res)) {
		t.Fatalf("re-sent batch: %+v (was %+v) %v", again, res, err)
	}
	if m := e.count(t, `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID); m != n {
		t.Fatalf("re-sending added events: %d → %d", n, m)
	}
	if r, err := custody.AuditChains(ctx, e.Pool); err != nil || !r.OK() {
		t.Fatalf("chain audit: %+v %v", r.Problem, err)
	}
	// The run's events were written by one statement (pouch.QueueEvents):
	// the log audit regenerates each one's leaf from its row and finds the
	// hash the log holds, in the tree the checkpoint signs.
	if _, err := e.log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := tlog.AuditWith(ctx, e.Pool, e.key.Verifier, tlog.AuditOptions{Leaves: pouch.LeafSource}); err != nil || !r.OK() || r.Leaves < 10 {
		t.Fatalf("log audit: %+v %v", r, err)
	}
}
