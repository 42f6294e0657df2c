package seal

import (
	"crypto/ed25519"
	"testing"
)

// The benchmarks use the largest seal, the worst case for every step.
// Compare BenchmarkVerify with BenchmarkRawEd25519Verify: the difference is
// everything the codec adds to the signature check.

func BenchmarkSign(b *testing.B) {
	c, s := maxClaims(b), testSigner(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(c, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	text := mustSign(b, maxClaims(b), testSigner(b, 1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	c := maxClaims(b)
	text := mustSign(b, c, testSigner(b, 1))
	ks := &KeySet{}
	ks.Add(Key{Public: pub(testKey(1)), Office: c.Origin, NotBefore: c.IssuedAt, NotAfter: c.IssuedAt})
	now := c.IssuedAt
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(text, ks, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawEd25519Verify verifies a signature over a message of the same
// size as the largest seal's Sig_structure.
func BenchmarkRawEd25519Verify(b *testing.B) {
	sealed, err := Parse(mustSign(b, maxClaims(b), testSigner(b, 1)))
	if err != nil {
		b.Fatal(err)
	}
	msg, pk := sealed.SignedBytes(), pub(testKey(1))
	sig := ed25519.Sign(testKey(1), msg)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pk, msg, sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkPNG(b *testing.B) {
	text := mustSign(b, maxClaims(b), testSigner(b, 1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PNG(text, 512); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSVG(b *testing.B) {
	text := mustSign(b, maxClaims(b), testSigner(b, 1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SVG(text, 40); err != nil {
			b.Fatal(err)
		}
	}
}
