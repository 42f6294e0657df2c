package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"valise/api/apitest"
	"valise/policy"
)

// rawJSON embeds a JSON text in a request body as it is.
func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }

func entCounts(t *testing.T, e *apitest.Env) string {
	t.Helper()
	var a, b, c, d int
	if err := e.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM staff_events), (SELECT count(*) FROM entitlement_reference),
		(SELECT count(*) FROM duty_incidents), (SELECT count(*) FROM entitlement_decisions)`).Scan(&a, &b, &c, &d); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(a, b, c, d)
}

// TestEntitlementsAPI walks the entitlement routes: reference values from a
// date, a duty incident, a preview (JSON and printable) that changes
// nothing, a recorded decision with its event, refusals as problem+json that
// change nothing, and the personal-data policy.
func TestEntitlementsAPI(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	po := personnelOfficer(t, e, "po.all", "MFA", []string{"*"})
	poTyo := personnelOfficer(t, e, "po.tyo", "JP-TYO", nil)
	sec := e.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.SpecialImportance, "")
	clerk := e.User(t, "clerk.ber", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
	ok := func(tok, method, path string, body any, want int) string {
		t.Helper()
		code, _, b := pstatus(t, e, method, path, tok, body)
		if code != want {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		return b
	}
	ref := func(kind, code, from, value string) {
		t.Helper()
		ok(po, "POST", "/api/v1/personnel/entitlement-reference/"+kind+"/"+code, map[string]any{"valid_from": from,
			"value": rawJSON(value), "reason": "the act's value", "act": apiAct}, 201)
	}
	ref("official_salary", "second_secretary", "2020-01-01", `{"steps":[{"from_years":0,"amount":"300000"},{"from_years":5,"amount":"330000"}]}`)
	ref("official_salary", "second_secretary", "2026-01-01", `{"steps":[{"from_years":0,"amount":"320000"},{"from_years":5,"amount":"352000"}]}`)
	ref("payment", "rank_3", "2020-01-01", `{"amount":"50000"}`)
	if b := ok(po, "GET", "/api/v1/personnel/entitlement-reference?kind=official_salary&on=2025-12-31", nil, 200); !strings.Contains(b, `"valid_from":"2020-01-01"`) {
		t.Fatalf("value on 2025-12-31: %s", b)
	}
	if b := ok(po, "GET", "/api/v1/personnel/entitlement-reference/official_salary/second_secretary/history", nil, 200); strings.Count(b, `"valid_from"`) != 2 {
		t.Fatalf("history: %s", b)
	}

	var st struct {
		ID string `json:"id"`
	}
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/staff", po, admission("E-1", "second_secretary", "MFA", "2018-01-01")), &st)
	base := "/api/v1/staff/" + st.ID
	ok(po, "POST", base+"/appointments", map[string]any{"position": "second_secretary", "unit": "DE-BER", "start_date": "2022-01-01",
		"authority": "minister", "reason": "posting", "act": apiAct}, 200)
	ok(po, "POST", base+"/ranks", map[string]any{"change": "assign", "rank": 3, "effective_date": "2022-01-01", "authority": "minister", "reason": "r", "act": apiAct}, 201)
	var inc struct {
		ID string `json:"id"`
	}
	apitest.Decode(t, e.Do(t, "POST", base+"/duty-incidents", po, map[string]any{"kind": "injury", "severity": "severe", "occurred_on": "2025-11-10",
		"country": "DE", "description": "road accident on official business", "reason": "report of the head of mission", "act": apiAct}), &inc)
	ok(po, "GET", base+"/duty-incidents", nil, 200)

	// A preview changes nothing; its printable form shows the rule, the multiplier, the reference value and the arithmetic.
	before := entCounts(t, e)
	preview := map[string]any{"kind": "duty_injury", "incident_id": inc.ID, "on": "2026-02-01"}
	if b := ok(po, "POST", base+"/entitlements/preview", preview, 200); !strings.Contains(b, `"amount":"1056000.00"`) || !strings.Contains(b, `"outcome":"payable"`) {
		t.Fatalf("preview: %s", b) // 3 × 352 000 (eight full years, the 2026 table)
	}
	code, ct, text := pstatus(t, e, "POST", base+"/entitlements/preview?format=text", po, preview)
	for _, want := range []string{"PREVIEW (not recorded)", "Rule HR-40", "Art. 25(13)", "multiplier", "official_salary/second_secretary valid from 2026-01-01", "3 × 352000.00 = 1056000.00"} {
		if code != 200 || !strings.HasPrefix(ct, "text/plain") || !strings.Contains(text, want) {
			t.Fatalf("printable preview lacks %q: %d %s\n%s", want, code, ct, text)
		}
	}
	// Bad input: problem+json, nothing changes.
	for _, c := range []struct {
		body any
		want int
		text string
	}{
		{map[string]any{"kind": "duty_injury", "incident_id": inc.ID, "bonus": 1}, 400, "bonus"},
		{map[string]any{"kind": "lottery"}, 422, `"field":"kind"`},
		{map[string]any{"kind": "disability", "incident_id": inc.ID, "disability_group": 4, "disability_established_on": "2026-01-10", "on": "2026-02-01"}, 422, "disability_group"},
		{map[string]any{"kind": "death_allowance", "died_on": "2026-01-10", "on": "2026-02-01", "average_monthly_wage": 1000}, 400, "average_monthly_wage"},
		{map[string]any{"kind": "death_allowance", "died_on": "2026-01-10", "on": "2026-02-01", "average_monthly_wage": "1000"}, 409, "no minimum/death_allowance reference value"},
		{map[string]any{"kind": "family_retention", "died_on": "2026-01-31", "on": "2026-02-01", "ends_on": "2026-03-01"}, 422, "2026-02-28 at the latest"},
	} {
		code, ct, b := pstatus(t, e, "POST", base+"/entitlements/preview", po, c.body)
		if code != c.want || ct != "application/problem+json" || !strings.Contains(b, c.text) {
			t.Fatalf("%v: %d %s %s", c.body, code, ct, b)
		}
		record := map[string]any{"reason": "r", "act": apiAct}
		for k, v := range c.body.(map[string]any) {
			record[k] = v
		}
		if code, ct, _ := pstatus(t, e, "POST", base+"/entitlements", po, record); code != c.want || ct != "application/problem+json" {
			t.Fatalf("record %v: %d", c.body, code)
		}
	}
	if code, _, b := pstatus(t, e, "POST", base+"/entitlements", po, preview); code != 422 || !strings.Contains(b, `"field":"reason"`) {
		t.Fatalf("a decision without a reason: %d %s", code, b)
	}
	if after := entCounts(t, e); after != before {
		t.Fatalf("a preview or a refusal changed something: %s → %s", before, after)
	}

	// Recording: the decision and its event; the same one-time amount twice is a 409.
	rec := map[string]any{"kind": "duty_injury", "incident_id": inc.ID, "on": "2026-02-01", "reason": "commission conclusion", "act": map[string]string{"number": "Order 9-k", "date": "2026-01-30"}}
	var dec struct {
		ID      string `json:"id"`
		EventID string `json:"event_id"`
	}
	apitest.Decode(t, e.Do(t, "POST", base+"/entitlements", po, rec), &dec)
	if code, ct, b := pstatus(t, e, "POST", base+"/entitlements", po, rec); code != http.StatusConflict || ct != "application/problem+json" || !strings.Contains(b, "already decided") {
		t.Fatalf("twice: %d %s", code, b)
	}
	if b := ok(po, "GET", base+"/events", nil, 200); !strings.Contains(b, dec.EventID) || !strings.Contains(b, `"kind":"entitlement_decided"`) || !strings.Contains(b, "Order 9-k") {
		t.Fatalf("the decision's event: %s", b)
	}
	ok(po, "POST", base+"/entitlements", map[string]any{"kind": "payment", "payment": "rank", "on": "2026-02-01", "reason": "rank payment", "act": apiAct}, 201)
	if b := ok(po, "GET", base+"/entitlements", nil, 200); strings.Count(b, `"event_id"`) != 2 {
		t.Fatalf("list: %s", b)
	}
	ok(po, "GET", base+"/entitlements/"+dec.ID, nil, 200)
	if code, ct, b := pstatus(t, e, "GET", base+"/entitlements/"+dec.ID+"?format=text", po, nil); code != 200 || !strings.HasPrefix(ct, "text/plain") ||
		!strings.Contains(b, "Recorded by po.all") || !strings.Contains(b, "OUTCOME: payable   AMOUNT: 1056000.00 KZT") {
		t.Fatalf("printable decision: %d %s", code, b)
	}

	// A correction: the same entitlement computed again (the accrual date was wrong: 2025-12-31, seven full
	// years, the 2020 table), a new decision superseding the old one; both listed; refusals change nothing.
	before = entCounts(t, e)
	corr := base + "/entitlements/" + dec.ID + "/corrections"
	fix := map[string]any{"kind": "duty_injury", "incident_id": inc.ID, "on": "2025-12-31", "reason": "the accrual date was wrong", "act": map[string]string{"number": "Order 11-k", "date": "2026-02-05"}}
	for _, c := range []struct {
		path string
		body map[string]any
		want int
		text string
	}{
		{corr, map[string]any{"kind": "duty_injury", "incident_id": inc.ID, "on": "2025-12-31", "act": apiAct}, 422, `"field":"reason"`},
		{corr, map[string]any{"kind": "payment", "payment": "rank", "on": "2026-02-01", "reason": "r", "act": apiAct}, 422, "same entitlement"},
		{base + "/entitlements/00000000-0000-4000-8000-000000000009/corrections", fix, 404, `"detail":"not found"`},
	} {
		if code, ct, b := pstatus(t, e, "POST", c.path, po, c.body); code != c.want || ct != "application/problem+json" || !strings.Contains(b, c.text) {
			t.Fatalf("correction %v: %d %s", c.body, code, b)
		}
	}
	if after := entCounts(t, e); after != before {
		t.Fatalf("a refused correction changed something: %s → %s", before, after)
	}
	var fixed struct {
		ID, EventID, Amount, Supersedes string
	}
	if b := ok(po, "POST", corr, fix, 201); json.Unmarshal([]byte(b), &fixed) != nil || fixed.Amount != "990000.00" || fixed.Supersedes != dec.ID {
		t.Fatalf("correction: %s", b)
	}
	if code, ct, b := pstatus(t, e, "POST", corr, po, fix); code != http.StatusConflict || ct != "application/problem+json" || !strings.Contains(b, "already corrected") {
		t.Fatalf("a superseded decision corrected again: %d %s", code, b)
	}
	if b := ok(po, "GET", base+"/entitlements", nil, 200); !strings.Contains(b, `"superseded_by":"`+fixed.ID+`"`) || strings.Count(b, `"event_id"`) != 3 {
		t.Fatalf("the history does not show the correction: %s", b)
	}
	if b := ok(po, "GET", base+"/events", nil, 200); !strings.Contains(b, `"kind":"entitlement_corrected"`) || !strings.Contains(b, `"corrects":"`+dec.EventID+`"`) {
		t.Fatalf("the correction's event: %s", b)
	}
	if code, _, b := pstatus(t, e, "GET", base+"/entitlements/"+dec.ID+"?format=text", po, nil); code != 200 || !strings.Contains(b, "SUPERSEDED by decision "+fixed.ID) {
		t.Fatalf("printable superseded decision: %d %s", code, b)
	}

	// Personal data: without the personnel role, or outside the scope, nothing is seen (404 as for a missing record);
	// reference data needs the role; the denies are logged; nothing changes.
	before = entCounts(t, e)
	missing := "/api/v1/staff/00000000-0000-4000-8000-000000000000"
	for _, tok := range []string{sec, clerk, poTyo} {
		incident := map[string]any{"kind": "illness", "occurred_on": "2025-12-01", "country": "DE", "description": "d", "reason": "r", "act": apiAct}
		for _, r := range []struct {
			method, path string
			body         any
		}{{"GET", "/entitlements", nil}, {"GET", "/entitlements/" + dec.ID, nil}, {"GET", "/duty-incidents", nil},
			{"POST", "/entitlements/preview", preview}, {"POST", "/entitlements", rec}, {"POST", "/duty-incidents", incident},
			{"POST", "/entitlements/" + fixed.ID + "/corrections", rec}} {
			body := r.body
			code, _, hidden := pstatus(t, e, r.method, base+r.path, tok, body)
			_, _, gone := pstatus(t, e, r.method, missing+r.path, tok, body)
			if code != http.StatusNotFound || !strings.Contains(hidden, `"detail":"not found"`) || !strings.Contains(gone, `"detail":"not found"`) {
				t.Fatalf("%s %s: %d %s (missing: %s)", r.method, r.path, code, hidden, gone)
			}
		}
	}
	for _, tok := range []string{sec, clerk} {
		if code, _, _ := pstatus(t, e, "GET", "/api/v1/personnel/entitlement-reference", tok, nil); code != http.StatusForbidden {
			t.Fatalf("reference read without the role: %d", code)
		}
	}
	if code, _, _ := pstatus(t, e, "POST", "/api/v1/personnel/entitlement-reference/mci/mci", poTyo, map[string]any{"valid_from": "2027-01-01",
		"value": rawJSON(`{"amount":"5000"}`), "reason": "r", "act": apiAct}); code != http.StatusForbidden {
		t.Fatalf("a unit's officer edits reference data: %d", code)
	}
	if after := entCounts(t, e); after != before {
		t.Fatalf("a refused request changed something: %s → %s", before, after)
	}
	var n int
	_ = e.Server.Authorizer().Flush(context.Background())
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM decision_log WHERE resource_kind = 'staff' AND resource_id = $1 AND NOT allowed`, st.ID).Scan(&n)
	if n < 18 {
		t.Fatalf("denies in the decision log: %d", n)
	}
}
