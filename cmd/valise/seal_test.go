package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/crypto/secret"
	"valise/crypto/trust"
	"valise/internal/db"
	"valise/internal/dbtest"
)

// now is the fixed verification time of the offline tests.
var now = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func key(n byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, 32)) }
func pubOf(k ed25519.PrivateKey) ed25519.PublicKey {
	return k.Public().(ed25519.PublicKey)
}

// fixture is a root, two office keys and a trust list on disk.
type fixture struct {
	dir, trustFile, rootB64 string
	root                    ed25519.PrivateKey
	mfa, ber                seal.Signer
}

func newFixture(t *testing.T, edit func(*trust.List)) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), root: key(1)}
	f.mfa, _ = seal.NewSigner(key(2))
	f.ber, _ = seal.NewSigner(key(3))
	l := &trust.List{Sequence: 5, IssuedAt: now.Add(-2 * time.Hour), StaleAfter: now.Add(5 * 24 * time.Hour),
		Keys: []trust.Key{
			{KID: f.mfa.KID, Office: "MFA", PublicKey: pubOf(f.mfa.Key), NotBefore: now.Add(-30 * 24 * time.Hour), NotAfter: now.Add(300 * 24 * time.Hour), Status: trust.StatusActive},
			{KID: f.ber.KID, Office: "DE-BER", PublicKey: pubOf(f.ber.Key), NotBefore: now.Add(-30 * 24 * time.Hour), NotAfter: now.Add(300 * 24 * time.Hour), Status: trust.StatusActive},
		},
		RevokedSerials: []seal.Serial{{9, 9, 9, 9, 9, 9, 9, 9}}}
	if edit != nil {
		edit(l)
	}
	doc, err := trust.Sign(l, f.root)
	if err != nil {
		t.Fatal(err)
	}
	f.trustFile = filepath.Join(f.dir, "trust.json")
	if err := os.WriteFile(f.trustFile, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	f.rootB64 = base64.StdEncoding.EncodeToString(pubOf(f.root))
	return f
}

func claims() seal.Claims {
	id, _ := seal.ParseBagID("0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e")
	return seal.Claims{BagID: id, Registry: "MFA-2026-000123", Origin: "MFA", Destination: "DE-BER",
		Package: 1, Packages: 2, PhysicalSeal: "ASTM-00412345", ManifestHash: seal.HashManifest([]byte("m")),
		IssuedAt: now.Add(-time.Hour), Expires: now.Add(14 * 24 * time.Hour), Serial: seal.Serial{1, 2, 3, 4, 5, 6, 7, 8}}
}

