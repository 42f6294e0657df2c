package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"valise/personnel/personneltest"

	"valise/identity"
	"valise/policy"
)

// The stage × actor × unit matrix of issue 9 (law-digest §1.4, DM-01,
// DM-03, DM-05, DM-06, DM-15, DM-17, DM-18), cell by cell, through the API
// against the real policy: every refused cell answers a problem and changes
// nothing (e.refused compares bags, bag_custody, bag_events, handoffs and the
// rest before and after); every allowed cell moves the bag as the law says.

// newMatrixEnv is a mailEnv with the extra actors of the matrix: a second career
// courier, a career courier of MFA's courier service (a sub-unit of MFA), a
// RESTRICTED career courier, the Tokyo registry (off the MFA → DE-BER route),
// a second Berlin clerk, a Berlin dispatcher and an engaged carrier unit.
func newMatrixEnv(t *testing.T) *mailEnv {
	e := newMailEnv(t)
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `INSERT INTO units (code, name, kind, country, parent_id)
		SELECT 'MFA-DCS', 'Diplomatic Courier Service', 'department', 'KZ', id FROM units WHERE code = 'MFA'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO units (code, name, kind, country) VALUES ('AIR-ASTANA', 'Air Astana Cargo', 'carrier', 'KZ')`); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name, unit, role, kind string
		lvl                    policy.Level
	}{
		{"courier2", "MFA", policy.RoleCourier, policy.CourierCareer, policy.TopSecret},
		{"dcs", "MFA-DCS", policy.RoleCourier, policy.CourierCareer, policy.TopSecret},
		{"lowcourier", "MFA", policy.RoleCourier, policy.CourierCareer, policy.Restricted},
		{"tokyo", "JP-TYO", policy.RoleRegistryClerk, "", policy.TopSecret},
		{"berlin2", "DE-BER", policy.RoleRegistryClerk, "", policy.TopSecret},
		{"berdisp", "DE-BER", policy.RoleDispatcher, "", policy.TopSecret},
	} {
		usr, err := e.srv.Identity().CreateUser(ctx, identity.UserInput{Username: u.name, FullName: u.name, Unit: u.unit,
			Roles: []string{u.role}, Clearance: u.lvl, CourierKind: u.kind, Password: "correct horse battery"})
		if err != nil {
			t.Fatalf("create %s: %v", u.name, err)
		}
		tok, err := e.srv.Identity().Login(ctx, u.name, "correct horse battery", "127.0.0.1")
		if err != nil {
			t.Fatalf("login %s: %v", u.name, err)
		}
		e.tokens[u.name], e.ids[u.name] = tok.AccessToken, usr.ID
		if u.kind == policy.CourierCareer { // a career courier's staff record, position and passport (issue 15)
			if _, err := personneltest.CareerCourier(ctx, e.pool, usr.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

// sheet issues (as the MFA clerk) a courier sheet of conveyance for bag:
// who is the courier's username (career or ad hoc), or the bearer's name
// (aircraft captain, freight).
func (e *mailEnv) sheet(bagID, conveyance, who string) string {
	e.t.Helper()
	return e.must(201, "clerk", "POST", "/api/v1/sheets", e.sheetBody(bagID, conveyance, who))["id"].(string)
}

// sheetBody is the request that issues that sheet.
func (e *mailEnv) sheetBody(bagID, conveyance, who string) map[string]any {
	e.t.Helper()
	in := map[string]any{"issuer": "MFA", "conveyance": conveyance, "bag_ids": []string{bagID}, "valid_until": time.Now().Add(72 * time.Hour)}
	switch conveyance {
	case "career_courier":
		in["courier_id"] = e.courierFor(who, "career")
	case "ad_hoc_courier":
		in["courier_id"] = e.courierFor(who, "ad_hoc")
	default:
		in["bearer_name"] = who
	}
	return in
}

// transitSheet puts a bag already out of the registry on a second issued
// sheet naming user, valid now, by SQL: the API issues sheets for sealed
// bags only (see the report of this suite), so a courier who takes the bag
// over in transit gets their sheet the way custodytest's fixture does.
func (e *mailEnv) transitSheet(bagID, user string) string {
	e.t.Helper()
	cid := e.courierFor(user, "career")
	var id string
	err := e.pool.QueryRow(context.Background(), `
		WITH s AS (INSERT INTO courier_sheets (number, issuer_id, conveyance, courier_id, bearer_name, route_codes,
		               package_count, valid_from, valid_until, status, issued_by)
		           SELECT 'CS-T-' || gen_random_uuid(), u.id, 'career_courier', $3, $2, b.route_codes, b.package_count,
		                  now() - interval '1 hour', now() + interval '3 days', 'issued', 'test'
		           FROM units u, bags b WHERE u.code = 'MFA' AND b.id = $1 RETURNING id, package_count)
		INSERT INTO courier_sheet_bags (sheet_id, bag_id, packages) SELECT s.id, $1, s.package_count FROM s RETURNING sheet_id`,
		bagID, user, cid).Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// release is the dispatch stage's first signature: the MFA clerk releases
// the sealed bag to the courier on its sheet; it returns the hand-off's id.
func (e *mailEnv) release(bagID string) string {
	e.t.Helper()
	return e.must(200, "clerk", "POST", "/api/v1/bags/"+bagID+"/dispatch", nil)["handoff"].(map[string]any)["id"].(string)
}

// onTheRoad is a fresh sealed bag on a sheet naming courier1, dispatched:
// courier1 holds it.
func (e *mailEnv) onTheRoad() string {
	e.t.Helper()
	b := e.mailBag(mailBagSpec{})
	e.sheet(b.ID, "career_courier", "courier1")
	e.dispatch(b.ID)
	return b.ID
}

// delivered is a fresh bag courier1 has delivered to DE-BER (its release to
// the registry is open); it returns the bag and the hand-off.
func (e *mailEnv) delivered() (bagID, handoffID string) {
	e.t.Helper()
	id := e.onTheRoad()
	out := e.must(200, "courier1", "POST", "/api/v1/bags/"+id+"/deliver", nil)
	return id, out["handoff"].(map[string]any)["id"].(string)
}

// holder reads a bag's state and custodian (as the security officer).
func (e *mailEnv) holder(bagID string) (state string, custodian map[string]any) {
	e.t.Helper()
	b := bagOf(e.must(200, "sec", "GET", "/api/v1/bags/"+bagID, nil))
	return b["state"].(string), b["custodian"].(map[string]any)
}

// wantHolder fails unless the bag is in state, held by a custodian whose
// fields include want (e.g. kind registry, unit DE-BER).
func (e *mailEnv) wantHolder(bagID, state string, want map[string]any) {
	e.t.Helper()
	s, c := e.holder(bagID)
	for k, v := range want {
		if fmt.Sprint(c[k]) != fmt.Sprint(v) {
			e.t.Fatalf("bag %s is %s held by %v, want %s held by %v", bagID, s, c, state, want)
		}
	}
	if s != state {
		e.t.Fatalf("bag %s is %s held by %v, want %s", bagID, s, c, state)
	}
}

// historyReplays fails unless every bag's history is one chain: each event
// starts from the state and custodian the one before it left, and the last
// one is what bags and bag_custody say now.
func (e *mailEnv) historyReplays() {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `
		WITH ev AS (SELECT bag_id, id, kind, from_state, to_state, custodian_before, custodian_after,
		                   lag(to_state) OVER w AS prev_state, lag(custodian_after) OVER w AS prev_custodian,
		                   row_number() OVER w AS n, count(*) OVER (PARTITION BY bag_id) AS total
		            FROM bag_events WINDOW w AS (PARTITION BY bag_id ORDER BY id))
		SELECT ev.bag_id::text, ev.id, ev.kind FROM ev JOIN bags b ON b.id = ev.bag_id JOIN bag_custody c ON c.bag_id = ev.bag_id
		WHERE (n > 1 AND (from_state IS DISTINCT FROM prev_state OR custodian_before IS DISTINCT FROM prev_custodian))
		   OR (n = total AND (to_state IS DISTINCT FROM b.state OR custodian_after->>'kind' IS DISTINCT FROM c.custodian_kind
		       OR coalesce(custodian_after->>'unit', '') IS DISTINCT FROM c.custodian_unit
		       OR custodian_after->>'user' IS DISTINCT FROM c.custodian_user::text
		       OR custodian_after->>'name' IS DISTINCT FROM c.bearer_name))`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var bag, kind string
		var id int64
		if err := rows.Scan(&bag, &id, &kind); err != nil {
			e.t.Fatal(err)
		}
		e.t.Errorf("bag %s: event %d (%s) does not follow from the one before it, or is not the bag's current state and custodian", bag, id, kind)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
}

// cell is one refused cell of the matrix: user's request must answer status
// with a problem (whose reason is reason, when given) and change nothing.
type cell struct {
	name         string
	user         string
	method, path string
	body         any
	status       int
	reason       string
}

// handTo is the cell of user releasing bag to the username to.
func handTo(name, user, bag, to string, status int, reason string) cell {
	return cell{name: name, user: user, path: "/api/v1/custody/handoffs", body: map[string]any{"bag_id": bag, "to": to}, status: status, reason: reason}
}

func (e *mailEnv) refuseAll(t *testing.T, cells []cell) {
	t.Helper()
	for _, c := range cells {
		method := c.method
		if method == "" {
			method = "POST"
		}
		p := e.refused(c.status, c.user, method, c.path, c.body)
		if c.reason != "" && p["reason"] != c.reason {
			t.Errorf("%s: refused with reason %v, want %s: %v", c.name, p["reason"], c.reason, p)
		}
	}
}

// Bodies of the registry stages: a clean receipt, a storage, a formalisation.
var (
	intact    = map[string]any{"packages_counted": 2, "seals_intact": true}
	storeBody = map[string]any{"place": "Safe 1", "custodian": "duty officer"}
	sealBody  = map[string]any{"container": "suitcase", "packages": 1}
)

// stageBags is one fresh bag at each registry stage of MFA → DE-BER: planned
// (its submission waiting), assembling, sealed on a sheet naming courier1,
// delivered to DE-BER by courier1 (the release open), accepted by DE-BER.
type stageBags struct {
	planned, assembling                          mailBagOut
	sealed, delivered, deliveryHandoff, accepted string
}

func (e *mailEnv) everyStage() stageBags {
	e.t.Helper()
	s := stageBags{planned: e.mailBag(mailBagSpec{State: "planned"}), assembling: e.mailBag(mailBagSpec{State: "assembling"}),
		sealed: e.mailBag(mailBagSpec{}).ID}
	e.sheet(s.sealed, "career_courier", "courier1")
	s.delivered, s.deliveryHandoff = e.delivered()
	s.accepted, _ = e.delivered()
	e.must(200, "berlin", "POST", "/api/v1/bags/"+s.accepted+"/accept", intact)
	return s
}

func TestStageMatrixRegistryUnits(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	st := e.everyStage()
	planned, assembling, sealed, delivered, dh, accepted := st.planned, st.assembling, st.sealed, st.delivered, st.deliveryHandoff, st.accepted
	bags := "/api/v1/bags/"
	store, seal := storeBody, sealBody

	e.refuseAll(t, []cell{
		// Only the origin registry assembles, seals and sends (DM-17).
		{name: "destination assembles an origin bag", user: "berlin", path: bags + planned.ID + "/assemble",
			body: map[string]any{"submission_ids": []string{planned.Submission}}, status: 403},
		{name: "destination seals an origin bag", user: "berlin", path: bags + assembling.ID + "/seal", body: seal, status: 403},
		{name: "destination dispatches an origin bag", user: "berlin", path: bags + sealed + "/dispatch", status: 403},
		handTo("destination releases an origin bag", "berlin", sealed, "courier1", 409, "not_custodian"),
		// Only the origin (or the ministry) plans.
		{name: "destination plans an origin bag", user: "berdisp", path: "/api/v1/bags",
			body: map[string]any{"origin": "MFA", "destination": "DE-BER"}, status: 403},
		// Only the destination (or a relay) accepts, only the holder stores.
		{name: "origin accepts at the destination", user: "clerk", path: bags + delivered + "/accept", body: intact, status: 403, reason: "not_receiver"},
		{name: "origin confirms the delivery to the destination", user: "clerk", path: "/api/v1/custody/handoffs/" + dh + "/accept",
			body: intact, status: 403, reason: "not_receiver"},
		{name: "origin stores at the destination", user: "clerk", path: bags + accepted + "/store", body: store, status: 403},
		{name: "origin dispatches a bag the destination holds", user: "clerk", path: bags + accepted + "/dispatch", status: 403},
		{name: "destination stores a bag the courier still holds", user: "berlin", path: bags + delivered + "/store", body: store, status: 403},
		// The destination does not send on what was addressed to it (only a relay does, 7-1(9)(1)).
		{name: "destination dispatches a bag addressed to it", user: "berlin", path: bags + accepted + "/dispatch", status: 409, reason: "bag_state"},
		handTo("destination releases a bag addressed to it", "berlin", accepted, "courier1", 409, "bag_state"),
		// A registry off the route does not learn the bag exists.
		{name: "off-route registry dispatches", user: "tokyo", path: bags + sealed + "/dispatch", status: 404},
		{name: "off-route registry accepts", user: "tokyo", path: bags + delivered + "/accept", body: intact, status: 404},
		{name: "off-route registry confirms", user: "tokyo", path: "/api/v1/custody/handoffs/" + dh + "/accept", body: intact, status: 404},
		{name: "off-route registry stores", user: "tokyo", path: bags + accepted + "/store", body: store, status: 404},
		// A destination clerk cleared below the bag's level does not see it either.
		{name: "destination clerk cleared below accepts", user: "lowber", path: bags + delivered + "/accept", body: intact, status: 404},
	})

	// Allowed: the origin assembles, seals and dispatches; the destination accepts and stores.
	e.must(200, "clerk", "POST", bags+planned.ID+"/assemble", map[string]any{"submission_ids": []string{planned.Submission}})
	e.must(200, "clerk", "POST", bags+assembling.ID+"/seal", seal)
	e.dispatch(sealed)
	e.wantHolder(sealed, "dispatched", map[string]any{"kind": "person", "username": "courier1"})
	out := e.must(200, "berlin", "POST", bags+delivered+"/accept", intact)
	if rc := out["receipt"].(map[string]any); rc["incident_id"] != nil || rc["accepted_by"] != "berlin" {
		t.Fatalf("receipt %v", rc)
	}
	e.wantHolder(delivered, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})
	e.must(200, "berlin", "POST", bags+accepted+"/store", store)
	e.wantHolder(accepted, "stored", map[string]any{"kind": "registry", "unit": "DE-BER"})
	// Either end plans its own outgoing mail; the ministry plans for every route.
	e.must(201, "berdisp", "POST", "/api/v1/bags", map[string]any{"origin": "DE-BER", "destination": "MFA"})
	e.must(201, "disp", "POST", "/api/v1/bags", map[string]any{"origin": "DE-BER", "destination": "MFA"})
	e.historyReplays()
}

// TestStageMatrixRelay: a relay registry on the plan accepts, stores and
// sends MFA mail onward (7-1(9)(1)); the destination then accepts it.
func TestStageMatrixRelay(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	b := e.mailBag(mailBagSpec{Plan: map[string]any{"destination": "JP-TYO", "via": []string{"DE-BER"},
		"review_note": "via Berlin while the direct flight is suspended"}})
	e.sheet(b.ID, "career_courier", "courier1")
	e.dispatch(b.ID)
	path := "/api/v1/bags/" + b.ID
	store := map[string]any{"place": "Relay safe", "custodian": "duty officer"}
	// Not to the origin, not off the route.
	e.refuseAll(t, []cell{
		{name: "deliver back to the origin", user: "courier1", path: path + "/deliver", body: map[string]any{"to_unit": "MFA"}, status: 422},
		{name: "deliver off the route", user: "courier1", path: path + "/deliver", body: map[string]any{"to_unit": "MOD"}, status: 422},
	})
	e.must(200, "courier1", "POST", path+"/deliver", map[string]any{"to_unit": "DE-BER"})
	e.refuseAll(t, []cell{
		{name: "destination accepts what was delivered to the relay", user: "tokyo", path: path + "/accept", body: intact, status: 403, reason: "not_receiver"},
	})
	e.must(200, "berlin", "POST", path+"/accept", intact)
	e.wantHolder(b.ID, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})
	e.refuseAll(t, []cell{
		{name: "destination stores what the relay holds", user: "tokyo", path: path + "/store", body: store, status: 403},
		{name: "origin sends on what the relay holds", user: "clerk", path: path + "/dispatch", status: 403},
	})
	e.must(200, "berlin", "POST", path+"/store", store)
	// The relay sends it on to the courier on the sheet, who delivers it to the destination.
	h := e.must(200, "berlin", "POST", path+"/dispatch", nil)["handoff"].(map[string]any)
	e.must(200, "courier1", "POST", "/api/v1/custody/handoffs/"+h["id"].(string)+"/accept", e.scan(b.ID))
	e.wantHolder(b.ID, "dispatched", map[string]any{"kind": "person", "username": "courier1"})
	e.must(200, "courier1", "POST", path+"/deliver", nil)
	e.must(200, "tokyo", "POST", path+"/accept", intact)
	e.wantHolder(b.ID, "accepted", map[string]any{"kind": "registry", "unit": "JP-TYO"})
	e.historyReplays()
}

// TestStageMatrixSheets: only a bearer named on a valid, unrevoked sheet
// covering the bag and cleared for it receives it, and the sheet is checked
// again at the receiver's confirmation (DM-01, DM-03).
func TestStageMatrixSheets(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	ctx := context.Background()
	handoffs := "/api/v1/custody/handoffs"
	sealed := e.mailBag(mailBagSpec{}).ID
	sealedSheet := e.sheet(sealed, "career_courier", "courier1")
	road := e.onTheRoad()
	low := e.mailBag(mailBagSpec{})

	e.refuseAll(t, []cell{
		// Out of the registry: only to the courier on the sheet.
		handTo("dispatch to a courier not on the sheet", "clerk", sealed, "courier2", 409, "no_courier_sheet"),
		handTo("dispatch to a registry clerk", "clerk", sealed, "clerk2", 409, "no_courier_sheet"),
		// In transit: only to another courier on a sheet covering the bag.
		handTo("transit to a courier not on a sheet", "courier1", road, "courier2", 409, "no_courier_sheet"),
		handTo("transit to an ad hoc courier not on a sheet", "courier1", road, "adhoc", 409, "no_courier_sheet"),
		handTo("transit to a clerk of the destination as a person", "courier1", road, "berlin", 409, "no_courier_sheet"),
		handTo("transit to a security officer", "courier1", road, "sec", 409, "no_courier_sheet"),
		handTo("transit to oneself", "courier1", road, "courier1", 422, ""),
		handTo("transit to nobody", "courier1", road, "no-such-user", 422, ""),
		// Someone not holding the bag neither releases, delivers nor scans it.
		handTo("a courier not on the sheet releases", "courier2", road, "courier1", 409, "not_custodian"),
		{name: "a courier not on the sheet delivers", user: "courier2", path: "/api/v1/bags/" + road + "/deliver", status: 409, reason: "not_custodian"},
		{name: "a courier not on the sheet scans", user: "courier2", path: "/api/v1/custody/bags/" + road + "/scan", body: e.scan(road),
			status: 409, reason: "not_custodian"},
		// A sheet cannot name a courier cleared below any bag on it.
		{name: "sheet naming a courier cleared below the bag", user: "clerk", path: "/api/v1/sheets",
			body: e.sheetBody(low.ID, "career_courier", "lowcourier"), status: 409, reason: "courier_clearance"},
	})

	// A sheet from before the courier's clearance was lowered: the release to them is refused.
	e.transitSheet(road, "lowcourier")
	e.refuseAll(t, []cell{handTo("transit to a courier cleared below the bag", "courier1", road, "lowcourier", 409, "receiver_clearance")})

	// Sheets that do not count: one covering another bag, one revoked.
	lowSheet := e.transitSheet(low.ID, "courier2")
	revoked := e.transitSheet(road, "courier2")
	if _, err := e.pool.Exec(ctx, `UPDATE courier_sheets SET status = 'revoked', revoked_reason = 'test', revoked_at = now() WHERE id = $1`, revoked); err != nil {
		t.Fatal(err)
	}
	e.refuseAll(t, []cell{
		handTo("transit to a courier whose sheet covers another bag, or is revoked", "courier1", road, "courier2", 409, "no_courier_sheet"),
		handTo("a registry releases what a courier holds", "clerk", road, "courier2", 409, "not_custodian"),
		{name: "dispatch on another bag's sheet", user: "clerk", path: "/api/v1/bags/" + sealed + "/dispatch", body: map[string]any{"sheet_id": lowSheet}, status: 409},
	})

	// Allowed: to a courier on a sheet covering the bag; then the sheet, or the clearance, fails before the confirmation.
	e.transitSheet(road, "courier2")
	h := e.must(201, "courier1", "POST", handoffs, map[string]any{"bag_id": road, "to": "courier2", "place": "FRA"})["id"].(string)
	if _, err := e.pool.Exec(ctx, `UPDATE users SET clearance = 1 WHERE username = 'courier2'`); err != nil {
		t.Fatal(err)
	}
	// (Cleared below the bag, they no longer see it at all.)
	e.refuseAll(t, []cell{{name: "receiver cleared below at the confirmation", user: "courier2", path: handoffs + "/" + h + "/accept",
		body: e.scan(road), status: 404}})
	if _, err := e.pool.Exec(ctx, `UPDATE users SET clearance = 3 WHERE username = 'courier2'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE courier_sheets SET valid_from = now() - interval '2 hours', valid_until = now() - interval '1 minute'
		WHERE bearer_name = 'courier2'`); err != nil {
		t.Fatal(err)
	}
	e.refuseAll(t, []cell{{name: "transit sheet expired at the confirmation", user: "courier2", path: handoffs + "/" + h + "/accept",
		body: e.scan(road), status: 409, reason: "no_courier_sheet"}})
	e.wantHolder(road, "dispatched", map[string]any{"username": "courier1"})
	e.transitSheet(road, "courier2")
	e.must(200, "courier2", "POST", handoffs+"/"+h+"/accept", e.scan(road))
	e.wantHolder(road, "dispatched", map[string]any{"kind": "person", "username": "courier2"})
	e.must(201, "courier2", "POST", "/api/v1/custody/bags/"+road+"/scan", e.scan(road))
	e.wantHolder(road, "in_transit", map[string]any{"username": "courier2"})
	e.refuseAll(t, []cell{{name: "the previous holder delivers", user: "courier1", path: "/api/v1/bags/" + road + "/deliver",
		status: 409, reason: "not_custodian"}})
	e.must(200, "courier2", "POST", "/api/v1/bags/"+road+"/deliver", nil)
	e.wantHolder(road, "delivered", map[string]any{"username": "courier2"})
	e.must(200, "berlin", "POST", "/api/v1/bags/"+road+"/accept", e.scan(road))
	e.wantHolder(road, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})

	// Dispatch: the sheet is revoked between the release and the confirmation.
	h = e.release(sealed)
	e.must(200, "clerk", "POST", "/api/v1/sheets/"+sealedSheet+"/revoke", map[string]any{"reason": "courier recalled"})
	e.refuseAll(t, []cell{{name: "sheet revoked at the confirmation", user: "courier1", path: handoffs + "/" + h + "/accept",
		body: e.scan(sealed), status: 409, reason: "no_courier_sheet"}})
	e.wantHolder(sealed, "sealed", map[string]any{"kind": "registry", "unit": "MFA"})
	e.must(200, "clerk", "POST", handoffs+"/"+h+"/cancel", nil)
	e.wantHolder(sealed, "sealed", map[string]any{"kind": "registry", "unit": "MFA"})

	// Dispatch: the sheet expires between the release and the confirmation.
	exp := e.mailBag(mailBagSpec{})
	expSheet := e.sheet(exp.ID, "career_courier", "courier2")
	h = e.must(200, "clerk", "POST", "/api/v1/bags/"+exp.ID+"/dispatch", nil)["handoff"].(map[string]any)["id"].(string)
	if _, err := e.pool.Exec(ctx, `UPDATE courier_sheets SET valid_from = now() - interval '2 hours', valid_until = now() - interval '1 minute'
		WHERE id = $1`, expSheet); err != nil {
		t.Fatal(err)
	}
	e.refuseAll(t, []cell{{name: "sheet expired at the confirmation", user: "courier2", path: handoffs + "/" + h + "/accept",
		body: e.scan(exp.ID), status: 409, reason: "no_courier_sheet"}})
	e.wantHolder(exp.ID, "sealed", map[string]any{"kind": "registry", "unit": "MFA"})

	// The courier on the sheet is suspended: the bag is not released to them, nor recorded as carried by them.
	susp := e.mailBag(mailBagSpec{Level: "UNCLASSIFIED"}).ID
	e.sheet(susp, "career_courier", "lowcourier")
	if _, err := e.pool.Exec(ctx, `UPDATE users SET active = false WHERE username = 'lowcourier'`); err != nil {
		t.Fatal(err)
	}
	e.refuseAll(t, []cell{{name: "dispatch to a suspended courier", user: "clerk", path: "/api/v1/bags/" + susp + "/dispatch", status: 409, reason: "courier_inactive"}})
	e.historyReplays()
}

// TestStageMatrixCourierKinds: an ad hoc courier only carries and delivers
// (DM-05); a career courier of the ministry's courier service (a sub-unit of
// MFA) also plans, assembles and seals for it, but never stores (DM-06).
func TestStageMatrixCourierKinds(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	bags := "/api/v1/bags/"
	st := e.everyStage()
	planned, assembling, sealed, delivered, accepted := st.planned, st.assembling, st.sealed, st.delivered, st.accepted
	store, seal := storeBody, sealBody
	now := time.Now()
	plan := map[string]any{"origin": "DE-BER", "destination": "MFA", "conveyance": "ad_hoc_courier", "planned_departure": now,
		"planned_arrival": now.Add(24 * time.Hour), "legs": []map[string]any{{"from_city": "Berlin", "to_city": "Astana"}}}

	e.refuseAll(t, []cell{
		{name: "ad hoc courier plans a bag", user: "adhoc", path: "/api/v1/bags", body: map[string]any{"origin": "DE-BER", "destination": "MFA"}, status: 403},
		{name: "ad hoc courier plans a dispatch", user: "adhoc", path: "/api/v1/plans", body: plan, status: 403},
		{name: "ad hoc courier assembles", user: "adhoc", path: bags + planned.ID + "/assemble",
			body: map[string]any{"submission_ids": []string{planned.Submission}}, status: 403},
		{name: "ad hoc courier seals", user: "adhoc", path: bags + assembling.ID + "/seal", body: seal, status: 403},
		{name: "ad hoc courier dispatches", user: "adhoc", path: bags + sealed + "/dispatch", status: 403},
		{name: "ad hoc courier accepts", user: "adhoc", path: bags + delivered + "/accept", body: intact, status: 403, reason: "not_receiver"},
		{name: "ad hoc courier stores", user: "adhoc", path: bags + accepted + "/store", body: store, status: 403},
		// The career courier plans only for the unit it serves, and never stores.
		{name: "career courier plans for another unit", user: "dcs", path: "/api/v1/bags", body: map[string]any{"origin": "DE-BER", "destination": "MFA"}, status: 403},
		{name: "career courier stores", user: "dcs", path: bags + accepted + "/store", body: store, status: 403},
		{name: "career courier accepts for a registry", user: "dcs", path: bags + delivered + "/accept", body: intact, status: 403, reason: "not_receiver"},
		{name: "career courier releases what the registry holds", user: "dcs", path: bags + sealed + "/dispatch", status: 409, reason: "not_custodian"},
	})

	// DM-06: the career courier of MFA's courier service plans, assembles and seals MFA's bag.
	sub := e.must(201, "modclerk", "POST", "/api/v1/submissions", map[string]any{"sender": "MOD", "registry": "MFA", "destination": "DE-BER",
		"responsible_person": "Minister of Defence", "items": []map[string]any{{"kind": "correspondence", "level": "SECRET", "registry_number": "MOD-DCS-1", "count": 1}}})
	bag := e.must(201, "dcs", "POST", "/api/v1/bags", map[string]any{"origin": "MFA", "destination": "DE-BER"})
	id := bag["id"].(string)
	e.must(200, "dcs", "POST", bags+id+"/assemble", map[string]any{"submission_ids": []any{sub["id"]}})
	e.must(200, "dcs", "POST", bags+id+"/seal", map[string]any{"container": "envelope", "packages": 2})
	e.wantHolder(id, "sealed", map[string]any{"kind": "registry", "unit": "MFA"})
	e.must(201, "dcs", "POST", "/api/v1/plans", map[string]any{"origin": "MFA", "destination": "DE-BER", "conveyance": "career_courier",
		"planned_departure": now, "planned_arrival": now.Add(24 * time.Hour), "legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin"}}})

	// DM-05: the ad hoc courier on the sheet carries and delivers.
	e.sheet(id, "ad_hoc_courier", "adhoc")
	h := e.release(id)
	e.must(200, "adhoc", "POST", "/api/v1/custody/handoffs/"+h+"/accept", e.scan(id))
	e.wantHolder(id, "dispatched", map[string]any{"kind": "person", "username": "adhoc"})
	e.must(201, "adhoc", "POST", "/api/v1/custody/bags/"+id+"/scan", e.scan(id))
	e.must(200, "adhoc", "POST", bags+id+"/deliver", nil)
	e.must(200, "berlin", "POST", bags+id+"/accept", intact)
	e.wantHolder(id, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})
	e.historyReplays()
}

