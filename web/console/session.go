package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"valise"
	"valise/policy"
)

// Cookies. The session cookie names the identity session (the same
// sessions API logins open, with the same lifetime, revocation and
// lockouts) and carries the console key's MAC of it; the CSRF cookie is a
// random value every form's token is derived from; the preferences cookie
// holds the language and time zone (nothing secret).
const (
	sessionCookie = "valise_session"
	csrfCookie    = "valise_csrf"
	prefsCookie   = "valise_prefs"
	csrfField     = "csrf"
)

type ctxKey int

const (
	subjectKey ctxKey = iota
	sessionKey
	csrfKey
)

func (c *Console) mac(parts ...string) string {
	m := hmac.New(sha256.New, c.d.Key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// cookie is a console cookie: HttpOnly, SameSite=Strict, scoped to the
// console, Secure over TLS (or behind a TLS proxy).
func (c *Console) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		Secure: r.TLS != nil || c.d.HSTS, SameSite: http.SameSiteStrictMode}
}

// sessionOf returns the session id the request's cookie names, if its MAC
// is the console's.
func (c *Console) sessionOf(r *http.Request) string {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	sid, sum, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(sum), []byte(c.mac("session", sid))) {
		return ""
	}
	return sid
}

// csrf gives every request a CSRF cookie (made on first visit) and the
// token forms carry, bound to the cookie and the session; it refuses any
// POST whose token is not that one, with a clear page, and logs it.
func (c *Console) csrf(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seed := ""
		if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 22 {
			seed = ck.Value
		}
		if seed == "" {
			b := make([]byte, 24)
			_, _ = rand.Read(b)
			seed = base64.RawURLEncoding.EncodeToString(b)
			http.SetCookie(w, c.cookie(r, csrfCookie, seed, 0))
		}
		sid := c.sessionOf(r)
		token := c.mac("csrf", seed, sid)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.PostFormValue(csrfField)
			if !hmac.Equal([]byte(got), []byte(token)) {
				c.d.Log.WarnContext(r.Context(), "console form refused: bad or missing CSRF token",
					"path", r.URL.Path, "remote", r.RemoteAddr, "had_token", got != "")
				r = r.WithContext(context.WithValue(r.Context(), csrfKey, token))
				c.fail(w, r, http.StatusForbidden, "error.csrf")
				return
			}
		}
		ctx := context.WithValue(r.Context(), csrfKey, token)
		ctx = context.WithValue(ctx, sessionKey, sid)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireSession lets through a live session's user (the subject read fresh
// from the database, as for an API token); others go to the sign-in page.
func (c *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid, _ := r.Context().Value(sessionKey).(string)
		if sid == "" {
			http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
			return
		}
		sub, err := c.d.Ident.Session(r.Context(), sid)
		if err != nil {
			if valise.ErrorCode(err) == valise.EUNAUTHORIZED {
				http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
				http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
				return
			}
			c.failErr(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(policy.WithSubject(r.Context(), sub)))
	})
}

// subject is the signed-in user (requireSession put it there).
func subject(r *http.Request) policy.Subject {
	s, _ := policy.SubjectFrom(r.Context())
	return s
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "login", "title.login", map[string]string{})
}

// login signs in with the API's rules; the identity session it opens is
// the console's session.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	user := r.PostFormValue("username")
	c.savePrefs(w, r, prefsOf(r).Lang, r.PostFormValue("tz"))
	t, err := c.d.SignIn(r.Context(), user, r.PostFormValue("password"), remoteHost(r))
	if err == nil {
		var sid string
		if _, sid, err = c.d.Ident.Authenticate(r.Context(), t.AccessToken); err == nil {
			http.SetCookie(w, c.cookie(r, sessionCookie, sid+"."+c.mac("session", sid), 0))
			// A new CSRF seed: tokens made before signing in die with it.
			http.SetCookie(w, c.cookie(r, csrfCookie, "", -1))
			http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
			return
		}
	}
	key := "login.failed"
	switch valise.ErrorCode(err) {
	case valise.ETOOMANY:
		key = "login.throttled"
		retryAfter(w, err)
	case valise.EUNAUTHORIZED:
	default:
		c.failErr(w, r, err)
		return
	}
	c.render(w, r, c.d.Status(err), "login", "title.login", map[string]string{"Error": key, "Username": user})
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	sid, _ := r.Context().Value(sessionKey).(string)
	if err := c.d.Ident.Logout(r.Context(), sid); err != nil {
		c.failErr(w, r, err)
		return
	}
	http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
	http.SetCookie(w, c.cookie(r, csrfCookie, "", -1))
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "password", "title.password", map[string]string{})
}

