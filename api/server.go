// Package api is Valise's HTTP API for registries, dispatchers, security and
// personnel officers. Handlers translate requests into calls on the domain
// packages and back; they hold no business rules. Every error leaves as an
// RFC 9457 problem body (see problem.go).
package api

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"valise"
	"valise/alerts"
	"valise/courier"
	"valise/crypto/keyring"
	"valise/identity"
	"valise/internal/db"
	"valise/migrations"
	mobileapi "valise/mobile-api"
	"valise/policy"
	"valise/web/console"
	"valise/web/scanner"
)

//go:embed openapi.yaml
var openapiDoc []byte

// OpenAPI returns the OpenAPI 3.1 document the server publishes.
func OpenAPI() []byte { return openapiDoc }

// Config tunes the HTTP layer. Zero values take the defaults noted.
type Config struct {
	RequestTimeout time.Duration // default 30s
	MaxBodyBytes   int64         // default 1 MiB
	Logger         *slog.Logger  // default slog.Default()
	// MasterKey seals the token signing keys at rest (crypto/secret); nil
	// means a random key for this process only (tests).
	MasterKey []byte
	// Identity tunes token lifetimes and lockouts (zero values: defaults).
	Identity identity.Config
	// LoginRate is how many failed logins (and refreshes) one address may
	// make per minute, over all usernames; successes do not count. Default 20.
	LoginRate int
	// Seals tunes seal issuance and the trust list (crypto/keyring); the
	// keyring uses MasterKey.
	Seals keyring.Options
	// Alerts tunes alert delivery (SMTP, public URL, retries); webhook
	// secrets are sealed with MasterKey.
	Alerts alerts.Options

	// HSTS sends Strict-Transport-Security on plain-HTTP requests too (the
	// server sits behind a TLS-terminating proxy); TLS requests always get it.
	HSTS bool
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// MetricsElsewhere leaves /metrics off the API's routes: it is served
	// on a listener of its own (MetricsHandler).
	MetricsElsewhere bool
}

// Server is the HTTP API over one database pool.
type Server struct {
	cfg     Config
	pool    *pgxpool.Pool
	log     *slog.Logger
	router  chi.Router
	metrics *httpMetrics
	reg     *prometheus.Registry
	pouch   *pouchAPI       // the bag lifecycle (api/bags.go)
	custody *custodyAPI     // hand-offs, custody trails, receipts (api/custody.go)
	seals   *sealAPI        // trust list, bag seals, verification (api/seals.go)
	alerts  *alerts.Service // alerts, subscriptions, webhooks (api/alerts.go)
	config  *settingsAPI    // settings, plan review and custody windows (api/settings.go)
	staff   *personnelAPI   // staff records, ranks, discipline (api/personnel.go)

	mobile *mobileapi.API // couriers' phones: /mobile/v1 and /api/v1/devices (mobile-api/)
	web    http.Handler   // the web console at /console (web/console, api/console.go)

	authz      *policy.Authorizer // every protected handler asks it (api/auth.go)
	ident      *identity.Service  // users, units, tokens (api/auth.go)
	loginLimit *rateLimiter       // login attempts per address and per account
}

// New builds the server and its routes.
func New(pool *pgxpool.Pool, cfg Config) *Server {
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, pool: pool, log: cfg.Logger, reg: prometheus.NewRegistry()}
	s.metrics = newHTTPMetrics(s.reg)
	s.reg.MustRegister(newPoolCollector(pool), newOpsCollector(pool), newPersonnelAlertCollector(pool),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.authz = mustAuthorizer(pool, cfg.Logger)
	s.reg.MustRegister(newDecisionLogCollector(s.authz))
	s.ident = identity.New(pool, cfg.MasterKey, cfg.Identity, cfg.Logger)
	if cfg.LoginRate == 0 {
		cfg.LoginRate = 20
	}
	s.loginLimit = newRateLimiter(cfg.LoginRate, time.Minute)
	master := masterKey(cfg)
	kr := newKeyring(cfg, master) // signs bag seals and courier sheets (api/seals.go)
	s.pouch = newPouchAPI(pool, s.authz, kr, newCursors(master))
	s.custody = newCustodyAPI(pool, s.authz, s.pouch.idem, s.pouch.cursors)
	s.seals = newSealAPI(pool, kr, s.authz, s.pouch.bags, s.pouch.couriers)
	s.config = newSettingsAPI(pool, s.authz, s.pouch.bags, s.pouch.idem)
	if cfg.Alerts.Logger == nil {
		cfg.Alerts.Logger = cfg.Logger
	}
	var err error
	if s.alerts, err = alerts.New(pool, s.authz, s.ident, master, cfg.Alerts); err != nil {
		panic(err) // a master key of the wrong size is a programming error
	}
	s.staff = newPersonnelAPI(pool, s.authz, s.pouch.idem)
	s.mobile = mobileapi.New(mobileapi.Deps{Pool: pool, Authz: s.authz, Ident: s.ident, Keys: kr, Log: cfg.Logger,
		Error: Error, JSON: JSON, Decode: Decode, ReadJSON: ReadJSON, EnrolRate: cfg.LoginRate})
	s.web = s.newConsole(master)
	s.router = s.routes()
	return s
}

// Close waits (until ctx ends) for the work the server does off the
// request path: the denies queued for the decision log. Call it after the
// HTTP server has drained.
func (s *Server) Close(ctx context.Context) error { return s.authz.Close(ctx) }

