package api_test

import (
	"testing"
	"time"
)

// settingOf finds key in a GET /settings answer.
func settingOf(out map[string]any, key string) map[string]any {
	for _, s := range out["settings"].([]any) {
		if m := s.(map[string]any); m["key"] == key {
			return m
		}
	}
	return nil
}

// TestSettingsThroughAPI: a security officer changes by-law deadlines, an
// administrator operational limits, each with a reason and If-Match; the
// history says who, when, why, old and new; bad values and the wrong role
// are refused and change nothing; the new values act.
func TestSettingsThroughAPI(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	all := e.must(200, "sec", "GET", "/api/v1/settings", nil)
	if s := settingOf(all, "breach.notify_within"); s["value"] != "4h" || s["type"] != "duration" || s["min"] != "15m" ||
		s["changed_by"] != "security_officer" || s["version"] != 1.0 {
		t.Fatalf("breach.notify_within: %v", s)
	}
	if s := settingOf(all, "login.max_failures"); s["value"] != nil || s["type"] != "count" || s["changed_by"] != "admin" {
		t.Fatalf("login.max_failures: %v", s)
	}
	if got := len(all["settings"].([]any)); got != 13 {
		t.Fatalf("%d settings listed, want 13", got)
	}
	e.must(200, "auditor", "GET", "/api/v1/settings", nil)
	e.must(200, "admin", "GET", "/api/v1/settings/seal.lifetime", nil)
	e.refused(403, "clerk", "GET", "/api/v1/settings", nil)
	e.refused(401, "nobody", "GET", "/api/v1/settings", nil)
	e.refused(422, "sec", "GET", "/api/v1/settings/no.such", nil) // not a setting key (the document lists them)

	path := "/api/v1/settings/breach.notify_within"
	for _, c := range []struct {
		status int
		user   string
		body   any
		hdr    []string
	}{
		{403, "admin", map[string]any{"value": "2h", "reason": "Order 7"}, nil},   // a by-law deadline is not the admin's
		{403, "auditor", map[string]any{"value": "2h", "reason": "Order 7"}, nil}, // auditors change nothing
		{403, "disp", map[string]any{"value": "2h", "reason": "Order 7"}, nil},
		{422, "sec", map[string]any{"value": "2 hours", "reason": "Order 7"}, nil},
		{422, "sec", map[string]any{"value": "1m", "reason": "Order 7"}, nil},  // below 15m
		{422, "sec", map[string]any{"value": "30d", "reason": "Order 7"}, nil}, // above 7d
		{422, "sec", map[string]any{"value": 7200, "reason": "Order 7"}, nil},
		{422, "sec", map[string]any{"value": nil, "reason": "Order 7"}, nil}, // a deadline always has a value
		{422, "sec", map[string]any{"value": "2h"}, nil},                     // no reason
		{400, "sec", `{"value": "2h", "reason": "x", "extra": 1}`, nil},
		{412, "sec", map[string]any{"value": "2h", "reason": "Order 7"}, []string{"If-Match", `"9"`}},
	} {
		e.refused(c.status, c.user, "PUT", path, c.body, c.hdr...) // a problem, and nothing changed
	}
	e.refused(422, "sec", "PUT", "/api/v1/settings/breach.notify_within_days", map[string]any{"value": "2h", "reason": "Order 7"})
	res, out := e.do("sec", "PUT", path, map[string]any{"value": "2h", "reason": "Order No. 7 of the Minister"}, "If-Match", `"1"`)
	if res.StatusCode != 200 || out["value"] != "2h" || out["version"] != 2.0 || res.Header.Get("ETag") != `"2"` || out["updated_by"] != "sec" {
		t.Fatalf("set: %d %v %s", res.StatusCode, out, res.Header.Get("ETag"))
	}
	e.refused(412, "sec", "PUT", path, map[string]any{"value": "3h", "reason": "stale"}, "If-Match", `"1"`)
	h := e.must(200, "auditor", "GET", path+"/history", nil)["changes"].([]any)
	if len(h) != 1 {
		t.Fatalf("history: %v", h)
	}
	c := h[0].(map[string]any)
	if c["old_value"] != "4h" || c["new_value"] != "2h" || c["reason"] != "Order No. 7 of the Minister" || c["changed_by"] != "sec" ||
		c["changed_by_name"] != "sec" || c["version"] != 2.0 || c["changed_at"] == nil {
		t.Fatalf("history entry: %v", c)
	}

	// The new deadline acts: a breach opened now must be notified within 2h.
	bag, _ := e.dispatched()
	e.must(200, "courier1", "POST", "/api/v1/bags/"+bag+"/deliver", nil)
	e.must(200, "berlin", "POST", "/api/v1/bags/"+bag+"/accept", map[string]any{"packages_counted": 1, "seals_intact": false})
	var within time.Duration
	if err := e.pool.QueryRow(t.Context(), `SELECT extract(epoch FROM notify_due - opened_at)::bigint * interval '1 second'
		FROM incidents WHERE bag_id = $1 AND class = 'breach'`, bag).Scan(&within); err != nil || within != 2*time.Hour {
		t.Fatalf("breach notify_due - opened_at = %v (%v), want 2h", within, err)
	}

	// A loss report's breach takes the loss deadlines, not the breach ones.
	e.must(200, "sec", "PUT", "/api/v1/settings/loss.notify_within", map[string]any{"value": "1h", "reason": "Order No. 8"})
	lost, _ := e.setupSealedBag()
	e.must(200, "clerk", "POST", "/api/v1/bags/"+lost+"/report_missing", map[string]any{"territory": "home",
		"last_seen_at": time.Now().Add(-time.Hour), "last_seen_place": "MFA registry"})
	if err := e.pool.QueryRow(t.Context(), `SELECT extract(epoch FROM notify_due - opened_at)::bigint * interval '1 second'
		FROM incidents WHERE bag_id = $1`, lost).Scan(&within); err != nil || within != time.Hour {
		t.Fatalf("a loss report's notify_due - opened_at = %v (%v), want loss.notify_within 1h", within, err)
	}

	// Operational: the security officer may not, the admin may; null goes back to the configuration.
	e.refused(403, "sec", "PUT", "/api/v1/settings/login.max_failures", map[string]any{"value": 3, "reason": "audit finding"})
	e.refused(422, "admin", "PUT", "/api/v1/settings/login.max_failures", map[string]any{"value": 1, "reason": "audit finding"})
	e.refused(422, "admin", "PUT", "/api/v1/settings/login.max_failures", map[string]any{"value": "3", "reason": "audit finding"})
	e.refused(422, "admin", "PUT", "/api/v1/settings/seal.lifetime", map[string]any{"value": "400d", "reason": "too long for a seal"})
	e.must(200, "admin", "PUT", "/api/v1/settings/login.max_failures", map[string]any{"value": 3, "reason": "audit finding 12"})
	for i := 0; i < 3; i++ {
		e.do("nobody", "POST", "/api/v1/auth/login", map[string]any{"username": "clerk2", "password": "wrong"})
	}
	if res, _ := e.do("nobody", "POST", "/api/v1/auth/login", map[string]any{"username": "clerk2", "password": "correct horse battery"}); res.StatusCode != 429 {
		t.Fatalf("after 3 failures with login.max_failures 3 the right password answers %d, want 429 (locked)", res.StatusCode)
	}
	e.must(200, "admin", "PUT", "/api/v1/settings/seal.lifetime", map[string]any{"value": "2d", "reason": "short trips only"})
	sealed, _ := e.setupSealedBag()
	s := e.must(200, "clerk", "GET", "/api/v1/bags/"+sealed+"/seals", nil)["seals"].([]any)[0].(map[string]any)
	issued, _ := time.Parse(time.RFC3339, s["issued_at"].(string))
	expires, _ := time.Parse(time.RFC3339, s["expires_at"].(string))
	if expires.Sub(issued) != 48*time.Hour {
		t.Fatalf("a seal issued with seal.lifetime 2d lives %v", expires.Sub(issued))
	}
	out = e.must(200, "admin", "PUT", "/api/v1/settings/seal.lifetime", map[string]any{"value": nil, "reason": "back to the configuration"})
	if out["value"] != nil {
		t.Fatalf("reset: %v", out)
	}
	if h := e.must(200, "admin", "GET", "/api/v1/settings/seal.lifetime/history", nil)["changes"].([]any); len(h) != 2 ||
		h[0].(map[string]any)["new_value"] != nil || h[0].(map[string]any)["old_value"] != "2d" {
		t.Fatalf("seal.lifetime history: %v", h)
	}
}
