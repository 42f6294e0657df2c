package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"valise/api/apitest"
	"valise/identity"
	"valise/policy"
)

// personnelOfficer creates a personnel officer with the given scope and logs in.
func personnelOfficer(t *testing.T, e *apitest.Env, name, unit string, scope []string) string {
	t.Helper()
	if _, err := e.Server.Identity().CreateUser(context.Background(), identity.UserInput{Username: name, FullName: name, Unit: unit,
		Roles: []string{policy.RolePersonnelOfficer}, Scope: scope, Password: apitest.Password}); err != nil {
		t.Fatal(err)
	}
	return e.Login(t, name, apitest.Password).AccessToken
}

var apiAct = map[string]any{"number": "Order 12", "date": "2023-02-20"}

func admission(number, position, unit, start string) map[string]any {
	auth := "minister"
	if position == "ambassador" {
		auth = "president"
	}
	return map[string]any{
		"personnel_number": number, "full_name": "Person " + number, "birth_date": "1991-04-04",
		"citizenships":  []string{"KZ"},
		"languages":     []map[string]string{{"language": "kk", "level": "native"}, {"language": "ru", "level": "C2"}, {"language": "de", "level": "C1"}},
		"education":     []map[string]any{{"level": "master", "institution": "KazNU", "year": 2015}},
		"health":        map[string]string{"result": "positive", "date": start},
		"special_check": map[string]string{"result": "positive", "date": start},
		"first_entry":   true,
		"appointment":   map[string]string{"position": position, "unit": unit, "start_date": start, "authority": auth},
		"reason":        "admission", "act": apiAct,
	}
}

