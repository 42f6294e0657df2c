package seal

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

// A remembered signature gives the answer a fresh verification would: the
// same seal verifies again, a seal whose signature belongs to other claims
// is still refused after the genuine one was remembered, and what is not a
// signature (a revoked key, an expired seal) is decided every time.
func TestMemoAnswersAsVerify(t *testing.T) {
	mfa := testSigner(t, 1)
	base := typicalClaims(t)
	genuine := mustSign(t, base, mfa)
	var m Memo

	for i := 0; i < 2; i++ {
		if _, err := VerifyWith(genuine, keySetFor(1, "MFA"), t0, &m); err != nil {
			t.Fatalf("verification %d of a genuine seal: %v", i+1, err)
		}
	}
	if m.seen.Len() != 1 {
		t.Fatalf("memo holds %d signatures after one genuine seal, want 1", m.seen.Len())
	}

	// Claims of another seal under the genuine one's signature.
	other := base
	other.Destination = "JP-TYO"
	a, _ := Parse(genuine)
	b, _ := Parse(mustSign(t, other, mfa))
	forged := textOf(marshalSign1(b.Protected, b.Payload, a.Signature))
	for i := 0; i < 2; i++ {
		if _, err := VerifyWith(forged, keySetFor(1, "MFA"), t0, &m); !errors.Is(err, ErrSignature) {
			t.Fatalf("forged seal, try %d: err = %v, want ErrSignature", i+1, err)
		}
	}
	if m.seen.Len() != 1 {
		t.Fatalf("a failed signature was remembered: %d entries", m.seen.Len())
	}

	revoked := keySetFor(1, "MFA")
	k := revoked.Keys[mfa.KID]
	k.Revoked = true
	revoked.Keys[mfa.KID] = k
	if _, err := VerifyWith(genuine, revoked, t0, &m); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("remembered seal under a revoked key: err = %v, want ErrKeyRevoked", err)
	}
	if _, err := VerifyWith(genuine, keySetFor(1, "MFA"), base.Expires, &m); !errors.Is(err, ErrSealExpired) {
		t.Fatalf("remembered seal after its expiry: err = %v, want ErrSealExpired", err)
	}
}

// The same bytes split differently between signature and message are not
// the remembered signature: a 63-byte "signature" never verifies.
func TestMemoKeyIsUnambiguous(t *testing.T) {
	k := testKey(7)
	msg := []byte("signed bytes of a seal")
	sig := ed25519.Sign(k, msg)
	var m Memo
	if !m.verify(pub(k), msg, sig) {
		t.Fatal("a genuine signature does not verify")
	}
	shifted := append([]byte{sig[len(sig)-1]}, msg...)
	if m.verify(pub(k), shifted, sig[:len(sig)-1]) {
		t.Fatal("the remembered bytes, split one byte earlier, verified")
	}
}
