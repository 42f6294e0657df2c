package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"
)

// randomUUID is a version-4 UUID that names nothing.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// TestSheetNamingHiddenBagLooksLikeRandom: a Berlin clerk cleared
// RESTRICTED issues a courier sheet naming a SECRET bag they may not see,
// sealed or already dispatched, and gets exactly the answer a random id
// gets (no state, no registry number, no sheet), and nothing changes.
func TestSheetNamingHiddenBagLooksLikeRandom(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	sealed, _ := e.setupSealedBag()
	dispatched, _ := e.dispatched()
	reqID := regexp.MustCompile(`"request_id":"[^"]*"`)
	issue := func(bagID string) string {
		before := e.snapshot()
		body, _ := json.Marshal(map[string]any{"issuer": "DE-BER", "conveyance": "aircraft_captain",
			"bearer_name": "Captain Weber", "bag_ids": []string{bagID}, "valid_until": time.Now().Add(72 * time.Hour).Truncate(time.Hour)})
		req, _ := http.NewRequest("POST", e.url+"/api/v1/sheets", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.tokens["lowber"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if after := e.snapshot(); after != before {
			t.Fatalf("a refused sheet changed the database")
		}
		raw = reqID.ReplaceAll(raw, []byte(`"request_id":"-"`))
		return fmt.Sprintf("%d %s %s", res.StatusCode, res.Header.Get("Content-Type"), bytes.ReplaceAll(raw, []byte(bagID), []byte("{id}")))
	}
	missing := issue(randomUUID())
	if missing[:3] != "422" {
		t.Fatalf("a random bag id: %s", missing)
	}
	for name, id := range map[string]string{"sealed": sealed, "dispatched": dispatched} {
		if got := issue(id); got != missing {
			t.Errorf("a sheet naming a hidden %s bag:\n%s\nwant what a random id gets:\n%s", name, got, missing)
		}
	}
}

// TestNumbersBelongToTheirOwner: item registry numbers are unique within
// the sender's numbering and physical seal serials within the sealing
// registry's stock, so another unit's use of a number is never confirmed;
// the owner's own repeat is still refused (422, nothing written).
func TestNumbersBelongToTheirOwner(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	for _, s := range []struct{ unit, clerk string }{{"MOD", "modclerk"}, {"NB", "nbclerk"}} {
		e.must(201, "admin", "POST", "/api/v1/senders", map[string]any{"unit": s.unit, "legal_basis": "Government decree No. 1",
			"valid_from": "2020-01-01", "ceiling": "SECRET", "submitters": []string{s.clerk}, "approved_by": "Deputy PM"})
	}
	submit := func(sender, number string) map[string]any {
		return map[string]any{"sender": sender, "registry": "MFA", "destination": "DE-BER", "responsible_person": "Head",
			"items": []map[string]any{{"kind": "correspondence", "level": "SECRET", "registry_number": number, "count": 1}}}
	}
	e.must(201, "modclerk", "POST", "/api/v1/submissions", submit("MOD", "OUT-77"))
	e.must(201, "nbclerk", "POST", "/api/v1/submissions", submit("NB", "OUT-77")) // another sender's numbering
	p := e.refused(422, "modclerk", "POST", "/api/v1/submissions", submit("MOD", "OUT-77"))
	if fmt.Sprint(p["errors"]) == "" || !bytes.Contains([]byte(fmt.Sprint(p["errors"])), []byte("items[0].registry_number")) {
		t.Errorf("the sender's own repeat: %v", p)
	}

	// Seal serials: MFA seals a bag with S-SHARED-1; Berlin's registry may
	// use the same serial from its own stock; MFA may not use it twice.
	mfaBag, _ := e.setupSealedBag()
	serials := func(s ...string) map[string]any {
		return map[string]any{"container": "suitcase", "packages": len(s), "seal_serials": s}
	}
	mfa2 := e.assembledAt("MFA", "DE-BER", "MOD", "modclerk", "disp", "clerk")
	berlin := e.assembledAt("DE-BER", "MFA", "DE-BER", "berlin", "dispber", "berlin")
	var first string
	if err := e.pool.QueryRow(t.Context(), `SELECT seal_serial FROM bag_packages WHERE bag_id = $1 AND k = 1`, mfaBag).Scan(&first); err != nil {
		t.Fatal(err)
	}
	e.must(200, "berlin", "POST", "/api/v1/bags/"+berlin+"/seal", serials(first))
	p = e.refused(422, "clerk", "POST", "/api/v1/bags/"+mfa2+"/seal", serials(first))
	if !bytes.Contains([]byte(fmt.Sprint(p["errors"])), []byte("seal_serials[0]")) {
		t.Errorf("MFA's own repeat of a serial: %v", p)
	}
}

// assembledAt drives a fresh submission of sender (by submitter) through a
// plan origin → destination (by dispatcher) into a bag assembled by clerk;
// it returns the bag id.
func (e *mailEnv) assembledAt(origin, destination, sender, submitter, dispatcher, clerk string) string {
	e.t.Helper()
	sub := e.must(201, submitter, "POST", "/api/v1/submissions", map[string]any{"sender": sender, "registry": origin,
		"destination": destination, "responsible_person": "Head",
		"items": []map[string]any{{"kind": "correspondence", "level": "SECRET", "registry_number": fmt.Sprintf("%s-%d", sender, time.Now().UnixNano()), "count": 1}}})
	now := time.Now()
	plan := e.must(201, dispatcher, "POST", "/api/v1/plans", map[string]any{"origin": origin, "destination": destination,
		"conveyance": "career_courier", "planned_departure": now, "planned_arrival": now.Add(48 * time.Hour),
		"legs": []map[string]any{{"from_city": "A", "to_city": "B"}}})
	bag := e.must(201, dispatcher, "POST", "/api/v1/bags", map[string]any{"plan_id": plan["id"]})
	id := bag["id"].(string)
	e.must(200, clerk, "POST", "/api/v1/bags/"+id+"/assemble", map[string]any{"submission_ids": []any{sub["id"]}})
	return id
}
