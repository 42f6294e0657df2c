package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/pouch"
)

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// raw GETs path as user and returns the status and body.
func (e *mailEnv) raw(user, path string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (e *mailEnv) verifySeal(text string) map[string]any {
	e.t.Helper()
	return e.must(200, "clerk", "POST", "/api/v1/seals/verify", map[string]any{"text": text})
}

// tamper flips one Base45 character near the end (inside the signature).
func tamper(text string) string {
	i := len(text) - 2
	c := byte('0')
	if text[i] == '0' {
		c = '1'
	}
	return text[:i] + string(c) + text[i+1:]
}

// TestSealingIssuesSeals seals a bag through the API and follows its seals:
// listed, drawn as a PNG that an independent decoder reads back, verified
// against the record, and revoked by a re-seal after a supervised opening.
func TestSealingIssuesSeals(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	id, _ := e.setupSealedBag()

	out := e.must(200, "clerk", "GET", "/api/v1/bags/"+id+"/seals", nil)
	seals := out["seals"].([]any)
	if len(seals) != 2 {
		t.Fatalf("a two-package bag has %d seals: %v", len(seals), out)
	}
	first := seals[0].(map[string]any)["text"].(string)
	status, body := e.raw("clerk", "/api/v1/bags/"+id+"/seals/1.png")
	if status != 200 {
		t.Fatalf("seal PNG: %d", status)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	text, err := seal.ReadQR(img)
	if err != nil || text != first {
		t.Fatalf("the PNG decodes to %q (%v), want the seal text", text, err)
	}
	v := e.verifySeal(text)
	rec, _ := v["record"].(map[string]any)
	claims := v["claims"].(map[string]any)
	if v["valid"] != true || v["document"] != "bag_seal" || rec["matches"] != true || claims["package"] != 1.0 ||
		claims["packages"] != 2.0 || claims["physical_seal"] != "S-"+strings.ToUpper(id[:8])+"-1" {
		t.Fatalf("verify a fresh seal: %v", v)
	}
	// Its manifest hash is the documented hash of the bag's manifest.
	var registry string
	if err := e.pool.QueryRow(context.Background(), `SELECT registry_number FROM bags WHERE id = $1`, id).Scan(&registry); err != nil {
		t.Fatal(err)
	}
	doc, err := pouch.Manifest(context.Background(), e.pool, id, registry)
	if err != nil || claims["manifest_hash"] != fmt.Sprintf("%x", seal.HashManifest(doc)) ||
		bytes.Contains(doc, []byte("description")) || !bytes.HasPrefix(doc, []byte(`{"bag_id":"`+id+`","items":[{"count":1,`)) {
		t.Fatalf("manifest %s (%v) does not hash to the seal's %v", doc, err, claims["manifest_hash"])
	}

	// Re-sealing after a supervised opening revokes the old serials.
	e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": e.courierID(), "bag_ids": []string{id}, "valid_until": time.Now().Add(72 * time.Hour)})
	e.must(200, "clerk", "POST", "/api/v1/bags/"+id+"/dispatch", nil)
	e.must(200, "sec", "POST", "/api/v1/bags/"+id+"/examine", map[string]any{"opening": true, "initiating_body": "Customs",
		"initiating_official": "Inspector", "grounds": "x-ray", "witness_kind": "authorized_representative", "witness_name": "Consul", "witness_unit": "DE-BER"})
	e.refused(422, "sec", "POST", "/api/v1/bags/"+id+"/conclude_examination", map[string]any{"findings": "papers",
		"resealed_serials": []string{"rs-lower-case", "RS-2"}})
	e.must(200, "sec", "POST", "/api/v1/bags/"+id+"/conclude_examination", map[string]any{"findings": "papers",
		"resealed_serials": []string{"RS-" + strings.ToUpper(id[:8]) + "-1", "RS-" + strings.ToUpper(id[:8]) + "-2"}})
	if v := e.verifySeal(first); v["valid"] != false || v["reason"] != "seal_revoked" {
		t.Fatalf("the old seal after re-sealing: %v", v)
	}
	now := e.must(200, "clerk", "GET", "/api/v1/bags/"+id+"/seals", nil)["seals"].([]any)
	fresh := now[0].(map[string]any)["text"].(string)
	if len(now) != 2 || fresh == first {
		t.Fatalf("seals after re-sealing: %v", now)
	}
	if v := e.verifySeal(fresh); v["valid"] != true || v["claims"].(map[string]any)["physical_seal"] != "RS-"+strings.ToUpper(id[:8])+"-1" {
		t.Fatalf("the new seal: %v", v)
	}
}

// TestSealRefusals: a bag a seal cannot describe, or an office without a
// seal key, is refused and nothing changes.
func TestSealRefusals(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	// A fresh assembling bag.
	sub := e.must(201, "clerk", "POST", "/api/v1/submissions", map[string]any{"sender": "MFA", "registry": "MFA",
		"destination": "DE-BER", "responsible_person": "Head of Consular Service",
		"items": []map[string]any{{"kind": "correspondence", "level": "RESTRICTED", "registry_number": "R-" + time.Now().Format("150405.000000"), "count": 1}}})
	bag := e.must(201, "disp", "POST", "/api/v1/bags", map[string]any{"origin": "MFA", "destination": "DE-BER"})
	bid := bag["id"].(string)
	e.must(200, "clerk", "POST", "/api/v1/bags/"+bid+"/assemble", map[string]any{"submission_ids": []any{sub["id"]}})
	for name, in := range map[string]map[string]any{
		"100 packages":      {"container": "sack", "packages": 100},
		"lower-case serial": {"container": "sack", "packages": 1, "seal_serials": []string{"s-1"}},
		"25-char serial":    {"container": "sack", "packages": 1, "seal_serials": []string{strings.Repeat("A", 25)}},
		"space in serial":   {"container": "sack", "packages": 1, "seal_serials": []string{"A 1"}},
	} {
		p := e.refused(422, "clerk", "POST", "/api/v1/bags/"+bid+"/seal", in)
		if !strings.Contains(toJSON(p["errors"]), "seal") && !strings.Contains(toJSON(p["errors"]), "packages") {
			t.Errorf("%s: %v", name, p)
		}
	}
	// Without an active MFA seal key the bag cannot be sealed.
	kr, err := keyring.New(e.master, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := kr.Signer(context.Background(), e.pool, "MFA")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Retire(context.Background(), e.pool, signer.KID, 0); err != nil {
		t.Fatal(err)
	}
	p := e.refused(409, "clerk", "POST", "/api/v1/bags/"+bid+"/seal", map[string]any{"container": "sack", "packages": 1})
	if !strings.Contains(p["detail"].(string), "valise keys issue --office MFA") {
		t.Fatalf("no seal key: %v", p)
	}
}

// TestSignedCourierSheet: an issued sheet carries a signed QR, printed
// inline; it verifies like a seal and against the sheet record, a tampered
// copy fails, and after revocation it fails as revoked.
func TestSignedCourierSheet(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	id, _ := e.setupSealedBag()
	sh := e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": e.courierID(), "bag_ids": []string{id}, "valid_until": time.Now().Add(72 * time.Hour)})
	qr, _ := sh["qr"].(string)
	if !strings.HasPrefix(qr, "VS1:") || sh["qr_serial"] == nil {
		t.Fatalf("issued sheet without a signed QR: %v", sh)
	}
	status, page := e.raw("clerk", "/api/v1/sheets/"+sh["id"].(string)+"/print")
	if status != 200 || !bytes.Contains(page, []byte("<svg")) || !bytes.Contains(page, []byte(sh["qr_serial"].(string))) {
		t.Fatalf("printed sheet: %d, no inline QR", status)
	}
	v := e.verifySeal(qr)
	claims := v["claims"].(map[string]any)
	rec, _ := v["record"].(map[string]any)
	if v["valid"] != true || v["document"] != "courier_sheet" || rec["matches"] != true || rec["sheet_status"] != "issued" ||
		claims["registry_number"] != sh["number"] || claims["bag_id"] != sh["id"] || claims["origin"] != "MFA" || claims["destination"] != "DE-BER" {
		t.Fatalf("verify the sheet QR: %v", v)
	}
	if v := e.verifySeal(tamper(qr)); v["valid"] != false || v["reason"] != "bad_signature" {
		t.Fatalf("tampered sheet QR: %v", v)
	}
	// An authentic QR whose content differs from the record (signed here
	// with the real MFA key, as an insider would): a mismatch.
	kr, _ := keyring.New(e.master, keyring.Options{})
	signer, _, err := kr.Signer(context.Background(), e.pool, "MFA")
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := seal.Parse(qr)
	c := parsed.Claims
	c.Serial, c.ManifestHash = seal.NewSerial(), seal.HashManifest([]byte("another route"))
	forged, _ := seal.Sign(c, signer)
	if v := e.verifySeal(forged); v["valid"] != false || v["reason"] != "record_mismatch" ||
		!strings.Contains(toJSON(v["record"]), "manifest_hash") {
		t.Fatalf("altered sheet QR: %v", v)
	}
	e.must(200, "clerk", "POST", "/api/v1/sheets/"+sh["id"].(string)+"/revoke", map[string]any{"reason": "courier ill"})
	if v := e.verifySeal(qr); v["valid"] != false || v["reason"] != "seal_revoked" || v["document"] != "courier_sheet" {
		t.Fatalf("revoked sheet QR: %v", v)
	}
	// The trust list carries the revoked serial (what offline verifiers use).
	p, err := keyring.Latest(context.Background(), e.pool)
	if err != nil {
		t.Fatal(err)
	}
	list, err := kr.Parsed(context.Background(), e.pool, p)
	if err != nil || !strings.Contains(toJSON(list.RevokedSerials), sh["qr_serial"].(string)) {
		t.Fatalf("trust list %v lacks the revoked sheet serial (%v)", list, err)
	}
}
