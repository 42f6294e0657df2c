package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"valise/api"
	"valise/api/apitest"
	"valise/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// newServer returns a test server over a fresh database, with logs captured.
func newServer(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	d := dbtest.New(t)
	var logs bytes.Buffer
	s := api.New(d.Pool, api.Config{MaxBodyBytes: 4096, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ts := httptest.NewServer(apitest.Conform(t, s))
	t.Cleanup(ts.Close)
	return ts, &logs
}

func readProblem(t *testing.T, res *http.Response) api.Problem {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p api.Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	if p.Status != res.StatusCode || !strings.HasPrefix(p.Type, api.ProblemTypeBase) || p.Detail == "" {
		t.Fatalf("incomplete problem body %+v for status %d", p, res.StatusCode)
	}
	return p
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t)
	for _, tc := range []struct {
		path, wantType, wantBody string
	}{
		{"/healthz", "application/json", `"ok"`},
		{"/readyz", "application/json", `"ready"`},
		{"/api/v1/openapi.yaml", "application/yaml", "openapi: 3.1.0"},
		{"/api/v1/version", "application/json", `"commit"`},
	} {
		res, err := http.Get(ts.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.wantType) || !strings.Contains(string(b), tc.wantBody) {
			t.Errorf("GET %s = %d %q %q", tc.path, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
	}
	// After those requests, /metrics shows per-route counts and pool figures.
	res, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`valise_http_requests_total{method="GET",route="/readyz",status="200"} 1`,
		`valise_http_request_duration_seconds_bucket{method="GET",route="/healthz"`,
		`valise_db_pool_max_connections 8`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t)
	res, err := http.Get(ts.URL + "/api/v1/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	if p := readProblem(t, res); p.Status != 404 || p.Type != api.ProblemTypeBase+"not_found" {
		t.Errorf("unknown route: %+v", p)
	}
	res, err = http.Post(ts.URL+"/healthz", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if p := readProblem(t, res); p.Status != 405 {
		t.Errorf("wrong method: %+v", p)
	}
}

func TestReadyzWhenNotMigrated(t *testing.T) {
	t.Parallel()
	d := dbtest.Empty(t)
	s := api.New(d.Pool, api.Config{})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("readyz on an unmigrated database = %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(rec.Body.String(), "not migrated") {
		t.Errorf("readyz should say why: %s", rec.Body)
	}
}

// TestDecode drives api.Decode through every kind of bad body.
func TestDecode(t *testing.T) {
	t.Parallel()
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	for _, tc := range []struct {
		name, ctype, body string
		limit             int64
		status            int
		field             string
	}{
		{"good", "application/json", `{"name":"a","count":2}`, 0, 200, ""},
		{"no content type", "", `{"name":"a"}`, 0, 415, ""},
		{"form", "application/x-www-form-urlencoded", `name=a`, 0, 415, ""},
		{"malformed", "application/json", `{"name":`, 0, 400, ""},
		{"syntax", "application/json", `{"name" "a"}`, 0, 400, ""},
		{"empty", "application/json", ``, 0, 400, ""},
		{"unknown field", "application/json", `{"name":"a","admin":true}`, 0, 400, "admin"},
		{"wrong type", "application/json", `{"count":"many"}`, 0, 400, "count"},
		{"two values", "application/json", `{"name":"a"}{"name":"b"}`, 0, 400, ""},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", 100) + `"}`, 50, 413, ""},
		// One reading for every parser: no NUL, UTF-8 only, no duplicate
		// keys, bounded depth, strings and numbers.
		{"escaped NUL", "application/json", `{"name":"admin\u0000"}`, 0, 400, "name"},
		{"raw NUL", "application/json", "{\"name\":\"ad\x00min\"}", 0, 400, "name"},
		{"invalid UTF-8", "application/json", "{\"name\":\"\xff\xfe\"}", 0, 400, ""},
		{"lone surrogate", "application/json", `{"name":"\ud800x"}`, 0, 400, "name"},
		{"surrogate pair", "application/json", `{"name":"\ud83d\ude00"}`, 0, 200, ""},
		{"duplicate key", "application/json", `{"name":"a","name":"b"}`, 0, 400, "name"},
		{"duplicate nested key", "application/json", `{"name":"a","count":1,"x":[{"k":1,"k":2}]}`, 0, 400, "x[0].k"},
		{"deep nesting", "application/json", `{"name":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, 0, 400, "name" + strings.Repeat("[0]", api.MaxJSONDepth-1)},
		{"long string", "application/json", `{"name":"` + strings.Repeat("x", api.MaxJSONString+1) + `"}`, 0, 422, "name"},
		{"long number", "application/json", `{"count":1` + strings.Repeat("0", api.MaxJSONNumber) + `}`, 0, 422, "count"},
		{"huge exponent", "application/json", `{"count":1e999}`, 0, 422, "count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.limit > 0 {
					r.Body = http.MaxBytesReader(w, r.Body, tc.limit)
				}
				var b body
				if err := api.Decode(r, &b); err != nil {
					api.Error(w, r, err)
					return
				}
				api.JSON(w, 200, b)
			})
			req := httptest.NewRequest("POST", "/x", strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 {
				return
			}
			p := readProblem(t, rec.Result())
			if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
				t.Errorf("errors = %+v, want field %q", p.Errors, tc.field)
			}
		})
	}
}

func TestOversizedBodyRefusedByServer(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t)
	res, err := http.Post(ts.URL+"/api/v1/version", "application/json", bytes.NewReader(make([]byte, 10000)))
	if err != nil {
		t.Fatal(err)
	}
	if p := readProblem(t, res); p.Status != 413 {
		t.Errorf("oversized body: %+v", p)
	}
}

func TestPanicBecomesProblem(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := api.New(dbtest.New(t).Pool, api.Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	s.Router().Get("/boom", func(http.ResponseWriter, *http.Request) { panic("secret internal detail") })
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil).WithContext(context.Background()))
	p := readProblem(t, rec.Result())
	if p.Status != 500 || strings.Contains(p.Detail, "secret") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("panic leaked into the response: %s", rec.Body)
	}
	if !strings.Contains(buf.String(), "secret internal detail") {
		t.Errorf("panic was not logged")
	}
}