func sign(t *testing.T, c seal.Claims, s seal.Signer) string {
	t.Helper()
	text, err := seal.Sign(c, s)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Minimal RFC 9285 Base45, to tamper with seal bytes as an attacker would.
const b45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

func b45decode(t *testing.T, s string) []byte {
	var out []byte
	for i := 0; i < len(s); i += 3 {
		n, m := 0, 1
		for j := i; j < min(i+3, len(s)); j++ {
			n += strings.IndexByte(b45, s[j]) * m
			m *= 45
		}
		if i+2 < len(s) {
			out = append(out, byte(n>>8), byte(n))
		} else {
			out = append(out, byte(n))
		}
	}
	return out
}

func b45encode(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 2 {
		if i+1 < len(b) {
			n := int(b[i])<<8 | int(b[i+1])
			sb.WriteByte(b45[n%45])
			sb.WriteByte(b45[n/45%45])
			sb.WriteByte(b45[n/2025])
		} else {
			n := int(b[i])
			sb.WriteByte(b45[n%45])
			sb.WriteByte(b45[n/45])
		}
	}
	return sb.String()
}

// tamper rewrites the COSE bytes of a seal with edit.
func tamper(t *testing.T, text string, edit func([]byte) []byte) string {
	raw := b45decode(t, strings.TrimPrefix(text, seal.Prefix))
	return seal.Prefix + b45encode(edit(raw))
}

func verify(t *testing.T, f *fixture, extra ...string) (int, string, string) {
	t.Helper()
	args := append([]string{"seal", "verify", "--trust", f.trustFile, "--root-key", f.rootB64, "--now", now.Format(time.RFC3339)}, extra...)
	return runCmd(t, args...)
}

func TestSealVerifyOffline(t *testing.T) {
	f := newFixture(t, nil)
	good := sign(t, claims(), f.mfa)
	otherOffice := sign(t, claims(), f.ber) // Berlin's key claiming a ministry bag
	revokedSerial := claims()
	revokedSerial.Serial = seal.Serial{9, 9, 9, 9, 9, 9, 9, 9}
	expired := claims()
	expired.IssuedAt, expired.Expires = now.Add(-10*24*time.Hour), now.Add(-time.Hour)
	future := claims()
	future.IssuedAt = now.Add(time.Hour)
	forgedSig := tamper(t, good, func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
	changedClaim := tamper(t, good, func(b []byte) []byte {
		i := bytes.Index(b, []byte("MFA-2026-000123"))
		b[i+len("MFA-2026-00012")] = '4' // registry ...124: same length, valid CBOR
		return b
	})
	mfaSigner := f.mfa

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"valid", []string{good}, 0, "VALID"},
		{"valid shows claims and age", []string{good}, 0, "package        1 of 2"},
		{"list age", []string{good}, 0, "2h0m0s old"},
		{"forged signature", []string{forgedSig}, 1, "INVALID: bad_signature"},
		{"changed claim bytes", []string{changedClaim}, 1, "INVALID: bad_signature"},
		{"another office's key", []string{otherOffice}, 1, "INVALID: wrong_office"},
		{"revoked serial", []string{sign(t, revokedSerial, mfaSigner)}, 1, "INVALID: seal_revoked"},
		{"expired seal", []string{sign(t, expired, mfaSigner)}, 1, "INVALID: seal_expired"},
		{"seal from the future", []string{sign(t, future, mfaSigner)}, 1, "INVALID: seal_from_future"},
		{"wrong prefix", []string{"HC1:" + strings.TrimPrefix(good, "VS1:")}, 2, "bad_prefix"},
		{"truncated base45", []string{good[:len(good)-1]}, 2, "bad_base45"},
		{"truncated COSE", []string{good[:len(good)-3]}, 2, "bad_cbor"},
		{"oversized", []string{"VS1:" + strings.Repeat("A", seal.MaxTextLen)}, 2, "too_large"},
		{"two seals", []string{good, good}, 2, "give one seal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := verify(t, f, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tt.code, tt.want, out, errs)
			}
		})
	}
}

func TestSealVerifyKeyWindows(t *testing.T) {
	tests := []struct {
		name string
		edit func(*trust.Key)
		want string
	}{
		{"revoked key", func(k *trust.Key) { k.Status, k.RevokedAt = trust.StatusRevoked, now.Add(-time.Minute) }, "key_revoked"},
		{"not-yet-valid key", func(k *trust.Key) { k.NotBefore = now.Add(-time.Minute) }, "key_not_yet_valid"},
		{"expired key", func(k *trust.Key) {
			k.NotBefore, k.NotAfter, k.Status = now.Add(-90*24*time.Hour), now.Add(-2*time.Hour), trust.StatusRetired
		}, "key_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(l *trust.List) { tt.edit(&l.Keys[0]) }) // the MFA key
			code, out, _ := verify(t, f, sign(t, claims(), f.mfa))
			if code != 1 || !strings.Contains(out, "INVALID: "+tt.want) {
				t.Fatalf("exit %d: %s", code, out)
			}
		})
	}
}

