package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"valise/api/apitest"
	"valise/demo"
	"valise/internal/bench"
	"valise/policy"
	"valise/pouch"
)

// hiddenEnv is a server holding every kind of resource a path can name (the
// demo's mail, plus one completed custody hand-off), an observer who may see
// none of it (a registry clerk of an embassy on no route, cleared SECRET),
// an insider who may see none of it either (a registry clerk of the
// ministry, on every route, cleared UNCLASSIFIED) and the demo security
// officer, who sees all of it.
type hiddenEnv struct {
	*apitest.Env
	observer string // token: kept out by need-to-know
	insider  string // token: kept out by clearance
	security string // token
	// personnel is the demo personnel officer (scope *), who sees staff records.
	personnel string
	// real maps a path parameter, named by the path segment before it and
	// the parameter ("bags/{id}"), to a real resource the observer may not see.
	real map[string]string
}

func newHiddenEnv(t testing.TB) *hiddenEnv {
	t.Helper()
	e := apitest.New(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, e.Pool, demo.Options{MasterKey: e.MasterKey}); err != nil {
		t.Fatalf("load demo: %v", err)
	}
	pairs, err := bench.Setup(ctx, e.Pool, e.Server.Identity(), e.MasterKey, "hidden", 1)
	if err != nil {
		t.Fatal(err)
	}
	ho, err := pairs[0].HandOff(ctx, e.HTTP.Client(), e.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `INSERT INTO units (code, name, kind, country) VALUES ('FR-PAR', 'Embassy in France', 'embassy', 'FR')`); err != nil {
		t.Fatal(err)
	}
	// Every bag at least RESTRICTED, so the UNCLASSIFIED insider's clearance
	// keeps them out of all of it (some demo mail is UNCLASSIFIED).
	if _, err := e.Pool.Exec(ctx, `UPDATE bags SET level = greatest(level, 1)`); err != nil {
		t.Fatal(err)
	}
	h := &hiddenEnv{Env: e,
		observer:  e.User(t, "clerk.par", []string{policy.RoleRegistryClerk}, "FR-PAR", policy.Secret, ""),
		insider:   e.User(t, "clerk.low", []string{policy.RoleRegistryClerk}, "MFA", policy.Unclassified, ""),
		security:  e.Login(t, "security", "valise-demo").AccessToken,
		personnel: e.Login(t, "personnel", "valise-demo").AccessToken,
		real: map[string]string{
			"bags/{id}":     pairs[0].BagID,
			"handoffs/{id}": ho.HandoffID,
			"events/{id}":   fmt.Sprint(ho.AcceptEvent),
			"seals/{file}":  "1.png",
			// A lock names a username, known or not: the observer may not lift one either way.
			"lockouts/{username}": pairs[0].Second,
		},
	}
	// An alert (the demo's overdue bag) and a webhook, made as the system and
	// the demo security officer would.
	if _, err := e.Server.Alerts().Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bench.Call(ctx, e.HTTP.Client(), "POST", e.URL+"/api/v1/alerts/webhooks", h.security,
		map[string]any{"url": "https://alerts.example.org/hook", "kinds": []string{"bag_overdue"}}, http.StatusCreated, nil); err != nil {
		t.Fatal(err)
	}
	// A courier's phone, enrolled (mobile-api/).
	if _, err := e.Pool.Exec(ctx, `INSERT INTO devices (user_id, public_key, enrolled_by)
		SELECT id, decode(md5(random()::text) || md5(random()::text), 'hex'), 'security' FROM users WHERE username = 'courier'`); err != nil {
		t.Fatal(err)
	}
	for key, q := range map[string]string{
		"devices/{id}": `SELECT id::text FROM devices LIMIT 1`,
		"alerts/{id}":  `SELECT id::text FROM alerts LIMIT 1`,
		// The staff record of the demo's rotation case, so the case below is its own.
		"staff/{id}":                 `SELECT staff_id::text FROM rotation_cases LIMIT 1`,
		"rotation-cases/{case}":      `SELECT id::text FROM rotation_cases LIMIT 1`,
		"rotation-plans/{plan}":      `SELECT id::text FROM rotation_plans LIMIT 1`,
		"postings/{posting}":         `SELECT id::text FROM postings LIMIT 1`,
		"attestations/{attestation}": `SELECT id::text FROM attestations LIMIT 1`,
		// The demo's notice of return and pregnancy record, each with its own record.
		"staff/{id} annex2":            `SELECT staff_id::text FROM postings WHERE notice IS NOT NULL ORDER BY start_date LIMIT 1`,
		"postings/{posting} annex2":    `SELECT id::text FROM postings WHERE notice IS NOT NULL ORDER BY start_date LIMIT 1`,
		"staff/{id} pregnancy":         `SELECT staff_id::text FROM posting_pregnancies LIMIT 1`,
		"postings/{posting} pregnancy": `SELECT posting_id::text FROM posting_pregnancies LIMIT 1`,
		"secondments/{id}":             `SELECT id::text FROM secondments ORDER BY proposed_on LIMIT 1`,
		"steps/{step}":                 `SELECT 'receiver_decision'`,
		// A sub-resource of a staff record needs that record: "staff/{id} X" is
		// the staff fixture of the routes that also name X (fill).
		"staff/{id} passports/{passport}": `SELECT staff_id::text FROM passports WHERE family_member_id IS NULL AND staff_id IS NOT NULL ORDER BY received_on, id LIMIT 1`,
		"passports/{passport}":            `SELECT id::text FROM passports WHERE family_member_id IS NULL AND staff_id IS NOT NULL ORDER BY received_on, id LIMIT 1`,
		// A holder outside the service (the demo's deputy) and, under that record, its own passport.
		"passport-holders/{id}":                      `SELECT holder_id::text FROM passports WHERE holder_id IS NOT NULL ORDER BY received_on, id LIMIT 1`,
		"passports/{passport} passport-holders/{id}": `SELECT id::text FROM passports WHERE holder_id IS NOT NULL ORDER BY received_on, id LIMIT 1`,
		"passport-destructions/{id}":                 `SELECT id::text FROM passport_destruction_acts LIMIT 1`,
		"passport-blanks/{number}":                   `SELECT number FROM passport_blanks ORDER BY number LIMIT 1`,
		"staff/{id} entitlements/{decision}":         `SELECT staff_id::text FROM entitlement_decisions ORDER BY decided_at, id LIMIT 1`,
		"entitlements/{decision}":                    `SELECT id::text FROM entitlement_decisions ORDER BY decided_at, id LIMIT 1`,
		"entitlement-reference/{kind}":               `SELECT kind FROM entitlement_reference WHERE code <> kind ORDER BY id LIMIT 1`,
		"/{refcode}":                                 `SELECT code FROM entitlement_reference WHERE code <> kind ORDER BY id LIMIT 1`,
		"cases/{case}":                               `SELECT coalesce((SELECT id::text FROM disciplinary_cases LIMIT 1), '00000000-0000-4000-8000-000000000001')`,
		"studies/{study}":                            `SELECT coalesce((SELECT id::text FROM staff_studies LIMIT 1), '00000000-0000-4000-8000-000000000002')`,
		"reference/{kind}":                           `SELECT kind FROM personnel_reference ORDER BY id LIMIT 1`,
		"/{code}":                                    `SELECT code FROM personnel_reference ORDER BY id LIMIT 1`,
		"webhooks/{id}":                              `SELECT id::text FROM alert_webhooks LIMIT 1`,
		"plans/{id}":                                 `SELECT id::text FROM dispatch_plans LIMIT 1`,
		"submissions/{id}":                           `SELECT id::text FROM submissions LIMIT 1`,
		"sheets/{id}":                                `SELECT id::text FROM courier_sheets WHERE status = 'issued' LIMIT 1`,
		"incidents/{id}":                             `SELECT id::text FROM incidents LIMIT 1`,
		"loss-reports/{id}":                          `SELECT id::text FROM loss_reports LIMIT 1`,
		"couriers/{id}":                              `SELECT id::text FROM couriers LIMIT 1`,
		"users/{id}":                                 `SELECT id::text FROM users WHERE username = 'security'`,
		"units/{code}":                               `SELECT 'MFA'`,
		"senders/{unit}":                             `SELECT 'MOD'`,
	} {
		var id string
		if err := e.Pool.QueryRow(ctx, q).Scan(&id); err != nil {
			t.Fatalf("find a real %s: %v", key, err)
		}
		h.real[key] = id
	}
	return h
}

