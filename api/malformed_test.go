package api_test

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"valise/api"
)

// malformed is one bad request derived from the document.
type malformed struct {
	what, method, path, query, body string
	want                            int    // exact status wanted; 0: any 4xx
	field                           string // the problem must name it, if set
}

// TestMalformedRequestsFromTheDocument walks every operation of openapi.yaml
// and sends what an attacker or a broken client would: unknown, repeated,
// empty, mistyped, oversized, NUL-bearing and invalid-UTF-8 query and path
// parameters, missing required ones, and for operations with a JSON body
// the wrong types, missing required members, NUL, invalid UTF-8, duplicate
// keys, deep nesting, oversized strings and numbers. Every answer must be a
// 4xx problem (never a 5xx), and no table a request may write changes.
func TestMalformedRequestsFromTheDocument(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var cases []malformed
	paths := doc.Paths.Map()
	names := slices.Sorted(maps.Keys(paths))
	for _, path := range names {
		item := paths[path]
		for method, op := range item.Operations() {
			cases = append(cases, malformedFor(method, path, params(item, op), op)...)
		}
	}
	before := e.identitySnapshot() + e.snapshot()
	seen5xx := 0
	for _, c := range cases {
		u := e.url + c.path
		if c.query != "" {
			u += "?" + c.query
		}
		var rd io.Reader
		if c.body != "" {
			rd = strings.NewReader(c.body)
		}
		req, err := http.NewRequest(c.method, u, rd)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+e.tokens["admin"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ok := res.StatusCode >= 400 && res.StatusCode < 500 && (c.want == 0 || res.StatusCode == c.want) &&
			res.Header.Get("Content-Type") == "application/problem+json" &&
			(c.field == "" || strings.Contains(string(raw), `"field":"`+c.field+`"`))
		if res.StatusCode >= 500 {
			seen5xx++
		}
		if !ok {
			t.Errorf("%s: %s %s → %d %s", c.what, c.method, u, res.StatusCode, raw)
		}
	}
	t.Logf("%d malformed requests over %d paths", len(cases), len(names))
	if after := e.identitySnapshot() + e.snapshot(); after != before {
		t.Errorf("malformed requests changed the database:\n%s\n---\n%s", before, after)
	}
	if seen5xx > 0 {
		t.Errorf("%d answers were 5xx", seen5xx)
	}
}

// identitySnapshot fingerprints the identity tables, the counters and
// the other tables snapshot leaves out.
func (e *mailEnv) identitySnapshot() string {
	return e.fingerprint("units", "users", "credentials", "sessions", "idempotency_keys", "registry_counters",
		"dispatch_plans", "plan_legs", "submission_items", "refresh_tokens", "seal_keys")
}

// malformedFor derives the bad requests of one operation.
func malformedFor(method, path string, ps []*openapi3.Parameter, op *openapi3.Operation) []malformed {
	method = strings.ToUpper(method)
	good := examplePath(path, ps)
	var query []*openapi3.Parameter
	validQuery := url.Values{}
	for _, p := range ps {
		if p.In == openapi3.ParameterInQuery {
			query = append(query, p)
			if p.Required {
				validQuery.Set(p.Name, exampleValue(p))
			}
		}
	}
	without := func(name string) string { // the required parameters but name
		q := url.Values{}
		for k, vs := range validQuery {
			if k != name {
				q[k] = vs
			}
		}
		return q.Encode()
	}
	with := func(name, v string) string { // the required parameters, and name=v (raw)
		s := without(name)
		if name != "" {
			if s != "" {
				s += "&"
			}
			s += url.QueryEscape(name) + "=" + v
		}
		return s
	}
	var out []malformed
	add := func(m malformed) {
		m.what = fmt.Sprintf("%s %s: %s", method, path, m.what)
		m.method = method
		out = append(out, m)
	}
	add(malformed{what: "unknown query parameter", path: good, query: with("zz_unknown", "1"), want: 422, field: "zz_unknown"})
	add(malformed{what: "unknown query parameter with NUL", path: good, query: with("zz", "%00"), want: 422, field: "zz"})
	for _, p := range query {
		for _, bad := range badValues(p) {
			add(malformed{what: "query " + p.Name + " " + bad.what, path: good, query: with(p.Name, bad.raw), want: 422, field: p.Name})
		}
		add(malformed{what: "query " + p.Name + " twice", path: good,
			query: with(p.Name, url.QueryEscape(exampleValue(p))+"&"+p.Name+"="+url.QueryEscape(exampleValue(p))), want: 422, field: p.Name})
		if p.Required {
			add(malformed{what: "query " + p.Name + " missing", path: good, query: without(p.Name), want: 422, field: p.Name})
		}
	}
	for _, p := range ps {
		if p.In != openapi3.ParameterInPath {
			continue
		}
		for _, bad := range badValues(p) {
			if bad.raw == "" {
				continue // an empty segment is another route
			}
			bp := examplePath(strings.ReplaceAll(path, "{"+p.Name+"}", bad.raw), ps)
			add(malformed{what: "path " + p.Name + " " + bad.what, path: bp, query: with("", ""), want: 422, field: p.Name})
		}
	}
	if op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
		return out
	}
	body := func(what, b string, want int, field string) {
		add(malformed{what: "body " + what, path: good, query: with("", ""), body: b, want: want, field: field})
	}
	deep := strings.Repeat(`{"a":`, 9000) + "1" + strings.Repeat("}", 9000)
	body("not an object", `[1,2]`, 0, "")
	body("truncated", `{"a":`, 400, "")
	body("NUL", `{"a":"x\u0000"}`, 400, "a")
	body("invalid UTF-8", "{\"a\":\"\xff\xfe\"}", 400, "")
	body("lone surrogate", `{"a":"\udc00"}`, 400, "a")
	body("duplicate key", `{"a":1,"a":2}`, 400, "a")
	body("deep nesting", `{"a":`+deep+`}`, 400, "")
	body("oversized string", `{"a":"`+strings.Repeat("x", api.MaxJSONString+1)+`"}`, 422, "a")
	body("oversized number", `{"a":1`+strings.Repeat("0", 400)+`}`, 422, "a")
	body("out-of-range number", `{"a":1e999}`, 422, "a")
	sc := op.RequestBody.Value.Content.Get("application/json").Schema
	if sc == nil || sc.Value == nil {
		return out
	}
	if len(sc.Value.Required) > 0 {
		body("missing required members", `{}`, 0, "")
	}
	for _, name := range slices.Sorted(maps.Keys(sc.Value.Properties)) {
		prop := sc.Value.Properties[name].Value
		body(name+" of the wrong type", `{"`+name+`":`+wrongType(prop)+`}`, 0, "")
		body(name+" holding NUL", `{"`+name+`":"\u0000"}`, 400, name)
		body(name+" deeply nested", `{"`+name+`":`+deep+`}`, 400, "")
		body(name+" twice", `{"`+name+`":`+wrongType(prop)+`,"`+name+`":`+wrongType(prop)+`}`, 400, name)
	}
	return out
}

