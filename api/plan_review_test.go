package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPlanReviewGatesSealing: a plan on a route the law does not describe
// (DM-14) is flagged; its bags cannot be sealed until a security officer or
// a ministry dispatcher other than its author approves it, with a reason,
// recorded as an event of the plan.
func TestPlanReviewGatesSealing(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	now := time.Now()
	plan := e.must(201, "disp", "POST", "/api/v1/plans", map[string]any{"origin": "DE-BER", "via": []string{"MFA"}, "destination": "JP-TYO",
		"conveyance": "career_courier", "planned_departure": now, "planned_arrival": now.Add(72 * time.Hour),
		"review_note": "Tokyo's pouch goes through Astana this quarter", "custody_window": "16h",
		"legs": []map[string]any{{"from_city": "Berlin", "to_city": "Astana"}, {"from_city": "Astana", "to_city": "Tokyo"}}})
	id := plan["id"].(string)
	if plan["needs_review"] != true || plan["review_status"] != "pending" || plan["custody_window"] != "16h" || plan["version"] != 1.0 {
		t.Fatalf("flagged plan: %v", plan)
	}
	sub := e.must(201, "berlin", "POST", "/api/v1/submissions", map[string]any{"sender": "DE-BER", "registry": "DE-BER",
		"destination": "JP-TYO", "responsible_person": "Ambassador",
		"items": []map[string]any{{"kind": "correspondence", "level": "SECRET", "registry_number": "BER-77", "count": 1}}})
	bag := e.must(201, "disp", "POST", "/api/v1/bags", map[string]any{"plan_id": id})["id"].(string)
	e.must(200, "berlin", "POST", "/api/v1/bags/"+bag+"/assemble", map[string]any{"submission_ids": []any{sub["id"]}})
	seal := map[string]any{"container": "sack", "packages": 1, "seal_serials": []string{"BER-" + strings.ToUpper(bag[:8])}}
	p := e.refused(409, "berlin", "POST", "/api/v1/bags/"+bag+"/seal", seal)
	if p["missing"] != "plan_review" || !strings.Contains(p["detail"].(string), "DM-14") {
		t.Fatalf("sealing a bag of an unreviewed plan: %v", p)
	}

	review := "/api/v1/plans/" + id + "/review"
	e.refused(403, "disp", "POST", review, map[string]any{"decision": "approve", "reason": "my own plan"}) // the author
	e.refused(403, "berlin", "POST", review, map[string]any{"decision": "approve", "reason": "fine"})
	e.refused(403, "auditor", "POST", review, map[string]any{"decision": "approve", "reason": "fine"})
	e.refused(422, "sec", "POST", review, map[string]any{"decision": "ok", "reason": "fine"})
	e.refused(422, "sec", "POST", review, map[string]any{"decision": "approve"})
	e.refused(412, "sec", "POST", review, map[string]any{"decision": "approve", "reason": "fine"}, "If-Match", `"7"`)
	e.refused(404, "sec", "POST", "/api/v1/plans/00000000-0000-4000-8000-000000000000/review", map[string]any{"decision": "approve", "reason": "fine"})

	out := e.must(200, "sec", "POST", review, map[string]any{"decision": "refuse", "reason": "no agreement with Astana yet"}, "If-Match", `"1"`)
	if out["review_status"] != "refused" || out["reviewed_by"] != "sec" || out["version"] != 2.0 {
		t.Fatalf("refused: %v", out)
	}
	e.refused(409, "berlin", "POST", "/api/v1/bags/"+bag+"/seal", seal)
	out = e.must(200, "sec2", "POST", review, map[string]any{"decision": "approve", "reason": "agreement No. 4 signed"})
	if out["review_status"] != "approved" || out["reviewed_by"] != "sec2" {
		t.Fatalf("approved: %v", out)
	}
	ev := out["events"].([]any)
	if len(ev) != 2 || ev[0].(map[string]any)["kind"] != "review_refused" || ev[1].(map[string]any)["kind"] != "review_approved" ||
		ev[1].(map[string]any)["reason"] != "agreement No. 4 signed" || ev[1].(map[string]any)["actor"] != "sec2" {
		t.Fatalf("plan events: %v", ev)
	}
	e.refused(409, "sec", "POST", review, map[string]any{"decision": "refuse", "reason": "changed my mind"}) // final
	e.must(200, "berlin", "POST", "/api/v1/bags/"+bag+"/seal", seal)

	// The custody window is set on the plan by whoever plans it, with a reason.
	cw := "/api/v1/plans/" + id + "/custody_window"
	e.refused(403, "berlin", "PUT", cw, map[string]any{"custody_window": "8h", "reason": "long layover"})
	e.refused(422, "disp", "PUT", cw, map[string]any{"custody_window": "8 hours", "reason": "long layover"})
	e.refused(422, "disp", "PUT", cw, map[string]any{"custody_window": "1m", "reason": "long layover"})
	e.refused(422, "disp", "PUT", cw, map[string]any{"custody_window": "8h"})
	out = e.must(200, "disp", "PUT", cw, map[string]any{"custody_window": "8h", "reason": "long layover in Astana"})
	if out["custody_window"] != "8h" || len(out["events"].([]any)) != 3 {
		t.Fatalf("custody window: %v", out)
	}
	out = e.must(200, "disp", "PUT", cw, map[string]any{"custody_window": "", "reason": "back to the default"})
	if _, set := out["custody_window"]; set {
		t.Fatalf("cleared custody window: %v", out)
	}
	if got := e.must(200, "sec", "GET", "/api/v1/plans/"+id, nil); fmt.Sprint(got["version"]) != "5" {
		t.Fatalf("plan after four changes: %v", got)
	}

	// A statutory route needs no review.
	ok := e.must(201, "disp", "POST", "/api/v1/plans", map[string]any{"origin": "MFA", "destination": "DE-BER", "conveyance": "career_courier",
		"planned_departure": now, "planned_arrival": now.Add(24 * time.Hour), "legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin"}}})
	if ok["needs_review"] != false || ok["review_status"] != nil {
		t.Fatalf("statutory plan: %v", ok)
	}
	e.refused(409, "sec", "POST", "/api/v1/plans/"+ok["id"].(string)+"/review", map[string]any{"decision": "approve", "reason": "fine"})
	e.refused(422, "disp", "POST", "/api/v1/plans", map[string]any{"origin": "MFA", "destination": "DE-BER", "conveyance": "career_courier",
		"planned_departure": now, "planned_arrival": now.Add(24 * time.Hour), "custody_window": "forever",
		"legs": []map[string]any{{"from_city": "Astana", "to_city": "Berlin"}}})
}