// random is an id that names nothing, of the same shape as the real one.
func random(real string) string {
	switch {
	case regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(real):
		return randomUUID()
	case regexp.MustCompile(`^[0-9]+$`).MatchString(real):
		return "9" + real + "77"
	case regexp.MustCompile(`^[A-Z]+[0-9]{3,16}$`).MatchString(real): // a passport form's number
		return "ZZ" + real
	case strings.ToLower(real) == real: // a username, a reference code
		return "zz" + strings.ReplaceAll(real, "_", "") + "q"
	default: // a unit code
		return "ZZ-" + strings.ToUpper(real) + "Q"
	}
}

// answer is a response reduced to what a caller could compare: the
// status, the headers but the date and length, and the body with the
// request id and the path's own ids taken out.
func answer(t testing.TB, res *http.Response, ids ...string) string {
	t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	body = regexp.MustCompile(`"request_id":"[^"]*"`).ReplaceAll(body, []byte(`"request_id":"-"`))
	for _, id := range ids {
		body = bytes.ReplaceAll(body, []byte(id), []byte("{id}"))
	}
	var hdr []string
	for k, v := range res.Header {
		if k != "Date" && k != "Content-Length" {
			hdr = append(hdr, k+": "+strings.Join(v, ","))
		}
	}
	sort.Strings(hdr)
	return fmt.Sprintf("%d\n%s\n%s", res.StatusCode, strings.Join(hdr, "\n"), body)
}