type badValue struct{ what, raw string } // raw: already escaped for a URL

// badValues are values p's schema refuses: empty, NUL, invalid UTF-8,
// oversized, and one of the wrong type or outside the enum or pattern.
func badValues(p *openapi3.Parameter) []badValue {
	sc := p.Schema.Value
	out := []badValue{
		{"empty", ""},
		{"with NUL", url.QueryEscape(exampleValue(p)) + "%00"},
		{"invalid UTF-8", "%ff%fe"},
		{"oversized", strings.Repeat("9", 300)},
		{"SQL", url.QueryEscape("1 OR 1=1")},
	}
	if sc.Type.Is("boolean") {
		out = append(out, badValue{"not a boolean", "junk"})
	}
	if sc.Type.Is("integer") || sc.Type.Is("number") {
		out = append(out, badValue{"not a number", "abc"}, badValue{"negative", "-1"}, badValue{"fraction", "1.5"})
	}
	return out
}

// wrongType is a JSON value of another type than s declares.
func wrongType(s *openapi3.Schema) string {
	switch {
	case s.Type.Is("string"):
		return `12345`
	case s.Type.Is("integer"), s.Type.Is("number"):
		return `"12"`
	case s.Type.Is("boolean"):
		return `"true"`
	case s.Type.Is("array"):
		return `{"x":1}`
	default:
		return `[[1]]`
	}
}
