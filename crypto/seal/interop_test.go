package seal

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/veraison/go-cose"
)

// The codec builds and checks COSE_Sign1 by hand (see cose.go). These tests
// hold it to go-cose, an independent implementation, in both directions.

func TestInteropGoCOSEVerifiesOurSeal(t *testing.T) {
	s := testSigner(t, 1)
	text := mustSign(t, maxClaims(t), s)
	raw, err := decodeBase45(strings.TrimPrefix(text, Prefix))
	if err != nil {
		t.Fatal(err)
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(raw); err != nil {
		t.Fatalf("go-cose cannot decode our seal: %v", err)
	}
	v, err := cose.NewVerifier(cose.AlgorithmEdDSA, pub(s.Key))
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Verify(nil, v); err != nil {
		t.Fatalf("go-cose does not verify our seal: %v", err)
	}
	if alg, _ := msg.Headers.Protected.Algorithm(); alg != cose.AlgorithmEdDSA {
		t.Errorf("alg = %v", alg)
	}
	if kid, _ := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte); !bytes.Equal(kid, s.KID[:]) {
		t.Errorf("kid = %x, want %x", kid, s.KID[:])
	}
	if len(msg.Headers.Unprotected) != 0 {
		t.Errorf("unprotected header = %v", msg.Headers.Unprotected)
	}
}

func TestInteropWeVerifyGoCOSESeal(t *testing.T) {
	s := testSigner(t, 1)
	c := typicalClaims(t)
	payload, err := marshalClaims(&c)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	headers := cose.Headers{Protected: cose.ProtectedHeader{
		cose.HeaderLabelAlgorithm: cose.AlgorithmEdDSA,
		cose.HeaderLabelKeyID:     s.KID[:],
	}}
	raw, err := cose.Sign1(rand.Reader, signer, headers, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := textOf(raw)
	if text != mustSign(t, c, s) {
		t.Error("go-cose and this package encode the same seal differently")
	}
	got, err := Verify(text, keySetFor(1, "MFA"), t0)
	if err != nil {
		t.Fatalf("Verify of a go-cose seal: %v", err)
	}
	if got != c {
		t.Fatalf("claims %+v, want %+v", got, c)
	}

	// go-cose accepts a kid in the unprotected header; this profile does not.
	headers = cose.Headers{
		Protected:   cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmEdDSA},
		Unprotected: cose.UnprotectedHeader{cose.HeaderLabelKeyID: s.KID[:]},
	}
	raw, err = cose.Sign1(rand.Reader, signer, headers, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(textOf(raw)); err == nil {
		t.Fatal("accepted a kid in the unprotected header")
	}
}
