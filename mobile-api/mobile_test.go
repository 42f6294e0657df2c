package mobileapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"valise/api"
	"valise/api/apitest"
	"valise/internal/bench"
	"valise/internal/dbtest"
	"valise/mobile-api/client"
	"valise/policy"
	"valise/tlog"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// env is an API over its own database with two fixture pairs (in each, the
// courier "second" holds a bag in transit and both couriers are on sheets
// for it), a security officer, and a custody-log integrator the test runs
// by hand.
type env struct {
	*apitest.Env
	pairs []*bench.Pair
	sec   string
	log   *tlog.Integrator
	key   *tlog.Key
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := apitest.New(t)
	key, err := tlog.LoadOrCreateKey(ctx, e.Pool, "valise.test/custody", e.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := bench.Setup(ctx, e.Pool, e.Server.Identity(), e.MasterKey, "m", 2)
	if err != nil {
		t.Fatal(err)
	}
	// The log integrates in the background (a phone's single-record sync
	// waits for its receipt); tests may also integrate by hand.
	ictx, cancel := context.WithCancel(ctx)
	bg := tlog.NewIntegrator(e.Pool, key, tlog.IntegratorOptions{Interval: 50 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); bg.Run(ictx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{Env: e, pairs: pairs, log: tlog.NewIntegrator(e.Pool, key, tlog.IntegratorOptions{}), key: key,
		sec: e.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.SpecialImportance, "")}
}

// call sends a request and decodes the JSON answer, failing unless the status is want.
func (e *env) call(t *testing.T, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	res := e.Do(t, method, path, token, body)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return out
}

// code has the security officer create an enrolment code for username.
func (e *env) code(t *testing.T, username string) string {
	t.Helper()
	out := e.call(t, 201, "POST", "/api/v1/devices/enrolments", e.sec, map[string]any{"username": username, "valid_minutes": 10})
	return out["code"].(string)
}

// phone enrols a new phone for username.
func (e *env) phone(t *testing.T, username string) *client.Client {
	t.Helper()
	c := client.New(e.URL, e.HTTP.Client())
	if _, err := c.Enrol(context.Background(), e.code(t, username), "test phone"); err != nil {
		t.Fatalf("enrol a phone for %s: %v", username, err)
	}
	return c
}

// problem asserts that err is a problem answer with status and reason.
func problem(t *testing.T, err error, status int, reason string) {
	t.Helper()
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != status || (reason != "" && p.Body["reason"] != reason) {
		t.Fatalf("want a %d problem (reason %q), got %v (%v)", status, reason, err, p)
	}
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnrolmentAndDeviceLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.pairs[0]
	en := "/api/v1/devices/enrolments"

	// Only a security officer creates codes, only for an active courier.
	e.call(t, 403, "POST", en, p.SecondToken, map[string]any{"username": p.Second})
	e.call(t, 422, "POST", en, e.sec, map[string]any{"username": "sec"})
	e.call(t, 422, "POST", en, e.sec, map[string]any{"username": p.Second, "valid_minutes": 600})
	e.call(t, 400, "POST", en, e.sec, map[string]any{"username": p.Second, "bogus": 1})
	out := e.call(t, 201, "POST", en, e.sec, map[string]any{"username": p.Second})
	code := out["code"].(string)
	if out["qr_text"] != "VALISE-ENROL:1:"+code {
		t.Fatalf("qr text: %v", out)
	}
	if n := e.count(t, `SELECT count(*) FROM device_enrolments WHERE code_hash = convert_to($1, 'UTF8')`, code); n != 0 {
		t.Fatal("the enrolment code is stored in clear")
	}

	// A malformed enrolment is refused and uses nothing up.
	e.call(t, 422, "POST", "/mobile/v1/enrol", "", map[string]any{"code": code, "public_key": "c2hvcnQ="})
	phone := client.New(e.URL, e.HTTP.Client())
	enr, err := phone.Enrol(ctx, code, "Second's phone")
	if err != nil {
		t.Fatal(err)
	}
	if enr.Username != p.Second || enr.Status != "active" || enr.LogKey == "" {
		t.Fatalf("enrolment: %+v", enr)
	}
	// The same code twice: refused, even with another key.
	_, err = client.New(e.URL, e.HTTP.Client()).Enrol(ctx, code, "")
	problem(t, err, 403, "enrolment_code_used")
	// An expired code: refused.
	late := e.code(t, p.Second)
	if _, err := e.Pool.Exec(ctx, `UPDATE device_enrolments SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	_, err = client.New(e.URL, e.HTTP.Client()).Enrol(ctx, late, "")
	problem(t, err, 403, "enrolment_code_expired")
	_, err = client.New(e.URL, e.HTTP.Client()).Enrol(ctx, "AAAAAA-BBBBBB-CCCCCC-DDDDDD", "")
	problem(t, err, 403, "enrolment_code_unknown")
	if n := e.count(t, `SELECT count(*) FROM devices`); n != 1 {
		t.Fatalf("%d devices after one good enrolment", n)
	}

	// Officers list devices; others do not see them.
	list := e.call(t, 200, "GET", "/api/v1/devices", e.sec, nil)["devices"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["username"] != p.Second {
		t.Fatalf("devices: %v", list)
	}
	e.call(t, 403, "GET", "/api/v1/devices", p.SecondToken, nil)
	e.call(t, 404, "GET", "/api/v1/devices/00000000-0000-4000-8000-000000000000", e.sec, nil)

	// The enrolled device is served; an unsigned or wrongly signed request is not.
	if _, _, err := phone.Bundle(ctx, ""); err != nil {
		t.Fatal(err, e.Logs())
	}
	e.call(t, 401, "GET", "/mobile/v1/bundle", "", nil)
	impostor := client.New(e.URL, e.HTTP.Client())
	impostor.DeviceID, impostor.TrustRoot = phone.DeviceID, phone.TrustRoot
	_, _, err = impostor.Bundle(ctx, "")
	problem(t, err, 401, "")

	// Suspended: refused; reinstated: served; revoked: refused for good.
	dev := "/api/v1/devices/" + phone.DeviceID
	if d := e.call(t, 200, "GET", dev, e.sec, nil); d["status"] != "active" || d["username"] != p.Second || d["label"] != "Second's phone" {
		t.Fatalf("device: %v", d)
	}
	if d := e.call(t, 200, "POST", dev+"/suspend", e.sec, map[string]any{"reason": "lost at FRA"}); d["status"] != "suspended" {
		t.Fatalf("suspend: %v", d)
	}
	_, _, err = phone.Bundle(ctx, "")
	problem(t, err, 401, "")
	e.call(t, 200, "POST", dev+"/reinstate", e.sec, nil)
	if _, _, err := phone.Bundle(ctx, ""); err != nil {
		t.Fatal(err)
	}
	e.call(t, 200, "POST", dev+"/revoke", e.sec, map[string]any{"reason": "stolen"})
	_, err = phone.Sync(ctx, []client.Record{phone.Sign(client.Payload{Kind: client.KindScan, BagID: p.BagID, Seals: p.Seals})})
	problem(t, err, 401, "")
	if d := e.call(t, 409, "POST", dev+"/reinstate", e.sec, nil); d["reason"] != "device_revoked" {
		t.Fatalf("reinstate revoked: %v", d)
	}
	if n := e.count(t, `SELECT count(*) FROM bag_events WHERE custody ? 'device'`); n != 0 {
		t.Fatalf("a revoked device's record landed (%d events)", n)
	}
	if !containsAll(e.Logs(), "device request refused", "device revoked") {
		t.Fatal("the refusal of the revoked device is not logged")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// TestEnrolmentRateLimited: one address gets a few enrolment attempts a
// minute; then 429 with Retry-After, whatever the code.
func TestEnrolmentRateLimited(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ts := httptest.NewServer(apitest.Conform(t, api.New(d.Pool, api.Config{LoginRate: 2})))
	t.Cleanup(ts.Close)
	for i, want := range []int{403, 403, 429} {
		c := client.New(ts.URL, ts.Client())
		_, err := c.Enrol(context.Background(), "AAAAAA-BBBBBB-CCCCCC-DDDDDD", "")
		var p *client.Problem
		if !errors.As(err, &p) || p.Status != want {
			t.Fatalf("attempt %d: %v, want %d", i+1, err, want)
		}
	}
}
