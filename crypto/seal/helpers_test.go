package seal

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// testKey returns a deterministic Ed25519 key; different n, different key.
func testKey(n byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = n
	}
	return ed25519.NewKeyFromSeed(seed)
}

func testSigner(t testing.TB, n byte) Signer {
	t.Helper()
	s, err := NewSigner(testKey(n))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func mustBagID(t testing.TB, s string) BagID {
	t.Helper()
	id, err := ParseBagID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// typicalClaims are the claims of an ordinary bag leaving the ministry.
func typicalClaims(t testing.TB) Claims {
	return Claims{
		BagID:        mustBagID(t, "0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e"),
		Registry:     "KZ-MFA-2026-000123",
		Origin:       "MFA",
		Destination:  "DE-BER",
		Package:      2,
		Packages:     3,
		PhysicalSeal: "ASTM-00412345",
		ManifestHash: HashManifest([]byte("manifest of bag 000123")),
		IssuedAt:     t0.Add(-time.Hour),
		Expires:      t0.Add(14 * 24 * time.Hour),
		Serial:       Serial{1, 2, 3, 4, 5, 6, 7, 8},
	}
}

// maxClaims fills every field to its largest allowed encoding.
func maxClaims(t testing.TB) Claims {
	c := typicalClaims(t)
	c.Registry = strings.Repeat("Z", MaxRegistryLen)
	c.Origin = "MFA" + strings.Repeat("O", MaxUnitCodeLen-3)
	c.Destination = strings.Repeat("D", MaxUnitCodeLen)
	c.Package, c.Packages = MaxPackages, MaxPackages
	c.PhysicalSeal = strings.Repeat("P", MaxPhysicalSealLen)
	for i := range c.ManifestHash {
		c.ManifestHash[i] = 0xff
	}
	for i := range c.Serial {
		c.Serial[i] = 0xff
	}
	c.IssuedAt = time.Unix(1<<32-1-int64(MaxLifetime/time.Second), 0).UTC()
	c.Expires = time.Unix(1<<32-1, 0).UTC()
	return c
}

// keySetFor returns a KeySet holding signer n's key for office, valid for
// signing for a year around t0.
func keySetFor(n byte, office string) *KeySet {
	ks := &KeySet{}
	ks.Add(Key{
		Public:    pub(testKey(n)),
		Office:    office,
		NotBefore: t0.AddDate(0, -6, 0),
		NotAfter:  t0.AddDate(0, 6, 0),
	})
	return ks
}

func mustSign(t testing.TB, c Claims, s Signer) string {
	t.Helper()
	text, err := Sign(c, s)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return text
}

// textOf wraps raw COSE bytes as seal text.
func textOf(cose []byte) string { return Prefix + string(appendBase45(nil, cose)) }

// signRaw makes a seal from an arbitrary protected header and payload, with
// a valid signature by s, so that tests reach the parser's structural checks
// rather than failing at the signature.
func signRaw(s Signer, protected, payload []byte) []byte {
	sig := ed25519.Sign(s.Key, sigStructure(protected, payload))
	return marshalSign1(protected, payload, sig)
}

// cborMap encodes pairs (key, raw CBOR value) as a definite map in the
// given order, duplicates allowed: the tests need encodings the library
// refuses to produce.
func cborMap(pairs ...any) []byte {
	b := appendHead(nil, 5, uint64(len(pairs)/2))
	for i := 0; i < len(pairs); i += 2 {
		switch k := pairs[i].(type) {
		case int:
			b = appendInt(b, k)
		case string:
			b = append(appendHead(b, 3, uint64(len(k))), k...)
		}
		b = append(b, pairs[i+1].([]byte)...)
	}
	return b
}

func appendInt(b []byte, n int) []byte {
	if n < 0 {
		return appendHead(b, 1, uint64(-1-n))
	}
	return appendHead(b, 0, uint64(n))
}

func cInt(n int) []byte      { return appendInt(nil, n) }
func cBytes(b []byte) []byte { return appendBstr(nil, b) }
func cText(s string) []byte  { return append(appendHead(nil, 3, uint64(len(s))), s...) }