func TestSealVerifyTrustList(t *testing.T) {
	f := newFixture(t, nil)
	good := sign(t, claims(), f.mfa)

	// Signed by another root: refused, the seal is not judged.
	l, _ := trust.ParseAt(mustRead(t, f.trustFile), pubOf(f.root), now)
	forged, err := trust.Sign(l, key(9))
	if err != nil {
		t.Fatal(err)
	}
	forgedFile := filepath.Join(f.dir, "forged.json")
	_ = os.WriteFile(forgedFile, forged, 0o644)
	code, out, _ := runCmd(t, "seal", "verify", good, "--trust", forgedFile, "--root-key", f.rootB64, "--now", now.Format(time.RFC3339))
	if code != 1 || !strings.Contains(out, "trust list refused") || strings.Contains(out, "VALID\n") {
		t.Errorf("foreign root: exit %d %s", code, out)
	}
	// From the future.
	fut := newFixture(t, func(l *trust.List) { l.IssuedAt, l.StaleAfter = now.Add(time.Hour), now.Add(48*time.Hour) })
	if code, out, _ := verify(t, fut, good); code != 1 || !strings.Contains(out, "issued in the future") {
		t.Errorf("future list: exit %d %s", code, out)
	}
	// Stale: refused, unless --allow-stale, and the age is said either way.
	stale := newFixture(t, func(l *trust.List) { l.IssuedAt, l.StaleAfter = now.Add(-10*24*time.Hour), now.Add(-3*24*time.Hour) })
	if code, out, _ := verify(t, stale, good); code != 1 || !strings.Contains(out, "trust_list_stale") || !strings.Contains(out, "240h0m0s old") {
		t.Errorf("stale list: exit %d %s", code, out)
	}
	if code, out, _ := verify(t, stale, good, "--allow-stale"); code != 0 || !strings.Contains(out, "STALE") {
		t.Errorf("stale list allowed: exit %d %s", code, out)
	}
	// Garbage and missing inputs are unusable.
	t.Setenv("VALISE_DATA_DIR", t.TempDir()) // no pinned root key there either
	junk := filepath.Join(f.dir, "junk.json")
	_ = os.WriteFile(junk, []byte("{not json"), 0o644)
	for name, args := range map[string][]string{
		"junk list":   {"seal", "verify", good, "--trust", junk, "--root-key", f.rootB64},
		"no list":     {"seal", "verify", good, "--root-key", f.rootB64},
		"no root key": {"seal", "verify", good, "--trust", f.trustFile},
		"bad root":    {"seal", "verify", good, "--trust", f.trustFile, "--root-key", "AAAA"},
	} {
		if code, _, errs := runCmd(t, args...); code != 2 || !strings.Contains(errs, "unusable input") {
			t.Errorf("%s: exit %d %s", name, code, errs)
		}
	}
}

func TestSealVerifyPNGAndStdin(t *testing.T) {
	f := newFixture(t, nil)
	good := sign(t, claims(), f.mfa)
	img, err := seal.PNG(good, 400)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(f.dir, "seal.png")
	_ = os.WriteFile(p, img, 0o644)
	if code, out, errs := verify(t, f, "--png", p); code != 0 || !strings.Contains(out, "VALID") {
		t.Fatalf("png: exit %d %s %s", code, out, errs)
	}
	blank := filepath.Join(f.dir, "blank.png")
	_ = os.WriteFile(blank, []byte("not an image"), 0o644)
	if code, _, errs := verify(t, f, "--png", blank); code != 2 || !strings.Contains(errs, "unusable input") {
		t.Errorf("bad image: exit %d %s", code, errs)
	}
	var out bytes.Buffer
	code := sealVerify([]string{"-", "--trust", f.trustFile, "--root-key", f.rootB64, "--now", now.Format(time.RFC3339)},
		strings.NewReader(good+"\n"), &out, &out)
	if code != 0 {
		t.Errorf("stdin: exit %d %s", code, out.String())
	}
}

