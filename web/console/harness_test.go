package console_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"valise/api/apitest"
	"valise/demo"
	"valise/internal/browser"
	"valise/internal/dbtest"
	"valise/tlog"
)

// The console's tests drive Debian's Chromium through chromedp: one browser
// per test binary (started on first use), one private browser context
// (cookies of its own) per signed-in person. Every page a flow visits is
// checked by axe-core (vendored in testdata, injected only here) for
// serious or critical violations, for Content-Security-Policy violations
// (the pages need no inline script or style) and for any request to
// anything but the server under test.

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestConsole runs the browser flows in parallel over one running Valise
// with the demo data (loading it once keeps the suite quick); each flow
// works on demo bags and accounts of its own.
func TestConsole(t *testing.T) {
	e := newEnv(t)
	for _, f := range []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"ClerkBagFlow", testClerkBagFlow},
		{"AcceptanceMismatchOpensIncident", testAcceptanceMismatchOpensIncident},
		{"ClerkDeskIncidents", testClerkDeskIncidents},
		{"RefusalsInTheUsersLanguage", testRefusalsInTheUsersLanguage},
		{"CameraScanFillsTheSealField", testCameraScanFillsTheSealField},
		{"PersonnelDesk", testPersonnelDesk},
		{"SecurityOfficerRecordsOpening", testSecurityOfficerRecordsOpening},
		{"SecretBagHiddenEverywhere", testSecretBagHiddenEverywhere},
		{"SignInLanguageAndSignOut", testSignInLanguageAndSignOut},
		{"FormsWithoutTheirTokenAreRefused", testFormsWithoutTheirTokenAreRefused},
	} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			f.run(t, e)
		})
	}
}

//go:embed testdata/axe.min.js
var axeSource string

// demoPassword is the demo accounts' password (demo.Options default).
const demoPassword = "valise-demo"

var (
	chromeOnce sync.Once
	chromeCtx  context.Context // the running browser
	chromeErr  error
)

// chrome returns the shared browser, skipping t without Chromium.
func chrome(t testing.TB) context.Context {
	t.Helper()
	bin := browser.Find()
	if bin == "" {
		t.Skip("chromium not found: the console's tests drive it (apt-get install chromium, or set VALISE_CHROMIUM; make test installs it)")
	}
	chromeOnce.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
			chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1366, 768))
		alloc, _ := chromedp.NewExecAllocator(context.Background(), opts...)
		// The browser lives as long as the binary; each test opens private
		// browser contexts in it.
		chromeCtx, _ = chromedp.NewContext(alloc)
		chromeErr = chromedp.Do(chromeCtx)
	})
	if chromeErr != nil {
		t.Fatalf("start chromium: %v", chromeErr)
	}
	return chromeCtx
}

// cameraChrome starts a Chromium of t's own whose fake camera plays video
// (browser.FakeCamera) and grants itself the camera.
func cameraChrome(t *testing.T, video string) context.Context {
	t.Helper()
	chrome(t) // skips t without Chromium
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser.Find()), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1366, 768),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true), chromedp.Flag("use-file-for-fake-video-capture", video))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(alloc)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium with a camera: %v", err)
	}
	return ctx
}

// env is a running Valise (API and console) over the demo data, with the
// custody log integrated so inclusion proofs exist.
type env struct {
	*apitest.Env
	host string
	key  *tlog.Key
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := apitest.New(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, e.Pool, demo.Options{MasterKey: e.MasterKey}); err != nil {
		t.Fatalf("load demo: %v", err)
	}
	key, err := tlog.LoadOrCreateKey(ctx, e.Pool, "valise.test/custody", e.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.URL)
	v := &env{Env: e, host: u.Host, key: key}
	v.integrate(t)
	return v
}

