// Package console is Valise's web console: server-rendered pages for
// registry clerks, security officers and personnel officers, in the style
// of the self-hosted Go services people run (Miniflux, Gitea). Templates and
// assets are embedded; pages load nothing from outside the server and run
// no inline script (a strict Content-Security-Policy says so). Handlers
// call the same domain packages as the API, with the same policy decisions;
// they hold no business rule. Each desk is a file of its own: desk_clerk.go,
// desk_security.go, desk_personnel.go; a bag's page is bag.go.
package console

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/courier"
	"valise/custody"
	"valise/identity"
	"valise/personnel"
	"valise/policy"
	"valise/pouch"
	"valise/web/scanner"
)

//go:embed templates/*.html static/*
var files embed.FS

// Prefix is where the API server mounts the console.
const Prefix = "/console"

// CSP is the console's Content-Security-Policy: scripts, styles, images
// and connections only from the server itself; no inline script or style.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Deps are what the console works with: the API server's own services.
type Deps struct {
	Pool     *pgxpool.Pool
	Authz    *policy.Authorizer
	Ident    *identity.Service
	Bags     *pouch.Service
	Couriers *courier.Service
	// SignIn is the API's login with its rate limit (the same rules).
	SignIn func(ctx context.Context, username, password, addr string) (identity.Tokens, error)
	// Status maps an error to the HTTP status the API answers it with.
	Status func(error) int
	// Key authenticates the console's cookies (derived from the master key).
	Key []byte
	// HSTS: the server sits behind a TLS proxy, so cookies are Secure.
	HSTS bool
	Log  *slog.Logger
}

// Console is the web console's handler.
type Console struct {
	d       Deps
	custody *custody.Service
	staff   *personnel.Service
	pages   map[string]*pageTemplate
	router  chi.Router
}

// New builds the console.
func New(d Deps) *Console {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	c := &Console{d: d, custody: custody.New(d.Pool), staff: personnel.New(d.Pool)}
	c.pages = mustParse()
	c.router = c.routes()
	return c
}

// ServeHTTP makes Console an http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.router.ServeHTTP(w, r) }

func (c *Console) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(c.headers)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { c.notFound(w, r) })
	static, _ := fs.Sub(files, "static")
	r.Handle("/static/*", http.StripPrefix(Prefix+"/static/", staticFiles(static)))
	// The seal-scan fields decode QR codes with the scanner app's vendored
	// jsQR (web/scanner/VENDOR.md pins it) where the browser has no
	// BarcodeDetector: the same embedded file, served under the console's
	// own path and CSP, loaded only when a camera scan starts.
	for _, f := range []string{"jsqr.js", "jsqr.LICENSE.txt"} {
		r.Handle("/static/"+f, http.StripPrefix(Prefix+"/static/", staticFiles(scanner.Files())))
	}
	r.Group(func(r chi.Router) {
		r.Use(c.csrf)
		r.Get("/login", c.loginPage)
		r.Post("/login", c.login)
		r.Post("/prefs", c.setPrefs)
		r.Group(func(r chi.Router) {
			r.Use(c.requireSession)
			r.Get("/", c.home)
			r.Post("/logout", c.logout)
			r.Get("/password", c.passwordPage)
			r.Post("/password", c.changePassword)
			c.clerkRoutes(r)     // desk_clerk.go
			c.bagRoutes(r)       // bag.go
			c.securityRoutes(r)  // desk_security.go
			c.personnelRoutes(r) // desk_personnel.go
		})
	})
	return r
}

// headers sets the console's CSP over the API's and keeps pages out of
// caches (they show mail and people).
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("Cache-Control", "no-store")
		h.Set("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
		next.ServeHTTP(w, r)
	})
}

// staticFiles serves the embedded assets (they may be cached: they change
// only with the binary).
func staticFiles(root fs.FS) http.Handler {
	fsrv := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// check is the domain's authorization callback for the signed-in user.
func (c *Console) check(s policy.Subject) pouch.Check {
	return func(ctx context.Context, action string, res policy.Resource) error {
		return c.d.Authz.Authorize(ctx, s, action, res)
	}
}

// may reports whether the policy lets s do action to res, to decide what a
// page offers (a section, a form, a choice). Asking is not an attempt, so a
// "no" is not a denial to log; the action itself, when taken, is decided
// and logged by the domain call (Authorize) as in the API.
func (c *Console) may(ctx context.Context, s policy.Subject, action string, res policy.Resource) bool {
	d, err := c.d.Authz.Decide(ctx, s, action, res)
	return err == nil && d.Allow
}

// home sends each user to the desk of their role.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	for _, d := range desks {
		if d.open(s) {
			http.Redirect(w, r, Prefix+d.Path, http.StatusSeeOther)
			return
		}
	}
	c.render(w, r, http.StatusOK, "home", "title.home", nil)
}

// desk is one desk of the navigation and the roles that have it.
type desk struct {
	Path, Label string
	roles       []string
}

var desks = []desk{
	{"/clerk", "desk.clerk", []string{policy.RoleRegistryClerk}},
	{"/security", "desk.security", []string{policy.RoleSecurityOfficer, policy.RoleAuditor}},
	{"/personnel", "desk.personnel", []string{policy.RolePersonnelOfficer}},
}

func (d desk) open(s policy.Subject) bool {
	for _, r := range d.roles {
		if s.HasRole(r) {
			return true
		}
	}
	return false
}