// post sends a JSON POST from any goroutine (no t.Fatal): status, content type and body.
func (e *mailEnv) post(user, path string, body any) (int, string, map[string]any) {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest("POST", e.url+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, res.Header.Get("Content-Type"), out
}

// try is one request of a race: user POSTs body to path.
type try struct {
	user, path string
	body       any
}

// race sends the requests at once; exactly one must answer win, each other
// one a 4xx problem.
func (e *mailEnv) race(t *testing.T, win int, reqs ...try) {
	t.Helper()
	type answer struct {
		code  int
		ctype string
		body  map[string]any
	}
	answers := make([]answer, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, ct, out := e.post(r.user, r.path, r.body)
			answers[i] = answer{c, ct, out}
		}()
	}
	wg.Wait()
	wins := 0
	for i, a := range answers {
		switch {
		case a.code == win:
			wins++
		case a.code < 400 || a.code >= 500 || a.ctype != "application/problem+json":
			t.Errorf("%v answered %d %s %v", reqs[i], a.code, a.ctype, a.body)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %v won, want exactly one: %v", wins, reqs, answers)
	}
}

func (e *mailEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestStageMatrixReplaysAndRaces: two receivers confirming one release, a
// release while another is open, a confirmation after a cancellation.
func TestStageMatrixReplaysAndRaces(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	handoffs := "/api/v1/custody/handoffs/"

	// Two clerks of the destination accept the same delivery at once: one receipt.
	bag, dh := e.delivered()
	scan := e.scan(bag)
	e.race(t, 200, try{"berlin", "/api/v1/bags/" + bag + "/accept", scan}, try{"berlin2", handoffs + dh + "/accept", scan})
	if n := e.count(`SELECT count(*) FROM bag_receipts WHERE bag_id = $1`, bag); n != 1 {
		t.Fatalf("%d receipts for one delivery", n)
	}
	e.wantHolder(bag, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})
	e.refuseAll(t, []cell{
		{name: "the delivery confirmed again", user: "berlin2", path: handoffs + dh + "/accept", body: intact, status: 409, reason: "handoff_completed"},
		{name: "the bag accepted again", user: "berlin", path: "/api/v1/bags/" + bag + "/accept", body: intact, status: 409},
	})

	// The courier confirms the same dispatch from two devices at once: one transfer.
	b := e.mailBag(mailBagSpec{})
	e.sheet(b.ID, "career_courier", "courier1")
	h := e.release(b.ID)
	scan = e.scan(b.ID)
	e.race(t, 200, try{"courier1", handoffs + h + "/accept", scan}, try{"courier1", handoffs + h + "/accept", scan})
	if n := e.count(`SELECT count(*) FROM bag_events WHERE bag_id = $1 AND kind = 'handoff_accepted'`, b.ID); n != 1 {
		t.Fatalf("%d acceptances of one release", n)
	}
	e.wantHolder(b.ID, "dispatched", map[string]any{"username": "courier1"})
	e.refuseAll(t, []cell{{name: "the dispatch confirmed again", user: "courier1", path: handoffs + h + "/accept", body: e.scan(b.ID),
		status: 409, reason: "handoff_completed"}})

	// A release while another is open: refused, also when both race.
	c := e.mailBag(mailBagSpec{})
	e.sheet(c.ID, "career_courier", "courier1")
	h = e.release(c.ID)
	e.refuseAll(t, []cell{
		{name: "dispatch while released", user: "clerk2", path: "/api/v1/bags/" + c.ID + "/dispatch", status: 409, reason: "handoff_open"},
		handTo("release while released", "clerk", c.ID, "courier1", 409, "handoff_open"),
	})
	// Cancelled by someone who does not hold it: refused; by the holder: then the confirmation is refused.
	e.refuseAll(t, []cell{{name: "cancel by the receiver", user: "courier1", path: handoffs + h + "/cancel", status: 409, reason: "not_custodian"}})
	e.must(200, "clerk", "POST", handoffs+h+"/cancel", nil)
	e.refuseAll(t, []cell{
		{name: "confirm a cancelled release", user: "courier1", path: handoffs + h + "/accept", body: e.scan(c.ID), status: 409, reason: "handoff_cancelled"},
		{name: "cancel a cancelled release", user: "clerk", path: handoffs + h + "/cancel", status: 409, reason: "handoff_cancelled"},
	})
	e.wantHolder(c.ID, "sealed", map[string]any{"kind": "registry", "unit": "MFA"})
	e.race(t, 200, try{"clerk", "/api/v1/bags/" + c.ID + "/dispatch", nil}, try{"clerk2", "/api/v1/bags/" + c.ID + "/dispatch", nil})
	if n := e.count(`SELECT count(*) FROM handoffs WHERE bag_id = $1 AND status = 'released'`, c.ID); n != 1 {
		t.Fatalf("%d open releases", n)
	}

	// A delivery cancelled by the courier: the bag is back with them, as it was, and nothing is left to accept.
	d, dh := e.delivered()
	e.must(200, "courier1", "POST", handoffs+dh+"/cancel", nil)
	e.wantHolder(d, "dispatched", map[string]any{"kind": "person", "username": "courier1"})
	e.refuseAll(t, []cell{
		{name: "accept a cancelled delivery", user: "berlin", path: "/api/v1/bags/" + d + "/accept", body: intact, status: 409, reason: "not_delivered"},
		{name: "confirm a cancelled delivery", user: "berlin", path: handoffs + dh + "/accept", body: intact, status: 409, reason: "handoff_cancelled"},
	})
	e.historyReplays()
}

// TestCustodyChainCannotBeSkipped is the attack: a bag dispatched by
// the ministry, "delivered" by an ad hoc courier who is not on its sheet and
// never held it, then accepted by the destination. Every step is refused.
func TestCustodyChainCannotBeSkipped(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	road := e.onTheRoad()
	sealed := e.mailBag(mailBagSpec{}).ID
	e.sheet(sealed, "career_courier", "courier1")
	released := e.mailBag(mailBagSpec{})
	e.sheet(released.ID, "career_courier", "courier1")
	rh := e.release(released.ID)
	e.refuseAll(t, []cell{
		{name: "ad hoc courier not on the sheet delivers", user: "adhoc", path: "/api/v1/bags/" + road + "/deliver", status: 409, reason: "not_custodian"},
		{name: "ad hoc courier delivers to a relay", user: "adhoc", path: "/api/v1/bags/" + road + "/deliver", body: map[string]any{"to_unit": "DE-BER"},
			status: 409, reason: "not_custodian"},
		{name: "ad hoc courier releases to the destination", user: "adhoc", path: "/api/v1/custody/handoffs",
			body: map[string]any{"bag_id": road, "to_unit": "DE-BER"}, status: 409, reason: "not_custodian"},
		{name: "ad hoc courier confirms a release naming another", user: "adhoc", path: "/api/v1/custody/handoffs/" + rh + "/accept",
			body: e.scan(released.ID), status: 403, reason: "not_receiver"},
		{name: "destination accepts a bag still with the courier", user: "berlin", path: "/api/v1/bags/" + road + "/accept", body: intact,
			status: 409, reason: "not_delivered"},
		{name: "destination accepts a bag still in the origin registry", user: "berlin", path: "/api/v1/bags/" + sealed + "/accept", body: intact,
			status: 409},
		{name: "destination accepts a bag released to a courier", user: "berlin", path: "/api/v1/bags/" + released.ID + "/accept", body: intact,
			status: 403, reason: "not_receiver"},
		{name: "the origin registry delivers what it still holds", user: "clerk", path: "/api/v1/bags/" + sealed + "/deliver", status: 409},
	})
	e.wantHolder(road, "dispatched", map[string]any{"kind": "person", "username": "courier1"})
	e.historyReplays()
}

// TestBearerFlows: an aircraft captain and an engaged carrier are not users;
// the registries record the transfer to and from them (DM-15).
func TestBearerFlows(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	bags := "/api/v1/bags/"

	// Captain: dispatched at once with the captain's document, accepted by the destination.
	capt := e.mailBag(mailBagSpec{Level: "UNCLASSIFIED", Plan: map[string]any{"conveyance": "aircraft_captain",
		"legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin", "flight": "KC901", "captain_name": "Nurlan Captain"}}}})
	e.sheet(capt.ID, "aircraft_captain", "Nurlan Captain")
	e.refuseAll(t, []cell{
		{name: "captain without a document", user: "clerk", path: bags + capt.ID + "/dispatch", status: 422},
		{name: "destination records the captain's dispatch", user: "berlin", path: bags + capt.ID + "/dispatch",
			body: map[string]any{"bearer_document": "KZ passport N777"}, status: 403},
	})
	out := e.must(200, "clerk", "POST", bags+capt.ID+"/dispatch", map[string]any{"bearer_document": "KZ passport N777"})
	if out["handoff"] != nil {
		t.Fatalf("a captain's dispatch left a release open: %v", out)
	}
	e.wantHolder(capt.ID, "dispatched", map[string]any{"kind": "bearer", "name": "Nurlan Captain", "document": "KZ passport N777"})
	e.refuseAll(t, []cell{
		{name: "a courier delivers the captain's bag", user: "courier1", path: bags + capt.ID + "/deliver", status: 409, reason: "not_custodian"},
		{name: "the origin accepts from the captain", user: "clerk", path: bags + capt.ID + "/accept", body: intact, status: 403},
		{name: "off-route registry accepts from the captain", user: "tokyo", path: bags + capt.ID + "/accept", body: intact, status: 404},
		{name: "the captain's bag accepted without a count", user: "berlin", path: bags + capt.ID + "/accept", body: map[string]any{"seals_intact": true}, status: 422},
	})
	out = e.must(200, "berlin", "POST", bags+capt.ID+"/accept", e.scan(capt.ID))
	if rc := out["receipt"].(map[string]any); rc["incident_id"] != nil || rc["packages_counted"] != float64(2) {
		t.Fatalf("receipt from the captain: %v", rc)
	}
	e.wantHolder(capt.ID, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})
	e.must(200, "berlin", "POST", bags+capt.ID+"/store", map[string]any{"place": "Safe 2", "custodian": "duty officer"})

	// An ad hoc courier without an account is a bearer too: the registry records the dispatch with the
	// document on the courier record, and nobody but the receiving registry takes it from them.
	dana := e.must(201, "disp", "POST", "/api/v1/couriers", map[string]any{"kind": "ad_hoc", "full_name": "Dana Ad-hoc",
		"doc_kind": "passport", "doc_number": "N5555", "doc_country": "KZ", "doc_expires": "2035-01-01"})["id"]
	byDana := func(level string) (string, map[string]any) {
		b := e.mailBag(mailBagSpec{Level: level})
		return b.ID, map[string]any{"issuer": "MFA", "conveyance": "ad_hoc_courier", "courier_id": dana,
			"bag_ids": []string{b.ID}, "valid_until": time.Now().Add(72 * time.Hour)}
	}
	adhoc, sheet := byDana("UNCLASSIFIED")
	e.must(201, "clerk", "POST", "/api/v1/sheets", sheet)
	if out := e.must(200, "clerk", "POST", bags+adhoc+"/dispatch", nil); out["handoff"] != nil {
		t.Fatalf("dispatch to an ad hoc courier without an account left a release open: %v", out)
	}
	e.wantHolder(adhoc, "dispatched", map[string]any{"kind": "bearer", "name": "Dana Ad-hoc", "document": "passport KZ N5555"})
	e.refuseAll(t, []cell{
		{name: "a courier with an account delivers the bearer's bag", user: "courier1", path: bags + adhoc + "/deliver", status: 409, reason: "not_custodian"},
		{name: "an ad hoc courier with an account delivers the bearer's bag", user: "adhoc", path: bags + adhoc + "/deliver", status: 409, reason: "not_custodian"},
	})
	e.must(200, "berlin", "POST", bags+adhoc+"/accept", intact)
	e.wantHolder(adhoc, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})

	// Bearers have no clearance record: above bearer.max_level (UNCLASSIFIED) no sheet names them, and a
	// sheet issued while the setting was higher does not let them take the bag once it is lowered.
	_, sheet = byDana("SECRET")
	secret := e.mailBag(mailBagSpec{Plan: map[string]any{"conveyance": "aircraft_captain",
		"legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin", "flight": "KC901", "captain_name": "Nurlan Captain"}}}})
	e.refuseAll(t, []cell{
		{name: "sheet naming an ad hoc courier without a clearance record, SECRET bag", user: "clerk", path: "/api/v1/sheets", body: sheet,
			status: 409, reason: "courier_clearance"},
		{name: "sheet naming a captain, SECRET bag", user: "clerk", path: "/api/v1/sheets", body: e.sheetBody(secret.ID, "aircraft_captain", "Nurlan Captain"),
			status: 409, reason: "courier_clearance"},
	})
	maxLevel := func(l string) {
		t.Helper()
		if _, err := e.pool.Exec(context.Background(), `UPDATE custody_settings SET value = $1 WHERE key = 'bearer.max_level'`, l); err != nil {
			t.Fatal(err)
		}
	}
	maxLevel("SECRET")
	e.sheet(secret.ID, "aircraft_captain", "Nurlan Captain")
	maxLevel("UNCLASSIFIED")
	e.refuseAll(t, []cell{{name: "captain below the bag's level", user: "clerk", path: bags + secret.ID + "/dispatch",
		body: map[string]any{"bearer_document": "KZ passport N777"}, status: 409, reason: "receiver_clearance"}})
	maxLevel("SECRET")
	e.must(200, "clerk", "POST", bags+secret.ID+"/dispatch", map[string]any{"bearer_document": "KZ passport N777"})
	e.wantHolder(secret.ID, "dispatched", map[string]any{"kind": "bearer"})

	// Freight: only with a carrier engaged on a leg of the plan.
	e.refused(422, "disp", "POST", "/api/v1/plans", map[string]any{"origin": "MFA", "destination": "DE-BER", "conveyance": "freight",
		"planned_departure": time.Now(), "planned_arrival": time.Now().Add(time.Hour), "legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin"}}})
	e.refused(422, "disp", "POST", "/api/v1/plans", map[string]any{"origin": "MFA", "destination": "DE-BER", "conveyance": "freight",
		"planned_departure": time.Now(), "planned_arrival": time.Now().Add(time.Hour),
		"legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin", "carrier": "MOD"}}})
	unengaged := e.mailBag(mailBagSpec{Level: "UNCLASSIFIED"})
	e.sheet(unengaged.ID, "freight", "Air Astana Cargo")
	e.refuseAll(t, []cell{{name: "freight without a carrier engaged on the plan", user: "clerk", path: bags + unengaged.ID + "/dispatch",
		status: 409, reason: "carrier_not_engaged"}})
	freight := e.mailBag(mailBagSpec{Level: "UNCLASSIFIED", Plan: map[string]any{"conveyance": "freight",
		"legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin", "flight": "KC7001", "carrier": "AIR-ASTANA"}}}})
	e.sheet(freight.ID, "freight", "Air Astana Cargo")
	e.must(200, "clerk", "POST", bags+freight.ID+"/dispatch", nil)
	_, c := e.holder(freight.ID)
	if c["kind"] != "bearer" || !strings.Contains(fmt.Sprint(c["document"]), "AIR-ASTANA") {
		t.Fatalf("freight bearer %v does not name the engaged carrier", c)
	}
	e.must(200, "berlin", "POST", bags+freight.ID+"/accept", intact)
	// A freight sheet naming another carrier than the one engaged on the plan.
	stranger := e.mailBag(mailBagSpec{Level: "UNCLASSIFIED", Plan: map[string]any{"conveyance": "freight",
		"legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin", "flight": "KC7001", "carrier": "AIR-ASTANA"}}}})
	e.sheet(stranger.ID, "freight", "Unknown Logistics LLP")
	e.refuseAll(t, []cell{{name: "freight by a carrier not engaged on the plan", user: "clerk", path: bags + stranger.ID + "/dispatch",
		status: 409, reason: "carrier_not_engaged"}})
	e.wantHolder(freight.ID, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})
	e.historyReplays()
}
