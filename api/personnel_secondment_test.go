package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"valise/api/apitest"
	"valise/policy"
)

func secCounts(t *testing.T, e *apitest.Env) string {
	t.Helper()
	var a, b, c int
	if err := e.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM secondments), (SELECT count(*) FROM secondment_steps),
		(SELECT count(*) FROM secondment_events)`).Scan(&a, &b, &c); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(a, b, c)
}

func r1Proposal(staffID, on string) map[string]any {
	var docs []map[string]string
	for _, k := range []string{"justified_letter", "nomination", "biography", "service_record", "written_consent"} {
		docs = append(docs, map[string]string{"kind": k, "number": "N-1", "date": on})
	}
	return map[string]any{"rule_set": "r1", "staff_id": staffID,
		"receiving": map[string]string{"name": "Ministry of Trade", "kind": "central_executive_body"},
		"position":  map[string]any{"title": "Director", "vacant": true}, "on": on, "documents": docs,
		"facts": map[string]any{"assessments": []map[string]any{{"year": 2022, "result": "effective"}, {"year": 2021, "result": "effective"}},
			"qualifications_met": true, "consent": map[string]string{"to": "Ministry of Trade", "date": on}},
		"reason": "proposal", "act": apiAct}
}

// TestSecondmentAPI: a refused proposal and a refused step are problem+json
// naming each failed condition and change nothing; the workflow runs through
// HTTP; a file is hidden like a missing one from an officer of another unit.
func TestSecondmentAPI(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	po := personnelOfficer(t, e, "po.all", "MFA", []string{"*"})
	poBer := personnelOfficer(t, e, "po.ber", "DE-BER", nil)
	sec := e.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.SpecialImportance, "")
	var st struct {
		ID string `json:"id"`
	}
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/staff", po, admission("S-1", "counsellor", "MFA", "2020-03-02")), &st)

	before := secCounts(t, e)
	bad := r1Proposal(st.ID, "2023-03-01")
	bad["receiving"] = map[string]string{"name": "UN", "kind": "international_organization"}
	code, ct, body := pstatus(t, e, "POST", "/api/v1/personnel/secondments", po, bad)
	if code != http.StatusUnprocessableEntity || ct != "application/problem+json" || !strings.Contains(body, "R1 §10(1)") ||
		!strings.Contains(body, "HR-29") || !strings.Contains(body, "R1 §10(6)") || !strings.Contains(body, "urn:valise:problem:invalid") {
		t.Fatalf("refused proposal: %d %s %s", code, ct, body)
	}
	if after := secCounts(t, e); after != before {
		t.Fatalf("a refusal changed something: %s → %s", before, after)
	}
	var s struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/personnel/secondments", po, r1Proposal(st.ID, "2023-03-02")), &s)
	if s.State != "proposed" {
		t.Fatalf("proposal: %+v", s)
	}
	before = secCounts(t, e)
	code, ct, body = pstatus(t, e, "POST", "/api/v1/personnel/secondments/"+s.ID+"/steps/order_issued", po, map[string]any{"on": "2023-03-03", "reason": "r", "act": apiAct})
	if code != http.StatusConflict || ct != "application/problem+json" || !strings.Contains(body, "R1 §8, §17") {
		t.Fatalf("out of order: %d %s", code, body)
	}
	code, ct, body = pstatus(t, e, "POST", "/api/v1/personnel/secondments/"+s.ID+"/steps/receiver_decision", po, map[string]any{"on": "2023-03-03", "outcome": "maybe", "reason": "r", "act": apiAct})
	if code != http.StatusBadRequest && code != http.StatusUnprocessableEntity || ct != "application/problem+json" {
		t.Fatalf("bad outcome: %d %s", code, body)
	}
	if after := secCounts(t, e); after != before {
		t.Fatalf("a refusal changed something: %s → %s", before, after)
	}
	code, _, body = pstatus(t, e, "POST", "/api/v1/personnel/secondments/"+s.ID+"/steps/receiver_decision", po, map[string]any{"on": "2023-03-03", "outcome": "agreed", "reason": "r", "act": apiAct})
	if code != http.StatusOK || !strings.Contains(body, `"state":"agreed"`) {
		t.Fatalf("receiver decision: %d %s", code, body)
	}
	for _, path := range []string{"/api/v1/personnel/secondments/" + s.ID, "/api/v1/personnel/secondments/" + s.ID + "/events"} {
		if code, _, body := pstatus(t, e, "GET", path, po, nil); code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		_, _, missing := pstatus(t, e, "GET", strings.Replace(path, s.ID, "00000000-0000-4000-8000-000000000000", 1), poBer, nil)
		for _, tok := range []string{poBer, sec} {
			code, _, hidden := pstatus(t, e, "GET", path, tok, nil)
			if code != http.StatusNotFound || !strings.Contains(hidden, `"detail":"not found"`) || !strings.Contains(missing, `"detail":"not found"`) {
				t.Fatalf("hidden %s: %d %s (missing %s)", path, code, hidden, missing)
			}
		}
	}
	_, _, body = pstatus(t, e, "GET", "/api/v1/personnel/secondments", poBer, nil)
	if strings.Contains(body, s.ID) {
		t.Fatalf("the Berlin officer lists the ministry's file: %s", body)
	}
	_, _, body = pstatus(t, e, "GET", "/api/v1/personnel/secondments?rule_set=r1", po, nil)
	if !strings.Contains(body, s.ID) {
		t.Fatalf("list: %s", body)
	}
	if code, _, _ := pstatus(t, e, "GET", "/api/v1/personnel/secondments?rule_set=r9", po, nil); code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
		t.Fatalf("bad rule_set: %d", code)
	}
	if code, _, body := pstatus(t, e, "GET", "/api/v1/personnel/secondment-rules", po, nil); code != http.StatusOK || !strings.Contains(body, "presidential_decision") {
		t.Fatalf("rules: %d %s", code, body)
	}
}