var pathParam = regexp.MustCompile(`[^/]*/\{[^}]+\}`)

// fill replaces each "{param}" of route with the value chosen for its
// "segment/{param}" key; it reports the ids it used.
func (h *hiddenEnv) fill(t testing.TB, route string, hidden bool) (string, []string) {
	t.Helper()
	var used []string
	path := pathParam.ReplaceAllStringFunc(route, func(seg string) string {
		prefix, param, _ := strings.Cut(seg, "/")
		v, ok := h.real[seg]
		for key, owner := range h.real { // the record that holds a sub-resource the route names
			if sub, ok := strings.CutPrefix(key, seg+" "); ok && strings.Contains(route, sub) {
				v = owner
			}
		}
		if !ok {
			t.Fatalf("%s: no real resource known for %q: add one to newHiddenEnv", route, seg)
		}
		if param == "{file}" || param == "{kind}" { // a file name or a kind of reference data, not an id
			return prefix + "/" + v
		}
		if !hidden {
			v = random(v)
		}
		used = append(used, v)
		return prefix + "/" + v
	})
	return path, used
}

// open routes name what every holder of their read right may see by design:
// units (GET /units lists them all) and the authorized-sender list.
var openRoutes = map[string]string{
	"GET /api/v1/units/{code}":           "every signed-in user lists the units",
	"GET /api/v1/senders/{unit}/history": "the authorized-sender list is readable by every holder of senders.read",
	// Settings are reference data, not mail: their keys are documented.
	"GET /api/v1/settings/{key}":         "setting keys are public reference data (docs, OpenAPI)",
	"PUT /api/v1/settings/{key}":         "setting keys are public reference data (docs, OpenAPI)",
	"GET /api/v1/settings/{key}/history": "setting keys are public reference data (docs, OpenAPI)",
	"GET /app/{file}":                    "the scanner app's static files are public; there is nothing to hide",
	// Every date is a calendar day; which are holidays is public (a decree).
	"GET /api/v1/personnel/calendar/{day}": "a calendar day is public reference data, not a record",
	"PUT /api/v1/personnel/calendar/{day}": "a calendar day is public reference data, not a record",
}

