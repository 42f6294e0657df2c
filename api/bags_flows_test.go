package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// snapshot fingerprints the tables a mail request may write.
func (e *mailEnv) snapshot() string {
	return e.fingerprint("bags", "bag_custody", "bag_events", "handoffs", "bag_packages", "incidents", "loss_reports", "examinations", "couriers",
		"courier_sheets", "courier_sheet_bags", "bag_receipts", "submissions", "authorized_senders", "tlog_entries",
		"seals", "seal_revocations", "trust_lists")
}

// fingerprint is each table's row count and a checksum of its rows.
func (e *mailEnv) fingerprint(tables ...string) string {
	e.t.Helper()
	var b strings.Builder
	for _, tbl := range tables {
		var n int
		var sum string
		err := e.pool.QueryRow(context.Background(), `SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM `+tbl+` t`).Scan(&n, &sum)
		if err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %s\n", tbl, n, sum)
	}
	return b.String()
}

// refused sends a request that must fail with status as a problem body and
// change nothing; it returns the problem.
func (e *mailEnv) refused(status int, user, method, path string, body any, hdr ...string) map[string]any {
	e.t.Helper()
	before := e.snapshot()
	res, p := e.do(user, method, path, body, hdr...)
	if res.StatusCode != status || res.Header.Get("Content-Type") != "application/problem+json" || p["type"] == nil || p["detail"] == nil {
		e.t.Fatalf("%s %s as %s = %d %s %v, want a %d problem", method, path, user, res.StatusCode, res.Header.Get("Content-Type"), p, status)
	}
	if after := e.snapshot(); after != before {
		e.t.Fatalf("%s %s as %s was refused but changed the database:\n%s\n---\n%s", method, path, user, before, after)
	}
	return p
}

// dispatched drives a fresh sealed bag onto a sheet naming courier1 and dispatches it.
func (e *mailEnv) dispatched() (bagID, sheetID string) {
	e.t.Helper()
	id, _ := e.setupSealedBag()
	sheet := e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": e.courierID(), "bag_ids": []string{id}, "valid_until": time.Now().Add(72 * time.Hour)})
	e.dispatch(id)
	return id, sheet["id"].(string)
}

// dispatch is the dispatch stage of a bag on a sheet naming courier1: the
// MFA clerk releases it, the courier confirms with a scan of its seals.
func (e *mailEnv) dispatch(id string) {
	e.t.Helper()
	out := e.must(200, "clerk", "POST", "/api/v1/bags/"+id+"/dispatch", nil)
	h := out["handoff"].(map[string]any)
	e.must(200, "courier1", "POST", "/api/v1/custody/handoffs/"+h["id"].(string)+"/accept", e.scan(id))
}

// scan is a receiver's full scan of a bag's seals (every seal, all packages, intact).
func (e *mailEnv) scan(bagID string) map[string]any {
	e.t.Helper()
	list := e.must(200, "clerk", "GET", "/api/v1/bags/"+bagID+"/seals", nil)
	var texts []string
	for _, s := range list["seals"].([]any) {
		texts = append(texts, s.(map[string]any)["text"].(string))
	}
	return map[string]any{"seals": texts, "packages_counted": len(texts), "seals_intact": true}
}

// courierID records courier1 as a career courier once.
func (e *mailEnv) courierID() string { return e.courierFor("courier1", "career") }

