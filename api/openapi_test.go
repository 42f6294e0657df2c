package api_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"valise/api"
	"valise/internal/dbtest"
	"valise/web/console"
)

// TestOpenAPIMatchesRouter checks that the document is valid OpenAPI and
// that every served route is documented and every documented route served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatalf("load OpenAPI: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI: %v", err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	s := api.New(dbtest.New(t).Pool, api.Config{})
	served := map[string]bool{}
	err = chi.Walk(s.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/")
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		if strings.HasPrefix(route, console.Prefix+"/") {
			return nil // the web console: HTML pages for browsers, not the API (web/console tests them)
		}
		served[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("served but not in openapi.yaml: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in openapi.yaml but not served: %v", extra)
	}
}

// TestOpenAPIOperationsDocumented: every operation has a summary and, for
// its JSON answers, an example (refreshed from real answers by
// scripts/openapi-examples.py), so a client can be written from the
// document alone.
func TestOpenAPIOperationsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if strings.TrimSpace(op.Summary) == "" {
				t.Errorf("%s %s has no summary", method, path)
			}
			for status, r := range op.Responses.Map() {
				if !strings.HasPrefix(status, "2") || r.Value == nil {
					continue
				}
				if mt := r.Value.Content.Get("application/json"); mt != nil && mt.Example == nil && len(mt.Examples) == 0 {
					t.Errorf("%s %s %s has no example (run scripts/openapi-examples.py)", method, path, status)
				}
			}
		}
	}
}
