package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/api"
	"valise/api/apitest"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/identity"
	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/policy"
)

// TestSealsThroughAPI seals a bag driven through the lifecycle API, then
// reads its seals and images, fetches the trust list with ETag/304, and
// verifies good, tampered, transplanted and re-sealed seals.
func TestSealsThroughAPI(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for _, u := range [][]string{{"MFA", "ministry", "KZ"}, {"DE-BER", "embassy", "DE"}, {"JP-TYO", "embassy", "JP"}, {"MOD", "state_body", "KZ"}} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO units (code, name, kind, country) VALUES ($1, $1, $2, $3)`, u[0], u[1], u[2]); err != nil {
			t.Fatal(err)
		}
	}
	master := bytes.Repeat([]byte{5}, 32)
	s := api.New(d.Pool, api.Config{Logger: discardLogger(), LoginRate: 1000, MasterKey: master})
	ts := httptest.NewServer(apitest.Conform(t, s))
	t.Cleanup(ts.Close)
	e := &mailEnv{t: t, url: ts.URL, tokens: map[string]string{}, ids: map[string]string{}}
	for _, u := range []struct {
		name, unit, role string
		lvl              policy.Level
	}{
		{"admin", "MFA", policy.RoleAdmin, policy.Restricted},
		{"disp", "MFA", policy.RoleDispatcher, policy.TopSecret},
		{"clerk", "MFA", policy.RoleRegistryClerk, policy.TopSecret},
		{"modclerk", "MOD", policy.RoleRegistryClerk, policy.TopSecret},
		{"tokyo", "JP-TYO", policy.RoleRegistryClerk, policy.TopSecret},
	} {
		if _, err := s.Identity().CreateUser(ctx, identity.UserInput{Username: u.name, FullName: u.name, Unit: u.unit,
			Roles: []string{u.role}, Clearance: u.lvl, Password: "correct horse battery"}); err != nil {
			t.Fatal(err)
		}
		tok, err := s.Identity().Login(ctx, u.name, "correct horse battery", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.name] = tok.AccessToken
	}

	// Before any key exists the trust list is unavailable.
	if res, _ := e.do("", "GET", "/api/v1/trust-list", nil); res.StatusCode != 503 {
		t.Errorf("trust list without keys: %d, want 503", res.StatusCode)
	}
	kr, _ := keyring.New(master, keyring.Options{})
	err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		if _, _, err := kr.InitRoot(ctx, tx); err != nil {
			return err
		}
		for _, o := range []string{"MFA", "DE-BER"} {
			if _, err := kr.IssueKey(ctx, tx, o, "test", time.Time{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A bag sealed through the lifecycle API: sealing issued its seals.
	e.must(201, "admin", "POST", "/api/v1/senders", map[string]any{"unit": "MOD", "legal_basis": "Decree 1",
		"valid_from": "2020-01-01", "ceiling": "SECRET", "submitters": []string{"modclerk"}, "approved_by": "Deputy PM"})
	sub := e.must(201, "modclerk", "POST", "/api/v1/submissions", map[string]any{"sender": "MOD", "registry": "MFA",
		"destination": "DE-BER", "responsible_person": "Minister",
		"items": []map[string]any{{"kind": "correspondence", "level": "SECRET", "registry_number": fmt.Sprintf("MOD-%d", time.Now().UnixNano()), "count": 1}}})
	bag := e.must(201, "disp", "POST", "/api/v1/bags", map[string]any{"origin": "MFA", "destination": "DE-BER"})
	id := bag["id"].(string)
	e.must(200, "clerk", "POST", "/api/v1/bags/"+id+"/assemble", map[string]any{"submission_ids": []any{sub["id"]}})
	serials := []string{"S-" + strings.ToUpper(id[:8]) + "-1", "S-" + strings.ToUpper(id[:8]) + "-2"}
	b := bagOf(e.must(200, "clerk", "POST", "/api/v1/bags/"+id+"/seal", map[string]any{"container": "suitcase", "packages": 2, "seal_serials": serials}))
	facts := keyring.BagFacts{BagID: id, Registry: b["registry_number"].(string), Origin: "MFA", Destination: "DE-BER",
		Packages: 2, PhysicalSerials: serials, ManifestHash: seal.HashManifest([]byte("manifest"))}
	issued, err := keyring.BagSeals(ctx, d.Pool, id)
	if err != nil || len(issued) != 2 {
		t.Fatalf("seals issued by sealing: %v, %v", issued, err)
	}

	// The bag's seals and their images.
	out := e.must(200, "clerk", "GET", "/api/v1/bags/"+id+"/seals", nil)
	if ss := out["seals"].([]any); len(ss) != 2 || ss[1].(map[string]any)["text"] != issued[1].Text {
		t.Fatalf("seals: %v", out)
	}
	e.must(404, "tokyo", "GET", "/api/v1/bags/"+id+"/seals", nil) // outside need-to-know
	e.must(401, "", "GET", "/api/v1/bags/"+id+"/seals", nil)
	for path, ct := range map[string]string{"/2.png": "image/png", "/1.svg": "image/svg+xml", "/1.png?size=200": "image/png"} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/bags/"+id+"/seals"+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens["clerk"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ct || len(body) < 100 {
			t.Errorf("%s: %d %s %d bytes", path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
	}
	for _, bad := range []string{"/3.png", "/1.gif", "/x.png", "/1.png?size=99999"} {
		res, _ := e.do("clerk", "GET", "/api/v1/bags/"+id+"/seals"+bad, nil)
		if res.StatusCode != 404 && res.StatusCode != 422 {
			t.Errorf("%s: %d", bad, res.StatusCode)
		}
	}

	// The trust list: public, ETag, 304.
	res, _ := e.do("", "GET", "/api/v1/trust-list", nil)
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || etag == "" {
		t.Fatalf("trust list: %d etag %q", res.StatusCode, etag)
	}
	if res, _ := e.do("", "GET", "/api/v1/trust-list", nil, "If-None-Match", etag); res.StatusCode != 304 {
		t.Errorf("If-None-Match: %d, want 304", res.StatusCode)
	}

	verify := func(text string) map[string]any {
		t.Helper()
		return e.must(200, "clerk", "POST", "/api/v1/seals/verify", map[string]any{"text": text})
	}
	good := verify(issued[0].Text)
	if good["valid"] != true || good["record"].(map[string]any)["matches"] != true {
		t.Errorf("good seal: %v", good)
	}
	// Tampered: flip the last Base45 character's value (the signature's end).
	last := issued[0].Text[len(issued[0].Text)-2:]
	tampered := issued[0].Text[:len(issued[0].Text)-2] + map[bool]string{true: "1", false: "0"}[last[0] == '0'] + last[1:]
	if v := verify(tampered); v["valid"] != false || (v["reason"] != "bad_signature") {
		t.Errorf("tampered seal: %v", v)
	}
	// Berlin's key claiming a ministry bag.
	ber, _, err := kr.Signer(ctx, d.Pool, "DE-BER")
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := seal.Parse(issued[0].Text)
	c := parsed.Claims
	c.Serial = seal.NewSerial()
	forged, _ := seal.Sign(c, ber)
	if v := verify(forged); v["reason"] != "wrong_office" {
		t.Errorf("other office's key: %v", v)
	}
	// A transplant: an authentic MFA seal whose physical serial is not the
	// one the record holds (signed here with the real MFA key, as an insider
	// or a seal moved from another bag would be).
	mfa, _, _ := kr.Signer(ctx, d.Pool, "MFA")
	c = parsed.Claims
	c.Serial, c.PhysicalSeal = seal.NewSerial(), "OTHER-BAG-1"
	moved, _ := seal.Sign(c, mfa)
	v := verify(moved)
	rec := v["record"].(map[string]any)
	if v["valid"] != false || v["reason"] != "record_mismatch" || rec["possible_transplant"] != true ||
		!strings.Contains(fmt.Sprint(rec["mismatches"]), "physical_seal") {
		t.Errorf("transplant: %v", v)
	}
	// Bad input: a problem body naming the reason, nothing changed.
	for text, reason := range map[string]string{"HC1:ABC": "bad_prefix", issued[0].Text[:len(issued[0].Text)-1]: "bad_base45",
		"VS1:" + strings.Repeat("A", 2000): "too_large"} {
		res, body := e.do("clerk", "POST", "/api/v1/seals/verify", map[string]any{"text": text})
		if res.StatusCode != 422 || body["reason"] != reason {
			t.Errorf("%.12s…: %d %v, want 422 %s", text, res.StatusCode, body, reason)
		}
	}
	if res, _ := e.do("clerk", "POST", "/api/v1/seals/verify", `{"text": 1}`); res.StatusCode != 400 {
		t.Errorf("wrong type: %d", res.StatusCode)
	}
	e.must(401, "", "POST", "/api/v1/seals/verify", map[string]any{"text": issued[0].Text})

	// Re-seal: the old seal is revoked in the new list.
	if err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error { _, err := kr.Reseal(ctx, tx, facts, "test", ""); return err }); err != nil {
		t.Fatal(err)
	}
	if v := verify(issued[0].Text); v["valid"] != false || v["reason"] != "seal_revoked" {
		t.Errorf("old seal after re-seal: %v", v)
	}
	if res, _ := e.do("", "GET", "/api/v1/trust-list", nil, "If-None-Match", etag); res.StatusCode != 200 || res.Header.Get("ETag") == etag {
		t.Errorf("trust list after re-seal: %d, etag unchanged", res.StatusCode)
	}
	// Revoked key.
	if _, err := kr.Revoke(ctx, d.Pool, issued[0].KID, "test"); err != nil {
		t.Fatal(err)
	}
	cur := e.must(200, "clerk", "GET", "/api/v1/bags/"+id+"/seals", nil)["seals"].([]any)
	if v := verify(cur[0].(map[string]any)["text"].(string)); v["reason"] != "key_revoked" {
		t.Errorf("seal of a revoked key: %v", v)
	}
}