// validBodies are bodies that pass each operation's input checks, so that
// what answers is the look-up and the policy; an operation without one gets
// {} (and then may answer its input check, the same for both ids).
var validBodies = map[string]string{
	"POST /api/v1/users/{id}/clearance":                    `{"clearance":"SECRET","reason":"posting"}`,
	"POST /api/v1/sheets/{id}/revoke":                      `{"reason":"the courier fell ill"}`,
	"POST /api/v1/loss-reports/{id}/agreement":             `{"body":"Foreign intelligence","reference":"AG-1"}`,
	"POST /api/v1/custody/handoffs/{id}/accept":            `{"seals":["VS1:AAAA"],"packages_counted":1,"seals_intact":true,"place":"Astana"}`,
	"POST /api/v1/custody/bags/{id}/scan":                  `{"seals":["VS1:AAAA"],"place":"Frankfurt"}`,
	"POST /api/v1/custody/bags/{id}/bearer-release":        `{"kind":"captain","name":"Capt. X","document":"KZ N1","seals":["VS1:AAAA"],"packages_counted":1}`,
	"POST /api/v1/custody/bags/{id}/bearer-receipt":        `{"seals":["VS1:AAAA"],"packages_counted":1}`,
	"POST /api/v1/bags/{id}/store":                         `{"place":"vault 1","custodian":"clerk.par"}`,
	"POST /api/v1/bags/{id}/seal":                          `{"container":"suitcase","packages":1,"seal_serials":["S-HID-1"]}`,
	"POST /api/v1/bags/{id}/report_missing":                `{"territory":"home","last_seen_at":"2026-01-01T10:00:00Z","last_seen_place":"Astana"}`,
	"POST /api/v1/bags/{id}/mark_found":                    `{"place":"Astana"}`,
	"POST /api/v1/bags/{id}/examine":                       `{"opening":false,"initiating_body":"MFA","initiating_official":"Head","grounds":"suspicion","witness_kind":"authorized_representative","witness_name":"W","witness_unit":"MFA"}`,
	"POST /api/v1/bags/{id}/destroy":                       `{"reason":"expired"}`,
	"POST /api/v1/bags/{id}/declare_compromised":           `{"reason":"seal broken"}`,
	"POST /api/v1/bags/{id}/corrections":                   `{"event_id":1,"reason":"did_not_occur","note":"typo"}`,
	"POST /api/v1/bags/{id}/conclude_examination":          `{"findings":"nothing"}`,
	"POST /api/v1/bags/{id}/assemble":                      `{"submission_ids":["00000000-0000-4000-8000-000000000001"]}`,
	"POST /api/v1/bags/{id}/arrive_leg":                    `{"leg":1,"city":"Frankfurt"}`,
	"POST /api/v1/bags/{id}/accept":                        `{"seals":["VS1:AAAA"],"packages_counted":1,"seals_intact":true}`,
	"PATCH /api/v1/incidents/{id}":                         `{"notified":true}`,
	"PUT /api/v1/users/{id}":                               `{"full_name":"X","unit":"MFA","roles":["registry_clerk"],"clearance":"RESTRICTED"}`,
	"PUT /api/v1/users/{id}/password":                      `{"password":"long-enough-password"}`,
	"PUT /api/v1/units/{code}":                             `{"name":"X","kind":"embassy","country":"FR"}`,
	"POST /api/v1/staff/{id}/postings/{posting}/pregnancy": `{"certified_on":"2026-01-05","weeks":20,"reason":"certificate","act":{"number":"1","date":"2026-01-05"}}`,
	"POST /api/v1/staff/{id}/leaves":                       `{"kind":"maternity","from":"2026-01-05","reason":"leave","act":{"number":"1","date":"2026-01-05"}}`,
}

