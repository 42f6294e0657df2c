package api_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

// ids returns the "id" of each listed object under key.
func ids(out map[string]any, key string) []string {
	var s []string
	for _, v := range out[key].([]any) {
		s = append(s, v.(map[string]any)["id"].(string))
	}
	return s
}

// TestListSheets: GET /sheets filters by courier, bag, status and validity,
// shows only what the caller's scope covers, and pages with an opaque cursor.
func TestListSheets(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	career := e.courierID()
	adhoc := e.must(201, "disp", "POST", "/api/v1/couriers", map[string]any{"kind": "ad_hoc", "full_name": "Dana Ad Hoc", "user_id": e.ids["adhoc"],
		"doc_kind": "passport", "doc_number": "N1234567", "doc_country": "KZ", "doc_expires": "2035-01-01"})["id"].(string)
	bag1, _ := e.setupSealedBag()
	bag2, _ := e.setupSealedBag()
	until := time.Now().Add(72 * time.Hour)
	s1 := e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": career, "bag_ids": []string{bag1}, "valid_until": until})["id"].(string)
	s2 := e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "ad_hoc_courier",
		"courier_id": adhoc, "bag_ids": []string{bag2}, "valid_until": until})["id"].(string)
	e.must(200, "clerk", "POST", "/api/v1/sheets/"+s2+"/revoke", map[string]any{"reason": "courier fell ill"})

	list := func(user, query string) []string {
		t.Helper()
		return ids(e.must(200, user, "GET", "/api/v1/sheets?"+query, nil), "sheets")
	}
	for _, c := range []struct {
		user, query string
		want        []string
	}{
		{"clerk", "", []string{s2, s1}}, // newest first
		{"clerk", "courier=" + career, []string{s1}},
		{"clerk", "courier=" + adhoc, []string{s2}},
		{"clerk", "bag=" + bag2, []string{s2}},
		{"clerk", "valid=true", []string{s1}},
		{"clerk", "valid=false", []string{s2}},
		{"clerk", "status=revoked", []string{s2}},
		{"clerk", "issuer=DE-BER", nil},
		{"berlin", "", []string{s2, s1}}, // the destination's registry
		{"sec", "valid=true", []string{s1}},
		{"lowber", "", nil},   // on the route, but the bags are SECRET and lowber RESTRICTED
		{"modclerk", "", nil}, // cleared, but MOD is not on the route
		{"admin", "", nil},    // no mail role
	} {
		if got := list(c.user, c.query); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("GET /sheets?%s as %s = %v, want %v", c.query, c.user, got, c.want)
		}
	}
	// A listed sheet names its bags by registry number.
	first := e.must(200, "clerk", "GET", "/api/v1/sheets?bag="+bag1, nil)["sheets"].([]any)[0].(map[string]any)
	name := e.must(200, "disp", "GET", "/api/v1/couriers/"+career, nil)["full_name"]
	if bags := first["bags"].([]any); len(bags) != 1 || bags[0].(map[string]any)["bag_id"] != bag1 || first["bearer_name"] != name {
		t.Fatalf("listed sheet: %v", first)
	}

	// Pages of one: the cursor leads to the second and last page.
	p1 := e.must(200, "clerk", "GET", "/api/v1/sheets?limit=1", nil)
	next, _ := p1["next"].(string)
	if got := ids(p1, "sheets"); fmt.Sprint(got) != fmt.Sprint([]string{s2}) || next == "" {
		t.Fatalf("page 1: %v", p1)
	}
	p2 := e.must(200, "clerk", "GET", "/api/v1/sheets?limit=1&after="+url.QueryEscape(next), nil)
	if got := ids(p2, "sheets"); fmt.Sprint(got) != fmt.Sprint([]string{s1}) || p2["next"] != "" {
		t.Fatalf("page 2: %v", p2)
	}

	// Bad parameters: a problem naming the parameter, nothing changes.
	for q, field := range map[string]string{"valid=maybe": "valid", "limit=0": "limit", "limit=201": "limit",
		"after=not-a-cursor": "after", "courier=7": "courier", "bag=x": "bag", "status=lost": "status"} {
		p := e.refused(422, "clerk", "GET", "/api/v1/sheets?"+q, nil)
		if errs, _ := p["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("GET /sheets?%s: %v", q, p)
		}
	}
	e.refused(401, "nobody", "GET", "/api/v1/sheets", nil)
}

