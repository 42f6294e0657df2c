package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"valise/crypto/keyring"
)

// testSecurityOfficerRecordsOpening: the security officer opens a stored
// bag's page and records a supervised opening with its witness; the bag is
// then under examination, which the desk lists. The desk also shows the
// decision log (filtered by user) and lifts a login back-off.
func testSecurityOfficerRecordsOpening(t *testing.T, e *env) {
	var id string
	if err := e.Pool.QueryRow(context.Background(), `SELECT bag_id FROM bag_events WHERE kind = 'planned' AND reason = 'demo:mod-berlin-stored'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// adhoc's account is locked (the ceiling of failed logins was reached).
	if _, err := e.Pool.Exec(context.Background(), `INSERT INTO login_throttle (username, failures, last_failure_at, last_remote, locked_until, lock_count)
		VALUES ('adhoc', 0, now(), '203.0.113.9', now() + interval '1 hour', 1)`); err != nil {
		t.Fatal(err)
	}
	b := e.tab(t)
	b.signIn("security")
	b.check()
	b.open("/console/bags/" + id)
	b.fill("ex-opening", "yes")
	b.fill("ex-body", "Ministry of Foreign Affairs")
	b.fill("ex-official", "Head of Security Department")
	b.fill("ex-grounds", "suspected prohibited item")
	b.fill("ex-wkind", "authorized_representative")
	b.fill("ex-wname", "Aliya Witness")
	b.fill("ex-wunit", "DE-BER")
	b.fill("ex-place", "Berlin")
	b.submit(`form[action="/console/security/examine"]`)
	text := b.text()
	if !strings.Contains(text, "The opening is recorded") || !strings.Contains(text, "Under examination") {
		t.Fatalf("after recording the opening: %q", text)
	}
	b.check()
	var witness string
	if err := e.Pool.QueryRow(context.Background(), `SELECT witness_name FROM examinations WHERE bag_id = $1`, id).Scan(&witness); err != nil || witness != "Aliya Witness" {
		t.Fatalf("the examination's witness: %q %v", witness, err)
	}
	b.open("/console/security")
	if got := between(b.text(), "Supervised openings", "Missing bags"); !strings.Contains(got, "DE-BER") {
		t.Fatalf("the desk's supervised openings: %q", got)
	}
	if !strings.Contains(between(b.text(), "Lockouts", "Seal keys"), "adhoc") {
		t.Fatalf("the lockouts do not show adhoc: %q", b.text())
	}
	b.submit(`form[action="/console/security/lift"]:has(input[value="adhoc"])`)
	if !strings.Contains(b.text(), "The lock is lifted") {
		t.Fatalf("after lifting: %q", b.text())
	}
	b.fill("dec-user", "nobody.at.all")
	b.submit(`form[action="/console/security"]`)
	if got := between(b.text(), "Decision log", "Lockouts"); !strings.Contains(got, "Nothing here") {
		t.Fatalf("the decision log filtered by an unknown user: %q", got)
	}
	b.check()
}

// testSecretBagHiddenEverywhere: the Tokyo registry clerk (cleared
// RESTRICTED) must not see a SECRET bag on its way to Tokyo: it is on no
// desk list and in no count, its page, labels and sheet answer exactly as a
// missing one, and the refusal is in the decision log.
func testSecretBagHiddenEverywhere(t *testing.T, e *env) {
	ctx := context.Background()
	clerk := e.bearer(t, "clerk.mfa")
	var bagID, courierID string
	if err := e.Pool.QueryRow(ctx, `SELECT bag_id FROM bag_events WHERE kind = 'planned' AND reason = 'demo:mfa-tokyo-assembling'`).Scan(&bagID); err != nil {
		t.Fatal(err)
	}
	if err := e.Pool.QueryRow(ctx, `SELECT c.id FROM couriers c JOIN users u ON u.id::text = c.user_id::text WHERE u.username = 'courier'`).Scan(&courierID); err != nil {
		t.Fatal(err)
	}
	var sub, sheet struct {
		ID string `json:"id"`
	}
	var bag struct {
		RegistryNumber string `json:"registry_number"`
		Level          string `json:"level"`
		State          string `json:"state"`
		Handoff        struct {
			ID string `json:"id"`
		} `json:"handoff"`
	}
	e.call(t, "POST", "/api/v1/submissions", clerk, map[string]any{"sender": "MFA", "registry": "MFA", "destination": "JP-TYO",
		"responsible_person": "Head of Political Department", "items": []map[string]any{{"kind": "correspondence",
			"level": "SECRET", "registry_number": "SEC-T-1", "count": 1, "description": "political instructions"}}}, &sub, 201)
	e.call(t, "POST", "/api/v1/bags/"+bagID+"/assemble", clerk, map[string]any{"submission_ids": []string{sub.ID}}, nil, 200)
	e.call(t, "POST", "/api/v1/bags/"+bagID+"/seal", clerk, map[string]any{"container": "suitcase", "packages": 2,
		"seal_serials": []string{"T-S-1", "T-S-2"}}, nil, 200)
	e.call(t, "POST", "/api/v1/sheets", clerk, map[string]any{"issuer": "MFA", "conveyance": "career_courier", "courier_id": courierID,
		"bag_ids": []string{bagID}, "valid_until": time.Now().AddDate(0, 0, 7).Format(time.RFC3339)}, &sheet, 201)
	e.call(t, "POST", "/api/v1/bags/"+bagID+"/dispatch", clerk, map[string]any{"place": "Astana"}, &bag, 200)
	// The courier takes it over, scanning both seals.
	seals, err := keyring.BagSeals(ctx, e.Pool, bagID)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{seals[0].Text, seals[1].Text}
	e.call(t, "POST", "/api/v1/custody/handoffs/"+bag.Handoff.ID+"/accept", e.bearer(t, "courier"), map[string]any{"seals": texts,
		"packages_counted": 2, "seals_intact": true, "place": "Astana airport"}, nil, 200)
	e.call(t, "GET", "/api/v1/bags/"+bagID, clerk, nil, &bag, 200)
	if bag.Level != "SECRET" || bag.State != "dispatched" {
		t.Fatalf("the bag is %s and %s", bag.Level, bag.State)
	}

	b := e.tab(t)
	b.signIn("clerk.tyo")
	b.check()
	desk := b.html()
	if strings.Contains(desk, bag.RegistryNumber) || strings.Contains(desk, bagID) {
		t.Fatalf("the Tokyo desk shows the SECRET bag %s", bag.RegistryNumber)
	}
	// Every count on the desk is what the clerk may see: the SECRET bag is
	// the only bag due to Tokyo, and the Arriving tile says none.
	tiles := get(b, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll(".tiles a")]
		.map((a) => [a.lastChild.textContent.trim(), a.querySelector(".n").textContent]))`))
	var due int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM bags b JOIN units d ON d.id = b.destination_id
		WHERE d.code = 'JP-TYO' AND b.state IN ('dispatched', 'in_transit', 'delivered')`).Scan(&due); err != nil || due != 1 {
		t.Fatalf("bags due to Tokyo: %d %v", due, err)
	}
	if tiles["Arriving"] != "0" || len(tiles) < 6 {
		t.Errorf("the Tokyo desk's counts %v: the SECRET bag is counted", tiles)
	}
	b.open("/console/bags/" + bagID)
	hidden := strings.ReplaceAll(b.text(), bagID, "{id}")
	missingID := "00000000-0000-4000-8000-00000000abcd"
	b.open("/console/bags/" + missingID)
	missing := strings.ReplaceAll(b.text(), missingID, "{id}")
	if hidden != missing || !strings.Contains(hidden, "Not found") {
		t.Fatalf("the SECRET bag's page answers differently from a missing bag's:\n%q\n%q", hidden, missing)
	}
	b.check()

	// Byte for byte over HTTP: status, type and body of each page.
	c := signedIn(t, e.URL, "clerk.tyo")
	for _, p := range [][2]string{
		{"/console/bags/" + bagID, "/console/bags/" + missingID},
		{"/console/bags/" + bagID + "/labels", "/console/bags/" + missingID + "/labels"},
		{"/console/sheets/" + sheet.ID + "/print", "/console/sheets/" + missingID + "/print"},
	} {
		h, m := fetch(t, c, e.URL+p[0], bagID, sheet.ID), fetch(t, c, e.URL+p[1], missingID)
		if h != m {
			t.Errorf("%s answers differently from %s:\n%s\n---\n%s", p[0], p[1], h, m)
		}
	}
	// Denies are written off the request path: give the writer a moment.
	var denials int
	for deadline := time.Now().Add(10 * time.Second); denials == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM decision_log WHERE username = 'clerk.tyo' AND resource_id = $1`, bagID).Scan(&denials); err != nil {
			t.Fatal(err)
		}
	}
	if denials == 0 {
		t.Error("the refused reads of the SECRET bag are not in the decision log")
	}
}

// signedIn is an HTTP client with a console session of user.
func signedIn(t testing.TB, base, user string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(base + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res, err = c.PostForm(base+"/console/login", url.Values{"csrf": {between(string(page), `name="csrf" value="`, `"`)},
		"username": {user}, "password": {demoPassword}})
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("sign in %s: %v %v", user, res.Status, err)
	}
	res.Body.Close()
	return c
}

// fetch is a page's status, content type and body, with ids taken out.
func fetch(t *testing.T, c *http.Client, u string, ids ...string) string {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	body := string(b)
	for _, id := range ids {
		body = strings.ReplaceAll(body, id, "{id}")
	}
	return res.Status + " " + res.Header.Get("Content-Type") + " " + res.Header.Get("Content-Security-Policy") + "\n" + body
}
