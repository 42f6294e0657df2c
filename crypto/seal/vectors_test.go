package seal_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/crypto/trust"
	"valise/tlog"
)

// The courier's scanner app (web/scanner) reimplements seal and receipt
// verification in JavaScript. These vectors are the contract between the two
// implementations: TestVectors writes them (go test ./crypto/seal -run
// TestVectors -update-vectors) and always checks that this package and tlog
// give the outcome each file states; web/scanner's browser test runs the
// JavaScript on the same files and expects the same outcome.

var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/vectors/*.json")

// SealVector is one seal check: verify Text against TrustList (signed by
// TrustRoot) at Now; want Code ("" when the seal is valid) and, when the
// seal parses, its Claims.
type SealVector struct {
	Name      string              `json:"name"`
	Note      string              `json:"note"`
	Text      string              `json:"text"`
	TrustRoot string              `json:"trust_root"` // base64 Ed25519 public key
	TrustList json.RawMessage     `json:"trust_list"` // DSSE envelope
	Now       time.Time           `json:"now"`
	Code      string              `json:"code"`             // seal.Code of the verification error; "" for valid
	Claims    *keyring.ClaimsView `json:"claims,omitempty"` // as the API and the app show them
}

// ReceiptVector is one C2SP tlog-proof receipt and the log key that must
// verify it (OK) or not.
type ReceiptVector struct {
	Name    string `json:"name"`
	Note    string `json:"note"`
	LogKey  string `json:"log_key"` // note verifier key
	Receipt string `json:"receipt"`
	OK      bool   `json:"ok"`
	Index   uint64 `json:"index"`
	Size    uint64 `json:"size"`
	Leaf    string `json:"leaf"` // base64 of the leaf (the receipt's extra)
}

func vectorKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

// makeSealVectors builds the seal cases from fixed keys and times.
func makeSealVectors(t *testing.T) []SealVector {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	root, office, other := vectorKey(0x51), vectorKey(0x52), vectorKey(0x53)
	officePub := office.Public().(ed25519.PublicKey)
	signer, err := seal.NewSigner(office)
	if err != nil {
		t.Fatal(err)
	}
	bag, _ := seal.ParseBagID("0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e")
	claims := func(k int, serial byte) seal.Claims {
		return seal.Claims{BagID: bag, Registry: "KZ-MFA-2026-000123", Origin: "MFA", Destination: "DE-BER",
			Package: k, Packages: 3, PhysicalSeal: "ASTM-00412345", ManifestHash: seal.HashManifest([]byte("manifest 000123")),
			IssuedAt: t0, Expires: t0.Add(14 * 24 * time.Hour), Serial: seal.Serial{1, 2, 3, 4, 5, 6, 7, serial}}
	}
	sign := func(c seal.Claims, s seal.Signer) string {
		text, err := seal.Sign(c, s)
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	revoked := seal.Serial{1, 2, 3, 4, 5, 6, 7, 0xee}
	list, err := trust.Sign(&trust.List{Sequence: 7, IssuedAt: t0.Add(-time.Hour), StaleAfter: t0.Add(7 * 24 * time.Hour),
		Keys: []trust.Key{{KID: seal.KeyID(officePub), Office: "MFA", PublicKey: officePub,
			NotBefore: t0.Add(-30 * 24 * time.Hour), NotAfter: t0.Add(60 * 24 * time.Hour), Status: trust.StatusActive}},
		RevokedSerials: []seal.Serial{revoked}}, root)
	if err != nil {
		t.Fatal(err)
	}
	rootB64 := base64.StdEncoding.EncodeToString(root.Public().(ed25519.PublicKey))
	now := t0.Add(2 * time.Hour)
	valid := sign(claims(2, 1), signer)
	// Tampered: one claim byte changed after signing (the registry number's
	// last digit), re-encoded as valid Base45: a well-formed seal whose
	// signature no longer verifies.
	raw := decode45(t, valid)
	i := bytes.Index(raw, []byte("000123"))
	raw[i+5] = '4'
	tampered := seal.Prefix + encode45(raw)
	otherSigner, _ := seal.NewSigner(other)
	vs := []SealVector{
		{Name: "valid", Note: "a seal of package 2 of 3, checked two hours after issue", Text: valid, Now: now},
		{Name: "revoked", Note: "the seal's serial is in the trust list's revoked serials", Text: sign(claims(3, 0xee), signer), Now: now, Code: "seal_revoked"},
		{Name: "tampered", Note: "the registry number was changed after signing", Text: tampered, Now: now, Code: "bad_signature"},
		{Name: "expired", Note: "checked after the seal's expiry", Text: valid, Now: t0.Add(15 * 24 * time.Hour), Code: "seal_expired"},
		{Name: "unknown-key", Note: "signed by a key the trust list does not hold", Text: sign(claims(1, 2), otherSigner), Now: now, Code: "unknown_key"},
		{Name: "bad-prefix", Note: "not a VS1 seal", Text: "VS2:" + strings.TrimPrefix(valid, seal.Prefix), Now: now, Code: "bad_prefix"},
	}
	for i := range vs {
		vs[i].TrustRoot, vs[i].TrustList = rootB64, list
		if s, err := seal.Parse(vs[i].Text); err == nil {
			vs[i].Claims = keyring.View(s)
		}
	}
	return vs
}

func decode45(t *testing.T, text string) []byte {
	// The package's decoder is unexported; Parse proves the text, and the
	// test decodes by the RFC 9285 rule itself.
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	s := strings.TrimPrefix(text, seal.Prefix)
	var out []byte
	for i := 0; i < len(s); i += 3 {
		n := 0
		m := 1
		for j := i; j < min(i+3, len(s)); j++ {
			n += strings.IndexByte(alphabet, s[j]) * m
			m *= 45
		}
		if len(s)-i >= 3 {
			out = append(out, byte(n>>8), byte(n))
		} else {
			out = append(out, byte(n))
		}
	}
	return out
}

func encode45(b []byte) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var sb strings.Builder
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		sb.WriteByte(alphabet[n%45])
		sb.WriteByte(alphabet[n/45%45])
		sb.WriteByte(alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		sb.WriteByte(alphabet[n%45])
		sb.WriteByte(alphabet[n/45])
	}
	return sb.String()
}

// treeHash is the RFC 6962 Merkle tree hash of leaves (hashed already).
func treeHash(h [][]byte) []byte {
	if len(h) == 1 {
		return h[0]
	}
	k := 1
	for k*2 < len(h) {
		k *= 2
	}
	return node(treeHash(h[:k]), treeHash(h[k:]))
}

func node(l, r []byte) []byte {
	s := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return s[:]
}

// inclusion is the RFC 6962 audit path of leaf m in h.
func inclusion(m int, h [][]byte) [][]byte {
	if len(h) == 1 {
		return nil
	}
	k := 1
	for k*2 < len(h) {
		k *= 2
	}
	if m < k {
		return append(inclusion(m, h[:k]), treeHash(h[k:]))
	}
	return append(inclusion(m-k, h[k:]), treeHash(h[:k]))
}

// makeReceiptVectors builds receipts over a 7-leaf log signed with a fixed
// note key, in exactly the text form tlog.Receipt writes.
func makeReceiptVectors(t *testing.T) []ReceiptVector {
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{0x61}, 64)), "valise.test/custody")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	_, otherV, _ := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{0x62}, 64)), "valise.test/custody")
	var leaves, hashes [][]byte
	for i := range 7 {
		leaf := fmt.Appendf(nil, `{"bag_id":"0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e","event":%d,"kind":"handoff_released"}`, i+1)
		leaves = append(leaves, leaf)
		hashes = append(hashes, tlog.LeafHash(leaf))
	}
	cp := tlog.Checkpoint{Origin: "valise.test/custody", Size: 7, Root: treeHash(hashes)}
	signed, err := note.Sign(&note.Note{Text: cp.Body()}, signer)
	if err != nil {
		t.Fatal(err)
	}
	receipt := func(idx int, leaf []byte) string {
		var b strings.Builder
		b.WriteString(tlog.ReceiptHeader + "\n")
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(leaf) + "\n")
		fmt.Fprintf(&b, "index %d\n", idx)
		for _, h := range inclusion(idx, hashes) {
			b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
		}
		b.WriteString("\n")
		b.Write(signed)
		return b.String()
	}
	good := receipt(5, leaves[5])
	return []ReceiptVector{
		{Name: "receipt", Note: "leaf 5 of a 7-leaf log", LogKey: vkey, Receipt: good, OK: true, Index: 5, Size: 7,
			Leaf: base64.StdEncoding.EncodeToString(leaves[5])},
		{Name: "receipt-wrong-leaf", Note: "the extra data is another leaf than the proof's", LogKey: vkey,
			Receipt: receipt(5, leaves[4]), OK: false, Index: 5, Size: 7},
		{Name: "receipt-other-log", Note: "checked with another log's key", LogKey: otherV, Receipt: good, OK: false, Index: 5, Size: 7},
	}
}

func TestVectors(t *testing.T) {
	dir := filepath.Join("testdata", "vectors")
	seals, receipts := makeSealVectors(t), makeReceiptVectors(t)
	if *updateVectors {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		write := func(name string, v any) {
			b, _ := json.MarshalIndent(v, "", "  ")
			if err := os.WriteFile(filepath.Join(dir, name+".json"), append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range seals {
			write(v.Name, v)
		}
		for _, v := range receipts {
			write(v.Name, v)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) < len(seals)+len(receipts) {
		t.Fatalf("%d vector files in %s, want %d: run go test ./crypto/seal -run TestVectors -update-vectors", len(files), dir, len(seals)+len(receipts))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(filepath.Base(f), "receipt") {
			var v ReceiptVector
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			ver, err := note.NewVerifier(v.LogKey)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tlog.VerifyReceipt([]byte(v.Receipt), nil, ver)
			if (err == nil) != v.OK {
				t.Errorf("%s: Go says %v, the vector says ok=%v", f, err, v.OK)
			}
			if err == nil && (got.Index != v.Index || got.Checkpoint.Size != v.Size || base64.StdEncoding.EncodeToString(got.Extra) != v.Leaf) {
				t.Errorf("%s: index %d size %d, want %d %d", f, got.Index, got.Checkpoint.Size, v.Index, v.Size)
			}
			continue
		}
		var v SealVector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		root, _ := base64.StdEncoding.DecodeString(v.TrustRoot)
		l, err := trust.ParseAt(v.TrustList, root, v.Now)
		if err != nil {
			t.Fatalf("%s: trust list: %v", f, err)
		}
		_, err = seal.Verify(v.Text, l, v.Now)
		if got := seal.Code(err); got != v.Code {
			t.Errorf("%s: Go says %q (%v), the vector says %q", f, got, err, v.Code)
		}
		if s, err := seal.Parse(v.Text); err == nil {
			if got, _ := json.Marshal(keyring.View(s)); v.Claims == nil || string(got) != string(mustJSON(v.Claims)) {
				t.Errorf("%s: claims %s, the vector says %s", f, got, mustJSON(v.Claims))
			}
		} else if v.Claims != nil {
			t.Errorf("%s: does not parse (%v) but the vector has claims", f, err)
		}
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
