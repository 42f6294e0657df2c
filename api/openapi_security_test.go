package api_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"valise/api"
	"valise/internal/dbtest"
)

// TestOpenAPISecurityMatchesServer checks that the document tells the truth
// about authentication: every operation either requires the bearer scheme
// of components.securitySchemes (directly or through the top-level
// default), and then the server answers 401 without a token, or declares
// `security: []` and the server does not ask for one.
func TestOpenAPISecurityMatchesServer(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if doc.Components.SecuritySchemes["bearer"] == nil {
		t.Fatal("components.securitySchemes has no bearer scheme")
	}
	ts := httptest.NewServer(api.New(dbtest.New(t).Pool, api.Config{}))
	defer ts.Close()
	param := regexp.MustCompile(`\{[^}]+\}`)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			sec := doc.Security
			if op.Security != nil {
				sec = *op.Security
			}
			// Required when every alternative names a scheme; an empty
			// alternative ({}) makes the token optional.
			needsBearer := len(sec) > 0
			for _, req := range sec {
				if len(req) == 0 {
					needsBearer = false
				}
				for name := range req {
					if doc.Components.SecuritySchemes[name] == nil {
						t.Errorf("%s %s names an undefined security scheme %q", method, path, name)
					}
				}
			}
			if strings.HasPrefix(path, "/api/v1/bags") && !needsBearer {
				t.Errorf("%s %s: a bag route must require the bearer scheme", method, path)
			}
			if !needsBearer {
				continue
			}
			url := ts.URL + examplePath(path, params(item, op))
			if param.MatchString(url) {
				t.Fatalf("%s %s: a path parameter has no example", method, path)
			}
			req, _ := http.NewRequest(method, url, strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s documents bearer security but answers %d without a token", method, path, res.StatusCode)
			}
		}
	}
}