// changePassword checks the current password as a login would (the same
// throttle and lockout), then sets the new one, which ends every session
// of the user: they sign in again.
func (c *Console) changePassword(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	if r.PostFormValue("new") != r.PostFormValue("confirm") {
		c.render(w, r, http.StatusUnprocessableEntity, "password", "title.password", map[string]string{"Error": "password.mismatch"})
		return
	}
	t, err := c.d.SignIn(r.Context(), s.Username, r.PostFormValue("current"), remoteHost(r))
	if err != nil {
		key := "password.wrong"
		if valise.ErrorCode(err) == valise.ETOOMANY {
			key = "login.throttled"
			retryAfter(w, err)
		}
		c.render(w, r, c.d.Status(err), "password", "title.password", map[string]string{"Error": key})
		return
	}
	if _, sid, err := c.d.Ident.Authenticate(r.Context(), t.AccessToken); err == nil {
		_ = c.d.Ident.Logout(r.Context(), sid) // the check's own session
	}
	if err := c.d.Ident.SetPassword(r.Context(), s.UserID, r.PostFormValue("new")); err != nil {
		if valise.ErrorCode(err) == valise.EINVALID {
			c.render(w, r, http.StatusUnprocessableEntity, "password", "title.password",
				map[string]string{"Error": "password.invalid", "Detail": fieldReasons(err)})
			return
		}
		c.failErr(w, r, err)
		return
	}
	c.d.Log.InfoContext(r.Context(), "password changed in the console", "user_id", s.UserID)
	http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
	c.render(w, r, http.StatusOK, "login", "title.login", map[string]string{"Notice": "password.changed"})
}

// prefs are the user's language and time zone.
type prefs struct {
	Lang string
	TZ   *time.Location
}

func prefsOf(r *http.Request) prefs {
	p := prefs{Lang: "", TZ: time.UTC}
	if ck, err := r.Cookie(prefsCookie); err == nil {
		lang, tz, _ := strings.Cut(ck.Value, "|")
		if _, ok := catalog[lang]; ok {
			p.Lang = lang
		}
		if loc, err := time.LoadLocation(tz); err == nil && tz != "" {
			p.TZ = loc
		}
	}
	if p.Lang == "" {
		p.Lang = acceptLanguage(r.Header.Get("Accept-Language"))
	}
	return p
}

// savePrefs stores a language and a time zone (either may be "": kept).
func (c *Console) savePrefs(w http.ResponseWriter, r *http.Request, lang, tz string) {
	p := prefsOf(r)
	if _, ok := catalog[lang]; ok {
		p.Lang = lang
	}
	if loc, err := time.LoadLocation(tz); err == nil && tz != "" && tz != "Local" {
		p.TZ = loc
	}
	http.SetCookie(w, c.cookie(r, prefsCookie, p.Lang+"|"+p.TZ.String(), 365*24*3600))
}

func (c *Console) setPrefs(w http.ResponseWriter, r *http.Request) {
	c.savePrefs(w, r, r.PostFormValue("lang"), r.PostFormValue("tz"))
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, Prefix+"/") || strings.HasPrefix(back, Prefix+"//") || strings.ContainsAny(back, "\\\r\n") {
		back = Prefix + "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// retryAfter says when a throttled sign-in may come back, as the API's 429 does.
func retryAfter(w http.ResponseWriter, err error) {
	var ve *valise.Error
	if errors.As(err, &ve) {
		if secs, ok := ve.Extra["retry_after"].(int); ok {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
	}
}

func fieldReasons(err error) string {
	var parts []string
	if ve, ok := err.(*valise.Error); ok {
		for _, f := range ve.Fields {
			parts = append(parts, f.Field+": "+f.Reason)
		}
	}
	return strings.Join(parts, "; ")
}
