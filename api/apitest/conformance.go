package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"valise/api"
)

// conformance checks every answer the test server gives against the
// OpenAPI document: the status is documented for the operation, and a JSON
// body (problem bodies included) matches the documented schema. So every
// API test also proves the document true; a test fails at its end naming
// each answer that was not as documented.
type conformance struct {
	router routers.Router
	mu     sync.Mutex
	seen   []string
}

var (
	docOnce sync.Once
	docErr  error
	doc     *openapi3.T
)

func newConformance() (*conformance, error) {
	docOnce.Do(func() {
		doc, docErr = openapi3.NewLoader().LoadFromData(api.OpenAPI())
		if docErr == nil {
			docErr = doc.Validate(context.Background())
			// Match paths whatever host the test server has.
			doc.Servers = nil
		}
	})
	if docErr != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", docErr)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &conformance{router: r}, nil
}

func (c *conformance) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		c.check(r, body, rec)
	})
}

func (c *conformance) check(r *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return // not a documented path (the router answers 404/405 problems for those)
	}
	ct := rec.Header().Get("Content-Type")
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: rec.Code, Header: rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true,
			ExcludeResponseBody: !strings.Contains(ct, "json")},
	}
	in.SetBodyBytes(rec.Body.Bytes())
	if rec.Code < 300 && strings.Contains(ct, "json") {
		recordExample(r.Method, route.Path, rec.Code, rec.Body.Bytes())
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		msg := err.Error()
		if len(msg) > 600 {
			msg = msg[:600] + "…"
		}
		c.mu.Lock()
		c.seen = append(c.seen, fmt.Sprintf("%s %s → %d %s: %s", r.Method, r.URL.Path, rec.Code, ct, msg))
		c.mu.Unlock()
	}
}

func (c *conformance) problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

// Conform wraps an API handler so that every answer it gives during t is
// checked against the OpenAPI document; t fails at its end naming each
// answer that was not as documented. New does this for its server.
func Conform(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	conf, err := newConformance()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range conf.problems() {
			t.Errorf("answer not as the OpenAPI document says: %s", p)
		}
	})
	return conf.wrap(h)
}

// recordExample appends a real answer to the file VALISE_OPENAPI_EXAMPLES
// names (one JSON line per answer), from which the document's examples are
// refreshed (scripts/openapi-examples.py). Unset: nothing is written.
func recordExample(method, path string, status int, body []byte) {
	file := os.Getenv("VALISE_OPENAPI_EXAMPLES")
	if file == "" {
		return
	}
	line, err := json.Marshal(map[string]any{"method": method, "path": path, "status": status, "body": json.RawMessage(body)})
	if err != nil {
		return
	}
	exampleMu.Lock()
	defer exampleMu.Unlock()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

var exampleMu sync.Mutex