// integrate adds every logged event to the custody log and signs a checkpoint.
func (e *env) integrate(t testing.TB) {
	t.Helper()
	if _, err := tlog.NewIntegrator(e.Pool, e.key, tlog.IntegratorOptions{}).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// tab is one person's browser: a private browser context in the shared
// Chromium, recording every request it makes.
type tab struct {
	t    *testing.T
	e    *env
	ctx  context.Context
	mu   sync.Mutex
	urls []string
}

func (e *env) tab(t *testing.T) *tab {
	t.Helper()
	return e.tabIn(t, chrome(t))
}

// tabIn is a tab in another browser than the shared one.
func (e *env) tabIn(t *testing.T, browserCtx context.Context) *tab {
	t.Helper()
	b := &tab{t: t, e: e}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.urls = append(b.urls, r.Request.URL)
			b.mu.Unlock()
		}
	}))
	t.Cleanup(cancel)
	b.ctx = ctx
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	// Record CSP violations from the very start of every document.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__csp = [];
		document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`}); err != nil {
		t.Fatal(err)
	}
	return b
}

// do runs actions, failing the test on error.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser at %s: %v", b.location(), err)
	}
}

// get runs one action and returns its value.
func get[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// open navigates to a console path and waits for its main landmark.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.e.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// signIn signs in through the form and lands on the user's desk.
func (b *tab) signIn(user string) {
	b.t.Helper()
	b.open("/console/login")
	b.check()
	b.fill("username", user)
	b.fill("password", demoPassword)
	b.submit(`form[action="/console/login"]`)
	b.do(chromedp.WaitVisible(chromedp.CSS(`form[action="/console/logout"]`)))
}

// submit clicks the submit button of the form matched by the CSS selector
// form and waits for the next page to load.
func (b *tab) submit(form string) {
	b.t.Helper()
	before := get(b, chromedp.Evaluate[float64](`performance.timeOrigin`))
	b.do(chromedp.Click(chromedp.CSS(form + ` button[type=submit]`)))
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The old document may still answer, or be gone mid-navigation.
		origin, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`document.readyState === "complete" ? performance.timeOrigin : 0`))
		if err == nil && origin != 0 && origin != before {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("submitting %s: no new page loaded (%v)", form, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fill sets the value of the field with id.
func (b *tab) fill(id, value string) {
	b.t.Helper()
	b.do(chromedp.SetValue(chromedp.ID(id), value))
}

// text is the main landmark's text.
func (b *tab) text() string {
	b.t.Helper()
	return get(b, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
}

// html is the whole document as the browser has it.
func (b *tab) html() string {
	b.t.Helper()
	return get(b, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// check runs axe-core on the page (failing on serious or critical
// violations), and fails on any CSP violation or request off the server.
func (b *tab) check() {
	b.t.Helper()
	if csp := get(b, chromedp.Evaluate[[]string](`window.__csp || []`)); len(csp) > 0 {
		b.t.Errorf("%s: Content-Security-Policy violations: %v", b.location(), csp)
	}
	b.do(chromedp.Evaluate[chromedp.Void](axeSource + ";0"))
	out := get(b, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then((r) =>
		JSON.stringify(r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
			.map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" "))}))))`, chromedp.EvalAwaitPromise))
	var violations []map[string]any
	_ = json.Unmarshal([]byte(out), &violations)
	for _, v := range violations {
		b.t.Errorf("%s: accessibility (%s) %s: %s at %v", b.location(), v["impact"], v["id"], v["help"], v["nodes"])
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.urls {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "data" && p.Host != b.e.host) {
			b.t.Errorf("the console loaded a resource from outside the server: %s", u)
		}
	}
}

func (b *tab) location() string {
	s, _ := chromedp.Run(b.ctx, chromedp.Location())
	return s
}

// bearer signs in through the API (for the steps of people who do not use
// the console: dispatchers, couriers' phones).
func (e *env) bearer(t *testing.T, user string) string {
	t.Helper()
	return e.Login(t, user, demoPassword).AccessToken
}

// call makes an API call and decodes its answer into out (may be nil).
func (e *env) call(t *testing.T, method, path, token string, body, out any, want int) {
	t.Helper()
	res := e.Do(t, method, path, token, body)
	defer res.Body.Close()
	if res.StatusCode != want {
		var b strings.Builder
		_, _ = fmt.Fprint(&b, res.Status)
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		t.Fatalf("%s %s: %s %v (want %d)", method, path, b.String(), m, want)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}
