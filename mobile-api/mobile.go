// Package mobileapi serves the courier's phone under /mobile/v1: devices
// enrolled with a one-time code and bound to a courier, a trust bundle for
// offline work, and the sync of signed offline records (scans, releases,
// confirmations, cancellations) through the same pouch operations as the
// online API, so a hand-off recorded on a phone is the same event, with the
// same rules, as one recorded online. Security officers enrol, list,
// suspend and revoke devices under /api/v1/devices. The wire format is in
// mobile-api/client, the reference client.
//
// The package does not import api (api mounts it): the HTTP helpers it
// needs (problem bodies, strict JSON decoding) come in Deps.
package mobileapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/crypto/keyring"
	"valise/custody"
	"valise/identity"
	"valise/policy"
	"valise/pouch"
)

// Deps is what the API server lends the mobile routes.
type Deps struct {
	Pool   *pgxpool.Pool
	Authz  *policy.Authorizer
	Ident  *identity.Service
	Keys   *keyring.Keyring
	Log    *slog.Logger
	Error  func(w http.ResponseWriter, r *http.Request, err error) // problem bodies (api.Error)
	JSON   func(w http.ResponseWriter, status int, v any)          // api.JSON
	Decode func(r *http.Request, v any) error                      // strict JSON (api.Decode)
	// ReadJSON reads a body as Decode does and returns it unparsed
	// (api.ReadJSON).
	ReadJSON func(r *http.Request) ([]byte, error)
	// EnrolRate is how many enrolment attempts one address may make per
	// minute (default 10).
	EnrolRate int
}

// API serves the phone and the device-management routes.
type API struct {
	Deps
	bags       *pouch.Service
	trail      *custody.Service // receipts
	enrolLimit *limiter
	devLocks   sync.Map // device id → *sync.Mutex: one sync per device at a time
	// syncSlots bounds the batches in flight (each holds a connection for
	// its transaction) to half the pool, so that the reads a batch makes on
	// the pool (a relayed release's courier) always find a connection.
	syncSlots chan struct{}
	// now is the server clock (tests may move it).
	now func() time.Time
}

// New builds the mobile API.
func New(d Deps) *API {
	if d.EnrolRate == 0 {
		d.EnrolRate = 10
	}
	slots := 1
	if d.Pool != nil {
		slots = max(1, int(d.Pool.Config().MaxConns)/2)
	}
	return &API{Deps: d, syncSlots: make(chan struct{}, slots), bags: pouch.New(d.Pool), trail: custody.New(d.Pool), enrolLimit: &limiter{limit: d.EnrolRate, window: time.Minute}, now: time.Now}
}

// PhoneRoutes are mounted at /mobile/v1: enrolment is public (the one-time
// code is the credential); everything else is signed by the device key.
func (a *API) PhoneRoutes(r chi.Router) {
	r.Post("/enrol", a.enrol)
	r.Group(func(r chi.Router) {
		r.Use(a.requireDevice)
		r.Get("/bundle", a.bundle)
		r.Post("/sync", a.sync)
	})
}

// OfficerRoutes are mounted inside /api/v1's authenticated group.
func (a *API) OfficerRoutes(r chi.Router) {
	r.Post("/devices/enrolments", a.createEnrolment)
	r.Get("/devices", a.listDevices)
	r.Get("/devices/{id}", a.getDevice)
	r.Post("/devices/{id}/suspend", a.setStatus("suspended"))
	r.Post("/devices/{id}/reinstate", a.setStatus("active"))
	r.Post("/devices/{id}/revoke", a.setStatus("revoked"))
}

// officer returns the caller if they may manage devices; else it writes the
// denial (logged by the authorizer).
func (a *API) officer(w http.ResponseWriter, r *http.Request) (policy.Subject, bool) {
	s, ok := policy.SubjectFrom(r.Context())
	if !ok {
		a.Error(w, r, valise.Errorf(valise.EUNAUTHORIZED, "sign in first"))
		return s, false
	}
	if err := a.Authz.Authorize(r.Context(), s, policy.ActDevicesManage, policy.Resource{Kind: "device"}); err != nil {
		a.Error(w, r, err)
		return s, false
	}
	return s, true
}

// limiter is a fixed-window counter per key, per process (as the login
// limiter of the API).
type limiter struct {
	limit  int
	window time.Duration
	mu     sync.Mutex
	start  time.Time
	counts map[string]int
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.start) >= l.window || l.counts == nil {
		l.start, l.counts = now, map[string]int{}
	}
	l.counts[key]++
	return l.counts[key] <= l.limit
}

type deviceKey struct{}

// device is the authenticated phone of a request.
type device struct {
	ID      string
	UserID  string
	Subject policy.Subject
	Key     []byte
}

func deviceFrom(ctx context.Context) *device {
	d, _ := ctx.Value(deviceKey{}).(*device)
	return d
}
