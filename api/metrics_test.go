package api_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"valise/api/apitest"
	"valise/internal/bench"
)

// sample returns the value of series (name with labels) in a scrape.
func sample(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return 0
}

// TestOperationalGaugesFollowTheDatabase: a hand-off whose seal check fails
// shows as a failed seal check and an open breach, the leaves no integrator
// has signed yet as lag, and a locked account as a lockout.
func TestOperationalGaugesFollowTheDatabase(t *testing.T) {
	e := apitest.New(t)
	ctx := context.Background()
	pairs, err := bench.Setup(ctx, e.Pool, e.Server.Identity(), e.MasterKey, "metrics", 1)
	if err != nil {
		t.Fatal(err)
	}
	p := pairs[0]
	var h struct {
		ID      string `json:"id"`
		SealsOK *bool  `json:"seals_ok"`
	}
	if err := bench.Call(ctx, e.HTTP.Client(), "POST", e.URL+"/api/v1/custody/handoffs", p.SecondToken,
		map[string]any{"bag_id": p.BagID, "to": p.Courier, "place": "MFA registry"}, 201, &h); err != nil {
		t.Fatal(err)
	}
	if err := bench.Call(ctx, e.HTTP.Client(), "POST", e.URL+"/api/v1/custody/handoffs/"+h.ID+"/accept", p.CourierToken,
		map[string]any{"seals": p.Seals[:1], "packages_counted": 2, "seals_intact": true, "place": "NQZ airport"}, 200, &h); err != nil {
		t.Fatal(err)
	}
	if h.SealsOK == nil || *h.SealsOK {
		t.Fatalf("a missing seal passed the check: %+v", h)
	}
	if _, err := e.Pool.Exec(ctx, `INSERT INTO login_throttle (username, failures, locked_until) VALUES ('locked.out', 5, now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}

	res := e.Do(t, "GET", "/metrics", "", nil)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(b)
	for series, want := range map[string]float64{
		"valise_ops_query_up":                     1,
		"valise_seal_checks_failed_total":         1,
		`valise_incidents_open{class="breach"}`:   1,
		`valise_incidents_open{class="incident"}`: 0,
		"valise_login_lockouts_active":            1,
		"valise_bags_silent":                      0,
		"valise_tlog_tree_size":                   0,
	} {
		if got := sample(t, text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// No integrator runs in this test: every leaf of the hand-off waits.
	if lag := sample(t, text, "valise_tlog_unintegrated_leaves"); lag < 2 {
		t.Errorf("valise_tlog_unintegrated_leaves = %v, want the release and the acceptance at least", lag)
	}
	if age := sample(t, text, "valise_tlog_oldest_unintegrated_seconds"); age < 0 {
		t.Errorf("valise_tlog_oldest_unintegrated_seconds = %v", age)
	}
	if strings.Contains(text, p.Registry) || strings.Contains(text, "locked.out") {
		t.Error("/metrics names a bag or an account")
	}
}
