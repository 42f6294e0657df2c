package api_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"valise/api/apitest"
	"valise/internal/bench"
	"valise/policy"
	"valise/tlog"
)

// TestClearanceBoundsOversight: an auditor with scope * but cleared only
// SECRET reads the custody log's leaves, the decision log and incidents of
// SECRET bags, and of a TOP SECRET bag only the leaf hashes: no leaf, no
// decision row, no incident. A security officer cleared above sees it all.
func TestClearanceBoundsOversight(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	ctx := context.Background()
	pairs, err := bench.Setup(ctx, e.Pool, e.Server.Identity(), e.MasterKey, "clr", 2)
	if err != nil {
		t.Fatal(err)
	}
	secret, top := pairs[0], pairs[1] // both SECRET as set up; raise the second
	if _, err := e.Pool.Exec(ctx, `UPDATE bags SET level = $2 WHERE id = $1`, top.BagID, int(policy.TopSecret)); err != nil {
		t.Fatal(err)
	}
	if _, err := secret.HandOff(ctx, e.HTTP.Client(), e.URL, 0); err != nil {
		t.Fatal(err)
	}
	// The TOP SECRET bag's hand-off finds broken seals: an incident.
	var h struct {
		ID         string  `json:"id"`
		IncidentID *string `json:"incident_id"`
	}
	if err := bench.Call(ctx, e.HTTP.Client(), "POST", e.URL+"/api/v1/custody/handoffs", top.SecondToken,
		map[string]any{"bag_id": top.BagID, "to": top.Courier, "place": "Astana"}, http.StatusCreated, &h); err != nil {
		t.Fatal(err)
	}
	if err := bench.Call(ctx, e.HTTP.Client(), "POST", e.URL+"/api/v1/custody/handoffs/"+h.ID+"/accept", top.CourierToken,
		map[string]any{"seals": top.Seals, "packages_counted": 2, "seals_intact": false, "place": "Astana"}, http.StatusOK, &h); err != nil {
		t.Fatal(err)
	}
	if h.IncidentID == nil {
		t.Fatal("a hand-off with broken seals opened no incident")
	}
	key, err := tlog.LoadOrCreateKey(ctx, e.Pool, "valise.test/custody", e.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlog.NewIntegrator(e.Pool, key, tlog.IntegratorOptions{}).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Denies about each bag, for the decision log: an MFA clerk cleared
	// RESTRICTED asks for both.
	low := e.User(t, "clerk.low", []string{policy.RoleRegistryClerk}, "MFA", policy.Restricted, "")
	for _, id := range []string{secret.BagID, top.BagID} {
		res := e.Do(t, "GET", "/api/v1/bags/"+id, low, nil)
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Fatalf("the RESTRICTED clerk reads bag %s: %d", id, res.StatusCode)
		}
	}
	auditor := e.User(t, "auditor.secret", []string{policy.RoleAuditor}, "JP-TYO", policy.Secret, "")
	security := e.User(t, "security.si", []string{policy.RoleSecurityOfficer}, "MFA", policy.SpecialImportance, "")

	// Which bag each leaf records, from the database.
	bagOfLeaf := map[int]string{}
	rows, err := e.Pool.Query(ctx, `SELECT i.idx, be.bag_id::text FROM tlog_index i JOIN bag_events be ON be.log_entry = i.entry_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var idx int
		var bag string
		if err := rows.Scan(&idx, &bag); err != nil {
			t.Fatal(err)
		}
		bagOfLeaf[idx] = bag
	}
	if rows.Err() != nil || len(bagOfLeaf) == 0 {
		t.Fatalf("no integrated leaves (%v)", rows.Err())
	}
	type entries struct {
		LeafHashes [][]byte `json:"leaf_hashes"`
		Leaves     [][]byte `json:"leaves"`
	}
	var asAuditor, asSecurity entries
	apitest.Decode(t, e.Do(t, "GET", "/log/entries?start=0&end=1000", auditor, nil), &asAuditor)
	apitest.Decode(t, e.Do(t, "GET", "/log/entries?start=0&end=1000", security, nil), &asSecurity)
	if len(asAuditor.Leaves) != len(bagOfLeaf) || len(asAuditor.LeafHashes) != len(bagOfLeaf) || len(asSecurity.Leaves) != len(bagOfLeaf) {
		t.Fatalf("entries: %d leaves and %d hashes for the auditor, %d leaves for security; the log has %d",
			len(asAuditor.Leaves), len(asAuditor.LeafHashes), len(asSecurity.Leaves), len(bagOfLeaf))
	}
	for i, bag := range bagOfLeaf {
		if !bytes.Equal(tlog.LeafHash(asSecurity.Leaves[i]), asAuditor.LeafHashes[i]) {
			t.Errorf("leaf %d: the security officer's leaf does not hash to the leaf hash", i)
		}
		switch got := asAuditor.Leaves[i]; {
		case bag == top.BagID && got != nil:
			t.Errorf("leaf %d of the TOP SECRET bag reaches the SECRET auditor: %s", i, got)
		case bag == top.BagID && bytes.Contains(got, []byte(top.Registry)):
			t.Errorf("leaf %d names the TOP SECRET bag's registry number", i)
		case bag == secret.BagID && !bytes.Equal(got, asSecurity.Leaves[i]):
			t.Errorf("leaf %d of the SECRET bag is withheld from the SECRET auditor", i)
		}
	}

	// The decision log: the auditor reads the deny about the SECRET bag, not
	// the one about the TOP SECRET bag (it names the bag and its level).
	decisions := func(tok string) string {
		res := e.Do(t, "GET", "/api/v1/security/decisions", tok, nil)
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("decisions = %d %s", res.StatusCode, b.String())
		}
		return b.String()
	}
	if d := decisions(auditor); !strings.Contains(d, secret.BagID) || strings.Contains(d, top.BagID) || strings.Contains(d, "TOP_SECRET") {
		t.Errorf("the SECRET auditor's decision log:\n%s", d)
	}
	if d := decisions(security); !strings.Contains(d, top.BagID) || !strings.Contains(d, `"resource_level":"TOP_SECRET"`) {
		t.Errorf("the security officer does not see the TOP SECRET deny:\n%s", d)
	}

	// Incidents: the auditor neither reads nor lists the TOP SECRET bag's.
	res := e.Do(t, "GET", "/api/v1/incidents/"+*h.IncidentID, auditor, nil)
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("the SECRET auditor reads the TOP SECRET incident: %d", res.StatusCode)
	}
	for tok, want := range map[string]bool{auditor: false, security: true} {
		res := e.Do(t, "GET", "/api/v1/incidents", tok, nil)
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		res.Body.Close()
		if strings.Contains(b.String(), *h.IncidentID) != want {
			t.Errorf("incident list (security: %v) lists the TOP SECRET incident: %v", want, !want)
		}
	}
}
