package api_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"valise/api"
	"valise/api/apitest"
)

// TestEveryResponseCarriesTheSecurityHeaders walks every route (with a
// made-up id, without a token) and an unknown path: each answer, success
// or problem, says nosniff, no-referrer, no framing and carries a CSP; over
// TLS it also carries HSTS, over plain HTTP it does not.
func TestEveryResponseCarriesTheSecurityHeaders(t *testing.T) {
	e := apitest.New(t)
	tlsSrv := httptest.NewTLSServer(e.Server)
	defer tlsSrv.Close()
	param := regexp.MustCompile(`\{[^}]+\}`)
	var paths [][2]string
	_ = chi.Walk(e.Server.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		paths = append(paths, [2]string{method, param.ReplaceAllString(strings.TrimSuffix(route, "/*"), "00000000-0000-4000-8000-000000000000")})
		return nil
	})
	paths = append(paths, [2]string{"GET", "/no/such/path"}, [2]string{"DELETE", "/healthz"})
	for _, srv := range []struct {
		base   string
		client *http.Client
		hsts   bool
	}{{e.URL, http.DefaultClient, false}, {tlsSrv.URL, tlsSrv.Client(), true}} {
		for _, p := range paths {
			req, _ := http.NewRequest(p[0], srv.base+p[1], strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			res, err := srv.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			where := p[0] + " " + p[1]
			for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
				if got := res.Header.Get(h); got != want {
					t.Errorf("%s (%d): %s = %q, want %q", where, res.StatusCode, h, got, want)
				}
			}
			if csp := res.Header.Get("Content-Security-Policy"); csp == "" {
				t.Errorf("%s (%d): no Content-Security-Policy", where, res.StatusCode)
			} else if strings.HasPrefix(res.Header.Get("Content-Type"), "application/") && csp != api.APICSP {
				t.Errorf("%s (%d): API answer with CSP %q", where, res.StatusCode, csp)
			}
			if hsts := res.Header.Get("Strict-Transport-Security"); (hsts != "") != srv.hsts {
				t.Errorf("%s over TLS=%v: Strict-Transport-Security %q", where, srv.hsts, hsts)
			}
		}
	}
}
