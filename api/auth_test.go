package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"valise/api"
	"valise/api/apitest"
	"valise/crypto/password"
	"valise/identity"
	"valise/policy"
)

func status(t *testing.T, res *http.Response) (int, string) {
	t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestLoginMeRefreshLogout(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	e.User(t, "clerk.ber", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
	tok := e.Login(t, "clerk.ber", apitest.Password)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 300 || tok.RefreshToken == "" {
		t.Fatalf("login answer %+v", tok)
	}
	var me struct {
		Username, Unit, Clearance string
		Actions                   []string
		BagScope                  struct{ Units []string } `json:"bag_scope"`
	}
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/me", tok.AccessToken, nil), &me)
	if me.Username != "clerk.ber" || me.Unit != "DE-BER" || me.Clearance != "SECRET" ||
		!strings.Contains(strings.Join(me.Actions, ","), "bag.store") || strings.Join(me.BagScope.Units, ",") != "DE-BER" {
		t.Errorf("/me = %+v", me)
	}

	// Refresh rotates: the new pair works, the old refresh token is spent.
	var next identity.Tokens
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}), &next)
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate: %+v", next)
	}
	if c, _ := status(t, e.Do(t, "GET", "/api/v1/me", next.AccessToken, nil)); c != 200 {
		t.Fatalf("refreshed access token refused: %d", c)
	}
	// Replaying the spent token revokes the whole family: the newest refresh
	// token and every access token of the session stop working.
	if c, _ := status(t, e.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken})); c != 401 {
		t.Fatalf("replayed refresh token: %d, want 401", c)
	}
	if c, _ := status(t, e.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": next.RefreshToken})); c != 401 {
		t.Errorf("the family's newest refresh token still works after a replay: %d", c)
	}
	if c, _ := status(t, e.Do(t, "GET", "/api/v1/me", next.AccessToken, nil)); c != 401 {
		t.Errorf("access token of a revoked family still works: %d", c)
	}

	// Logout ends the session at once.
	tok = e.Login(t, "clerk.ber", apitest.Password)
	if c, _ := status(t, e.Do(t, "POST", "/api/v1/auth/logout", tok.AccessToken, nil)); c != 204 {
		t.Fatalf("logout: %d", c)
	}
	if c, _ := status(t, e.Do(t, "GET", "/api/v1/me", tok.AccessToken, nil)); c != 401 {
		t.Errorf("access token works after logout: %d", c)
	}
	if c, _ := status(t, e.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken})); c != 401 {
		t.Errorf("refresh token works after logout: %d", c)
	}
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	admin := e.User(t, "admin", []string{policy.RoleAdmin}, "MFA", policy.Restricted, "")
	e.User(t, "clerk", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
	var clerk struct{ ID string }
	var users struct {
		Users []struct{ ID, Username string }
	}
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/users", admin, nil), &users)
	for _, u := range users.Users {
		if u.Username == "clerk" {
			clerk.ID = u.ID
		}
	}
	clerkTok := e.Login(t, "clerk", apitest.Password)
	if c, _ := status(t, e.Do(t, "POST", "/api/v1/users/"+clerk.ID+"/suspend", admin, nil)); c != 200 {
		t.Fatalf("suspend: %d", c)
	}
	// Suspension ends the running session at once.
	if c, _ := status(t, e.Do(t, "GET", "/api/v1/me", clerkTok.AccessToken, nil)); c != 401 {
		t.Errorf("a suspended user's token still works: %d", c)
	}
	bodies := map[string]string{}
	for name, creds := range map[string][2]string{
		"wrong password": {"admin", "not-the-password"},
		"unknown user":   {"nobody", apitest.Password},
		"suspended user": {"clerk", apitest.Password},
		"empty":          {"", ""},
	} {
		c, body := status(t, e.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": creds[0], "password": creds[1]}))
		if c != 401 {
			t.Errorf("%s: %d %s", name, c, body)
		}
		var p struct{ Detail string }
		_ = json.Unmarshal([]byte(body), &p)
		bodies[p.Detail] = name
	}
	if len(bodies) != 1 {
		t.Errorf("refusals differ, which tells an attacker which accounts exist: %v", bodies)
	}
	for _, body := range []string{`{"username":"admin"}`, `{"username":"admin","password":"x","extra":1}`, `not json`} {
		res, _ := e.HTTP.Client().Post(e.URL+"/api/v1/auth/login", "application/json", strings.NewReader(body))
		if c, _ := status(t, res); c != 400 && c != 401 {
			t.Errorf("bad login body %s: %d", body, c)
		}
	}
}

// loginFrom posts a login as if from address addr (the server reads the
// peer address; the test calls the handler directly to vary it).
func loginFrom(t *testing.T, h http.Handler, addr, username, pw string) *httptest.ResponseRecorder {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": pw})
	req := httptest.NewRequest("POST", "/api/v1/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAttackerCannotLockOutOwner: failed logins from one address back off
// that address on that username (429 with Retry-After), while the owner at
// another address signs in; the failing address is listed for security
// officers. Every 429 carries Retry-After.
func TestAttackerCannotLockOutOwner(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	// A back-off of a minute, so a slow machine cannot outlast it between the
	// failures and the look at the lockouts (the default is 1 s).
	s := api.New(e.Pool, api.Config{Logger: slog.New(slog.DiscardHandler), LoginRate: 1000, MasterKey: e.MasterKey,
		Identity: identity.Config{BackoffBase: time.Minute, Password: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}})
	sec := e.User(t, "security", []string{policy.RoleSecurityOfficer}, "MFA", policy.TopSecret, "")
	e.User(t, "clerk", []string{policy.RoleRegistryClerk}, "MFA", policy.Secret, "")
	const attacker, owner = "203.0.113.7", "198.51.100.20"
	for i := range 4 { // three free failures, the fourth backs the pair off
		if rec := loginFrom(t, s, attacker, "clerk", "wrong-password"); rec.Code != 401 {
			t.Fatalf("failure %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	for _, pw := range []string{"wrong-password", apitest.Password} { // even the right password, from there
		rec := loginFrom(t, s, attacker, "clerk", pw)
		ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if rec.Code != 429 || err != nil || ra < 1 || ra > 60 || !strings.Contains(rec.Body.String(), `"retry_after":`) {
			t.Fatalf("the backed-off address: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	// The owner, elsewhere, is not slowed at all.
	if rec := loginFrom(t, s, owner, "clerk", apitest.Password); rec.Code != 200 {
		t.Fatalf("the owner at another address: %d %s", rec.Code, rec.Body)
	}
	var l struct{ Lockouts []identity.Lockout }
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/security/lockouts", sec, nil), &l)
	if len(l.Lockouts) != 1 || l.Lockouts[0].Username != "clerk" || l.Lockouts[0].Active || len(l.Lockouts[0].BackedOff) != 1 ||
		l.Lockouts[0].BackedOff[0].Remote != attacker || l.Lockouts[0].BackedOff[0].Failures != 4 {
		t.Errorf("lockouts = %+v", l.Lockouts)
	}
}

// TestAccountCeilingAndLift: failures from many addresses reach the
// account's ceiling and lock it everywhere (429, Retry-After); a security
// officer sees the lock and lifts it, and the owner signs in; nobody else
// may list or lift locks.
func TestAccountCeilingAndLift(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	s := api.New(e.Pool, api.Config{Logger: slog.New(slog.DiscardHandler), LoginRate: 1000, MasterKey: e.MasterKey,
		Identity: identity.Config{MaxFailures: 4, LockFor: time.Hour, Password: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}})
	sec := e.User(t, "security", []string{policy.RoleSecurityOfficer}, "MFA", policy.TopSecret, "")
	clerk := e.User(t, "clerk", []string{policy.RoleRegistryClerk}, "MFA", policy.Secret, "")
	for i := range 4 { // four addresses, one failure each
		if rec := loginFrom(t, s, fmt.Sprintf("203.0.113.%d", i+1), "clerk", "wrong-password"); rec.Code != 401 {
			t.Fatalf("failure %d: %d", i, rec.Code)
		}
	}
	rec := loginFrom(t, s, "198.51.100.20", "clerk", apitest.Password)
	if ra, _ := strconv.Atoi(rec.Header().Get("Retry-After")); rec.Code != 429 || ra < 3000 || ra > 3600 {
		t.Fatalf("the locked account: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	var l struct{ Lockouts []identity.Lockout }
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/security/lockouts", sec, nil), &l)
	if len(l.Lockouts) != 1 || l.Lockouts[0].Username != "clerk" || !l.Lockouts[0].Active || !l.Lockouts[0].KnownUser {
		t.Errorf("lockouts = %+v", l.Lockouts)
	}
	for _, tc := range []struct{ method, path string }{{"GET", "/api/v1/security/lockouts"}, {"DELETE", "/api/v1/security/lockouts/clerk"}} {
		if c, _ := status(t, e.Do(t, tc.method, tc.path, clerk, nil)); c != 403 {
			t.Errorf("a clerk: %s %s = %d", tc.method, tc.path, c)
		}
	}
	if rec := loginFrom(t, s, "198.51.100.20", "clerk", apitest.Password); rec.Code != 429 {
		t.Fatalf("a clerk lifted the lock: %d", rec.Code)
	}
	if c, b := status(t, e.Do(t, "DELETE", "/api/v1/security/lockouts/clerk", sec, nil)); c != 204 {
		t.Fatalf("lift: %d %s", c, b)
	}
	if rec := loginFrom(t, s, "198.51.100.20", "clerk", apitest.Password); rec.Code != 200 {
		t.Fatalf("after the lift: %d %s", rec.Code, rec.Body)
	}
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/security/lockouts", sec, nil), &l)
	if len(l.Lockouts) != 1 || l.Lockouts[0].Active || l.Lockouts[0].LiftedBy != "security" {
		t.Errorf("lockouts after the lift = %+v", l.Lockouts)
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	// A server with the default limit: 20 failed logins a minute per address.
	ts := httptest.NewServer(apitest.Conform(t, api.New(e.Pool, api.Config{Logger: slog.New(slog.DiscardHandler), MasterKey: e.MasterKey,
		Identity: identity.Config{Password: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}})))
	defer ts.Close()
	e.User(t, "clerk", []string{policy.RoleRegistryClerk}, "MFA", policy.Secret, "")
	login := func(user, pw string) *http.Response {
		res, err := ts.Client().Post(ts.URL+"/api/v1/auth/login", "application/json",
			strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Successes do not count: a whole office behind one address signs in.
	for i := range 30 {
		if c, b := status(t, login("clerk", apitest.Password)); c != 200 {
			t.Fatalf("success %d: %d %s", i, c, b)
		}
	}
	codes := map[int]int{}
	for i := range 25 {
		res := login("u"+string(rune('a'+i)), "whatever-pass")
		if res.StatusCode == 429 && res.Header.Get("Retry-After") == "" {
			t.Error("a 429 without Retry-After")
		}
		c, _ := status(t, res)
		codes[c]++
	}
	if codes[429] != 5 || codes[401] != 20 {
		t.Errorf("codes = %v, want 20 × 401 then 5 × 429", codes)
	}
}

// TestTokenAttacks: every forged, altered or stale token is refused with 401.
func TestTokenAttacks(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	ctx := context.Background()
	good := e.User(t, "clerk", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
	parts := strings.Split(good, ".")
	var header struct{ Kid string }
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	_ = json.Unmarshal(hb, &header)
	var claims map[string]any
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(cb, &claims)

	var pub []byte
	if err := e.Pool.QueryRow(ctx, `SELECT public_key FROM signing_keys WHERE kid = $1`, header.Kid).Scan(&pub); err != nil {
		t.Fatal(err)
	}
	sign := func(m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
		tk := jwt.NewWithClaims(m, c)
		if kid != "" {
			tk.Header["kid"] = kid
		}
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tampered := func(change func(map[string]any)) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		change(c)
		b, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	// An expired token, signed with the real key: a service sharing the
	// database and master key whose clock is 10 minutes behind issues it.
	past := identity.New(e.Pool, e.MasterKey, identity.Config{Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}, nil)
	old, err := past.Login(ctx, "clerk", apitest.Password, "test")
	if err != nil {
		t.Fatal(err)
	}

	for name, tok := range map[string]string{
		"expired":                   old.AccessToken,
		"unknown kid":               sign(jwt.SigningMethodEdDSA, otherKey, "no-such-kid", jwt.MapClaims(claims)),
		"known kid, other key":      sign(jwt.SigningMethodEdDSA, otherKey, header.Kid, jwt.MapClaims(claims)),
		"no kid":                    sign(jwt.SigningMethodEdDSA, otherKey, "", jwt.MapClaims(claims)),
		"alg none":                  sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, header.Kid, jwt.MapClaims(claims)),
		"HS256 with the public key": sign(jwt.SigningMethodHS256, pub, header.Kid, jwt.MapClaims(claims)),
		"tampered roles":            tampered(func(c map[string]any) { c["roles"] = []string{"admin"} }),
		"tampered subject":          tampered(func(c map[string]any) { c["sub"] = "00000000-0000-0000-0000-000000000000" }),
		"tampered expiry":           tampered(func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() }),
		"truncated":                 parts[0] + "." + parts[1],
		"garbage":                   "not-a-token",
	} {
		c, body := status(t, e.Do(t, "GET", "/api/v1/me", tok, nil))
		if c != 401 || !strings.Contains(body, "unauthorized") {
			t.Errorf("%s: %d %s", name, c, body)
		}
	}
	if c, _ := status(t, e.Do(t, "GET", "/api/v1/me", good, nil)); c != 200 {
		t.Errorf("the genuine token was refused: %d", c)
	}
	if c, _ := status(t, e.Do(t, "GET", "/api/v1/me", "", nil)); c != 401 {
		t.Errorf("no token: %d", c)
	}
}

// TestKeyRotation: after a rotation new tokens carry the new kid and tokens
// signed by the old key keep working until they expire.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	before := e.User(t, "clerk", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
	if err := e.Server.Identity().Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := e.Login(t, "clerk", apitest.Password).AccessToken
	if kid(before) == kid(after) {
		t.Fatalf("kid did not change on rotation: %s", kid(after))
	}
	for _, tok := range []string{before, after} {
		if c, _ := status(t, e.Do(t, "GET", "/api/v1/me", tok, nil)); c != 200 {
			t.Errorf("token with kid %s refused after rotation: %d", kid(tok), c)
		}
	}
}

func kid(tok string) string {
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h struct{ Kid string }
	_ = json.Unmarshal(hb, &h)
	return h.Kid
}

// TestNoSecretsInLogs drives logins, failures, refreshes and denials and
// then searches the captured server log for every password and token.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	admin := e.User(t, "admin", []string{policy.RoleAdmin}, "MFA", policy.Restricted, "")
	tok := e.Login(t, "admin", apitest.Password)
	var next identity.Tokens
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}), &next)
	status(t, e.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}))
	status(t, e.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "wrong-secret-guess"}))
	status(t, e.Do(t, "GET", "/api/v1/security/decisions", admin, nil))
	status(t, e.Do(t, "GET", "/api/v1/me?access_token="+admin, "garbage."+admin, nil))
	status(t, e.Do(t, "POST", "/api/v1/users", admin, map[string]any{"username": "newbie", "full_name": "N", "unit": "MFA",
		"roles": []string{"dispatcher"}, "clearance": "RESTRICTED", "password": "newbie-password-42"}))
	logs := e.Logs()
	if !strings.Contains(logs, "login failed") || !strings.Contains(logs, "authorization denied") {
		t.Fatalf("the scenario did not log what it should:\n%s", logs)
	}
	for _, secret := range []string{apitest.Password, "wrong-secret-guess", "newbie-password-42", admin, tok.AccessToken,
		tok.RefreshToken, next.RefreshToken, next.AccessToken, strings.Split(admin, ".")[2]} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret %.12q…", secret)
		}
	}
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	admin := e.User(t, "admin", []string{policy.RoleAdmin}, "MFA", policy.Restricted, "")
	auditor := e.User(t, "auditor", []string{policy.RoleAuditor}, "MFA", policy.Secret, "")
	sec := e.User(t, "security", []string{policy.RoleSecurityOfficer}, "MFA", policy.Secret, "")

	unit := map[string]any{"code": "AT-VIE", "name": "Embassy in Austria", "kind": "embassy", "country": "AT", "parent": "MFA"}
	if c, b := status(t, e.Do(t, "POST", "/api/v1/units", admin, unit)); c != 201 {
		t.Fatalf("create unit: %d %s", c, b)
	}
	if c, _ := status(t, e.Do(t, "POST", "/api/v1/units", admin, unit)); c != 409 {
		t.Errorf("duplicate unit: %d", c)
	}
	// Bad input: 422 naming the fields, and nothing created.
	bad := map[string]any{"code": "x", "name": "", "kind": "castle"}
	c, b := status(t, e.Do(t, "POST", "/api/v1/units", admin, bad))
	if c != 422 || !strings.Contains(b, `"field":"code"`) || !strings.Contains(b, `"field":"kind"`) {
		t.Errorf("bad unit: %d %s", c, b)
	}
	// A parent that would make a cycle.
	if c, b := status(t, e.Do(t, "PUT", "/api/v1/units/MFA", admin, map[string]any{"name": "MFA", "kind": "ministry", "parent": "AT-VIE"})); c != 422 {
		t.Errorf("cycle: %d %s", c, b)
	}
	// The auditor reads but changes nothing; the denial reaches the decision log.
	if c, _ := status(t, e.Do(t, "GET", "/api/v1/units", auditor, nil)); c != 200 {
		t.Errorf("auditor reading units: %d", c)
	}
	if c, _ := status(t, e.Do(t, "POST", "/api/v1/units", auditor, map[string]any{"code": "FR-PAR", "name": "Paris", "kind": "embassy", "country": "FR"})); c != 403 {
		t.Errorf("auditor creating a unit: %d", c)
	}
	var units struct{ Units []identity.Unit }
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/units", admin, nil), &units)
	for _, u := range units.Units {
		if u.Code == "FR-PAR" || u.Code == "X" {
			t.Errorf("a refused request created unit %s", u.Code)
		}
	}
	var d struct{ Decisions []policy.LoggedDecision }
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/security/decisions", sec, nil), &d)
	if len(d.Decisions) != 1 || d.Decisions[0].Username != "auditor" || d.Decisions[0].Detail != "auditors change nothing" {
		t.Errorf("decision log = %+v", d.Decisions)
	}
	if c, _ := status(t, e.Do(t, "GET", "/api/v1/security/decisions", admin, nil)); c != 403 {
		t.Errorf("admin reading the decision log: %d", c)
	}

	// Users: create, bad input, update.
	user := map[string]any{"username": "courier1", "full_name": "C One", "unit": "MFA", "roles": []string{"courier"},
		"clearance": "SECRET", "courier_kind": "ad_hoc", "password": "courier-password-1"}
	// Above RESTRICTED, a new account's clearance is a security officer's grant.
	if c, b := status(t, e.Do(t, "POST", "/api/v1/users", admin, user)); c != 403 || !strings.Contains(b, "a security officer grants more") {
		t.Errorf("admin creating a SECRET user: %d %s", c, b)
	}
	user["clearance"] = "RESTRICTED"
	var u identity.User
	res := e.Do(t, "POST", "/api/v1/users", admin, user)
	if res.StatusCode != 201 {
		t.Fatalf("create user: %d", res.StatusCode)
	}
	apitest.Decode(t, res, &u)
	if u.CourierKind != "ad_hoc" || u.Clearance != policy.Restricted || !u.Active {
		t.Errorf("created user %+v", u)
	}
	for name, body := range map[string]map[string]any{
		"courier without kind": {"username": "c2", "full_name": "C", "unit": "MFA", "roles": []string{"courier"}, "clearance": "RESTRICTED", "password": "long-enough-pw"},
		"short password":       {"username": "c3x", "full_name": "C", "unit": "MFA", "roles": []string{"admin"}, "clearance": "RESTRICTED", "password": "short"},
		"unknown unit":         {"username": "c4x", "full_name": "C", "unit": "ZZ-ZZZ", "roles": []string{"admin"}, "clearance": "RESTRICTED", "password": "long-enough-pw"},
		"unknown role":         {"username": "c5x", "full_name": "C", "unit": "MFA", "roles": []string{"king"}, "clearance": "RESTRICTED", "password": "long-enough-pw"},
	} {
		if c, b := status(t, e.Do(t, "POST", "/api/v1/users", admin, body)); c != 422 {
			t.Errorf("%s: %d %s", name, c, b)
		}
	}
	if c, _ := status(t, e.Do(t, "POST", "/api/v1/users", admin, map[string]any{"username": "c6x", "clearance": "COSMIC"})); c != 400 {
		t.Errorf("unknown clearance: %d", c)
	}
	var all struct{ Users []identity.User }
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/users", admin, nil), &all)
	if len(all.Users) != 4 {
		t.Errorf("%d users after refused creations, want 4", len(all.Users))
	}
	upd := map[string]any{"full_name": "C One", "unit": "DE-BER", "roles": []string{"courier"}, "clearance": "TOP_SECRET", "courier_kind": "career"}
	if c, b := status(t, e.Do(t, "PUT", "/api/v1/users/"+u.ID, admin, upd)); c != 422 || !strings.Contains(b, `"field":"clearance"`) {
		t.Errorf("admin editing a clearance: %d %s", c, b)
	}
	upd["clearance"] = "RESTRICTED"
	apitest.Decode(t, e.Do(t, "PUT", "/api/v1/users/"+u.ID, admin, upd), &u)
	if u.Unit != "DE-BER" || u.CourierKind != "career" || u.Clearance != policy.Restricted {
		t.Errorf("updated user %+v", u)
	}
	if c, _ := status(t, e.Do(t, "PUT", "/api/v1/users/"+u.ID, sec, upd)); c != 403 {
		t.Errorf("security officer managing users: %d", c)
	}
}

// BenchmarkAuthenticatedRequest measures GET /api/v1/me end to end inside
// the server: token verification, the session check in PostgreSQL, the
// policy's action list and scope, JSON out.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	e := apitest.New(b)
	tok := e.User(b, "clerk", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		e.Server.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