// pstatus sends a request and returns the status and body (closed).
func pstatus(t *testing.T, e *apitest.Env, method, path, tok string, body any) (int, string, string) {
	t.Helper()
	res := e.Do(t, method, path, tok, body)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

func counts(t *testing.T, e *apitest.Env) string {
	t.Helper()
	var a, b, c, d int
	if err := e.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM staff), (SELECT count(*) FROM staff_events),
		(SELECT count(*) FROM staff_ranks), (SELECT count(*) FROM personnel_reserve)`).Scan(&a, &b, &c, &d); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(a, b, c, d)
}

func TestPersonnelAPIRefusalsAndPrivacy(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	po := personnelOfficer(t, e, "po.all", "MFA", []string{"*"})
	poBer := personnelOfficer(t, e, "po.ber", "DE-BER", nil)
	sec := e.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.SpecialImportance, "")
	clerk := e.User(t, "clerk.ber", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")

	// Admission refused: problem+json naming each failed condition, nothing written.
	before := counts(t, e)
	bad := admission("A-1", "attache", "MFA", "2023-03-01")
	bad["citizenships"] = []string{"KZ", "RU"}
	bad["special_check"] = map[string]string{"result": "positive", "date": "2023-03-02"}
	code, ct, body := pstatus(t, e, "POST", "/api/v1/staff", po, bad)
	if code != http.StatusUnprocessableEntity || ct != "application/problem+json" ||
		!strings.Contains(body, "HR-13: holds a foreign citizenship (RU)") || !strings.Contains(body, "is after the appointment date") {
		t.Fatalf("refused admission: %d %s %s", code, ct, body)
	}
	if after := counts(t, e); after != before {
		t.Fatalf("a refusal changed something: %s → %s", before, after)
	}

	var mfa, ber struct {
		ID string `json:"id"`
	}
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/staff", po, admission("A-1", "attache", "MFA", "2023-03-01")), &mfa)
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/staff", poBer, admission("B-1", "third_secretary", "DE-BER", "2021-01-01")), &ber)
	// The Berlin officer cannot admit to the ministry: it answers as missing.
	if code, _, _ := pstatus(t, e, "POST", "/api/v1/staff", poBer, admission("A-2", "attache", "MFA", "2023-03-01")); code != http.StatusNotFound {
		t.Fatalf("admission outside scope: %d", code)
	}
	rank := map[string]any{"change": "assign", "rank": 1, "effective_date": "2023-03-01", "authority": "minister", "reason": "r", "act": apiAct}
	if code, _, body := pstatus(t, e, "POST", "/api/v1/staff/"+mfa.ID+"/ranks", po, rank); code != http.StatusCreated {
		t.Fatalf("assign: %d %s", code, body)
	}
	// One day before the minimum: 422 naming HR-06, nothing written; on the day: 201.
	before = counts(t, e)
	rank["rank"], rank["effective_date"] = 2, "2025-02-28"
	code, ct, body = pstatus(t, e, "POST", "/api/v1/staff/"+mfa.ID+"/ranks", po, rank)
	if code != http.StatusUnprocessableEntity || ct != "application/problem+json" || !strings.Contains(body, "HR-06") {
		t.Fatalf("early: %d %s", code, body)
	}
	if after := counts(t, e); after != before {
		t.Fatalf("a refusal changed something: %s → %s", before, after)
	}
	_, _, body = pstatus(t, e, "GET", "/api/v1/personnel/eligible?on=2025-02-28", po, nil)
	if strings.Contains(body, mfa.ID) {
		t.Fatalf("eligible a day early: %s", body)
	}
	_, _, body = pstatus(t, e, "GET", "/api/v1/personnel/eligible?on=2025-03-01", po, nil)
	if !strings.Contains(body, mfa.ID) {
		t.Fatalf("not eligible on the day: %s", body)
	}
	if code, _, body := pstatus(t, e, "GET", "/api/v1/personnel/eligible?on=tomorrow", po, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("bad date: %d %s", code, body)
	}
	rank["effective_date"] = "2025-03-01"
	if code, _, body := pstatus(t, e, "POST", "/api/v1/staff/"+mfa.ID+"/ranks", po, rank); code != http.StatusCreated || !strings.Contains(body, `"early":false`) {
		t.Fatalf("on the day: %d %s", code, body)
	}

	// Personal data: the security officer and the Berlin officer get 404 for the ministry record,
	// exactly as for a record that does not exist; the denies are in the decision log.
	_, _, missing := pstatus(t, e, "GET", "/api/v1/staff/00000000-0000-0000-0000-000000000000", sec, nil)
	for _, tok := range []string{sec, poBer, clerk} {
		code, _, body := pstatus(t, e, "GET", "/api/v1/staff/"+mfa.ID, tok, nil)
		if code != http.StatusNotFound || !strings.Contains(body, `"detail":"not found"`) || !strings.Contains(missing, `"detail":"not found"`) {
			t.Fatalf("hidden record: %d %s (missing: %s)", code, body, missing)
		}
	}
	var n int
	_ = e.Server.Authorizer().Flush(context.Background()) // denies reach the decision log off the request path
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM decision_log WHERE resource_kind = 'staff' AND resource_id = $1 AND NOT allowed`, mfa.ID).Scan(&n)
	if n < 3 {
		t.Fatalf("denied reads in the decision log: %d", n)
	}
	// Lists are filtered in SQL: the Berlin officer sees Berlin only.
	_, _, body = pstatus(t, e, "GET", "/api/v1/staff", poBer, nil)
	if !strings.Contains(body, ber.ID) || strings.Contains(body, mfa.ID) {
		t.Fatalf("scoped list: %s", body)
	}
	// The person reads their own record once linked, and changes nothing of it.
	if code, _, body := pstatus(t, e, "PUT", "/api/v1/staff/"+ber.ID+"/account", poBer, map[string]any{"username": "clerk.ber", "reason": "r", "act": apiAct}); code != http.StatusOK {
		t.Fatalf("link: %d %s", code, body)
	}
	if code, _, _ := pstatus(t, e, "GET", "/api/v1/staff/"+ber.ID, clerk, nil); code != http.StatusOK {
		t.Fatalf("own record: %d", code)
	}
	_, _, body = pstatus(t, e, "GET", "/api/v1/staff", clerk, nil)
	if !strings.Contains(body, ber.ID) || strings.Contains(body, mfa.ID) {
		t.Fatalf("own list: %s", body)
	}
	if code, _, _ := pstatus(t, e, "POST", "/api/v1/staff/"+ber.ID+"/family", clerk, map[string]any{"relation": "spouse", "full_name": "S", "birth_date": "1990-01-01", "reason": "r", "act": apiAct}); code != http.StatusNotFound {
		t.Fatalf("self-edit: %d", code)
	}

	// HR-34 over the API: 409 problem naming the rule; nothing written.
	if code, _, body := pstatus(t, e, "POST", "/api/v1/staff/"+ber.ID+"/cases", poBer, map[string]any{"offence": "discrediting", "opened_on": "2024-01-10", "summary": "s", "reason": "r", "act": apiAct}); code != http.StatusCreated {
		t.Fatalf("case: %d %s", code, body)
	}
	before = counts(t, e)
	code, ct, body = pstatus(t, e, "POST", "/api/v1/staff/"+ber.ID+"/termination", poBer, map[string]any{"ground": "own_resignation", "effective_date": "2024-02-01", "authority": "minister", "reason": "r", "act": apiAct})
	if code != http.StatusConflict || ct != "application/problem+json" || !strings.Contains(body, "HR-34") || !strings.Contains(body, "discrediting the civil service") {
		t.Fatalf("HR-34: %d %s", code, body)
	}
	// Malformed and unknown fields are 400 naming the field, and change nothing.
	if code, _, body := pstatus(t, e, "POST", "/api/v1/staff/"+ber.ID+"/penalties", poBer, map[string]any{"kind": "remark", "imposed_on": "2024-13-01", "reason": "r", "act": apiAct}); code != http.StatusBadRequest || !strings.Contains(body, `"field":"imposed_on"`) {
		t.Fatalf("bad date: %d %s", code, body)
	}
	if code, _, _ := pstatus(t, e, "POST", "/api/v1/staff/"+ber.ID+"/penalties", poBer, map[string]any{"kind": "remark", "when": "x"}); code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d", code)
	}
	if code, _, body := pstatus(t, e, "POST", "/api/v1/staff/"+ber.ID+"/penalties", poBer, map[string]any{"kind": "rank_delay", "imposed_on": "2024-01-31", "delay_until": "2025-02-01", "reason": "r", "act": apiAct}); code != http.StatusUnprocessableEntity || !strings.Contains(body, "at most until 2025-01-31") {
		t.Fatalf("delay of 12 months and a day: %d %s", code, body)
	}
	if after := counts(t, e); after != before {
		t.Fatalf("a refusal changed something: %s → %s", before, after)
	}
	if code, _, body := pstatus(t, e, "POST", "/api/v1/staff/"+ber.ID+"/penalties", poBer, map[string]any{"kind": "rank_delay", "imposed_on": "2024-01-31", "delay_until": "2025-01-31", "reason": "r", "act": apiAct}); code != http.StatusCreated {
		t.Fatalf("delay of 12 months: %d %s", code, body)
	}
	// Reference data: the Berlin officer reads it, may not change it.
	if code, _, _ := pstatus(t, e, "GET", "/api/v1/personnel/reference?kind=position", poBer, nil); code != http.StatusOK {
		t.Fatalf("reference read: %d", code)
	}
	if code, _, _ := pstatus(t, e, "PUT", "/api/v1/personnel/reference/probation/months", poBer, map[string]any{"value": map[string]int{"months": 3}, "reason": "r", "act": apiAct}); code != http.StatusForbidden {
		t.Fatalf("reference edit: %d", code)
	}
	if code, _, body := pstatus(t, e, "PUT", "/api/v1/personnel/reference/probation/months", po, map[string]any{"value": map[string]int{"months": 3}, "reason": "r", "act": apiAct}); code != http.StatusOK {
		t.Fatalf("reference edit: %d %s", code, body)
	}
	if _, _, body := pstatus(t, e, "GET", "/api/v1/personnel/reference/probation/months/history", po, nil); strings.Count(body, `"code":"months"`) != 2 {
		t.Fatalf("history: %s", body)
	}
}