// courierFor records user as a courier of kind (career, or ad_hoc with a
// passport) once, and returns the record's id.
func (e *mailEnv) courierFor(user, kind string) string {
	e.t.Helper()
	var id string
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM couriers WHERE user_id = $1`, e.ids[user]).Scan(&id); err == nil {
		return id
	}
	in := map[string]any{"kind": kind, "user_id": e.ids[user], "full_name": user + " Courier"}
	if kind == "ad_hoc" {
		in["doc_kind"], in["doc_number"], in["doc_country"], in["doc_expires"] = "passport", "N"+e.ids[user][:8], "KZ", "2035-01-01"
	}
	return e.must(201, "disp", "POST", "/api/v1/couriers", in)["id"].(string)
}

func TestCourierRecordsDM04DM05(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO users (username, full_name, unit_id, roles, clearance, courier_kind, active)
		SELECT 'gone', 'Suspended Courier', id, '{courier}', 3, 'career', false FROM units WHERE code = 'MFA'`); err != nil {
		t.Fatal(err)
	}
	var gone string
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE username = 'gone'`).Scan(&gone)
	doc := map[string]any{"kind": "ad_hoc", "full_name": "Ad Hoc", "doc_kind": "passport", "doc_number": "N123", "doc_country": "KZ", "doc_expires": "2035-01-01"}
	without := func(k string) map[string]any {
		m := map[string]any{}
		for kk, v := range doc {
			if kk != k {
				m[kk] = v
			}
		}
		return m
	}
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"career without an account":           {map[string]any{"kind": "career", "full_name": "X"}, "user_id"},
		"career: no such user":                {map[string]any{"kind": "career", "user_id": "00000000-0000-0000-0000-000000000000", "full_name": "X"}, "user_id"},
		"career: user without courier role":   {map[string]any{"kind": "career", "user_id": e.ids["clerk"], "full_name": "X"}, "user_id"},
		"career: an ad hoc courier's account": {map[string]any{"kind": "career", "user_id": e.ids["adhoc"], "full_name": "X"}, "user_id"},
		"career: suspended account":           {map[string]any{"kind": "career", "user_id": gone, "full_name": "X"}, "user_id"},
		"career: username of another user":    {map[string]any{"kind": "career", "user_id": e.ids["courier1"], "username": "clerk", "full_name": "X"}, "username"},
		"ad hoc without document kind":        {without("doc_kind"), "doc_kind"},
		"ad hoc without document number":      {without("doc_number"), "doc_number"},
		"ad hoc without issuing state":        {without("doc_country"), "doc_country"},
		"ad hoc with an expired document":     {map[string]any{"kind": "ad_hoc", "full_name": "A", "doc_kind": "passport", "doc_number": "N1", "doc_country": "KZ", "doc_expires": "2001-01-01"}, "doc_expires"},
	} {
		p := e.refused(422, "disp", "POST", "/api/v1/couriers", tc.body)
		if !strings.Contains(fmt.Sprint(p["errors"]), tc.field) {
			t.Errorf("%s: problem does not name %s: %v", name, tc.field, p["errors"])
		}
	}
	// A clerk may not record couriers (planning right).
	e.refused(403, "clerk", "POST", "/api/v1/couriers", doc)
	c := e.must(201, "disp", "POST", "/api/v1/couriers", map[string]any{"kind": "career", "user_id": e.ids["courier1"], "full_name": "Arman Courier"})
	if c["username"] != "courier1" {
		t.Fatalf("career courier %v: the username comes from the account", c)
	}
	e.refused(422, "disp", "POST", "/api/v1/couriers", map[string]any{"kind": "career", "user_id": e.ids["courier1"], "full_name": "Again"})
	ah := e.must(201, "disp", "POST", "/api/v1/couriers", doc)
	if ah["doc_number"] != "N123" || ah["kind"] != "ad_hoc" {
		t.Fatalf("ad hoc courier %v", ah)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	id, _ := e.dispatched()
	path := "/api/v1/bags/" + id + "/deliver"
	events := func() int {
		var n int
		_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM bag_events WHERE bag_id = $1`, id).Scan(&n)
		return n
	}
	n0 := events()
	res, first := e.do("courier1", "POST", path, map[string]any{"place": "Berlin"}, "Idempotency-Key", "phone-1-0001")
	if res.StatusCode != 200 || res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v", res.StatusCode, first)
	}
	etag := res.Header.Get("ETag")
	// The phone lost the answer and retries: same answer, nothing recorded twice.
	for range 2 {
		res, again := e.do("courier1", "POST", path, map[string]any{"place": "Berlin"}, "Idempotency-Key", "phone-1-0001")
		if res.StatusCode != 200 || res.Header.Get("Idempotent-Replayed") != "true" || res.Header.Get("ETag") != etag ||
			fmt.Sprint(again) != fmt.Sprint(first) {
			t.Fatalf("replay: %d %q %v", res.StatusCode, res.Header.Get("ETag"), again)
		}
	}
	if n := events(); n != n0+1 {
		t.Fatalf("%d events recorded for one delivery", n-n0)
	}
	// The same key with another body: 422, and nothing changes.
	p := e.refused(422, "courier1", "POST", path, map[string]any{"place": "Potsdam"}, "Idempotency-Key", "phone-1-0001")
	if !strings.Contains(fmt.Sprint(p["errors"]), "Idempotency-Key") {
		t.Fatalf("problem %v", p)
	}
	// ... or on another path.
	e.refused(422, "courier1", "POST", "/api/v1/bags/"+id+"/arrive_leg", map[string]any{"place": "Berlin"}, "Idempotency-Key", "phone-1-0001")
	// A refused request is stored too: its retry gets the same refusal.
	res, _ = e.do("berlin", "POST", "/api/v1/bags/"+id+"/store", map[string]any{"place": "Safe", "custodian": "b"}, "Idempotency-Key", "k2")
	res2, _ := e.do("berlin", "POST", "/api/v1/bags/"+id+"/store", map[string]any{"place": "Safe", "custodian": "b"}, "Idempotency-Key", "k2")
	if res.StatusCode != 403 || res2.StatusCode != 403 || res2.Header.Get("Idempotent-Replayed") != "true" ||
		res2.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("refusal replay: %d %d %v", res.StatusCode, res2.StatusCode, res2.Header)
	}
	// Keys are per user: another user's identical key is another request.
	e.must(200, "berlin", "POST", "/api/v1/bags/"+id+"/accept", map[string]any{"packages_counted": 2, "seals_intact": true}, "Idempotency-Key", "phone-1-0001")
	// A malformed key is refused.
	e.refused(400, "berlin", "POST", "/api/v1/bags/"+id+"/store", map[string]any{"place": "Safe", "custodian": "b"}, "Idempotency-Key", strings.Repeat("k", 300))
	// Concurrent retries with one key: one action; the others wait for it and
	// replay its answer (never "still being processed").
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", e.url+"/api/v1/bags/"+id+"/store", strings.NewReader(`{"place":"Safe","custodian":"b"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.tokens["berlin"])
			req.Header.Set("Idempotency-Key", "store-once")
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				codes[i] = res.StatusCode
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	for _, c := range codes {
		if c != 200 {
			t.Fatalf("concurrent retries answered %v", codes)
		}
	}
	var stores int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM bag_events WHERE bag_id = $1 AND kind = 'store'`, id).Scan(&stores)
	if stores != 1 {
		t.Fatalf("%d store events", stores)
	}
}

func TestMailRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	id, sheet := e.dispatched()
	bag := "/api/v1/bags/" + id
	// Loss abroad: found is refused until the foreign-intelligence agreement is recorded.
	out := e.must(200, "courier1", "POST", bag+"/report_missing", map[string]any{"territory": "abroad", "country": "DE",
		"last_seen_at": time.Now().Add(-time.Hour), "last_seen_place": "Frankfurt transfer"})
	lr := out["loss_report"].(map[string]any)
	if lr["status"] != "awaiting_agreement" {
		t.Fatalf("loss report %v", lr)
	}
	p := e.refused(409, "sec", "POST", bag+"/mark_found", map[string]any{"place": "Frankfurt"})
	if p["missing"] != "agreement" || p["current_state"] != "missing" {
		t.Fatalf("found before agreement: %v", p)
	}
	e.refused(422, "sec", "POST", "/api/v1/loss-reports/"+lr["id"].(string)+"/agreement", map[string]any{"body": "FIS"})
	e.must(200, "sec", "POST", "/api/v1/loss-reports/"+lr["id"].(string)+"/agreement", map[string]any{"body": "Foreign Intelligence Service", "reference": "FIS-1"})
	e.must(200, "sec", "POST", bag+"/mark_found", map[string]any{"place": "Frankfurt"})
	// The incident: an unknown outcome and a stale If-Match are refused; compromised closes it and the bag.
	inc := e.must(200, "sec", "GET", "/api/v1/incidents?open=true", nil)["incidents"].([]any)[0].(map[string]any)
	incPath := "/api/v1/incidents/" + inc["id"].(string)
	e.refused(422, "sec", "PATCH", incPath, map[string]any{"outcome": "resolved", "note": "x"})
	e.refused(412, "sec", "PATCH", incPath, map[string]any{"notified": true}, "If-Match", `"99"`)
	e.refused(403, "berlin", "PATCH", incPath, map[string]any{"outcome": "lost", "note": "x"})
	closed := e.must(200, "sec", "PATCH", incPath, map[string]any{"outcome": "compromised", "note": "seal forged"})
	if closed["outcome"] != "compromised" || bagOf(e.must(200, "sec", "GET", bag, nil))["state"] != "compromised" {
		t.Fatalf("closing as compromised: %v", closed)
	}
	// Corrections: of a non-existent event, refused; of a real one, a new event pointing to it.
	e.refused(422, "clerk", "POST", bag+"/corrections", map[string]any{"event_id": 999999, "reason": "did_not_occur", "note": "x"})
	e.refused(400, "clerk", "POST", bag+"/corrections", `{"event_id": "seven"}`)
	evs := e.must(200, "sec", "GET", bag+"/events", nil)["events"].([]any)
	first := evs[0].(map[string]any)
	corr := e.must(201, "clerk", "POST", bag+"/corrections", map[string]any{"event_id": first["id"], "reason": "incorrect_data", "note": "wrong plan"})
	if corr["corrects"] != first["id"] || corr["kind"] != "correction" {
		t.Fatalf("correction %v", corr)
	}
	if again := e.must(200, "sec", "GET", bag+"/events", nil)["events"].([]any); fmt.Sprint(again[0]) != fmt.Sprint(first) || len(again) != len(evs)+1 {
		t.Fatal("a correction edited history")
	}
	// A revoked sheet: its bag cannot be dispatched.
	id2, _ := e.setupSealedBag()
	sh := e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": e.courierID(), "bag_ids": []string{id2}, "valid_until": time.Now().Add(72 * time.Hour)})
	e.refused(422, "clerk", "POST", "/api/v1/sheets/"+sh["id"].(string)+"/revoke", map[string]any{})
	e.must(200, "clerk", "POST", "/api/v1/sheets/"+sh["id"].(string)+"/revoke", map[string]any{"reason": "courier ill"})
	if p := e.refused(409, "clerk", "POST", "/api/v1/bags/"+id2+"/dispatch", nil); p["missing"] != "courier_sheet" {
		t.Fatalf("dispatch on a revoked sheet: %v", p)
	}
	e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": e.courierID(), "bag_ids": []string{id2}, "valid_until": time.Now().Add(72 * time.Hour), "replaces": sh["id"]})
	e.dispatch(id2)
	_ = sheet
	// Examination: opening without a witness is refused; re-sealing after an opening is required.
	e.refused(422, "sec", "POST", "/api/v1/bags/"+id2+"/examine", map[string]any{"opening": true, "initiating_body": "Customs",
		"initiating_official": "Inspector", "grounds": "x-ray", "witness_kind": "customs_officer", "witness_name": "Z"})
	e.must(200, "sec", "POST", "/api/v1/bags/"+id2+"/examine", map[string]any{"opening": true, "initiating_body": "Customs",
		"initiating_official": "Inspector", "grounds": "x-ray", "witness_kind": "authorized_representative", "witness_name": "Consul", "witness_unit": "DE-BER"})
	e.refused(422, "sec", "POST", "/api/v1/bags/"+id2+"/conclude_examination", map[string]any{"findings": "papers"})
	b := bagOf(e.must(200, "sec", "POST", "/api/v1/bags/"+id2+"/conclude_examination", map[string]any{"findings": "papers", "resealed_serials": []string{"RS-" + strings.ToUpper(id2[:8])}}))
	if b["state"] != "dispatched" {
		t.Fatalf("after examination %v", b["state"])
	}
	// DM-14: no direct bag on a route the law does not describe.
	e.refused(422, "disp", "POST", "/api/v1/bags", map[string]any{"origin": "DE-BER", "destination": "JP-TYO"})
}

func TestRegistryAndSecurityLists(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	onTime, _ := e.dispatched()
	late, _ := e.dispatched()
	if _, err := e.pool.Exec(context.Background(), `UPDATE bags SET due_at = now() - interval '2 hours' WHERE id = $1`, late); err != nil {
		t.Fatal(err)
	}
	list := func(user, q string) string {
		t.Helper()
		var ids []string
		for _, b := range e.must(200, user, "GET", "/api/v1/bags"+q, nil)["bags"].([]any) {
			ids = append(ids, b.(map[string]any)["id"].(string))
		}
		return strings.Join(ids, ",")
	}
	if got := list("berlin", "?due_to=DE-BER"); got != late+","+onTime {
		t.Errorf("due to Berlin: %s", got)
	}
	if got := list("berlin", "?due_to=DE-BER&overdue=true"); got != late {
		t.Errorf("overdue for Berlin: %s", got)
	}
	if got := list("sec", "?state=dispatched&unit=DE-BER&min_level=SECRET&max_level=TOP_SECRET"); got != late+","+onTime {
		t.Errorf("security by state, route and level: %s", got)
	}
	if got := list("sec", "?older_than=1h"); got != "" {
		t.Errorf("older than an hour: %s", got)
	}
	// Content names and levels only through the policy: a RESTRICTED Berlin clerk sees nothing.
	if got := list("lowber", "?due_to=DE-BER"); got != "" {
		t.Errorf("low clearance sees %s", got)
	}
	full := e.must(200, "berlin", "GET", "/api/v1/bags/"+late, nil)
	sub := full["contents"].([]any)[0].(map[string]any)
	e.refused(404, "lowber", "GET", "/api/v1/bags/"+late, nil)
	e.refused(404, "lowber", "GET", "/api/v1/submissions/"+sub["id"].(string), nil)
	e.refused(404, "nbclerk", "GET", "/api/v1/submissions/"+sub["id"].(string), nil)
	if got := e.must(200, "berlin", "GET", "/api/v1/submissions/"+sub["id"].(string), nil); got["items"] == nil {
		t.Fatalf("submission for the cleared destination: %v", got)
	}
	for _, q := range []string{"?min_level=VERY_SECRET", "?older_than=soon", "?limit=0"} {
		e.refused(422, "sec", "GET", "/api/v1/bags"+q, nil)
	}
}
