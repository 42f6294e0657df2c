package console_test

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/internal/browser"
	"valise/web/scanner"
)

// testClerkBagFlow: the registry clerks' whole bag flow in the browser,
// from a submission to storage. The dispatcher has planned the bag (through
// the API, as a dispatcher would); the ministry's clerk accepts a
// submission, assembles it, seals the bag (printing its labels), issues and
// prints the courier sheet for an aircraft captain and releases the bag to
// him; the embassy's clerk sees it arriving, accepts it with the count and
// a scan of its seal, and stores it. The bag's page then shows its one
// history with every event's log index and verified inclusion proof.
func testClerkBagFlow(t *testing.T, e *env) {
	ctx := context.Background()
	var plan string
	if err := e.Pool.QueryRow(ctx, `SELECT id FROM dispatch_plans WHERE route_codes = '{MFA,DE-BER}' LIMIT 1`).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	var bag struct {
		ID             string `json:"id"`
		RegistryNumber string `json:"registry_number"`
	}
	e.call(t, "POST", "/api/v1/bags", e.bearer(t, "dispatcher"), map[string]any{"plan_id": plan}, &bag, 201)

	mfa := e.tab(t)
	mfa.signIn("clerk.mfa")
	mfa.fill("s-dest", "DE-BER")
	mfa.fill("s-resp", "Head of Consular Service")
	mfa.fill("s-level", "UNCLASSIFIED") // an aircraft captain carries it: he holds no clearance
	mfa.fill("s-number", "CON-T-1")
	mfa.fill("s-desc", "consular circular")
	mfa.submit(`form[action="/console/clerk/submit"]`)
	if !strings.Contains(mfa.text(), "Submission recorded") {
		t.Fatalf("after the submission: %q", mfa.text())
	}
	mfa.check()
	var sub string
	if err := e.Pool.QueryRow(ctx, `SELECT submission_id FROM submission_items WHERE registry_number = 'CON-T-1'`).Scan(&sub); err != nil {
		t.Fatal(err)
	}
	mfa.fill("asm-"+sub, bag.ID)
	mfa.submit(`form[action="/console/clerk/assemble"]:has(input[value="` + sub + `"])`)
	if !strings.Contains(mfa.text(), "Put into the bag") || !strings.Contains(mfa.text(), "consular circular") {
		t.Fatalf("after assembling: %q", mfa.text())
	}
	mfa.check()

	// Bad input is refused with the domain's reason and changes nothing.
	mfa.fill("seal-packages", "2")
	mfa.fill("seal-serials", "ONLY-ONE")
	mfa.submit(`form[action="/console/clerk/seal"]`)
	if text := mfa.text(); !strings.Contains(text, "The action was refused") || !strings.Contains(text, "seal_serials") {
		t.Fatalf("sealing with no packages: %q", text)
	}
	mfa.check()
	var state string
	if err := e.Pool.QueryRow(ctx, `SELECT state FROM bags WHERE id = $1`, bag.ID).Scan(&state); err != nil || state != "assembling" {
		t.Fatalf("a refused seal left the bag %q (%v)", state, err)
	}
	mfa.open("/console/bags/" + bag.ID)
	mfa.fill("seal-container", "suitcase")
	mfa.fill("seal-serials", "T-SEAL-1")
	mfa.submit(`form[action="/console/clerk/seal"]`)
	if !strings.Contains(mfa.text(), "The bag is sealed") {
		t.Fatalf("after sealing: %q", mfa.text())
	}
	mfa.check()
	mfa.do(chromedp.Click(chromedp.ID("labels-link")), chromedp.WaitReady(chromedp.CSS("svg")))
	if h := mfa.html(); !strings.Contains(h, bag.RegistryNumber) || !strings.Contains(h, "<svg") {
		t.Fatalf("the seal labels page: %.400s", h)
	}
	mfa.open("/console/bags/" + bag.ID)

	mfa.fill("sheet-conv", "aircraft_captain")
	mfa.fill("sheet-bearer", "Capt. Aidar Test")
	mfa.fill("sheet-until", time.Now().AddDate(0, 0, 7).Format(time.DateOnly))
	mfa.submit(`form[action="/console/clerk/sheet"]`)
	if !strings.Contains(mfa.text(), "Courier sheet issued") || !strings.Contains(mfa.text(), "Capt. Aidar Test") {
		t.Fatalf("after issuing the sheet: %q", mfa.text())
	}
	mfa.check()
	mfa.do(chromedp.Click(chromedp.CSS(`a[href$="/print"]`)), chromedp.WaitReady(chromedp.CSS("body")))
	if h := mfa.html(); !strings.Contains(h, bag.RegistryNumber) {
		t.Fatalf("the printed courier sheet does not name the bag: %.400s", h)
	}
	mfa.open("/console/bags/" + bag.ID)

	mfa.fill("dispatch-place", "Astana")
	mfa.fill("dispatch-doc", "passport KZ N0000001")
	mfa.submit(`form[action="/console/clerk/dispatch"]`)
	if !strings.Contains(mfa.text(), "The bag is released") || !strings.Contains(mfa.text(), "Dispatched") {
		t.Fatalf("after the release: %q", mfa.text())
	}
	mfa.check()

	ber := e.tab(t)
	ber.signIn("clerk.ber")
	if !strings.Contains(ber.text(), bag.RegistryNumber) {
		t.Fatalf("the Berlin desk does not show the arriving bag %s: %q", bag.RegistryNumber, ber.text())
	}
	ber.open("/console/bags/" + bag.ID)
	seals, err := keyring.BagSeals(ctx, e.Pool, bag.ID)
	if err != nil || len(seals) != 1 {
		t.Fatalf("seals: %v %v", seals, err)
	}
	// A handheld scanner types the QR's text and Enter into the field.
	ber.do(chromedp.SendKeys(chromedp.ID("accept-seals"), seals[0].Text+"\n"))
	ber.fill("accept-counted", "1")
	ber.fill("accept-place", "Berlin")
	ber.submit(`form[action="/console/clerk/accept"]`)
	if !strings.Contains(ber.text(), "The bag is accepted") {
		t.Fatalf("after the acceptance: %q", ber.text())
	}
	ber.check()
	ber.fill("store-place", "Registry safe 2")
	ber.submit(`form[action="/console/clerk/store"]`)
	if !strings.Contains(ber.text(), "The bag is stored") || !strings.Contains(ber.text(), "Registry safe 2") {
		t.Fatalf("after storing: %q", ber.text())
	}

	e.integrate(t)
	ber.open("/console/bags/" + bag.ID)
	ber.check()
	events := get(ber, chromedp.Evaluate[[]string](`[...document.querySelectorAll("ol.timeline > li")].map((li) => li.innerText)`))
	if len(events) < 6 {
		t.Fatalf("the history shows %d events: %q", len(events), events)
	}
	for _, ev := range events {
		if !strings.Contains(ev, "inclusion proof verified") || !strings.Contains(ev, "#") {
			t.Errorf("an event without its verified log entry: %q", ev)
		}
	}
	if !strings.Contains(ber.html(), `<svg class="route"`) {
		t.Error("the bag's page draws no route")
	}
}

