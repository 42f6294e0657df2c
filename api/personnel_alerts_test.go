package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"valise/api/apitest"
	"valise/policy"
)

func TestPersonnelCalendarAndAlertsAPI(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	po := personnelOfficer(t, e, "po.all", "MFA", []string{"*"})
	poBer := personnelOfficer(t, e, "po.ber", "DE-BER", nil)
	clerk := e.User(t, "clerk.ber", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")

	code, _, body := pstatus(t, e, "PUT", "/api/v1/personnel/calendar/2026-03-23", po,
		map[string]any{"kind": "holiday", "name": "Nauryz", "reason": "Labour Code Art. 85", "act": apiAct})
	if code != http.StatusOK || !strings.Contains(body, `"working":false`) {
		t.Fatalf("set holiday: %d %s", code, body)
	}
	// A Saturday is not a holiday to record: 422 problem, nothing changes.
	code, ct, body := pstatus(t, e, "PUT", "/api/v1/personnel/calendar/2026-03-21", po,
		map[string]any{"kind": "holiday", "name": "Nauryz", "reason": "r", "act": apiAct})
	if code != http.StatusUnprocessableEntity || ct != "application/problem+json" || !strings.Contains(body, "Saturday") {
		t.Fatalf("weekend holiday: %d %s %s", code, ct, body)
	}
	code, _, _ = pstatus(t, e, "PUT", "/api/v1/personnel/calendar/2026-03-24", poBer,
		map[string]any{"kind": "holiday", "name": "x", "reason": "r", "act": apiAct})
	if code != http.StatusForbidden {
		t.Fatalf("an officer of one unit changed the calendar: %d", code)
	}
	code, _, body = pstatus(t, e, "GET", "/api/v1/personnel/calendar?year=2026", poBer, nil)
	if code != http.StatusOK || strings.Count(body, `"day"`) != 1 {
		t.Fatalf("calendar: %d %s", code, body)
	}
	code, _, body = pstatus(t, e, "GET", "/api/v1/personnel/calendar/2026-03-23", po, nil)
	if code != http.StatusOK || !strings.Contains(body, "Labour Code") {
		t.Fatalf("day: %d %s", code, body)
	}
	code, _, body = pstatus(t, e, "GET", "/api/v1/personnel/alerts?on=2026-03-20", po, nil)
	if code != http.StatusOK || !strings.Contains(body, `"alerts":[`) {
		t.Fatalf("alerts: %d %s", code, body)
	}
	code, _, body = pstatus(t, e, "GET", "/api/v1/personnel/alerts?on=20-03", po, nil)
	if code != http.StatusBadRequest && code != http.StatusUnprocessableEntity {
		t.Fatalf("bad date: %d %s", code, body)
	}
	code, _, body = pstatus(t, e, "GET", "/api/v1/personnel/alerts", clerk, nil)
	if code != http.StatusOK || !strings.Contains(body, `"alerts":[]`) {
		t.Fatalf("clerk alerts: %d %s", code, body)
	}
	res := e.Do(t, "GET", "/metrics", "", nil)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "valise_personnel_alerts_up 1") {
		t.Fatalf("/metrics lacks the personnel alerts")
	}
}
