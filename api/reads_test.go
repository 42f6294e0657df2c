package api_test

import (
	"fmt"
	"testing"
	"time"
)

// TestReadsAnswerAsDocumented reads back every kind of record the mail
// routes create, as the people who would, so each read route's answer is
// checked against the OpenAPI document (mailEnv validates every answer) and
// carries what was written.
func TestReadsAnswerAsDocumented(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	b := e.mailBag(mailBagSpec{})
	bag := e.must(200, "sec", "GET", "/api/v1/bags/"+b.ID, nil)
	plan := bag["plan_id"].(string)
	sheet := e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": e.courierID(), "bag_ids": []string{b.ID}, "valid_until": time.Now().Add(72 * time.Hour)})
	h := e.must(200, "clerk", "POST", "/api/v1/bags/"+b.ID+"/dispatch", nil)["handoff"].(map[string]any)
	// A short count at the courier's confirmation opens an incident.
	scan := e.scan(b.ID)
	scan["packages_counted"] = 1
	acc := e.must(200, "courier1", "POST", "/api/v1/custody/handoffs/"+h["id"].(string)+"/accept", scan)
	loss := e.must(200, "courier1", "POST", "/api/v1/bags/"+b.ID+"/report_missing", map[string]any{"territory": "home",
		"last_seen_at": time.Now().Add(-time.Hour), "last_seen_place": "Astana airport"})["loss_report"].(map[string]any)

	for _, r := range []struct{ user, path, field, want string }{
		{"admin", "/api/v1/senders", "", ""},
		{"admin", "/api/v1/senders/MOD/history", "", ""},
		{"disp", "/api/v1/plans/" + plan, "id", plan},
		{"disp", "/api/v1/couriers", "", ""},
		{"disp", "/api/v1/couriers/" + e.courierID(), "username", "courier1"},
		{"clerk", "/api/v1/sheets/" + sheet["id"].(string), "number", sheet["number"].(string)},
		{"sec", "/api/v1/incidents/" + acc["incident_id"].(string), "class", "breach"},
		{"sec", "/api/v1/loss-reports/" + loss["id"].(string), "territory", "home"},
		{"courier1", "/api/v1/custody/handoffs/" + h["id"].(string), "status", "completed"},
		{"admin", "/api/v1/units/MFA", "code", "MFA"},
		{"admin", "/api/v1/users/" + e.ids["clerk"], "username", "clerk"},
	} {
		got := e.must(200, r.user, "GET", r.path, nil)
		if r.field != "" && got[r.field] != r.want {
			t.Errorf("GET %s: %s = %v, want %s", r.path, r.field, got[r.field], r.want)
		}
	}
	unit := e.must(200, "admin", "GET", "/api/v1/units/JP-TYO", nil)
	upd := e.must(200, "admin", "PUT", "/api/v1/units/JP-TYO", map[string]any{"name": "Embassy in Tokyo", "kind": unit["kind"],
		"country": unit["country"]}, "If-Match", fmt.Sprintf(`"%v"`, unit["version"]))
	if upd["name"] != "Embassy in Tokyo" {
		t.Errorf("unit update: %v", upd)
	}
	e.must(200, "admin", "POST", "/api/v1/users/"+e.ids["clerk2"]+"/suspend", nil)
	if u := e.must(200, "admin", "POST", "/api/v1/users/"+e.ids["clerk2"]+"/reinstate", nil); u["active"] != true {
		t.Errorf("reinstate: %v", u)
	}
}
