package api_test

import (
	"testing"
)

// TestCustodyBearerHandOvers: a courier in transit hands the bag to an
// engaged carrier who has no account (a one-sided transfer, custody moves
// at once), and another courier on a sheet covering the bag takes it back
// (issue 12, DM-15, DM-18). Every refusal is a problem that changes nothing.
func TestCustodyBearerHandOvers(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	custody := "/api/v1/custody/bags/"
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}

	secret := e.onTheRoad() // SECRET: above bearer.max_level (UNCLASSIFIED)
	freight := e.mailBag(mailBagSpec{Level: "UNCLASSIFIED", Plan: map[string]any{"legs": []map[string]any{
		{"from_city": "Astana", "to_city": "Frankfurt", "flight": "KC921"},
		{"from_city": "Frankfurt", "to_city": "Berlin", "conveyance": "freight", "carrier": "AIR-ASTANA"}}}}).ID
	e.sheet(freight, "career_courier", "courier1")
	e.dispatch(freight)
	toCarrier := with(e.scan(freight), "kind", "carrier", "name", "AIR-ASTANA", "document", "AWB 465-12345675", "place", "FRA cargo")

	e.refuseAll(t, []cell{
		{name: "captain for a SECRET bag", user: "courier1", path: custody + secret + "/bearer-release",
			body: with(e.scan(secret), "kind", "captain", "name", "Nurlan Captain", "document", "KZ N777"), status: 409, reason: "receiver_clearance"},
		{name: "a courier of a unit on the route who does not hold the bag", user: "courier2", path: custody + freight + "/bearer-release", body: toCarrier,
			status: 409, reason: "not_custodian"},
		{name: "a registry off the route", user: "tokyo", path: custody + freight + "/bearer-release", body: toCarrier, status: 404},
		{name: "the origin registry releases what the courier holds", user: "clerk", path: custody + freight + "/bearer-release", body: toCarrier,
			status: 409, reason: "not_custodian"},
		{name: "no document", user: "courier1", path: custody + freight + "/bearer-release", body: with(toCarrier, "document", ""), status: 422},
		{name: "no name", user: "courier1", path: custody + freight + "/bearer-release", body: with(toCarrier, "name", " "), status: 422},
		{name: "no count", user: "courier1", path: custody + freight + "/bearer-release", body: with(toCarrier, "packages_counted", nil), status: 422},
		{name: "bag id in the body", user: "courier1", path: custody + freight + "/bearer-release", body: with(toCarrier, "bag_id", freight), status: 400},
		{name: "a carrier not engaged on the plan", user: "courier1", path: custody + freight + "/bearer-release",
			body: with(toCarrier, "name", "Unknown Logistics LLP"), status: 409, reason: "carrier_not_engaged"},
		{name: "receipt from a bearer of a bag the courier holds", user: "courier1", path: custody + freight + "/bearer-receipt", body: e.scan(freight),
			status: 409, reason: "not_with_bearer"},
		{name: "release of a bag that does not exist", user: "courier1", path: custody + "00000000-0000-4000-8000-000000000001/bearer-release", body: toCarrier, status: 404},
	})

	out := e.must(201, "courier1", "POST", custody+freight+"/bearer-release", toCarrier)
	ev := out["event"].(map[string]any)
	if ev["kind"] != "released_to_bearer" || ev["custody"].(map[string]any)["transfer"] != "one_sided" || out["incident_id"] != nil {
		t.Fatalf("release to the carrier: %v", out)
	}
	e.wantHolder(freight, "in_transit", map[string]any{"kind": "bearer", "name": "AIR-ASTANA", "document": "AWB 465-12345675"})

	// courier2 gets a sheet covering the bag and takes it back at the other end.
	e.transitSheet(freight, "courier2")
	e.refuseAll(t, []cell{
		{name: "courier1 releases it again", user: "courier1", path: custody + freight + "/bearer-release", body: toCarrier, status: 409, reason: "not_custodian"},
		{name: "a registry clerk takes it from the carrier", user: "clerk", path: custody + freight + "/bearer-receipt", body: e.scan(freight),
			status: 409, reason: "no_courier_sheet"},
		{name: "receipt without a count", user: "courier2", path: custody + freight + "/bearer-receipt", body: with(e.scan(freight), "packages_counted", nil), status: 422},
		{name: "receipt without a seal check", user: "courier2", path: custody + freight + "/bearer-receipt", body: map[string]any{"packages_counted": 2}, status: 422},
		{name: "receipt by a user who may not see the bag", user: "tokyo", path: custody + freight + "/bearer-receipt", body: e.scan(freight), status: 404},
	})
	out = e.must(201, "courier2", "POST", custody+freight+"/bearer-receipt", with(e.scan(freight), "place", "BER cargo"))
	if out["event"].(map[string]any)["kind"] != "taken_from_bearer" || out["from"].(map[string]any)["name"] != "AIR-ASTANA" || out["incident_id"] != nil {
		t.Fatalf("receipt from the carrier: %v", out)
	}
	e.wantHolder(freight, "in_transit", map[string]any{"kind": "person", "username": "courier2"})
	// courier2 delivers as usual.
	e.must(200, "courier2", "POST", "/api/v1/bags/"+freight+"/deliver", nil)
	e.must(200, "berlin", "POST", "/api/v1/bags/"+freight+"/accept", e.scan(freight))
	e.wantHolder(freight, "accepted", map[string]any{"kind": "registry", "unit": "DE-BER"})
	e.historyReplays()
}
