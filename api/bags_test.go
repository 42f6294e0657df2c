package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"valise/personnel/personneltest"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/api"
	"valise/api/apitest"
	"valise/demo"
	"valise/identity"
	"valise/internal/dbtest"
	"valise/policy"
)

// mailEnv is a server over a fresh database with the real policy and real
// accounts: each user is created through the identity service and signs in
// for a bearer token.
type mailEnv struct {
	t      testing.TB
	pool   *pgxpool.Pool
	url    string
	tokens map[string]string
	ids    map[string]string
	master []byte // the server's master key (its seal keys)
	srv    *api.Server
}

func newMailEnv(t testing.TB) *mailEnv {
	d := dbtest.New(t)
	ctx := context.Background()
	for _, u := range [][]string{{"MFA", "ministry", "KZ"}, {"DE-BER", "embassy", "DE"}, {"JP-TYO", "embassy", "JP"},
		{"MOD", "state_body", "KZ"}, {"NB", "state_body", "KZ"}} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO units (code, name, kind, country) VALUES ($1, $1, $2, $3) ON CONFLICT DO NOTHING`, u[0], u[1], u[2]); err != nil {
			t.Fatal(err)
		}
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	if err := demo.LoadSealKeys(ctx, d.Pool, master); err != nil { // sealing signs with MFA's key
		t.Fatal(err)
	}
	s := api.New(d.Pool, api.Config{Logger: discardLogger(), LoginRate: 1000, MasterKey: master})
	e := &mailEnv{t: t, pool: d.Pool, tokens: map[string]string{}, ids: map[string]string{}, master: master, srv: s}
	for _, u := range []struct {
		name, unit string
		lvl        policy.Level
		role       string
		kind       string
		scope      []string
	}{
		{"admin", "MFA", policy.Restricted, policy.RoleAdmin, "", nil},
		{"disp", "MFA", policy.TopSecret, policy.RoleDispatcher, "", nil},
		{"clerk", "MFA", policy.TopSecret, policy.RoleRegistryClerk, "", nil},
		{"clerk2", "MFA", policy.TopSecret, policy.RoleRegistryClerk, "", nil},
		{"berlin", "DE-BER", policy.TopSecret, policy.RoleRegistryClerk, "", nil},
		{"lowber", "DE-BER", policy.Restricted, policy.RoleRegistryClerk, "", nil},
		{"dispber", "DE-BER", policy.TopSecret, policy.RoleDispatcher, "", nil},
		{"modclerk", "MOD", policy.TopSecret, policy.RoleRegistryClerk, "", nil},
		{"nbclerk", "NB", policy.TopSecret, policy.RoleRegistryClerk, "", nil},
		{"sec", "MFA", policy.SpecialImportance, policy.RoleSecurityOfficer, "", []string{"*"}},
		{"sec2", "MFA", policy.SpecialImportance, policy.RoleSecurityOfficer, "", []string{"*"}},
		{"auditor", "JP-TYO", policy.SpecialImportance, policy.RoleAuditor, "", []string{"*"}},
		{"courier1", "MFA", policy.TopSecret, policy.RoleCourier, policy.CourierCareer, nil},
		{"adhoc", "DE-BER", policy.TopSecret, policy.RoleCourier, policy.CourierAdHoc, nil},
	} {
		usr, err := s.Identity().CreateUser(ctx, identity.UserInput{Username: u.name, FullName: u.name, Unit: u.unit,
			Roles: []string{u.role}, Clearance: u.lvl, CourierKind: u.kind, Scope: u.scope, Password: "correct horse battery"})
		if err != nil {
			t.Fatalf("create %s: %v", u.name, err)
		}
		tok, err := s.Identity().Login(ctx, u.name, "correct horse battery", "127.0.0.1")
		if err != nil {
			t.Fatalf("login %s: %v", u.name, err)
		}
		e.tokens[u.name], e.ids[u.name] = tok.AccessToken, usr.ID
		if u.kind == policy.CourierCareer { // a career courier's staff record, position and passport (issue 15)
			if _, err := personneltest.CareerCourier(ctx, d.Pool, usr.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	ts := httptest.NewServer(apitest.Conform(t, s))
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

// do sends a JSON request as user; body may be a string (sent raw) or a value.
func (e *mailEnv) do(user, method, path string, body any, hdr ...string) (*http.Response, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok, ok := e.tokens[user]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return res, out
}

func (e *mailEnv) must(status int, user, method, path string, body any, hdr ...string) map[string]any {
	e.t.Helper()
	res, out := e.do(user, method, path, body, hdr...)
	if res.StatusCode != status {
		e.t.Fatalf("%s %s as %s = %d, want %d: %v", method, path, user, res.StatusCode, status, out)
	}
	return out
}

func bagOf(m map[string]any) map[string]any {
	if b, ok := m["bag"].(map[string]any); ok {
		return b
	}
	return m
}

// setupSealedBag drives a MOD submission into a sealed SECRET bag MFA → DE-BER.
func (e *mailEnv) setupSealedBag() (bagID string, version int) {
	b := e.mailBag(mailBagSpec{State: "sealed"})
	return b.ID, b.Version
}

// mailBagSpec describes a bag for mailBag: the zero value is a SECRET bag
// MFA → DE-BER on a career-courier plan, driven to sealed.
type mailBagSpec struct {
	State string         // planned, assembling or sealed (default sealed)
	Level string         // of its one item (default SECRET)
	Plan  map[string]any // the plan's body (default MFA → DE-BER, career courier, two legs)
}

// mailBagOut is a bag mailBag made: its id, its version and the submission in it (or for it, when planned).
type mailBagOut struct {
	ID, Submission string
	Version        int
}

// mailBag drives a MOD submission into a bag on a fresh plan, through the
// MFA registry clerk, up to spec.State.
func (e *mailEnv) mailBag(spec mailBagSpec) mailBagOut {
	e.t.Helper()
	if spec.Level == "" {
		spec.Level = "SECRET"
	}
	now := time.Now()
	plan := map[string]any{"origin": "MFA", "destination": "DE-BER", "conveyance": "career_courier",
		"legs": []map[string]any{{"from_city": "Astana", "to_city": "Frankfurt", "flight": "KC921"}, {"from_city": "Frankfurt", "to_city": "Berlin"}}}
	for k, v := range spec.Plan {
		plan[k] = v
	}
	plan["planned_departure"], plan["planned_arrival"] = now, now.Add(48*time.Hour)
	e.must(201, "admin", "POST", "/api/v1/senders", map[string]any{"unit": "MOD", "legal_basis": "Government decree No. 1",
		"valid_from": "2020-01-01", "ceiling": "SECRET", "submitters": []string{"modclerk"}, "approved_by": "Deputy PM"})
	sub := e.must(201, "modclerk", "POST", "/api/v1/submissions", map[string]any{"sender": "MOD", "registry": "MFA",
		"destination": plan["destination"], "responsible_person": "Minister of Defence",
		"items": []map[string]any{{"kind": "correspondence", "level": spec.Level, "registry_number": fmt.Sprintf("MOD-%d", time.Now().UnixNano()), "count": 1}}})
	p := e.must(201, "disp", "POST", "/api/v1/plans", plan)
	bag := e.must(201, "disp", "POST", "/api/v1/bags", map[string]any{"plan_id": p["id"]})
	out := mailBagOut{ID: bag["id"].(string), Submission: sub["id"].(string), Version: int(bag["version"].(float64))}
	if spec.State == "planned" {
		return out
	}
	b := bagOf(e.must(200, "clerk", "POST", "/api/v1/bags/"+out.ID+"/assemble", map[string]any{"submission_ids": []any{out.Submission}}))
	if spec.State != "assembling" {
		tag := strings.ToUpper(out.ID[:8])
		b = bagOf(e.must(200, "clerk", "POST", "/api/v1/bags/"+out.ID+"/seal", map[string]any{"container": "suitcase", "packages": 2,
			"seal_serials": []string{"S-" + tag + "-1", "S-" + tag + "-2"}}))
	}
	out.Version = int(b["version"].(float64))
	return out
}

func TestBagLifecycleThroughAPI(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	id, v := e.setupSealedBag()
	path := "/api/v1/bags/" + id

	// Dispatch without a sheet: 409.
	e.must(409, "clerk", "POST", path+"/dispatch", nil)
	c := e.must(201, "disp", "POST", "/api/v1/couriers", map[string]any{"kind": "career", "user_id": e.ids["courier1"], "username": "courier1", "full_name": "Arman Courier"})
	sheet := e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": c["id"], "bag_ids": []string{id}, "valid_until": time.Now().Add(72 * time.Hour)})
	if sheet["package_count"].(float64) != 2 {
		t.Fatalf("sheet %v", sheet)
	}
	res, _ := e.do("courier1", "GET", "/api/v1/sheets/"+sheet["id"].(string)+"/print", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("print sheet: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// Stale If-Match: 412; the right one: 200.
	e.must(412, "clerk", "POST", path+"/dispatch", nil, "If-Match", fmt.Sprintf(`"%d"`, v-1))
	out := e.must(200, "clerk", "POST", path+"/dispatch", nil, "If-Match", fmt.Sprintf(`"%d"`, v))
	// The same If-Match again (a second clerk who read the same version) loses.
	e.must(412, "clerk2", "POST", path+"/dispatch", nil, "If-Match", fmt.Sprintf(`"%d"`, v))
	// The release names the courier on the sheet; the bag stays sealed, with the registry, until the courier confirms.
	h := out["handoff"].(map[string]any)
	if b := bagOf(out); b["state"] != "sealed" || h["purpose"] != "dispatch" || h["to"].(map[string]any)["username"] != "courier1" {
		t.Fatalf("dispatch: %v", out)
	}
	e.must(409, "courier1", "POST", path+"/arrive_leg", map[string]any{"leg": 1})
	acc := e.must(200, "courier1", "POST", "/api/v1/custody/handoffs/"+h["id"].(string)+"/accept", e.scan(id))
	if acc["status"] != "completed" {
		t.Fatalf("confirm: %v", acc)
	}
	if b := bagOf(e.must(200, "sec", "GET", path, nil)); b["state"] != "dispatched" || b["custodian"].(map[string]any)["username"] != "courier1" {
		t.Fatalf("after the courier's confirmation: %v", b)
	}
	e.must(200, "courier1", "POST", path+"/arrive_leg", map[string]any{"leg": 1})
	if b := bagOf(e.must(200, "courier1", "POST", path+"/deliver", map[string]any{"place": "Berlin"})); b["state"] != "delivered" {
		t.Fatalf("deliver: %v", b)
	}
	// Storing a bag the courier still holds: storage belongs to the registry holding it (403).
	e.must(403, "berlin", "POST", path+"/store", map[string]any{"place": "Safe 1", "custodian": "berlin"})
	// Opening without a witness: 422, and the bag is unchanged.
	e.must(422, "sec", "POST", path+"/examine", map[string]any{"opening": true, "initiating_body": "Customs", "initiating_official": "Inspector", "grounds": "x-ray"})
	out = e.must(200, "berlin", "POST", path+"/accept", map[string]any{"packages_counted": 2, "seals_intact": true})
	if rc := out["receipt"].(map[string]any); rc["incident_id"] != nil {
		t.Fatalf("a clean receipt opened an incident: %v", rc)
	}
	// An ad hoc courier may not store.
	e.must(403, "adhoc", "POST", path+"/store", map[string]any{"place": "Safe 1", "custodian": "berlin"})
	b := bagOf(e.must(200, "berlin", "POST", path+"/store", map[string]any{"place": "Safe 1", "custodian": "berlin"}))
	if b["state"] != "stored" {
		t.Fatalf("state %v", b["state"])
	}
	ev := e.must(200, "sec", "GET", path+"/events", nil)["events"].([]any)
	// planned, assemble, seal, released and confirmed (dispatch), arrive_leg, released (deliver), confirmed (accept), store
	if len(ev) != 9 {
		t.Fatalf("%d events", len(ev))
	}
	// Above clearance: 404 on read, absent from lists.
	e.must(404, "lowber", "GET", path, nil)
	if l := e.must(200, "lowber", "GET", "/api/v1/bags", nil)["bags"].([]any); len(l) != 0 {
		t.Fatalf("list leaked %d bags", len(l))
	}
	if l := e.must(200, "berlin", "GET", "/api/v1/bags?state=stored", nil)["bags"].([]any); len(l) != 1 {
		t.Fatalf("berlin sees %d stored bags", len(l))
	}
}

func TestBagRefusals(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	e.must(201, "admin", "POST", "/api/v1/senders", map[string]any{"unit": "MOD", "legal_basis": "decree", "valid_from": "2020-01-01",
		"ceiling": "SECRET", "submitters": []string{"modclerk"}, "approved_by": "Deputy PM"})
	item := func(level string) []map[string]any {
		return []map[string]any{{"kind": "item", "level": level, "registry_number": "R-" + level, "count": 1}}
	}
	// Unauthorized sender.
	e.must(403, "nbclerk", "POST", "/api/v1/submissions", map[string]any{"sender": "NB", "registry": "MFA", "destination": "DE-BER",
		"responsible_person": "Governor", "items": item("RESTRICTED")})
	// Over-ceiling item.
	res, p := e.do("modclerk", "POST", "/api/v1/submissions", map[string]any{"sender": "MOD", "registry": "MFA", "destination": "DE-BER",
		"responsible_person": "Minister", "items": item("TOP_SECRET")})
	if res.StatusCode != 403 || p["errors"] == nil {
		t.Fatalf("over ceiling: %d %v", res.StatusCode, p)
	}
	// Bad input: wrong type, unknown field, missing fields — problem+json, nothing stored.
	for _, body := range []string{`{"sender": 7}`, `{"bogus": true}`, `{}`, `not json`} {
		res, p := e.do("modclerk", "POST", "/api/v1/submissions", body)
		if res.StatusCode < 400 || res.StatusCode >= 500 || res.Header.Get("Content-Type") != "application/problem+json" || p["type"] == nil {
			t.Fatalf("%s: %d %v", body, res.StatusCode, p)
		}
	}
	res, p = e.do("disp", "POST", "/api/v1/bags", `{"origin": "MFA", "destination": 12}`)
	if res.StatusCode != 400 {
		t.Fatalf("wrong type: %d %v", res.StatusCode, p)
	}
	if l := e.must(200, "sec", "GET", "/api/v1/bags", nil)["bags"].([]any); len(l) != 0 {
		t.Fatalf("bad input created %d bags", len(l))
	}
	// Unauthenticated: 401.
	e.must(401, "nobody", "GET", "/api/v1/bags", nil)
}

// BenchmarkBagTransitions measures state transitions recorded per second
// through the API: each iteration moves a fresh bag delivered → accepted →
// stored (two transitions, each one event and one custody-log leaf).
func BenchmarkBagTransitions(b *testing.B) {
	e := newMailEnv(b)
	ids := make([]string, b.N)
	for i := range ids {
		id, _ := e.delivered() // on a sheet naming courier1, dispatched, delivered to DE-BER
		ids[i] = id
	}
	b.ResetTimer()
	start := time.Now()
	for _, id := range ids {
		e.must(200, "berlin", "POST", "/api/v1/bags/"+id+"/accept", map[string]any{"packages_counted": 2, "seals_intact": true})
		e.must(200, "berlin", "POST", "/api/v1/bags/"+id+"/store", map[string]any{"place": "Safe", "custodian": "berlin"})
	}
	b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "transitions/s")
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