// TestPendingHandoffs: a receiver finds the hand-offs released to them with
// GET /custody/handoffs?pending=mine, until they accept or it is cancelled.
func TestPendingHandoffs(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	bag, _ := e.setupSealedBag()
	e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": e.courierID(), "bag_ids": []string{bag}, "valid_until": time.Now().Add(72 * time.Hour)})
	pending := func(user string) []any {
		t.Helper()
		return e.must(200, user, "GET", "/api/v1/custody/handoffs?pending=mine", nil)["handoffs"].([]any)
	}
	if got := pending("courier1"); len(got) != 0 {
		t.Fatalf("nothing released yet, courier1 waits for %v", got)
	}
	h := e.must(201, "clerk", "POST", "/api/v1/custody/handoffs", map[string]any{"bag_id": bag, "to": "courier1", "place": "MFA registry"})
	got := pending("courier1")
	if len(got) != 1 {
		t.Fatalf("courier1 waits for %d hand-offs, want 1", len(got))
	}
	p := got[0].(map[string]any)
	var reg string
	e.pool.QueryRow(t.Context(), `SELECT registry_number FROM bags WHERE id = $1`, bag).Scan(&reg)
	if p["id"] != h["id"] || p["bag_id"] != bag || p["registry_number"] != reg || p["packages"] != 2.0 ||
		p["place"] != "MFA registry" || p["from"].(map[string]any)["username"] != "clerk" || p["status"] != "released" {
		t.Fatalf("pending hand-off: %v", p)
	}
	// The releaser, another clerk of the unit and a stranger wait for nothing.
	for _, u := range []string{"clerk", "clerk2", "berlin", "sec"} {
		if got := pending(u); len(got) != 0 {
			t.Errorf("%s waits for %v", u, got)
		}
	}
	// Cancelled: no longer pending. Released again and accepted: neither.
	e.must(200, "clerk", "POST", "/api/v1/custody/handoffs/"+h["id"].(string)+"/cancel", nil)
	if got := pending("courier1"); len(got) != 0 {
		t.Fatalf("a cancelled hand-off is still pending: %v", got)
	}
	h = e.must(201, "clerk", "POST", "/api/v1/custody/handoffs", map[string]any{"bag_id": bag, "to": "courier1"})
	var seals []string
	for _, s := range e.must(200, "clerk", "GET", "/api/v1/bags/"+bag+"/seals", nil)["seals"].([]any) {
		seals = append(seals, s.(map[string]any)["text"].(string))
	}
	e.must(200, "courier1", "POST", "/api/v1/custody/handoffs/"+h["id"].(string)+"/accept", map[string]any{"seals": seals})
	if got := pending("courier1"); len(got) != 0 {
		t.Fatalf("an accepted hand-off is still pending: %v", got)
	}
	// Delivered to the Berlin registry as a whole: every registry clerk of
	// Berlin cleared for the bag waits for it; nobody else.
	h = e.must(201, "courier1", "POST", "/api/v1/custody/handoffs", map[string]any{"bag_id": bag, "to_unit": "DE-BER", "place": "Berlin"})
	if got := pending("berlin"); len(got) != 1 || got[0].(map[string]any)["id"] != h["id"] ||
		got[0].(map[string]any)["to"].(map[string]any)["kind"] != "registry" {
		t.Fatalf("the Berlin registry waits for %v", got)
	}
	for _, u := range []string{"lowber", "clerk", "courier1", "adhoc"} { // lowber: below the bag's level
		if got := pending(u); len(got) != 0 {
			t.Errorf("%s waits for %v", u, got)
		}
	}

	for _, q := range []string{"", "?pending=all", "?pending=mine&limit=0", "?pending=mine&after=zzz"} {
		e.refused(422, "courier1", "GET", "/api/v1/custody/handoffs"+q, nil)
	}
	e.refused(401, "nobody", "GET", "/api/v1/custody/handoffs?pending=mine", nil)
}