// TestHiddenLooksLikeMissing walks every routed path with a path parameter
// and checks that, for a caller who may not see it, a real resource answers
// byte for byte what a random id answers (but the request id and the ids in
// the path): same status, same headers, same problem body.
func TestHiddenLooksLikeMissing(t *testing.T) {
	t.Parallel()
	h := newHiddenEnv(t)
	var routes []string
	err := chi.Walk(h.Server.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/")
		if strings.Contains(route, "{") {
			routes = append(routes, method+" "+route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A verb in the path is every verb: POST /bags/{id}/{action} is walked
	// once per bag action of the state machine.
	var actions []string
	for _, st := range pouch.States() {
		next, _ := pouch.Next(st)
		for _, a := range next {
			if !slices.Contains(actions, string(a)) {
				actions = append(actions, string(a))
			}
		}
	}
	for i := len(routes) - 1; i >= 0; i-- {
		if strings.Contains(routes[i], "{action}") {
			for _, a := range actions {
				routes = append(routes, strings.Replace(routes[i], "{action}", a, 1))
			}
			routes = slices.Delete(routes, i, i+1)
		}
	}
	sort.Strings(routes)
	if len(routes) < 25 || len(actions) < 10 {
		t.Fatalf("walked only %d routes with a path parameter: %v", len(routes), routes)
	}
	send := func(method, route, path, token string) *http.Response {
		var body io.Reader
		if method != http.MethodGet && method != http.MethodDelete {
			b, ok := validBodies[method+" "+route]
			if !ok {
				b = `{}`
			}
			body = strings.NewReader(b)
		}
		req, _ := http.NewRequest(method, h.URL+path, body)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := h.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, mr := range routes {
		method, route, _ := strings.Cut(mr, " ")
		if why, ok := openRoutes[mr]; ok {
			t.Logf("%s: not secret (%s)", mr, why)
			continue
		}
		realPath, realIDs := h.fill(t, route, true)
		if method == http.MethodGet {
			// The resource is real: someone who may see it does.
			seer := h.security
			if strings.HasPrefix(route, "/api/v1/staff") || strings.HasPrefix(route, "/api/v1/personnel") {
				seer = h.personnel // personal data is the personnel officers'
			}
			res := send(method, route, realPath, seer)
			res.Body.Close()
			if res.StatusCode == http.StatusNotFound {
				t.Errorf("%s: the security officer gets 404 for %s: the fixture is not real", mr, realPath)
			}
		}
		for who, tok := range map[string]string{"the outsider": h.observer, "the uncleared insider": h.insider} {
			missPath, missIDs := h.fill(t, route, false)
			hidden := answer(t, send(method, route, realPath, tok), realIDs...)
			missing := answer(t, send(method, route, missPath, tok), missIDs...)
			if hidden != missing {
				t.Errorf("%s, as %s: a hidden resource answers differently from a missing one\nhidden  %s\n%s\nmissing %s\n%s",
					mr, who, realPath, hidden, missPath, missing)
			}
			if _, ok := validBodies[mr]; ok && (strings.HasPrefix(missing, "400") || strings.HasPrefix(missing, "422")) {
				t.Errorf("%s: the fixture body does not pass the input checks, so the look-up is not what answers:\n%s", mr, missing)
			}
			if strings.HasPrefix(hidden, "2") {
				t.Errorf("%s: %s was let through:\n%s", mr, who, hidden)
			}
		}
	}
}

// BenchmarkHiddenVsMissing times, for every GET route with a path
// parameter (one sub-benchmark each), the observer's request for a hidden
// resource against one for a random id, interleaved so both see the same
// load; hidden-minus-missing-ns is the difference of the medians. It is
// measured, never asserted (no timing thresholds in tests).
//
//	go test -run '^$' -bench HiddenVsMissing ./api/
func BenchmarkHiddenVsMissing(b *testing.B) {
	h := newHiddenEnv(b)
	var routes []string
	_ = chi.Walk(h.Server.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method == http.MethodGet && strings.Contains(route, "{") && openRoutes[method+" "+route] == "" {
			routes = append(routes, route)
		}
		return nil
	})
	sort.Strings(routes)
	for _, route := range routes {
		b.Run(strings.TrimPrefix(route, "/api/v1/"), func(b *testing.B) {
			realPath, _ := h.fill(b, route, true)
			get := func(path string) time.Duration {
				req, _ := http.NewRequest(http.MethodGet, h.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+h.observer)
				start := time.Now()
				res, err := h.HTTP.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return time.Since(start)
			}
			var hidden, missing []time.Duration
			for b.Loop() {
				missPath, _ := h.fill(b, route, false)
				hidden = append(hidden, get(realPath))
				missing = append(missing, get(missPath))
			}
			med := func(d []time.Duration) float64 {
				slices.Sort(d)
				return float64(d[len(d)/2].Nanoseconds())
			}
			mh, mm := med(hidden), med(missing)
			b.ReportMetric(mh, "hidden-median-ns")
			b.ReportMetric(mm, "missing-median-ns")
			b.ReportMetric(mh-mm, "hidden-minus-missing-ns")
		})
	}
}