// TestPersonnelAPIRoutes walks every personnel route once with a request it
// accepts (so each answer is checked against the OpenAPI document).
func TestPersonnelAPIRoutes(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	po := personnelOfficer(t, e, "po.all", "MFA", []string{"*"})
	var st struct {
		ID string `json:"id"`
	}
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/staff", po, admission("W-1", "attache", "MFA", "2022-01-10")), &st)
	base := "/api/v1/staff/" + st.ID
	ok := func(method, path string, body any, want int) string {
		t.Helper()
		code, _, b := pstatus(t, e, method, path, po, body)
		if code != want {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		return b
	}
	ch := func(m map[string]any) map[string]any { m["reason"], m["act"] = "r", apiAct; return m }
	ok("GET", "/api/v1/personnel/ranks", nil, 200)
	ok("POST", base+"/ranks", ch(map[string]any{"change": "assign", "rank": 1, "effective_date": "2022-01-10", "authority": "minister"}), 201)
	ok("POST", base+"/service-periods", ch(map[string]any{"type": "professional_development", "start_date": "2022-06-01", "end_date": "2022-06-30", "note": "course"}), 201)
	ok("GET", base+"/time-in-rank?on=2023-01-10", nil, 200)
	ok("POST", base+"/appointments", ch(map[string]any{"position": "third_secretary", "unit": "DE-BER", "start_date": "2023-02-01", "authority": "minister"}), 200)
	var events struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	apitest.Decode(t, e.Do(t, "GET", base+"/events", po, nil), &events)
	ok("POST", base+"/corrections", ch(map[string]any{"corrects": events.Events[0].ID, "full_name": "Person W-1 Corrected"}), 200)
	ok("POST", base+"/family", ch(map[string]any{"relation": "spouse", "full_name": "Spouse W", "birth_date": "1990-02-02",
		"documents": []map[string]string{{"kind": "marriage_certificate", "number": "M-1", "date": "2019-05-05"}}}), 201)
	ok("GET", base+"/family?on=2024-01-01", nil, 200)
	var study struct {
		ID string `json:"id"`
	}
	apitest.Decode(t, e.Do(t, "POST", base+"/studies", po, ch(map[string]any{"institution": "Diplomatic Academy", "purpose": "scientific_study",
		"start_date": "2024-09-01", "end_date": "2025-06-30", "consent": map[string]any{"given": true, "date": "2024-08-01"}})), &study)
	ok("POST", base+"/studies/"+study.ID+"/complete", ch(map[string]any{"completed_on": "2025-06-30"}), 200)
	var c struct {
		ID string `json:"id"`
	}
	apitest.Decode(t, e.Do(t, "POST", base+"/cases", po, ch(map[string]any{"offence": "other", "opened_on": "2025-07-01", "summary": "late report"})), &c)
	ok("POST", base+"/cases/"+c.ID+"/close", ch(map[string]any{"closed_on": "2025-07-15"}), 200)
	ok("POST", base+"/penalties", ch(map[string]any{"kind": "remark", "imposed_on": "2025-07-15", "case_id": c.ID}), 201)
	ok("GET", base+"/service-record", nil, 200)
	if code, ct, b := pstatus(t, e, "GET", base+"/service-record?format=text", po, nil); code != 200 || !strings.HasPrefix(ct, "text/plain") ||
		!strings.Contains(b, "assigned the diplomatic rank of Attaché") {
		t.Fatalf("printable service record: %d %s %s", code, ct, b)
	}
	ok("POST", base+"/termination", ch(map[string]any{"ground": "own_resignation", "effective_date": "2025-12-31", "authority": "minister"}), 201)
	if b := ok("GET", "/api/v1/personnel/reserve", nil, 200); strings.Count(b, `"basis"`) != 2 {
		t.Fatalf("study and resignation in the reserve: %s", b)
	}
	if b := ok("GET", base, nil, 200); !strings.Contains(b, "Person W-1 Corrected") || !strings.Contains(b, `"staff_kind":"diplomatic"`) {
		t.Fatalf("record: %s", b)
	}
}
