package alerts_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"valise/alerts"
	"valise/api/apitest"
	"valise/identity"
	"valise/internal/bench"
	"valise/internal/dbtest"
	"valise/policy"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// world is an API over its own database with one SECRET bag in transit from
// MFA to DE-BER (bench fixture), a real SMTP listener, and an alert service
// (the one `valise serve` runs) with a clock the test moves.
type world struct {
	*apitest.Env
	pair  *bench.Pair
	mail  *smtpServer
	svc   *alerts.Service
	clock *clock
}

func newWorld(t *testing.T, o alerts.Options) *world {
	t.Helper()
	ctx := context.Background()
	e := apitest.New(t)
	pairs, err := bench.Setup(ctx, e.Pool, e.Server.Identity(), e.MasterKey, "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{Env: e, pair: pairs[0], mail: startSMTP(t), clock: &clock{now: time.Now()}}
	authz, err := policy.New(ctx, e.Pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.PublicURL = "https://valise.example"
	o.SMTP = alerts.SMTP{Addr: w.mail.addr, From: "alerts@valise.example"}
	o.Now = w.clock.Now
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if w.svc, err = alerts.New(e.Pool, authz, e.Server.Identity(), e.MasterKey, o); err != nil {
		t.Fatal(err)
	}
	return w
}

// call sends a request and decodes the JSON answer, failing unless the status is want.
func (w *world) call(t *testing.T, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	res := w.Do(t, method, path, token, body)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	if want >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%s %s: %d answered as %q, not a problem", method, path, want, res.Header.Get("Content-Type"))
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return out
}

// subscribe gives the user of token an address and the kinds by e-mail.
func (w *world) subscribe(t *testing.T, token, email string, kinds ...string) {
	t.Helper()
	subs := []map[string]string{}
	for _, k := range kinds {
		subs = append(subs, map[string]string{"kind": k, "channel": "email"})
	}
	w.call(t, 200, "PUT", "/api/v1/me/alert-subscriptions", token, map[string]any{"email": email, "subscriptions": subs})
}

func (w *world) scan(t *testing.T) int {
	t.Helper()
	n, err := w.svc.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *world) deliver(t *testing.T) int {
	t.Helper()
	n, err := w.svc.Deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// silence makes every bag in transit overdue: its last custody event is
// older than a one-microsecond window.
func (w *world) silence(t *testing.T) {
	t.Helper()
	if _, err := w.Pool.Exec(context.Background(),
		`UPDATE pouch_settings SET value = '1 microsecond' WHERE key = 'custody.silence_window'`); err != nil {
		t.Fatal(err)
	}
}

// secrets lists what no message may carry about the fixture bag: its
// registry number, every level name, its route's unit codes and names.
func (w *world) secrets(t *testing.T) []string {
	t.Helper()
	out := []string{w.pair.Registry, "MFA", "DE-BER"}
	for _, l := range policy.Levels() {
		out = append(out, l.String())
	}
	rows, err := w.Pool.Query(context.Background(), `SELECT name FROM units WHERE code IN ('MFA', 'DE-BER')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		out = append(out, n)
	}
	return out
}

func assertNothingClassified(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(strings.ToUpper(text), strings.ToUpper(s)) {
			t.Errorf("%s carries %q:\n%s", what, s, text)
		}
	}
}

func alertIDs(t *testing.T, out map[string]any) []string {
	t.Helper()
	var ids []string
	for _, a := range out["alerts"].([]any) {
		ids = append(ids, a.(map[string]any)["id"].(string))
	}
	return ids
}

// An overdue bag produces exactly one alert and one e-mail, to the
// subscribed user cleared for it, and none to a subscriber below its level
// or outside its need-to-know; the e-mail carries a link and the alert id only.
func TestOverdueBagEmailsOnlyClearedSubscribers(t *testing.T) {
	w := newWorld(t, alerts.Options{})
	cleared := w.User(t, "sec.cleared", []string{policy.RoleSecurityOfficer}, "MFA", policy.Secret, "")
	low := w.User(t, "sec.low", []string{policy.RoleSecurityOfficer}, "MFA", policy.Restricted, "")
	tokyo := w.User(t, "clerk.tokyo", []string{policy.RoleRegistryClerk}, "JP-TYO", policy.TopSecret, "")
	w.subscribe(t, cleared, "cleared@example.org", alerts.KindBagOverdue)
	w.subscribe(t, low, "low@example.org", alerts.KindBagOverdue, alerts.KindBagPastDue)
	w.subscribe(t, tokyo, "tokyo@example.org", alerts.KindBagOverdue)

	if n := w.scan(t); n != 0 {
		t.Fatalf("a bag within its window raised %d alerts", n)
	}
	w.silence(t)
	if n := w.scan(t); n != 1 {
		t.Fatalf("overdue bag raised %d alerts, want 1", n)
	}
	if n := w.scan(t); n != 0 {
		t.Fatalf("the second scan raised %d more alerts", n)
	}
	if n := w.deliver(t); n != 1 {
		t.Fatalf("%d delivery attempts, want 1 (the cleared subscriber)", n)
	}
	if n := w.deliver(t); n != 0 {
		t.Fatalf("a delivered e-mail was attempted again (%d)", n)
	}

	msgs := w.mail.messages()
	if len(msgs) != 1 || !slices.Equal(msgs[0].to, []string{"cleared@example.org"}) || msgs[0].from != "alerts@valise.example" {
		t.Fatalf("mail sent: %+v", msgs)
	}
	list := w.call(t, 200, "GET", "/api/v1/alerts", cleared, nil)
	ids := alertIDs(t, list)
	if len(ids) != 1 {
		t.Fatalf("cleared user's alerts: %v", list)
	}
	a := list["alerts"].([]any)[0].(map[string]any)
	if a["kind"] != alerts.KindBagOverdue || a["bag_id"] != w.pair.BagID || !strings.HasSuffix(a["link"].(string), "/api/v1/alerts/"+ids[0]) {
		t.Fatalf("alert: %v", a)
	}
	body := msgs[0].data
	if !strings.Contains(body, "https://valise.example/api/v1/alerts/"+ids[0]) || !strings.Contains(body, "Alert id: "+ids[0]) {
		t.Errorf("the e-mail lacks the link or the id:\n%s", body)
	}
	assertNothingClassified(t, "the e-mail", body, w.secrets(t))
	if strings.Contains(body, w.pair.BagID) {
		t.Errorf("the e-mail names the bag:\n%s", body)
	}

	// The others never learn of it: not in their list, not by id.
	for _, tok := range []string{low, tokyo} {
		if ids := alertIDs(t, w.call(t, 200, "GET", "/api/v1/alerts", tok, nil)); len(ids) != 0 {
			t.Errorf("an uncleared user sees %v", ids)
		}
		w.call(t, 404, "GET", "/api/v1/alerts/"+a["id"].(string), tok, nil)
	}
	w.call(t, 200, "GET", "/api/v1/alerts/"+a["id"].(string), cleared, nil)
	// ... and each refusal is in the decision log with its reason (written
	// off the request path: flush first).
	if err := w.Server.Authorizer().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var denials int
	if err := w.Pool.QueryRow(context.Background(), `SELECT count(*) FROM decision_log WHERE username IN ('sec.low', 'clerk.tokyo')
		AND action = 'bag.read' AND resource_id = $1 AND hidden AND detail <> ''`, w.pair.BagID).Scan(&denials); err != nil || denials != 2 {
		t.Errorf("decision log has %d denials of the alert's bag (%v), want 2", denials, err)
	}

	// The delivery record: one e-mail, delivered at the first attempt.
	d := w.call(t, 200, "GET", "/api/v1/alerts/"+ids[0]+"/deliveries", cleared, nil)["deliveries"].([]any)
	if len(d) != 1 {
		t.Fatalf("deliveries: %v", d)
	}
	rec := d[0].(map[string]any)
	if rec["channel"] != "email" || rec["recipient"] != "sec.cleared" || rec["status"] != "delivered" || rec["attempts"] != 1.0 ||
		len(rec["attempt_log"].([]any)) != 1 {
		t.Fatalf("delivery: %v", rec)
	}
	// Delivery records are for security officers.
	w.call(t, 403, "GET", "/api/v1/alerts/"+ids[0]+"/deliveries", tokyo, nil)

	// A custody event ends the silence; the next silence is a new alert.
	w.call(t, 201, "POST", "/api/v1/custody/bags/"+w.pair.BagID+"/scan", w.pair.SecondToken,
		map[string]any{"seals": w.pair.Seals, "place": "Frankfurt transit"})
	if n := w.scan(t); n != 1 {
		t.Fatalf("a new silence raised %d alerts, want 1", n)
	}
}

// A webhook gets the alert signed (HMAC-SHA256 over timestamp.body with its
// secret, shown once); a failing receiver is retried with back-off and each
// attempt recorded; a receiver that never answers well is given up on after
// MaxAttempts.
func TestWebhookSignedRetriedAndRecorded(t *testing.T) {
	w := newWorld(t, alerts.Options{RetryBase: time.Minute, MaxAttempts: 4})
	sec := w.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.TopSecret, "")
	clerk := w.User(t, "clerk", []string{policy.RoleRegistryClerk}, "MFA", policy.TopSecret, "")

	flaky := newReceiver(t, 2) // fails twice, then accepts
	dead := newReceiver(t, 1000)
	hooks := "/api/v1/alerts/webhooks"
	// Bad input and the wrong role change nothing.
	w.call(t, 422, "POST", hooks, sec, map[string]any{"url": "http://receiver.example/hook", "kinds": []string{"bag_overdue"}})
	w.call(t, 422, "POST", hooks, sec, map[string]any{"url": flaky.srv.URL, "kinds": []string{"bag_lost_in_space"}})
	w.call(t, 422, "POST", hooks, sec, map[string]any{"url": flaky.srv.URL, "kinds": []string{}})
	w.call(t, 400, "POST", hooks, sec, map[string]any{"url": flaky.srv.URL, "kinds": []string{"bag_overdue"}, "extra": 1})
	w.call(t, 403, "POST", hooks, clerk, map[string]any{"url": flaky.srv.URL, "kinds": []string{"bag_overdue"}})
	if l := w.call(t, 200, "GET", hooks, sec, nil)["webhooks"].([]any); len(l) != 0 {
		t.Fatalf("refused webhooks were stored: %v", l)
	}
	w.call(t, 403, "GET", hooks, clerk, nil)

	for _, r := range []*receiver{flaky, dead} {
		h := w.call(t, 201, "POST", hooks, sec, map[string]any{"url": r.srv.URL + "/hook", "kinds": []string{"bag_overdue"}})
		s, _ := h["secret"].(string)
		if len(s) < 32 {
			t.Fatalf("webhook secret: %v", h)
		}
		r.setSecret(s)
	}
	list := w.call(t, 200, "GET", hooks, sec, nil)["webhooks"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["secret"] != nil {
		t.Fatalf("webhook list (the secret is shown once only): %v", list)
	}
	var stored string
	if err := w.Pool.QueryRow(context.Background(), `SELECT encode(secret, 'escape') FROM alert_webhooks LIMIT 1`).Scan(&stored); err != nil || strings.Contains(stored, "whsec_") {
		t.Fatalf("the secret is stored in the clear (%v)", err)
	}

	w.silence(t)
	if n := w.scan(t); n != 1 {
		t.Fatalf("raised %d alerts, want 1", n)
	}
	// Attempt 1 (both fail), nothing due until the back-off has passed, then
	// attempt 2 after 1 min, attempt 3 after 2 more (flaky succeeds), 4 after 4 more.
	steps := []time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, time.Hour}
	want := []int{2, 2, 2, 1, 0, 0}
	for i, step := range steps {
		w.clock.add(step)
		if n := w.deliver(t); n != want[i] {
			t.Fatalf("round %d (+%v): %d attempts, want %d", i, step, n, want[i])
		}
		if i == 0 {
			if n := w.deliver(t); n != 0 {
				t.Fatalf("a failed delivery was retried at once (%d)", n)
			}
		}
	}
	if flaky.count() != 3 || dead.count() != 4 {
		t.Fatalf("receivers saw %d and %d requests, want 3 and 4", flaky.count(), dead.count())
	}
	secrets := w.secrets(t)
	alert := alertIDs(t, w.call(t, 200, "GET", "/api/v1/alerts", sec, nil))[0]
	for _, r := range []*receiver{flaky, dead} {
		for _, got := range r.requests() {
			if !got.signed {
				t.Errorf("a request's signature did not verify: %s", got.body)
			}
			var b alerts.WebhookBody
			if err := json.Unmarshal([]byte(got.body), &b); err != nil || b.AlertID != alert || b.Type != "valise.alert" ||
				b.Link != "https://valise.example/api/v1/alerts/"+alert {
				t.Errorf("webhook body: %s (%v)", got.body, err)
			}
			assertNothingClassified(t, "the webhook body", got.body, secrets)
		}
	}

	d := w.call(t, 200, "GET", "/api/v1/alerts/"+alert+"/deliveries", sec, nil)["deliveries"].([]any)
	if len(d) != 2 {
		t.Fatalf("deliveries: %v", d)
	}
	byStatus := map[string]map[string]any{}
	for _, x := range d {
		byStatus[x.(map[string]any)["status"].(string)] = x.(map[string]any)
	}
	ok, failed := byStatus["delivered"], byStatus["failed"]
	if ok == nil || failed == nil || ok["attempts"] != 3.0 || failed["attempts"] != 4.0 ||
		!strings.Contains(failed["last_error"].(string), "503") {
		t.Fatalf("delivery records: %v", d)
	}
	for rec, oks := range map[*map[string]any][]bool{&ok: {false, false, true}, &failed: {false, false, false, false}} {
		log := (*rec)["attempt_log"].([]any)
		if len(log) != len(oks) {
			t.Fatalf("attempt log: %v", log)
		}
		for i, a := range log {
			a := a.(map[string]any)
			if a["ok"] != oks[i] || a["attempt"] != float64(i+1) || a["at"] == nil || (!oks[i] && a["error"] == nil) {
				t.Errorf("attempt %d: %v", i+1, a)
			}
		}
	}

	// A deleted webhook is gone from the list; deleting it twice is 404.
	id := list[1].(map[string]any)["id"].(string)
	w.call(t, 403, "DELETE", hooks+"/"+id, clerk, nil)
	w.call(t, 204, "DELETE", hooks+"/"+id, sec, nil)
	w.call(t, 404, "DELETE", hooks+"/"+id, sec, nil)
	if l := w.call(t, 200, "GET", hooks, sec, nil)["webhooks"].([]any); len(l) != 1 {
		t.Fatalf("after delete: %v", l)
	}
}

// A bad subscription body is a problem+json 4xx and changes nothing.
func TestBadSubscriptionsChangeNothing(t *testing.T) {
	w := newWorld(t, alerts.Options{})
	tok := w.User(t, "clerk", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
	path := "/api/v1/me/alert-subscriptions"
	w.subscribe(t, tok, "clerk@example.org", alerts.KindBagOverdue, alerts.KindSealCheckFailed)
	before := w.call(t, 200, "GET", path, tok, nil)
	if before["email"] != "clerk@example.org" || len(before["subscriptions"].([]any)) != 2 {
		t.Fatalf("subscriptions: %v", before)
	}
	sub := func(kind, channel string) []map[string]string {
		return []map[string]string{{"kind": kind, "channel": channel}}
	}
	for _, c := range []struct {
		status int
		body   any
		field  string
	}{
		{422, map[string]any{"subscriptions": sub("bag_stolen", "email")}, "subscriptions[0].kind"},
		{422, map[string]any{"subscriptions": sub("bag_overdue", "sms")}, "subscriptions[0].channel"},
		{422, map[string]any{"subscriptions": append(sub("bag_overdue", "email"), sub("bag_overdue", "email")...)}, "subscriptions[1]"},
		{422, map[string]any{"email": "not an address", "subscriptions": sub("bag_overdue", "email")}, "email"},
		{422, map[string]any{"email": "x@example.org\r\nBcc: spy@example.org", "subscriptions": sub("bag_overdue", "email")}, "email"},
		{422, map[string]any{"email": "", "subscriptions": sub("bag_overdue", "email")}, "email"},
		{422, map[string]any{"email": "new@example.org"}, "subscriptions"},
		{400, map[string]any{"subscriptions": sub("bag_overdue", "email"), "push": true}, ""},
		{400, map[string]any{"subscriptions": "bag_overdue"}, ""},
	} {
		out := w.call(t, c.status, "PUT", path, tok, c.body)
		if c.field != "" {
			found := false
			for _, e := range out["errors"].([]any) {
				found = found || e.(map[string]any)["field"] == c.field
			}
			if !found {
				t.Errorf("%v: the problem does not name %s: %v", c.body, c.field, out)
			}
		}
		if after := w.call(t, 200, "GET", path, tok, nil); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("%v changed the subscriptions: %v -> %v", c.body, before, after)
		}
	}
	// Without a body type it is 415, also changing nothing.
	res := w.Do(t, "PUT", path, tok, nil)
	res.Body.Close()
	if res.StatusCode != 415 {
		t.Fatalf("no body: %d", res.StatusCode)
	}
	// An empty list unsubscribes; the address stays.
	out := w.call(t, 200, "PUT", path, tok, map[string]any{"subscriptions": []any{}})
	if out["email"] != "clerk@example.org" || len(out["subscriptions"].([]any)) != 0 {
		t.Fatalf("unsubscribe: %v", out)
	}
}

// An admin sets a user's address; nobody else may.
func TestAdminSetsEmail(t *testing.T) {
	w := newWorld(t, alerts.Options{})
	admin := w.User(t, "admin", []string{policy.RoleAdmin}, "MFA", policy.Unclassified, "")
	clerk := w.User(t, "clerk", []string{policy.RoleRegistryClerk}, "DE-BER", policy.Secret, "")
	id := w.call(t, 200, "GET", "/api/v1/me", clerk, nil)["user_id"].(string)
	w.call(t, 403, "PUT", "/api/v1/users/"+id+"/email", clerk, map[string]any{"email": "me@example.org"})
	w.call(t, 422, "PUT", "/api/v1/users/"+id+"/email", admin, map[string]any{"email": "<me@example.org>"})
	w.call(t, 404, "PUT", "/api/v1/users/00000000-0000-4000-8000-000000000000/email", admin, map[string]any{"email": "a@example.org"})
	if got := w.call(t, 200, "GET", "/api/v1/me/alert-subscriptions", clerk, nil)["email"]; got != "" {
		t.Fatalf("refused changes set the address to %v", got)
	}
	w.call(t, 200, "PUT", "/api/v1/users/"+id+"/email", admin, map[string]any{"email": "clerk@example.org"})
	if got := w.call(t, 200, "GET", "/api/v1/me/alert-subscriptions", clerk, nil)["email"]; got != "clerk@example.org" {
		t.Fatalf("address: %v", got)
	}
}

// A failed seal check at a hand-off raises a seal-check alert (seen by who
// may see the bag) and a breach alert (seen by who may see incidents: a
// security officer, the registry clerks of the bag's units).
func TestFailedSealCheckAndBreach(t *testing.T) {
	w := newWorld(t, alerts.Options{})
	sec := w.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.TopSecret, "")
	clerk := w.User(t, "clerk", []string{policy.RoleRegistryClerk}, "MFA", policy.TopSecret, "")
	p := w.pair
	h := w.call(t, 201, "POST", "/api/v1/custody/handoffs", p.SecondToken, map[string]any{"bag_id": p.BagID, "to": p.Courier})
	out := w.call(t, 200, "POST", "/api/v1/custody/handoffs/"+h["id"].(string)+"/accept", p.CourierToken,
		map[string]any{"seals": p.Seals[:1], "packages_counted": 2, "seals_intact": true})
	if out["seals_ok"] != false {
		t.Fatalf("the seal check passed with one seal missing: %v", out)
	}
	if n := w.scan(t); n != 2 {
		t.Fatalf("raised %d alerts, want 2 (seal check, breach)", n)
	}
	kinds := func(tok string) []string {
		var ks []string
		for _, a := range w.call(t, 200, "GET", "/api/v1/alerts", tok, nil)["alerts"].([]any) {
			ks = append(ks, a.(map[string]any)["kind"].(string))
		}
		slices.Sort(ks)
		return ks
	}
	if got := kinds(sec); !slices.Equal(got, []string{alerts.KindBreachOpened, alerts.KindSealCheckFailed}) {
		t.Errorf("security officer sees %v", got)
	}
	// The origin's clerk sees the bag and its incidents (their desk lists
	// the open ones, issue 16); the courier on the sheet only the bag.
	if got := kinds(clerk); !slices.Equal(got, []string{alerts.KindBreachOpened, alerts.KindSealCheckFailed}) {
		t.Errorf("clerk sees %v", got)
	}
	if got := kinds(p.CourierToken); !slices.Equal(got, []string{alerts.KindSealCheckFailed}) {
		t.Errorf("the courier on the sheet sees %v", got)
	}
}

// Seal keys and the trust list about to expire raise one alert each, seen by
// whoever may manage keys; pagination walks the list with an opaque cursor.
func TestKeysExpiringAndPagination(t *testing.T) {
	w := newWorld(t, alerts.Options{ExpiryWarning: 400 * 24 * time.Hour})
	sec := w.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.TopSecret, "")
	clerk := w.User(t, "clerk", []string{policy.RoleRegistryClerk}, "MFA", policy.TopSecret, "")
	var keys int
	if err := w.Pool.QueryRow(context.Background(), `SELECT count(*) FROM seal_keys WHERE status = 'active'`).Scan(&keys); err != nil || keys < 2 {
		t.Fatalf("%d active keys (%v)", keys, err)
	}
	// A trust list exists once something asked for it.
	w.call(t, 200, "GET", "/api/v1/trust-list", "", nil)
	if n := w.scan(t); n != keys+1 {
		t.Fatalf("raised %d alerts, want %d keys + the trust list", n, keys)
	}
	if n := w.scan(t); n != 0 {
		t.Fatalf("raised again: %d", n)
	}
	if ids := alertIDs(t, w.call(t, 200, "GET", "/api/v1/alerts", clerk, nil)); len(ids) != 0 {
		t.Errorf("a clerk sees key alerts: %v", ids)
	}
	var all []string
	next := ""
	for range keys + 2 {
		path := "/api/v1/alerts?limit=1"
		if next != "" { // an empty parameter is refused (422), like any value outside its schema
			path += "&after=" + next
		}
		out := w.call(t, 200, "GET", path, sec, nil)
		all = append(all, alertIDs(t, out)...)
		if next = out["next"].(string); next == "" {
			break
		}
	}
	if len(all) != keys+1 || len(slices.Compact(slices.Clone(all))) != keys+1 {
		t.Fatalf("pages gave %v", all)
	}
	w.call(t, 422, "GET", "/api/v1/alerts?after=7", sec, nil)
	w.call(t, 422, "GET", "/api/v1/alerts?limit=0", sec, nil)
}

// ---- a minimal SMTP server (RFC 5321, what net/smtp speaks) --------------------------------

type mailMsg struct {
	from string
	to   []string
	data string
}

type smtpServer struct {
	addr   string
	mu     sync.Mutex
	msgs   []mailMsg
	reject int // refuse this many RCPT commands first (550)
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c) }()
		}
	}()
	return s
}

func (s *smtpServer) messages() []mailMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { fmt.Fprintf(c, "%s\r\n", line) }
	path := func(arg string) string { // "FROM:<a@b> BODY=8BITMIME" -> a@b
		if i, j := strings.IndexByte(arg, '<'), strings.IndexByte(arg, '>'); i >= 0 && j > i {
			return arg[i+1 : j]
		}
		return ""
	}
	say("220 test.localhost ESMTP")
	var m mailMsg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			say("250-test.localhost")
			say("250 8BITMIME")
		case "HELO", "NOOP":
			say("250 test.localhost")
		case "MAIL":
			m = mailMsg{from: path(arg)}
			say("250 OK")
		case "RCPT":
			s.mu.Lock()
			refuse := s.reject > 0
			s.reject--
			s.mu.Unlock()
			if refuse {
				say("550 5.1.1 mailbox unavailable")
				continue
			}
			m.to = append(m.to, path(arg))
			say("250 OK")
		case "DATA":
			say("354 end data with <CR><LF>.<CR><LF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, ".")) // dot-unstuffing
			}
			m.data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			say("250 queued")
		case "RSET":
			m = mailMsg{}
			say("250 OK")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 command not implemented")
		}
	}
}

// ---- a webhook receiver that checks signatures ---------------------------------------------

type received struct {
	body   string
	signed bool
}

type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	fail   int // answer 503 to this many requests first
	got    []received
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, received{body: string(body), signed: verify(r.secret, req.Header.Get(alerts.SignatureHeader), body)})
		if len(r.got) <= r.fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// verify checks "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
func verify(secret, header string, body []byte) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || secret == "" {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(sig), []byte(want))
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Scans racing in several processes record a condition once; a recipient
// suspended between the alert and its delivery is sent nothing.
func TestConcurrentScansAndRecheckedRecipients(t *testing.T) {
	w := newWorld(t, alerts.Options{})
	cleared := w.User(t, "sec.cleared", []string{policy.RoleSecurityOfficer}, "MFA", policy.Secret, "")
	w.subscribe(t, cleared, "cleared@example.org", alerts.KindBagOverdue)
	w.silence(t)
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := w.svc.Scan(context.Background())
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	if n := w.scan(t); total+n != 1 {
		t.Fatalf("concurrent scans raised %v, then %d: want exactly one alert", counts, n)
	}
	id := w.call(t, 200, "GET", "/api/v1/me", cleared, nil)["user_id"].(string)
	if _, err := w.Server.Identity().SetActive(context.Background(), id, false); err != nil {
		t.Fatal(err)
	}
	if n := w.deliver(t); n != 1 {
		t.Fatalf("%d deliveries handled, want 1", n)
	}
	if m := w.mail.messages(); len(m) != 0 {
		t.Fatalf("a suspended user was mailed: %+v", m)
	}
	var status string
	if err := w.Pool.QueryRow(context.Background(), `SELECT status FROM alert_deliveries`).Scan(&status); err != nil || status != "cancelled" {
		t.Fatalf("delivery to a suspended user: %q (%v)", status, err)
	}
}

// A relay that refuses the message: the attempt is recorded with the
// relay's answer and retried after the back-off, then the mail goes out.
func TestRefusedMailIsRecordedAndRetried(t *testing.T) {
	w := newWorld(t, alerts.Options{RetryBase: time.Minute})
	w.mail.mu.Lock()
	w.mail.reject = 1
	w.mail.mu.Unlock()
	sec := w.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.Secret, "")
	w.subscribe(t, sec, "sec@example.org", alerts.KindBagOverdue)
	w.silence(t)
	w.scan(t)
	if n := w.deliver(t); n != 1 || len(w.mail.messages()) != 0 {
		t.Fatalf("first attempt: %d attempts, %d messages", n, len(w.mail.messages()))
	}
	if n := w.deliver(t); n != 0 {
		t.Fatalf("retried before the back-off: %d", n)
	}
	w.clock.add(time.Minute)
	if n := w.deliver(t); n != 1 || len(w.mail.messages()) != 1 {
		t.Fatalf("second attempt: %d attempts, %d messages", n, len(w.mail.messages()))
	}
	alert := alertIDs(t, w.call(t, 200, "GET", "/api/v1/alerts", sec, nil))[0]
	d := w.call(t, 200, "GET", "/api/v1/alerts/"+alert+"/deliveries", sec, nil)["deliveries"].([]any)[0].(map[string]any)
	log := d["attempt_log"].([]any)
	if d["status"] != "delivered" || len(log) != 2 || log[0].(map[string]any)["ok"] != false ||
		!strings.Contains(log[0].(map[string]any)["error"].(string), "550") || log[1].(map[string]any)["ok"] != true {
		t.Fatalf("delivery record: %v", d)
	}
}

// A webhook receives what its creator may see, while its creator may
// manage alerts: nothing above a low-cleared officer's clearance, nothing
// once its creator is no longer a security officer.
func TestWebhookFollowsItsCreatorsRights(t *testing.T) {
	w := newWorld(t, alerts.Options{})
	sec := w.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.Secret, "")
	low := w.User(t, "sec.low", []string{policy.RoleSecurityOfficer}, "MFA", policy.Restricted, "")
	high, lowR := newReceiver(t, 0), newReceiver(t, 0)
	w.call(t, 201, "POST", "/api/v1/alerts/webhooks", sec, map[string]any{"url": high.srv.URL, "kinds": []string{"bag_overdue"}})
	w.call(t, 201, "POST", "/api/v1/alerts/webhooks", low, map[string]any{"url": lowR.srv.URL, "kinds": []string{"bag_overdue"}})
	w.silence(t)
	w.scan(t)
	var planned int
	if err := w.Pool.QueryRow(context.Background(), `SELECT count(*) FROM alert_deliveries`).Scan(&planned); err != nil || planned != 1 {
		t.Fatalf("%d deliveries planned (%v), want 1: the low-cleared officer's webhook gets nothing", planned, err)
	}
	id := w.call(t, 200, "GET", "/api/v1/me", sec, nil)["user_id"].(string)
	if _, err := w.Server.Identity().UpdateUser(context.Background(), id, identity.UserInput{FullName: "sec", Unit: "MFA",
		Roles: []string{policy.RoleRegistryClerk}, Clearance: policy.Secret},
		func(context.Context, string, policy.Resource) error { return nil }); err != nil { // as a tool would: no policy
		t.Fatal(err)
	}
	w.deliver(t)
	if high.count() != 0 || lowR.count() != 0 {
		t.Fatalf("receivers got %d and %d requests, want none", high.count(), lowR.count())
	}
	var status string
	if err := w.Pool.QueryRow(context.Background(), `SELECT status FROM alert_deliveries`).Scan(&status); err != nil || status != "cancelled" {
		t.Fatalf("delivery of a demoted officer's webhook: %q (%v)", status, err)
	}
}