// Alerts is the alert service behind the alert routes; `valise serve` runs
// its scan and delivery rounds (Run).
func (s *Server) Alerts() *alerts.Service { return s.alerts }

// masterKey is cfg.MasterKey, or a random key for this process only (tests).
func masterKey(cfg Config) []byte {
	if cfg.MasterKey != nil {
		return cfg.MasterKey
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	return master
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}

// MetricsHandler serves only /metrics (with the same headers and token
// check as the API), for a listener of its own (VALISE_METRICS_ADDR).
func (s *Server) MetricsHandler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.securityHeaders)
	r.NotFound(notFound)
	r.With(s.metricsAuth).Get("/metrics", s.metricsHandler().ServeHTTP)
	return r
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Router exposes the router so tests can walk its routes.
func (s *Server) Router() chi.Router { return s.router }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(s.securityHeaders)
	r.Use(s.accessLog)
	r.Use(s.recoverer)
	r.Use(s.limits)
	r.Use(newParamCheck(r).middleware) // query and path parameters against openapi.yaml (api/params.go)
	r.NotFound(notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		Error(w, r, valise.Errorf("method_not_allowed", "method %s is not allowed on %s", r.Method, r.URL.Path))
	})

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if !s.cfg.MetricsElsewhere {
		r.With(s.metricsAuth).Get("/metrics", s.metricsHandler().ServeHTTP)
	}
	s.logRoutes(r)                              // custody transparency log, public: /log/...
	r.Get(courier.PrintScriptPath, printScript) // the printable pages' one script (api/sheets.go)
	r.Mount(console.Prefix, s.web)              // the web console for registries, security and personnel (web/console)
	// Couriers' phones, every request but enrolment signed by the device key (mobile-api/).
	r.Route("/mobile/v1", s.mobile.PhoneRoutes)
	r.Mount("/app", scanner.Handler(notFound)) // the courier's scanner app, an offline web app (web/scanner/)
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write(openapiDoc)
		})
		r.Get("/version", s.version)
		s.publicAuthRoutes(r)   // login, refresh (api/auth.go)
		s.seals.publicRoutes(r) // trust list (api/seals.go)
		// Protected routes: add yours inside this group; handlers find the
		// caller with policy.SubjectFrom(r.Context()) and ask s.authz.
		r.Group(func(r chi.Router) {
			r.Use(s.requireAuth)
			s.identityRoutes(r)                // me, logout, units, users, security (api/auth.go)
			r.Group(s.pouch.routes)            // bags, senders, plans, couriers, sheets, incidents (api/bags.go)
			r.Group(s.custody.routes)          // hand-offs, custody trails, receipts, overdue (api/custody.go)
			r.Group(s.seals.routes)            // bag seals and seal verification (api/seals.go)
			r.Group(s.alertRoutes)             // alerts, subscriptions, webhooks (api/alerts.go)
			r.Group(s.pouch.sheetRoutes)       // the list of courier sheets (api/sheets.go)
			r.Group(s.pouch.eligibilityRoutes) // who may carry the mail (api/personnel_passports.go)
			r.Group(s.custody.pendingRoutes)   // hand-offs waiting for the caller (api/pending.go)
			r.Group(s.config.routes)           // settings, plan review, custody windows (api/settings.go)
			r.Group(s.seals.labelRoutes)       // seal labels, HTML and PDF (api/labels.go)
			r.Group(s.staff.routes)            // personnel core (api/personnel.go)
			r.Group(s.staff.passportRoutes)    // passports, registers, destruction acts (api/personnel_passports.go)
			r.Group(s.staff.sharedRoutes)      // personnel alerts and working-day calendar (api/personnel_alerts.go)
			r.Group(s.staff.secondmentRoutes)  // secondment, Decree 755 (api/personnel_secondment.go)
			r.Group(s.staff.entitlementRoutes) // entitlements and payments (api/personnel_entitlements.go)
			r.Group(s.staff.rotationRoutes)    // rotation plan and cases, postings, recall, attestation (api/personnel_rotation.go)
			// Devices: enrolment codes, list, suspend, revoke (mobile-api/).
			r.Group(s.mobile.OfficerRoutes)
		})
	})
	return r
}

func notFound(w http.ResponseWriter, r *http.Request) {
	Error(w, r, valise.Errorf(valise.ENOTFOUND, "no such resource: %s", r.URL.Path))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	JSON(w, http.StatusOK, map[string]string{"version": valise.Version, "commit": valise.Commit})
}

// readyz answers 200 only when the database answers and carries every
// migration this binary knows; otherwise 503 with the reason.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := Ready(r.Context(), s.pool); err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Ready checks that the database is reachable and fully migrated.
func Ready(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Every embedded migration must be applied (they may be applied out of
	// numeric order, so the highest version alone proves nothing).
	want := migrations.Versions()
	var applied int
	err := pool.QueryRow(ctx, `SELECT count(DISTINCT version_id) FROM goose_db_version
		WHERE is_applied AND version_id = ANY($1)`, want).Scan(&applied)
	if err != nil {
		if db.Unavailable(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return valise.Errorf(valise.EUNAVAILABLE, "the database is unreachable")
		}
		return valise.Errorf(valise.EUNAVAILABLE, "the database is not migrated")
	}
	if applied < len(want) {
		return valise.Errorf(valise.EUNAVAILABLE, "the database schema lacks %d of this binary's %d migrations", len(want)-applied, len(want))
	}
	return nil
}
