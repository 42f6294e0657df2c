package custody_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"valise/api/apitest"
	"valise/custody"
	"valise/internal/bench"
	"valise/internal/dbtest"
	"valise/policy"
	"valise/pouch"
	"valise/tlog"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// env is an API with a running custody-log integrator, one fixture pair
// (clerk and courier with a bag in transit), a security officer and an
// outsider courier named on no sheet.
type env struct {
	*apitest.Env
	pair     *bench.Pair
	sec      string
	outsider string
	verifier note.Verifier
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := apitest.New(t)
	key, err := tlog.LoadOrCreateKey(ctx, e.Pool, "valise.test/custody", e.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	g := tlog.NewIntegrator(e.Pool, key, tlog.IntegratorOptions{Interval: 50 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	pairs, err := bench.Setup(ctx, e.Pool, e.Server.Identity(), e.MasterKey, "t", 1)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(key.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: e, pair: pairs[0], verifier: v,
		sec:      e.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.SpecialImportance, ""),
		outsider: e.User(t, "outsider", []string{policy.RoleCourier}, "MFA", policy.TopSecret, policy.CourierCareer)}
}

// call sends a request and decodes the JSON answer, failing unless the status is want.
func (e *env) call(t *testing.T, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	res := e.Do(t, method, path, token, body)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return out
}

func (e *env) custodian(t *testing.T) custody.Party {
	t.Helper()
	p, err := pouch.CurrentCustodian(context.Background(), e.Pool, e.pair.BagID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTwoPartyHandoff(t *testing.T) {
	e := newEnv(t)
	p := e.pair
	handoffs := "/api/v1/custody/handoffs"

	// Bad input changes nothing: 422 / 400 and no hand-off, no event.
	e.call(t, 422, "POST", handoffs, p.SecondToken, map[string]any{"bag_id": p.BagID})
	e.call(t, 400, "POST", handoffs, p.SecondToken, map[string]any{"bag_id": p.BagID, "to": p.Courier, "bogus": 1})
	e.call(t, 422, "POST", handoffs, p.SecondToken, map[string]any{"bag_id": p.BagID, "to": "nobody-here"})
	// Someone who is not the custodian cannot start a hand-off.
	out := e.call(t, 409, "POST", handoffs, e.outsider, map[string]any{"bag_id": p.BagID, "to": p.Courier})
	if out["reason"] != "not_custodian" {
		t.Fatalf("not custodian: %v", out)
	}
	// DM-03: a courier with no courier sheet naming them cannot take custody.
	out = e.call(t, 409, "POST", handoffs, p.SecondToken, map[string]any{"bag_id": p.BagID, "to": "outsider"})
	if out["reason"] != "no_courier_sheet" {
		t.Fatalf("DM-03: %v", out)
	}
	var n int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM handoffs`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused hand-offs left %d rows (%v)", n, err)
	}

	// The courier holding the bag releases it to the other courier named on a sheet.
	h := e.call(t, 201, "POST", handoffs, p.SecondToken, map[string]any{"bag_id": p.BagID, "to": p.Courier,
		"place": "FRA transit", "coordinates": map[string]any{"lat": 50.03, "lon": 8.57}})
	id := h["id"].(string)
	if h["status"] != "released" || h["purpose"] != "transit" || e.custodian(t).User != p.SecondID {
		t.Fatalf("release moved custody early: %v %v", h, e.custodian(t))
	}
	if out := e.call(t, 409, "POST", handoffs, p.SecondToken, map[string]any{"bag_id": p.BagID, "to": p.Courier}); out["reason"] != "handoff_open" {
		t.Fatalf("second release: %v", out)
	}
	// Only the named receiver accepts; an acceptance without a scan is refused.
	if out := e.call(t, 403, "POST", handoffs+"/"+id+"/accept", e.outsider, map[string]any{"seals": p.Seals}); out["reason"] != "not_receiver" {
		t.Fatalf("accept by another: %v", out)
	}
	e.call(t, 422, "POST", handoffs+"/"+id+"/accept", p.CourierToken, map[string]any{"place": "airport"})
	// Receipt before acceptance: 409.
	e.call(t, 409, "GET", handoffs+"/"+id+"/receipt", p.SecondToken, nil)
	h = e.call(t, 200, "POST", handoffs+"/"+id+"/accept", p.CourierToken, map[string]any{"seals": p.Seals,
		"packages_counted": 2, "seals_intact": true, "place": "Astana airport"})
	if h["status"] != "completed" || h["seals_ok"] != true || h["incident_id"] != nil {
		t.Fatalf("accept: %v", h)
	}
	if c := e.custodian(t); c.User != p.CourierID {
		t.Fatalf("custodian after hand-off: %v", c)
	}
	// The old custodian can no longer release it.
	e.call(t, 409, "POST", handoffs, p.SecondToken, map[string]any{"bag_id": p.BagID, "to": p.Courier})

	// Both parties download a receipt that verifies offline with the log key.
	for _, tok := range []string{p.SecondToken, p.CourierToken} {
		res := e.Do(t, "GET", handoffs+"/"+id+"/receipt", tok, nil)
		rec, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("receipt: %d %s", res.StatusCode, rec)
		}
		got, err := tlog.VerifyReceipt(rec, nil, e.verifier)
		if err != nil {
			t.Fatalf("receipt does not verify: %v\n%s", err, rec)
		}
		if !strings.Contains(string(got.Extra), `"kind":"handoff_accepted"`) || !strings.Contains(string(got.Extra), p.Courier) {
			t.Fatalf("receipt leaf: %s", got.Extra)
		}
	}
	// Someone who is neither party nor a log reader gets no receipt.
	e.call(t, 403, "GET", handoffs+"/"+id+"/receipt", e.outsider, nil)

	// Back to the clerk with one seal missing: recorded, custody moves, a breach opens.
	h = e.call(t, 201, "POST", handoffs, p.CourierToken, map[string]any{"bag_id": p.BagID, "to": p.Second})
	id2 := h["id"].(string)
	h = e.call(t, 200, "POST", handoffs+"/"+id2+"/accept", p.SecondToken, map[string]any{"seals": p.Seals[:1], "seals_intact": true})
	if h["seals_ok"] != false || h["incident_id"] == nil {
		t.Fatalf("failed seal check: %v", h)
	}
	if !strings.Contains(toJSON(h["seal_check"]), `"result":"missing"`) {
		t.Fatalf("seal check does not name the missing seal: %v", h["seal_check"])
	}
	if c := e.custodian(t); c.User != p.SecondID {
		t.Fatalf("custodian: %v", c)
	}
	// A tampered seal text fails verification at a checkpoint scan and opens another incident.
	bad := p.Seals[0][:len(p.Seals[0])-2] + "00"
	ev := e.call(t, 201, "POST", "/api/v1/custody/bags/"+p.BagID+"/scan", p.SecondToken, map[string]any{"seals": []string{bad, p.Seals[1]}})
	if !strings.Contains(toJSON(ev["custody"]), `"ok":false`) {
		t.Fatalf("scan of a forged seal passed: %v", ev["custody"])
	}
	var incidents int
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM incidents WHERE bag_id = $1`, p.BagID).Scan(&incidents)
	if incidents != 2 {
		t.Fatalf("%d incidents, want 2", incidents)
	}

	// The security officer's trail: every event chained, every proof verifies.
	var tr custody.Trail
	waitFor(t, func() bool {
		res := e.Do(t, "GET", "/api/v1/bags/"+p.BagID+"/custody", e.sec, nil)
		apitest.Decode(t, res, &tr)
		return len(tr.Events) > 0 && tr.Events[len(tr.Events)-1].Index != nil
	})
	cp, _, err := tlog.OpenCheckpoint([]byte(tr.Checkpoint), e.verifier)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, te := range tr.Events {
		kinds = append(kinds, te.Kind)
		if !te.ChainOK {
			t.Fatalf("event %d: chain broken", te.ID)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, *te.Index, cp.Size, tlog.LeafHash(te.Leaf), te.Proof, cp.Root); err != nil {
			t.Fatalf("event %d: %v", te.ID, err)
		}
	}
	if !strings.Contains(strings.Join(kinds, ","), "handoff_released,handoff_accepted,handoff_released,handoff_accepted,incident_opened,checkpoint_scan") {
		t.Fatalf("trail kinds %v", kinds)
	}
	// The custody block names both parties, the seals and where.
	acc := tr.Events[3]
	if !strings.Contains(string(tr.Events[2].Custody), `"coordinates"`) {
		t.Fatalf("no coordinates recorded: %s", tr.Events[2].Custody)
	}
	if !strings.Contains(string(acc.Custody), p.Courier) || !strings.Contains(string(acc.Custody), `"method":"vs1"`) {
		t.Fatalf("acceptance custody block: %s", acc.Custody)
	}
	// The courier (a party, but no log reader) may not fetch the trail.
	e.call(t, 403, "GET", "/api/v1/bags/"+p.BagID+"/custody", p.CourierToken, nil)

	// /log/entries: leaves for the security officer, hashes only for others.
	full := e.call(t, 200, "GET", "/log/entries?start=0&end=5", e.sec, nil)
	anon := e.call(t, 200, "GET", "/log/entries?start=0&end=5", "", nil)
	if full["leaves"] == nil || anon["leaves"] != nil || anon["leaf_hashes"] == nil {
		t.Fatalf("log entries: full %v anon %v", full["leaves"] != nil, anon["leaves"] != nil)
	}
	e.call(t, 401, "GET", "/log/entries?start=0&end=5", "not-a-token", nil)

	rep, err := custody.AuditChains(context.Background(), e.Pool)
	if err != nil || !rep.OK() || rep.Events < 7 {
		t.Fatalf("chain audit: %+v %v", rep, err)
	}
}

func TestOverdue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A window of one second: the fixture bag's last event is older than that soon.
	if _, err := e.Pool.Exec(ctx, `UPDATE pouch_settings SET value = '1 second' WHERE key = 'custody.silence_window'`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	out := e.call(t, 200, "GET", "/api/v1/security/overdue", e.sec, nil)
	list := out["overdue"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["bag_id"] != e.pair.BagID {
		t.Fatalf("overdue: %v", out)
	}
	// Couriers and clerks do not see the security list.
	e.call(t, 403, "GET", "/api/v1/security/overdue", e.pair.CourierToken, nil)
	// A custody event resets the clock.
	e.call(t, 201, "POST", "/api/v1/custody/bags/"+e.pair.BagID+"/scan", e.pair.SecondToken,
		map[string]any{"seals": e.pair.Seals, "place": "Frankfurt transit"})
	if l := e.call(t, 200, "GET", "/api/v1/security/overdue", e.sec, nil)["overdue"].([]any); len(l) != 0 {
		t.Fatalf("still overdue after a scan: %v", l)
	}
}

// TestChainAuditNamesTampering tampers with the database the way an
// administrator could (dropping the append-only guard first) and checks that
// the audit names the event at fault.
func TestChainAuditNamesTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper string // SQL; $1 = bag id, $2 = the scan event id, $3 = the first accept event id
		want   []string
	}{
		// The row is the event's only copy (the log keeps its hash): the
		// audit tells that it was altered, not which field.
		{"row edited", `UPDATE bag_events SET place = 'Elsewhere' WHERE id = $2 AND bag_id = $1`, []string{"row was altered"}},
		{"row deleted", `DELETE FROM bag_events WHERE id = $2 AND bag_id = $1`, []string{"deleted"}},
		{"rows reordered", `UPDATE bag_events SET log_entry = CASE WHEN id = $2 THEN (SELECT log_entry FROM bag_events WHERE id = $3)
			ELSE (SELECT log_entry FROM bag_events WHERE id = $2) END WHERE id IN ($2, $3) AND bag_id = $1`, []string{"the row was altered"}},
		{"leaf hash changed", `UPDATE tlog_entries SET leaf_hash = sha256('forged'::bytea)
			WHERE id = (SELECT log_entry FROM bag_events WHERE id = $2 AND bag_id = $1)`, []string{"log entry was altered"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			p := e.pair
			r, err := p.HandOff(ctx, e.HTTP.Client(), e.URL, 0)
			if err != nil {
				t.Fatal(err)
			}
			scan := e.call(t, 201, "POST", "/api/v1/custody/bags/"+p.BagID+"/scan", p.CourierToken, map[string]any{"seals": p.Seals})
			scanID := int64(scan["id"].(float64))
			if _, err := p.HandOff(ctx, e.HTTP.Client(), e.URL, 1); err != nil {
				t.Fatal(err)
			}
			if rep, err := custody.AuditChains(ctx, e.Pool); err != nil || !rep.OK() {
				t.Fatalf("before tampering: %+v %v", rep.Problem, err)
			}
			_, err = e.Pool.Exec(ctx, `ALTER TABLE bag_events DISABLE TRIGGER bag_events_append_only;
				ALTER TABLE tlog_entries DISABLE TRIGGER tlog_entries_append_only`)
			if err != nil {
				t.Fatal(err)
			}
			args := []any{p.BagID, scanID, r.AcceptEvent}
			if !strings.Contains(tc.tamper, "$3") {
				args = args[:2]
			}
			if _, err := e.Pool.Exec(ctx, tc.tamper, args...); err != nil {
				t.Fatal(err)
			}
			rep, err := custody.AuditChains(ctx, e.Pool)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("the audit missed the tampering")
			}
			named := rep.Problem.EventID == scanID || rep.Problem.EventID == r.AcceptEvent
			if tc.name == "row deleted" {
				named = rep.Problem.EventID > scanID // the event after the deleted one
			}
			if !named || rep.Problem.BagID != p.BagID {
				t.Fatalf("names event %d of %s, want the scan %d: %s", rep.Problem.EventID, rep.Problem.BagID, scanID, rep.Problem.Message)
			}
			for _, w := range tc.want {
				if !strings.Contains(rep.Problem.Message, w) {
					t.Fatalf("message %q lacks %q", rep.Problem.Message, w)
				}
			}
		})
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestHandoffRetriesWithIdempotencyKey: a courier's phone that lost the
// answers retries the release and the acceptance with the same keys; each
// step is recorded once and the retry gets the stored answer.
func TestHandoffRetriesWithIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	p := e.pair
	send := func(path, token, key string, body any) (int, string, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", e.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, res.Header.Get("Idempotent-Replayed"), out
	}
	events := func() int {
		var n int
		if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM bag_events WHERE bag_id = $1`, p.BagID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n0 := events()
	release := map[string]any{"bag_id": p.BagID, "to": p.Courier, "place": "MFA registry"}
	st, replayed, first := send("/api/v1/custody/handoffs", p.SecondToken, "phone-release-1", release)
	if st != 201 || replayed != "" {
		t.Fatalf("release: %d %v", st, first)
	}
	st, replayed, again := send("/api/v1/custody/handoffs", p.SecondToken, "phone-release-1", release)
	if st != 201 || replayed != "true" || again["id"] != first["id"] {
		t.Fatalf("release retry: %d %q %v", st, replayed, again)
	}
	accept := map[string]any{"seals": p.Seals, "packages_counted": 2, "seals_intact": true, "place": "airport"}
	path := "/api/v1/custody/handoffs/" + first["id"].(string) + "/accept"
	for i, want := range []string{"", "true"} {
		st, replayed, h := send(path, p.CourierToken, "phone-accept-1", accept)
		if st != 200 || replayed != want || h["status"] != "completed" {
			t.Fatalf("accept #%d: %d %q %v", i+1, st, replayed, h)
		}
	}
	if n := events(); n != n0+2 {
		t.Fatalf("%d events recorded for one release and one acceptance", n-n0)
	}
	// The same key with another body is refused and changes nothing.
	if st, _, _ := send(path, p.CourierToken, "phone-accept-1", map[string]any{"seals": p.Seals, "packages_counted": 1, "seals_intact": true}); st != 422 {
		t.Fatalf("reused key with another body: %d", st)
	}
	if n := events(); n != n0+2 {
		t.Fatalf("a refused retry recorded an event")
	}
}