// TestKeysCLIAndResealEndToEnd drives `valise keys` against a real database,
// seals and re-seals a bag through the keyring, exports the trust list and
// verifies both seals offline: the old one must fail as revoked.
func TestKeysCLIAndResealEndToEnd(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for _, u := range []string{"MFA", "DE-BER"} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO units (code, name, kind) VALUES ($1, $1, 'embassy')`, u); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	t.Setenv(secret.EnvVar, "")
	common := []string{"--database-url=" + d.URL, "--data-dir=" + dir}
	keys := func(args ...string) (int, string, string) {
		return runCmd(t, append(append([]string{"keys"}, args...), common...)...)
	}
	if code, out, errs := keys("init-root"); code != 0 || !strings.Contains(out, "pinned in") {
		t.Fatalf("init-root: %d %s %s", code, out, errs)
	}
	if code, _, errs := keys("init-root"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("second init-root: %d %s", code, errs)
	}
	if code, out, errs := keys("issue", "--office", "MFA"); code != 0 || !strings.Contains(out, "active") {
		t.Fatalf("issue: %d %s %s", code, out, errs)
	}
	if code, _, errs := keys("issue"); code != 2 || !strings.Contains(errs, "--office is required") {
		t.Errorf("issue without office: %d %s", code, errs)
	}
	if code, _, errs := keys("rotate", "--office", "DE-BER"); code != 1 || !strings.Contains(errs, "no active seal key") {
		t.Errorf("rotate without key: %d %s", code, errs)
	}
	if code, out, _ := keys("rotate", "--office", "MFA", "--overlap", "1000h"); code != 0 || !strings.Contains(out, "retired") {
		t.Errorf("rotate: %d %s", code, out)
	}
	code, out, _ := keys("list")
	if code != 0 || strings.Count(out, "MFA") != 2 {
		t.Errorf("list: %d %s", code, out)
	}

	master, err := secret.LoadMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := keyring.New(master, keyring.Options{})
	f := keyring.BagFacts{BagID: "0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", Registry: "MFA-2026-000001", Origin: "MFA",
		Destination: "DE-BER", Packages: 1, PhysicalSerials: []string{"P-1"}, ManifestHash: seal.HashManifest([]byte("m"))}
	var old, fresh []*keyring.Seal
	if err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) (err error) { old, err = kr.IssueSeals(ctx, tx, f); return err }); err != nil {
		t.Fatal(err)
	}
	f.PhysicalSerials = []string{"P-2"}
	if err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) (err error) { fresh, err = kr.Reseal(ctx, tx, f, "test", ""); return err }); err != nil {
		t.Fatal(err)
	}
	tl := filepath.Join(dir, "trust.json")
	if code, _, errs := keys("trust-list", "--out", tl); code != 0 {
		t.Fatalf("trust-list: %d %s", code, errs)
	}
	rootFile := filepath.Join(dir, RootKeyFile)
	if code, out, errs := runCmd(t, "seal", "verify", fresh[0].Text, "--trust", tl, "--root-key-file", rootFile); code != 0 {
		t.Errorf("new seal: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCmd(t, "seal", "verify", old[0].Text, "--trust", tl, "--root-key-file", rootFile); code != 1 || !strings.Contains(out, "seal_revoked") {
		t.Errorf("old seal after re-seal: %d %s", code, out)
	}
	// Revoking the signing key makes the new seal fail too.
	if code, _, errs := keys("revoke", "--kid", fresh[0].KID.String(), "--reason", "test"); code != 0 {
		t.Fatalf("revoke: %d %s", code, errs)
	}
	_, _, _ = keys("trust-list", "--out", tl)
	if code, out, _ := runCmd(t, "seal", "verify", fresh[0].Text, "--trust", tl, "--root-key-file", rootFile); code != 1 || !strings.Contains(out, "key_revoked") {
		t.Errorf("seal of a revoked key: %d %s", code, out)
	}
}
