// Package apitest starts a real Valise API over a fresh test database for
// handler tests: the demo units are loaded, the authorizer is the embedded
// policy, tokens are real EdDSA JWTs obtained by logging in through the API,
// and the demo offices have seal keys (sealing a bag signs its seals).
//
//	e := apitest.New(t)
//	tok := e.User(t, "clerk", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
//	res := e.Do(t, "GET", "/api/v1/me", tok, nil)
//
// The test package must call dbtest.Main from TestMain.
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/api"
	"valise/crypto/password"
	"valise/demo"
	"valise/identity"
	"valise/internal/dbtest"
	"valise/policy"
	"valise/tlog"
)

// Password is the password of every user Env.User creates.
const Password = "apitest-password"

// Env is one running API over its own database.
type Env struct {
	URL    string // base URL of the server, e.g. http://127.0.0.1:port
	Pool   *pgxpool.Pool
	Server *api.Server
	HTTP   *httptest.Server
	// MasterKey is the key the server seals its signing keys with.
	MasterKey []byte
	logs      *syncBuffer
}

// New starts the server; everything is closed and dropped when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	d := dbtest.New(t)
	if err := demo.LoadUnits(context.Background(), d.Pool); err != nil {
		t.Fatalf("load demo units: %v", err)
	}
	logs := &syncBuffer{}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	// Sealing a bag or issuing a courier sheet signs with the office's seal
	// key: the demo offices (MFA, DE-BER, JP-TYO) get theirs, and the root.
	if err := demo.LoadSealKeys(context.Background(), d.Pool, master); err != nil {
		t.Fatalf("load demo seal keys: %v", err)
	}
	s := api.New(d.Pool, api.Config{
		MasterKey: master,
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		LoginRate: 10000,
		// Cheap hashes keep tests fast; production uses password.Default.
		Identity: identity.Config{Password: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
	})
	t.Cleanup(func() { _ = s.Close(context.Background()) }) // before the database is dropped
	// Every answer of the test is checked against the OpenAPI document.
	ts := httptest.NewServer(Conform(t, s))
	t.Cleanup(ts.Close)
	return &Env{URL: ts.URL, Pool: d.Pool, Server: s, HTTP: ts, MasterKey: master, logs: logs}
}

// Logs returns everything the server has logged so far (JSON lines).
func (e *Env) Logs() string { return e.logs.String() }

// User creates an active user (security officers and auditors get scope
// "*") with password Password, logs in through the API and returns the
// access token.
func (e *Env) User(t testing.TB, username string, roles []string, unitCode string, clearance policy.Level, courierKind string) string {
	t.Helper()
	in := identity.UserInput{Username: username, FullName: username, Unit: unitCode, Roles: roles,
		Clearance: clearance, CourierKind: courierKind, Password: Password}
	if slices.Contains(roles, policy.RoleSecurityOfficer) || slices.Contains(roles, policy.RoleAuditor) {
		in.Scope = []string{"*"}
	}
	if _, err := e.Server.Identity().CreateUser(context.Background(), in); err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return e.Login(t, username, Password).AccessToken
}

// Login logs in through the API and returns the tokens; it fails the test
// unless the answer is 200.
func (e *Env) Login(t testing.TB, username, pw string) identity.Tokens {
	t.Helper()
	res := e.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": username, "password": pw})
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("login %s: %d %s", username, res.StatusCode, b)
	}
	var tok identity.Tokens
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	return tok
}

// Do sends a request with body encoded as JSON (nil: no body) and the
// bearer token (empty: none). The caller closes the response body.
func (e *Env) Do(t testing.TB, method, path, token string, body any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

// Decode reads a JSON response body into v and closes it.
func Decode(t testing.TB, res *http.Response, v any) {
	t.Helper()
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("decode response: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CustodyLog loads (or creates) the custody log's key and runs its
// integrator in the background for the rest of the test (every 50 ms), so
// receipts come as they do on a running server; it returns the key.
func (e *Env) CustodyLog(t testing.TB) *tlog.Key {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	key, err := tlog.LoadOrCreateKey(ctx, e.Pool, "valise.test/custody", e.MasterKey)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	g := tlog.NewIntegrator(e.Pool, key, tlog.IntegratorOptions{Interval: 50 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return key
}