// testAcceptanceMismatchOpensIncident: a clerk accepting a bag with more
// packages counted than it holds records the acceptance and opens an
// incident, which the bag's page shows with its deadlines and the security
// officer's desk lists, and so does the desk of the clerk who accepted it.
func testAcceptanceMismatchOpensIncident(t *testing.T, e *env) {
	var id string
	if err := e.Pool.QueryRow(context.Background(), `SELECT bag_id FROM bag_events WHERE kind = 'planned' AND reason = 'demo:berlin-mfa-delivered'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	b := e.tab(t)
	b.signIn("clerk.mfa")
	b.open("/console/bags/" + id)
	b.fill("accept-counted", "2")
	b.fill("accept-intact", "yes")
	b.submit(`form[action="/console/clerk/accept"]`)
	text := b.text()
	if !strings.Contains(text, "The bag is accepted") || !strings.Contains(text, "2 packages counted, 1 expected") {
		t.Fatalf("after accepting with a wrong count: %q", text)
	}
	b.check()
	b.open("/console/clerk")
	if !strings.Contains(get(b, chromedp.Evaluate[string](`document.querySelector('section[aria-labelledby="incidents"]')?.innerText ?? ""`)),
		"2 packages counted, 1 expected") {
		t.Error("the accepting clerk's desk does not list the incident")
	}
	sec := e.tab(t)
	sec.signIn("security")
	if !strings.Contains(sec.text(), "2 packages counted, 1 expected") {
		t.Fatalf("the security desk's incidents do not show it: %q", sec.text())
	}
	sec.check()
}

// testClerkDeskIncidents: a registry clerk's desk counts and lists the open
// incidents of the bags the policy lets them see, as the API lists them.
// Three bags from the ministry go missing while sealed: a RESTRICTED one
// to Tokyo, a SECRET one to Tokyo and a RESTRICTED one to Berlin. The Tokyo
// clerk (cleared RESTRICTED) sees the first and neither of the others, not
// even in the count; the Berlin clerk sees the Berlin one.
func testClerkDeskIncidents(t *testing.T, e *env) {
	ctx := context.Background()
	disp, mfa := e.bearer(t, "dispatcher"), e.bearer(t, "clerk.mfa")
	lose := func(dest, level, tag string) string {
		var bag, sub struct {
			ID string `json:"id"`
		}
		e.call(t, "POST", "/api/v1/bags", disp, map[string]any{"origin": "MFA", "destination": dest}, &bag, 201)
		e.call(t, "POST", "/api/v1/submissions", mfa, map[string]any{"sender": "MFA", "registry": "MFA", "destination": dest,
			"responsible_person": "Head of Political Department", "items": []map[string]any{{"kind": "correspondence",
				"level": level, "registry_number": "INC-" + tag, "count": 1, "description": "instructions"}}}, &sub, 201)
		e.call(t, "POST", "/api/v1/bags/"+bag.ID+"/assemble", mfa, map[string]any{"submission_ids": []string{sub.ID}}, nil, 200)
		e.call(t, "POST", "/api/v1/bags/"+bag.ID+"/seal", mfa, map[string]any{"container": "envelope", "packages": 1,
			"seal_serials": []string{"INC-S-" + tag}}, nil, 200)
		e.call(t, "POST", "/api/v1/bags/"+bag.ID+"/report_missing", mfa, map[string]any{"territory": "home",
			"last_seen_at": time.Now().Add(-time.Hour), "last_seen_place": "Vault " + tag}, nil, 200)
		return bag.ID
	}
	tyoR, tyoS, berR := lose("JP-TYO", "RESTRICTED", "TYO-R"), lose("JP-TYO", "SECRET", "TYO-S"), lose("DE-BER", "RESTRICTED", "BER-R")

	// desk signs user in and returns the incidents tile's count, the bags the
	// incident list links to and the list's text.
	desk := func(user string) (string, map[string]bool, string) {
		b := e.tab(t)
		b.signIn(user)
		b.check()
		n := get(b, chromedp.Evaluate[string](`document.querySelector('.tiles a[href="#incidents"] .n')?.textContent ?? "no tile"`))
		links := get(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#incidents ~ .scroll a')].map((a) => a.pathname)`))
		bags := map[string]bool{}
		for _, l := range links {
			bags[strings.TrimPrefix(l, "/console/bags/")] = true
		}
		return n, bags, get(b, chromedp.Evaluate[string](`document.querySelector('section[aria-labelledby="incidents"]').innerText`))
	}
	n, bags, text := desk("clerk.tyo")
	if !bags[tyoR] || !strings.Contains(text, "Vault TYO-R") {
		t.Errorf("the Tokyo clerk's desk does not list the incident of the RESTRICTED bag to Tokyo: %q", text)
	}
	if bags[tyoS] || bags[berR] || strings.Contains(text, "TYO-S") || strings.Contains(text, "BER-R") {
		t.Errorf("the Tokyo clerk's desk lists an incident above their clearance or outside their unit: %q", text)
	}
	// The count is exactly what the policy's list scope allows (open
	// incidents of bags up to RESTRICTED on Tokyo's routes), and the API
	// lists the same ones.
	var want int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM incidents i JOIN bags b ON b.id = i.bag_id
		WHERE i.outcome IS NULL AND b.level <= 1 AND 'JP-TYO' = ANY(b.route_codes)`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if n != strconv.Itoa(want) || len(bags) == 0 {
		t.Errorf("the Tokyo clerk's incidents tile says %s, the policy lets them see %d", n, want)
	}
	var api struct {
		Incidents []struct {
			BagID string `json:"bag_id"`
		} `json:"incidents"`
	}
	e.call(t, "GET", "/api/v1/incidents?open=true", e.bearer(t, "clerk.tyo"), nil, &api, 200)
	if strconv.Itoa(len(api.Incidents)) != n {
		t.Errorf("the API lists %d open incidents for the Tokyo clerk, the desk counts %s", len(api.Incidents), n)
	}
	for _, i := range api.Incidents {
		if !bags[i.BagID] {
			t.Errorf("the API lists an incident of bag %s the desk does not", i.BagID)
		}
	}
	if _, bags, _ := desk("clerk.ber"); !bags[berR] || bags[tyoR] || bags[tyoS] {
		t.Errorf("the Berlin clerk's desk lists incidents of bags %v", bags)
	}
}

// testRefusalsInTheUsersLanguage: a refused action says why in the
// language the user chose, with the domain's English words beneath. The
// ministry's clerk, in Kazakh, seals a bag with two packages and one seal
// serial (a count mismatch the domain refuses); in Russian, submits the
// seal form of a page a colleague's sealing has made stale. Neither
// refusal changes the bag.
func testRefusalsInTheUsersLanguage(t *testing.T, e *env) {
	ctx := context.Background()
	mfa := e.bearer(t, "clerk.mfa")
	var bag, sub struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	e.call(t, "POST", "/api/v1/bags", e.bearer(t, "dispatcher"), map[string]any{"origin": "MFA", "destination": "DE-BER"}, &bag, 201)
	e.call(t, "POST", "/api/v1/submissions", mfa, map[string]any{"sender": "MFA", "registry": "MFA", "destination": "DE-BER",
		"responsible_person": "Head of Consular Service", "items": []map[string]any{{"kind": "correspondence",
			"level": "RESTRICTED", "registry_number": "LANG-T-1", "count": 1, "description": "circular"}}}, &sub, 201)
	e.call(t, "POST", "/api/v1/bags/"+bag.ID+"/assemble", mfa, map[string]any{"submission_ids": []string{sub.ID}}, &bag, 200)
	version := func() int {
		var v int
		if err := e.Pool.QueryRow(ctx, `SELECT version FROM bags WHERE id = $1`, bag.ID).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()

	b := e.tab(t)
	b.signIn("clerk.mfa")
	b.fill("pref-lang", "kk")
	b.submit(`form[action="/console/prefs"]`)
	b.open("/console/bags/" + bag.ID)
	b.fill("seal-packages", "2")
	b.fill("seal-serials", "LANG-S-1")
	b.submit(`form[action="/console/clerk/seal"]`)
	text := b.text()
	for _, want := range []string{"Әрекет қабылданбады", "Кейбір мәндер толтырылмаған немесе жарамсыз",
		"Пломба нөмірлері: әр орамға бір нөмір беріңіз немесе мүлде бермеңіз", "Түпнұсқасы (ағылшынша):",
		"the bag cannot be sealed as described (seal_serials: give one serial per package, or none)"} {
		if !strings.Contains(text, want) {
			t.Errorf("the refused seal in Kazakh does not say %q: %q", want, text)
		}
	}
	if en := get(b, chromedp.Evaluate[string](`document.querySelector('[role=alert] [lang=en]')?.textContent ?? ""`)); !strings.Contains(en, "the bag cannot be sealed") {
		t.Errorf("the domain's English words are not marked as English: %q", en)
	}
	b.check()
	if v := version(); v != before {
		t.Fatalf("a refused seal changed the bag (version %d → %d)", before, v)
	}

	b.fill("pref-lang", "ru")
	b.submit(`form[action="/console/prefs"]`)
	b.open("/console/bags/" + bag.ID)
	e.call(t, "POST", "/api/v1/bags/"+bag.ID+"/seal", mfa, map[string]any{"container": "envelope", "packages": 1,
		"seal_serials": []string{"LANG-S-2"}}, nil, 200)
	sealed := version()
	b.fill("seal-serials", "LANG-S-3")
	b.submit(`form[action="/console/clerk/seal"]`)
	text = b.text()
	for _, want := range []string{"Действие отклонено", "Данные изменились после открытия страницы", "Оригинал (на английском):", "the bag changed since you read it"} {
		if !strings.Contains(text, want) {
			t.Errorf("the stale seal in Russian does not say %q: %q", want, text)
		}
	}
	b.check()
	if v := version(); v != sealed {
		t.Errorf("a refused stale seal changed the bag (version %d → %d)", sealed, v)
	}
}

// testCameraScanFillsTheSealField: on a laptop whose browser has no
// BarcodeDetector (Chromium on Linux), the acceptance form's seal-scan
// field reads a real seal's QR through the camera with the vendored jsQR.
// Chromium's fake camera plays a video of the bag's seal label; the Berlin
// clerk presses "Scan with camera", the field fills with the seal's VS1
// text, and the acceptance verifies it (no incident).
func testCameraScanFillsTheSealField(t *testing.T, e *env) {
	ctx := context.Background()
	var plan string
	if err := e.Pool.QueryRow(ctx, `SELECT id FROM dispatch_plans WHERE route_codes = '{MFA,DE-BER}' LIMIT 1`).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	mfa := e.bearer(t, "clerk.mfa")
	var bag, sub struct {
		ID string `json:"id"`
	}
	e.call(t, "POST", "/api/v1/bags", e.bearer(t, "dispatcher"), map[string]any{"plan_id": plan}, &bag, 201)
	e.call(t, "POST", "/api/v1/submissions", mfa, map[string]any{"sender": "MFA", "registry": "MFA", "destination": "DE-BER",
		"responsible_person": "Head of Consular Service", "items": []map[string]any{{"kind": "correspondence",
			"level": "UNCLASSIFIED", "registry_number": "CAM-T-1", "count": 1, "description": "consular forms"}}}, &sub, 201)
	e.call(t, "POST", "/api/v1/bags/"+bag.ID+"/assemble", mfa, map[string]any{"submission_ids": []string{sub.ID}}, nil, 200)
	e.call(t, "POST", "/api/v1/bags/"+bag.ID+"/seal", mfa, map[string]any{"container": "envelope", "packages": 1,
		"seal_serials": []string{"CAM-S-1"}}, nil, 200)
	e.call(t, "POST", "/api/v1/sheets", mfa, map[string]any{"issuer": "MFA", "conveyance": "aircraft_captain",
		"bearer_name": "Capt. Camera Test", "bag_ids": []string{bag.ID}, "valid_until": time.Now().AddDate(0, 0, 7).Format(time.RFC3339)}, nil, 201)
	e.call(t, "POST", "/api/v1/bags/"+bag.ID+"/dispatch", mfa, map[string]any{"place": "Astana", "bearer_document": "passport KZ N0000002"}, nil, 200)
	seals, err := keyring.BagSeals(ctx, e.Pool, bag.ID)
	if err != nil || len(seals) != 1 {
		t.Fatalf("seals: %v %v", seals, err)
	}
	label, err := seal.PNG(seals[0].Text, 440)
	if err != nil {
		t.Fatal(err)
	}

	// The decoder is the scanner app's vendored file, served as it is; the
	// console serves nothing else of the scanner's.
	vendored, _ := fs.ReadFile(scanner.Files(), "jsqr.js")
	for path, want := range map[string]string{"/console/static/jsqr.js": string(vendored), "/console/static/sw.js": ""} {
		res, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if served := res.StatusCode == 200 && string(body) == want; served != (want != "") || (want == "" && res.StatusCode != 404) {
			t.Errorf("GET %s: %s, %d bytes (the vendored jsqr.js has %d)", path, res.Status, len(body), len(vendored))
		}
	}

	b := e.tabIn(t, cameraChrome(t, browser.FakeCamera(t, 640, 480, label)))
	b.signIn("clerk.ber")
	b.open("/console/bags/" + bag.ID)
	if get(b, chromedp.Evaluate[bool](`"BarcodeDetector" in window`)) {
		t.Log("this Chromium has a BarcodeDetector: the test checks the camera path, not the jsQR fallback")
	}
	b.do(chromedp.Click(chromedp.CSS(`#accept-seals + button`)))
	b.do(chromedp.Poll[chromedp.Void](`document.getElementById("accept-seals").value.includes("VS1:")`, chromedp.WithPollingTimeout(45*time.Second)))
	if got := get(b, chromedp.Evaluate[string](`document.getElementById("accept-seals").value`)); strings.TrimSpace(got) != seals[0].Text {
		t.Fatalf("the camera filled the seal field with %q, want the seal's text %q", got, seals[0].Text)
	}
	if !get(b, chromedp.Evaluate[bool](`"BarcodeDetector" in window`)) {
		if d := get(b, chromedp.Evaluate[string](`document.getElementById("accept-seals").dataset.decoder || ""`)); d != "jsqr" {
			t.Errorf("without a BarcodeDetector the scan was decoded by %q, want jsqr", d)
		}
	}
	if n := get(b, chromedp.Evaluate[int](`document.querySelectorAll("textarea.scan ~ video").length`)); n != 0 {
		t.Errorf("the camera's video stays on the page after the scan (%d)", n)
	}
	b.check()
	b.fill("accept-counted", "1")
	b.fill("accept-place", "Berlin")
	b.submit(`form[action="/console/clerk/accept"]`)
	if !strings.Contains(b.text(), "The bag is accepted") {
		t.Fatalf("after accepting with the camera's scan: %q", b.text())
	}
	var incidents int
	var method string
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM incidents WHERE bag_id = $1`, bag.ID).Scan(&incidents); err != nil || incidents != 0 {
		t.Errorf("the acceptance with the scanned seal opened %d incidents (%v)", incidents, err)
	}
	// The acceptance checked the signed seal the camera read.
	if err := e.Pool.QueryRow(ctx, `SELECT custody->'seals'->>'method' FROM bag_events WHERE bag_id = $1 AND kind = 'received_from_bearer'`,
		bag.ID).Scan(&method); err != nil || method != "vs1" {
		t.Errorf("the acceptance's seal check: method %q (%v), want the signed seal verified (vs1)", method, err)
	}
}
