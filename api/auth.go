package api

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"valise"
	"valise/identity"
	"valise/policy"
)

type sessionKey struct{}

// requireAuth verifies the bearer access token (signature, kid, iss, aud,
// exp; then, in the database, that the user is active and the session
// live), and puts the policy.Subject in the request context. Handlers read
// it with policy.SubjectFrom (or subject()). Use it as
//
//	r.Group(func(r chi.Router) { r.Use(s.requireAuth); r.Get(...) })
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="valise"`)
			Error(w, r, valise.Errorf(valise.EUNAUTHORIZED, "sign in first: send an Authorization: Bearer access token"))
			return
		}
		sub, sid, err := s.ident.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			if valise.ErrorCode(err) == valise.EUNAUTHORIZED { // not when the database is down: the token may be fine
				w.Header().Set("WWW-Authenticate", `Bearer realm="valise", error="invalid_token"`)
			}
			Error(w, r, err)
			return
		}
		ctx := policy.WithSubject(r.Context(), sub)
		ctx = context.WithValue(ctx, sessionKey{}, sid)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authorize asks the policy on behalf of the caller in r's context.
func (s *Server) authorize(r *http.Request, action string, res policy.Resource) error {
	sub, ok := policy.SubjectFrom(r.Context())
	if !ok {
		return valise.Errorf(valise.EUNAUTHORIZED, "sign in first")
	}
	return s.authz.Authorize(r.Context(), sub, action, res)
}

// authorizeAs is the identity service's authorization callback for sub.
func (s *Server) authorizeAs(sub policy.Subject) identity.Authorize {
	return func(ctx context.Context, action string, res policy.Resource) error {
		return s.authz.Authorize(ctx, sub, action, res)
	}
}

// grantClearance changes a user's clearance (a security officer who is not
// the subject; the grant is recorded with who and why).
func (s *Server) grantClearance(r *http.Request, sub policy.Subject, in identity.GrantInput) (identity.Grant, error) {
	return s.ident.GrantClearance(r.Context(), sub, chi.URLParam(r, "id"), in, s.authorizeAs(sub))
}

// listGrants lists clearance grants (of one user with ?user=ID).
func (s *Server) listGrants(r *http.Request, sub policy.Subject) (map[string]any, error) {
	if err := s.authz.Authorize(r.Context(), sub, policy.ActClearanceRead, policy.Resource{Kind: "clearance_grant"}); err != nil {
		return nil, err
	}
	list, err := s.ident.ListGrants(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"grants": list}, nil
}

// identityRoutes are the protected identity and security routes.
func (s *Server) identityRoutes(r chi.Router) {
	r.Get("/me", s.me)
	r.Post("/auth/logout", s.logout)
	r.Get("/units", handleNoBody(s.listUnits))
	r.Post("/units", s.createUnit)
	r.Get("/units/{code}", handleNoBody(s.getUnit))
	r.Put("/units/{code}", handle(http.StatusOK, s.updateUnit))
	r.Delete("/units/{code}", s.deleteUnit)
	r.Get("/users", handleNoBody(s.listUsers))
	r.Post("/users", s.createUser)
	r.Get("/users/{id}", handleNoBody(s.getUser))
	r.Put("/users/{id}", handle(http.StatusOK, s.updateUser))
	r.Post("/users/{id}/suspend", handleNoBody(s.setActive(false)))
	r.Post("/users/{id}/reinstate", handleNoBody(s.setActive(true)))
	r.Put("/users/{id}/password", s.setPassword)
	r.Post("/users/{id}/clearance", handle(http.StatusCreated, s.grantClearance))
	r.Get("/security/clearance-grants", handleNoBody(s.listGrants))
	r.Get("/security/decisions", handleNoBody(s.listDecisions))
	r.Get("/security/lockouts", handleNoBody(s.listLockouts))
	r.Delete("/security/lockouts/{username}", s.liftLock)
}

// publicAuthRoutes need no token: logging in and refreshing.
func (s *Server) publicAuthRoutes(r chi.Router) {
	r.Post("/auth/login", s.login)
	r.Post("/auth/refresh", s.refresh)
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	t, err := s.signIn(r.Context(), in.Username, in.Password, remoteHost(r))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	JSON(w, http.StatusOK, t)
}

// signIn is every login's rules, the API's and the web console's: one
// address may fail LoginRate times a minute, over all usernames (successes
// do not count: a whole office behind one NAT signs in); then identity's
// per-account lockout and per-address back-off.
func (s *Server) signIn(ctx context.Context, username, pw, addr string) (identity.Tokens, error) {
	if wait, ok := s.loginLimit.allow("addr:" + addr); !ok {
		return identity.Tokens{}, identity.TooMany(wait)
	}
	t, err := s.ident.Login(ctx, username, pw, addr)
	if err != nil && valise.ErrorCode(err) == valise.EUNAUTHORIZED {
		s.loginLimit.fail("addr:" + addr)
	}
	return t, err
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	if wait, ok := s.loginLimit.allow("addr:" + remoteHost(r)); !ok {
		Error(w, r, identity.TooMany(wait))
		return
	}
	t, err := s.ident.Refresh(r.Context(), in.RefreshToken, remoteHost(r))
	if err != nil {
		if valise.ErrorCode(err) == valise.EUNAUTHORIZED {
			s.loginLimit.fail("addr:" + remoteHost(r))
		}
		Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	JSON(w, http.StatusOK, t)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sid, _ := r.Context().Value(sessionKey{}).(string)
	if err := s.ident.Logout(r.Context(), sid); err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	sub, _ := policy.SubjectFrom(r.Context())
	actions, err := s.authz.Actions(r.Context(), sub)
	if err != nil {
		Error(w, r, err)
		return
	}
	bags, err := s.authz.ListScope(r.Context(), sub, "bag")
	if err != nil {
		Error(w, r, err)
		return
	}
	type scope struct {
		All      bool     `json:"all"`
		Units    []string `json:"units"`
		MaxLevel *string  `json:"max_level"`
		Carrying bool     `json:"carrying"`
	}
	bs := scope{All: bags.All, Units: bags.Units, Carrying: bags.Courier}
	if !bags.None() {
		l := bags.MaxLevel.String()
		bs.MaxLevel = &l
	}
	JSON(w, http.StatusOK, map[string]any{
		"user_id": sub.UserID, "username": sub.Username, "roles": sub.Roles, "unit": sub.UnitCode,
		"unit_kind": sub.UnitKind, "clearance": sub.Clearance, "courier_kind": sub.CourierKind,
		"scope": sub.Scope, "actions": actions, "bag_scope": bs,
	})
}

func (s *Server) listUnits(r *http.Request, sub policy.Subject) (map[string]any, error) {
	if err := s.authz.Authorize(r.Context(), sub, policy.ActUnitsRead, policy.Resource{Kind: "unit"}); err != nil {
		return nil, err
	}
	units, err := s.ident.ListUnits(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"units": units}, nil
}

func (s *Server) getUnit(r *http.Request, sub policy.Subject) (identity.Unit, error) {
	code := chi.URLParam(r, "code")
	if err := s.authz.Authorize(r.Context(), sub, policy.ActUnitsRead, policy.Resource{Kind: "unit", ID: code}); err != nil {
		return identity.Unit{}, err
	}
	return s.ident.GetUnit(r.Context(), code)
}

func (s *Server) createUnit(w http.ResponseWriter, r *http.Request) {
	var in identity.UnitInput
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.authorize(r, policy.ActUnitsManage, policy.Resource{Kind: "unit", ID: in.Code}); err != nil {
		Error(w, r, err)
		return
	}
	u, err := s.ident.CreateUnit(r.Context(), in)
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/units/"+u.Code)
	JSON(w, http.StatusCreated, u)
}

func (s *Server) updateUnit(r *http.Request, sub policy.Subject, in identity.UnitInput) (identity.Unit, error) {
	code := chi.URLParam(r, "code")
	if err := s.authz.Authorize(r.Context(), sub, policy.ActUnitsManage, policy.Resource{Kind: "unit", ID: code}); err != nil {
		return identity.Unit{}, err
	}
	if in.Code != "" && in.Code != code {
		return identity.Unit{}, valise.Invalid("the unit is not valid", valise.FieldError{Field: "code", Reason: "a unit's code does not change"})
	}
	return s.ident.UpdateUnit(r.Context(), code, in)
}

func (s *Server) deleteUnit(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	if err := s.authorize(r, policy.ActUnitsManage, policy.Resource{Kind: "unit", ID: code}); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.ident.DeleteUnit(r.Context(), code); err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listUsers(r *http.Request, sub policy.Subject) (map[string]any, error) {
	if err := s.authz.Authorize(r.Context(), sub, policy.ActUsersRead, policy.Resource{Kind: "user"}); err != nil {
		return nil, err
	}
	users, err := s.ident.ListUsers(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"users": users}, nil
}

func (s *Server) getUser(r *http.Request, sub policy.Subject) (identity.User, error) {
	id := chi.URLParam(r, "id")
	if err := s.authz.Authorize(r.Context(), sub, policy.ActUsersRead, identity.UserResource(id)); err != nil {
		return identity.User{}, err
	}
	return s.ident.GetUser(r.Context(), id)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var in identity.UserInput
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	// The level is the clearance asked for: an admin gives at most RESTRICTED
	// (the policy's admin_clearance_ceiling); a security officer grants more.
	if err := s.authorize(r, policy.ActUsersManage, policy.Resource{Kind: "user", Level: in.Clearance}); err != nil {
		Error(w, r, err)
		return
	}
	u, err := s.ident.CreateUser(r.Context(), in)
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/users/"+u.ID)
	JSON(w, http.StatusCreated, u)
}

func (s *Server) updateUser(r *http.Request, sub policy.Subject, in identity.UserInput) (identity.User, error) {
	id := chi.URLParam(r, "id")
	if err := s.authz.Authorize(r.Context(), sub, policy.ActUsersManage, identity.UserResource(id)); err != nil {
		return identity.User{}, err
	}
	return s.ident.UpdateUser(r.Context(), id, in, s.authorizeAs(sub))
}

// setActive suspends (false) or reinstates (true) the user in the path.
func (s *Server) setActive(active bool) func(*http.Request, policy.Subject) (identity.User, error) {
	return func(r *http.Request, sub policy.Subject) (identity.User, error) {
		id := chi.URLParam(r, "id")
		if err := s.authz.Authorize(r.Context(), sub, policy.ActUsersManage, identity.UserResource(id)); err != nil {
			return identity.User{}, err
		}
		return s.ident.SetActive(r.Context(), id, active)
	}
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var in struct {
		Password string `json:"password"`
	}
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.authorize(r, policy.ActUsersManage, identity.UserResource(id)); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.ident.SetPassword(r.Context(), id, in.Password); err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listDecisions(r *http.Request, sub policy.Subject) (map[string]any, error) {
	if err := s.authz.Authorize(r.Context(), sub, policy.ActDecisionsRead, policy.Resource{Kind: "decision_log"}); err != nil {
		return nil, err
	}
	sc, err := s.authz.ListScope(r.Context(), sub, "decision_log")
	if err != nil {
		return nil, err
	}
	// Denies are written off the request path: wait for those already made.
	if err := s.authz.Flush(r.Context()); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	// The page cursor is sealed like the bag list's: row ids would show, by
	// their gaps, how many denies above the reader's clearance lie between.
	before, _, _, err := s.pouch.cursors.open("decisions", sub.UserID, "before", q.Get("before"))
	if err != nil {
		return nil, err
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	list, err := policy.ListDecisions(r.Context(), s.pool, q.Get("username"), before, limit, sc.MaxLevel)
	if err != nil {
		return nil, err
	}
	next := ""
	if len(list) == limit {
		if next, err = s.pouch.cursors.seal("decisions", sub.UserID, list[limit-1].ID, ""); err != nil {
			return nil, err
		}
	}
	return map[string]any{"decisions": list, "next": next}, nil
}

func (s *Server) listLockouts(r *http.Request, sub policy.Subject) (map[string]any, error) {
	if err := s.authz.Authorize(r.Context(), sub, policy.ActLockoutsRead, policy.Resource{Kind: "lockout"}); err != nil {
		return nil, err
	}
	list, err := s.ident.Lockouts(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"lockouts": list}, nil
}

// rateLimiter counts failures per key (an address) in fixed windows. It is
// per process: with several instances each enforces its own share, and the
// database back-off and ceiling (identity) are the limits that hold across
// them.
type rateLimiter struct {
	limit  int
	window time.Duration
	mu     sync.Mutex
	start  time.Time
	counts map[string]int
}

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, counts: map[string]int{}}
}

// roll starts a new window when the current one is over; l.mu is held.
func (l *rateLimiter) roll(now time.Time) {
	if now.Sub(l.start) >= l.window {
		l.start, l.counts = now, map[string]int{}
	}
}

// allow reports whether key may try again, and if not how long until it may.
func (l *rateLimiter) allow(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.roll(now)
	if l.counts[key] < l.limit {
		return 0, true
	}
	return l.start.Add(l.window).Sub(now), false
}

// fail counts one failure of key.
func (l *rateLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(time.Now())
	l.counts[key]++
}

// liftLock ends a username's account lock and its addresses' back-off
// (security officers). 204 whether or not there was one.
func (s *Server) liftLock(w http.ResponseWriter, r *http.Request) {
	sub, ok := subject(w, r)
	if !ok {
		return
	}
	if err := s.authz.Authorize(r.Context(), sub, policy.ActLockoutsLift, policy.Resource{Kind: "lockout"}); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.ident.LiftLock(r.Context(), sub, chi.URLParam(r, "username")); err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Identity exposes the identity service (for tools and test helpers).
func (s *Server) Identity() *identity.Service { return s.ident }

// Authorizer exposes the policy authorizer (for tools and test helpers).
func (s *Server) Authorizer() *policy.Authorizer { return s.authz }
