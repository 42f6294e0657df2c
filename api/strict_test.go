package api_test

import (
	"strings"
	"testing"
)

// TestStrictBodiesEverywhere: the body rules hold on real routes, before a
// login and after one, and a refused body changes nothing.
func TestStrictBodiesEverywhere(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	// A NUL in a username used to reach PostgreSQL (500, "invalid byte
	// sequence"); now it is a 400 naming the field, with no account touched.
	p := e.refused(400, "", "POST", "/api/v1/auth/login", `{"username":"admin\u0000","password":"x"}`)
	if !strings.Contains(toJSON(p["errors"]), `"username"`) {
		t.Errorf("NUL problem does not name the field: %v", p)
	}
	// Two passwords: the last no longer silently wins.
	e.refused(400, "", "POST", "/api/v1/auth/login", `{"username":"admin","password":"x","password":"correct horse battery"}`)

	id, _ := e.setupSealedBag()
	_, ev := e.do("clerk", "GET", "/api/v1/bags/"+id+"/events", nil)
	first := ev["events"].([]any)[0].(map[string]any)["id"]
	// A 9,000-deep correction would be stored forever in the history and the log.
	deep := strings.Repeat(`{"a":`, 9000) + "1" + strings.Repeat("}", 9000)
	p = e.refused(400, "clerk", "POST", "/api/v1/bags/"+id+"/corrections",
		`{"event_id":`+toJSON(first)+`,"reason":"incorrect_data","note":"n","data":`+deep+`}`)
	if !strings.Contains(p["detail"].(string), "deeper than") {
		t.Errorf("deep body: %v", p)
	}
	// Duplicate keys inside data, invalid UTF-8, an oversized string.
	e.refused(400, "clerk", "POST", "/api/v1/bags/"+id+"/corrections",
		`{"event_id":`+toJSON(first)+`,"reason":"incorrect_data","note":"n","data":{"place":"a","place":"b"}}`)
	e.refused(400, "clerk", "POST", "/api/v1/bags/"+id+"/corrections",
		`{"event_id":`+toJSON(first)+`,"reason":"incorrect_data","note":"\xc3\x28"}`)
	e.refused(422, "clerk", "POST", "/api/v1/bags/"+id+"/corrections",
		`{"event_id":`+toJSON(first)+`,"reason":"incorrect_data","note":"`+strings.Repeat("n", 20000)+`"}`)
}

// TestParametersHeldToTheDocument: query and path parameters are checked
// against openapi.yaml before any handler runs; each refusal is a 422 (400
// for a query string that does not parse) naming the parameter, and changes
// nothing. These all used to fall back to defaults silently.
func TestParametersHeldToTheDocument(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	for _, tc := range []struct {
		path, field string
		status      int
	}{
		{"/api/v1/security/decisions?limit=abc", "limit", 422},
		{"/api/v1/security/decisions?limit=0", "limit", 422},
		{"/api/v1/security/decisions?before=1%20OR%201=1", "before", 422},
		{"/api/v1/bags?overdue=junk", "overdue", 422},
		{"/api/v1/bags?after=-1", "after", 422},
		{"/api/v1/bags?cursor=", "cursor", 422},
		{"/api/v1/bags?after=", "after", 422},
		{"/api/v1/bags?limit=1&limit=2", "limit", 422},
		{"/api/v1/bags?state=planned,lost", "state", 422},
		{"/api/v1/bags?min_level=HUSH", "min_level", 422},
		{"/api/v1/bags?origin=MFA%00", "origin", 422},
		{"/api/v1/bags?origin=%ff", "origin", 422},
		{"/api/v1/bags?older_than=forever", "older_than", 422},
		{"/api/v1/incidents?open=yes", "open", 422},
		{"/api/v1/bags/not-a-bag", "id", 422},
		{"/api/v1/bags/00000000-0000-0000-0000-000000000000/fly", "action", 422},
		{"/api/v1/custody/events/0/receipt", "id", 422},
		{"/api/v1/units/mfa", "code", 422},
		{"/api/v1/bags?origin=%zz", "", 400},
	} {
		method := "GET"
		if strings.HasSuffix(tc.path, "/fly") {
			method = "POST"
		}
		p := e.refused(tc.status, "sec", method, tc.path, nil)
		if tc.field != "" && !strings.Contains(toJSON(p["errors"]), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: problem does not name %s: %v", tc.path, tc.field, p)
		}
	}
	// Valid parameters still work, defaults included.
	e.must(200, "sec", "GET", "/api/v1/bags?state=planned,sealed&min_level=SECRET&overdue=false&limit=5", nil)
	e.must(200, "sec", "GET", "/api/v1/security/decisions?limit=10", nil) // before is a sealed cursor (cursor_test.go)
}
