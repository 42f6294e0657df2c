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
