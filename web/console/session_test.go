package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// testSignInLanguageAndSignOut: a wrong password is refused on the form, the
// right one opens the user's desk with an HttpOnly, SameSite=Strict session
// cookie; the language chosen sticks (Russian, then Kazakh); signing out
// ends the session, so its cookie no longer opens a desk.
func testSignInLanguageAndSignOut(t *testing.T, e *env) {
	b := e.tab(t)
	b.open("/console/clerk")
	if !strings.Contains(b.location(), "/console/login") {
		t.Fatalf("a desk without a session shows %s, want the sign-in page", b.location())
	}
	b.fill("username", "clerk.mfa")
	b.fill("password", "wrong password")
	b.submit(`form[action="/console/login"]`)
	if !strings.Contains(b.text(), "Wrong username or password") {
		t.Fatalf("a wrong password: %q", b.text())
	}
	b.check()
	b.signIn("clerk.mfa")
	if !strings.Contains(b.location(), "/console/clerk") || !strings.Contains(b.text(), "Today's work") {
		t.Fatalf("after signing in: %s %q", b.location(), b.text())
	}
	b.check()
	visible := get(b, chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(visible, "valise_session") || strings.Contains(visible, "valise_csrf") {
		t.Errorf("the session and CSRF cookies are readable by scripts: %q", visible)
	}
	b.fill("pref-lang", "ru")
	b.submit(`form[action="/console/prefs"]`)
	lang := get(b, chromedp.AttributeValue(chromedp.CSS("html"), "lang")).Value
	if lang != "ru" || !strings.Contains(b.text(), "Работа на сегодня") {
		t.Fatalf("after choosing Russian: lang=%q %q", lang, b.text())
	}
	b.fill("pref-lang", "kk")
	b.submit(`form[action="/console/prefs"]`)
	if !strings.Contains(b.text(), "Бүгінгі жұмыс") {
		t.Fatalf("after choosing Kazakh: %q", b.text())
	}
	b.check()
	b.submit(`form[action="/console/logout"]`)
	b.open("/console/clerk")
	if !strings.Contains(b.location(), "/console/login") {
		t.Fatalf("after signing out, the desk shows %s", b.location())
	}
}

// testFormsWithoutTheirTokenAreRefused: a POST without the form's CSRF
// token (or with another session's) is refused with a clear page, changes
// nothing and is logged; the cookies are HttpOnly and SameSite=Strict.
func testFormsWithoutTheirTokenAreRefused(t *testing.T, e *env) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(e.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" {
			t.Errorf("cookie %s: HttpOnly %v SameSite %v Path %q", ck.Name, ck.HttpOnly, ck.SameSite, ck.Path)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	token := between(string(page), `name="csrf" value="`, `"`)
	post := func(form url.Values) (int, string) {
		res, err := c.PostForm(e.URL+"/console/login", form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// admin: nobody else signs in as the admin in these tests.
	status, body := post(url.Values{"username": {"admin"}, "password": {demoPassword}})
	if status != http.StatusForbidden || !strings.Contains(body, "This form has expired or came from another page") {
		t.Fatalf("a form without its token: %d %s", status, body)
	}
	status, _ = post(url.Values{"csrf": {token + "x"}, "username": {"admin"}, "password": {demoPassword}})
	if status != http.StatusForbidden {
		t.Fatalf("a form with a wrong token: %d", status)
	}
	if !strings.Contains(e.Logs(), "bad or missing CSRF token") {
		t.Error("the refused form is not logged")
	}
	var sessions int
	if err := e.Pool.QueryRow(t.Context(), `SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'admin'`).Scan(&sessions); err != nil || sessions != 0 {
		t.Fatalf("a refused form opened %d sessions (%v)", sessions, err)
	}
	// The API's lockout holds here too: a locked account is refused, with
	// when to come back, even with the right password.
	if _, err := e.Pool.Exec(t.Context(), `INSERT INTO login_throttle (username, failures, last_failure_at, last_remote, locked_until, lock_count)
		VALUES ('auditor', 0, now(), '203.0.113.9', now() + interval '1 hour', 1)`); err != nil {
		t.Fatal(err)
	}
	res, err = c.PostForm(e.URL+"/console/login", url.Values{"csrf": {token}, "username": {"auditor"}, "password": {demoPassword}})
	if err != nil {
		t.Fatal(err)
	}
	locked, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(string(locked), "Too many failed sign-ins") {
		t.Fatalf("a locked account's sign-in: %s Retry-After %q", res.Status, res.Header.Get("Retry-After"))
	}
	status, body = post(url.Values{"csrf": {token}, "username": {"admin"}, "password": {demoPassword}})
	if status != http.StatusOK || !strings.Contains(body, "There is no desk for your role") {
		t.Fatalf("with its token the form signs in: %d\n%s", status, body)
	}
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}
