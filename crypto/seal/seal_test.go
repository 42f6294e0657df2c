package seal

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestSignParseRoundTrip(t *testing.T) {
	s := testSigner(t, 1)
	for name, c := range map[string]Claims{"typical": typicalClaims(t), "max": maxClaims(t)} {
		t.Run(name, func(t *testing.T) {
			text := mustSign(t, c, s)
			if !strings.HasPrefix(text, Prefix) {
				t.Fatalf("text %q lacks prefix", text)
			}
			if strings.Trim(text, base45Alphabet) != "" {
				t.Fatalf("text has characters outside the QR alphanumeric set: %q", text)
			}
			if again := mustSign(t, c, s); again != text {
				t.Fatal("signing the same claims twice gave different texts (Ed25519 is deterministic)")
			}
			sealed, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if sealed.KID != s.KID || sealed.Claims != c {
				t.Fatalf("Parse = kid %s claims %+v; want kid %s claims %+v", sealed.KID, sealed.Claims, s.KID, c)
			}
			if !ed25519.Verify(pub(s.Key), sealed.SignedBytes(), sealed.Signature) {
				t.Fatal("SignedBytes does not verify with ed25519.Verify")
			}
			if got := textOf(marshalSign1(sealed.Protected, sealed.Payload, sealed.Signature)); got != text {
				t.Fatal("re-encoding the parsed parts does not give the text back")
			}
			t.Logf("%s: %d characters", name, len(text))
		})
	}
}

// TestMaxTextLength pins the size the package documentation promises.
func TestMaxTextLength(t *testing.T) {
	text := mustSign(t, maxClaims(t), testSigner(t, 1))
	if len(text) != 402 {
		t.Fatalf("largest seal is %d characters; update the package documentation", len(text))
	}
}

func TestSignRefusesBadKeys(t *testing.T) {
	c := typicalClaims(t)
	s1, s2 := testSigner(t, 1), testSigner(t, 2)
	tests := []struct {
		name   string
		signer Signer
	}{
		{"nil key", Signer{KID: s1.KID}},
		{"short key", Signer{KID: s1.KID, Key: s1.Key[:32]}},
		{"kid of another key", Signer{KID: s2.KID, Key: s1.Key}},
		{"zero kid", Signer{Key: s1.Key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Sign(c, tt.signer); !errors.Is(err, ErrBadKey) {
				t.Fatalf("Sign = %v, want ErrBadKey", err)
			}
		})
	}
	if _, err := NewSigner(s1.Key[:10]); !errors.Is(err, ErrBadKey) {
		t.Fatalf("NewSigner(short) = %v, want ErrBadKey", err)
	}
}

func TestParseText(t *testing.T) {
	good := mustSign(t, typicalClaims(t), testSigner(t, 1))
	body := strings.TrimPrefix(good, Prefix)
	tests := []struct {
		name, text string
		want       error
	}{
		{"good", good, nil},
		{"empty", "", ErrBadPrefix},
		{"prefix only", Prefix, ErrCBOR},
		{"no prefix", body, ErrBadPrefix},
		{"lower-case prefix", "vs1:" + body, ErrBadPrefix},
		{"other format", "HC1:" + body, ErrBadPrefix},
		{"future version", "VS2:" + body, ErrBadPrefix},
		{"leading space", " " + good, ErrBadPrefix},
		{"trailing newline", good + "\n", ErrBase45},
		{"lower-case body", Prefix + strings.ToLower(body), ErrBase45},
		{"truncated by one", good[:len(good)-1], ErrBase45},
		{"truncated to a triplet", good[:len(Prefix)+(len(body)/3-1)*3], ErrCBOR},
		{"too large", Prefix + strings.Repeat("0", MaxTextLen), ErrTooLarge},
		{"too large garbage", strings.Repeat("\xff", MaxTextLen+1), ErrTooLarge},
		{"limit exactly", Prefix + strings.Repeat("0", MaxTextLen-len(Prefix)-1), ErrCBOR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.text)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestParseCOSEStrict checks the COSE_Sign1 profile. Every variant carries a
// valid signature over its own protected header and payload, so a refusal
// is the parser's, not the signature check's.
func TestParseCOSEStrict(t *testing.T) {
	s := testSigner(t, 1)
	c := typicalClaims(t)
	payload, err := marshalClaims(&c)
	if err != nil {
		t.Fatal(err)
	}
	kid := cBytes(s.KID[:])
	prot := protectedHeader(s.KID)
	good := signRaw(s, prot, payload)
	sig := good[len(good)-64:]

	// sign1 builds 18([p, u, payload, sig]) from raw items.
	sign1 := func(tag []byte, items ...[]byte) []byte {
		b := append(append([]byte{}, tag...), appendHead(nil, 4, uint64(len(items)))...)
		for _, it := range items {
			b = append(b, it...)
		}
		return b
	}
	withProt := func(p []byte) []byte { return signRaw(s, p, payload) }
	tag := []byte{coseTagSign1}

	tests := []struct {
		name string
		cose []byte
		want error
	}{
		{"good", good, nil},
		{"good rebuilt", sign1(tag, cBytes(prot), []byte{0xa0}, cBytes(payload), cBytes(sig)), nil},
		{"untagged", good[1:], ErrCBOR},
		{"COSE_Sign tag 98", append([]byte{0xd8, 98}, good[1:]...), ErrCBOR},
		{"tag 18 twice", append([]byte{coseTagSign1}, good...), ErrCBOR},
		{"three items", sign1(tag, cBytes(prot), []byte{0xa0}, cBytes(payload)), ErrCBOR},
		{"five items", sign1(tag, cBytes(prot), []byte{0xa0}, cBytes(payload), cBytes(sig), []byte{0x00}), ErrCBOR},
		{"indefinite array", append(append([]byte{coseTagSign1, 0x9f}, good[2:]...), 0xff), ErrCBOR},
		{"trailing byte", append(append([]byte{}, good...), 0x00), ErrCBOR},
		{"trailing item", append(append([]byte{}, good...), good...), ErrCBOR},
		{"detached payload", sign1(tag, cBytes(prot), []byte{0xa0}, []byte{0xf6}, cBytes(sig)), ErrCBOR},
		{"payload as text", sign1(tag, cBytes(prot), []byte{0xa0}, cText(string(payload)), cBytes(sig)), ErrCBOR},
		{"payload non-minimal length", sign1(tag, cBytes(prot), []byte{0xa0}, append([]byte{0x59, 0, byte(len(payload))}, payload...), cBytes(sig)), ErrCBOR},
		{"payload indefinite bytes", sign1(tag, cBytes(prot), []byte{0xa0}, append(append([]byte{0x5f}, cBytes(payload)...), 0xff), cBytes(sig)), ErrCBOR},
		{"protected as map", sign1(tag, prot, []byte{0xa0}, cBytes(payload), cBytes(sig)), ErrCBOR},
		{"unprotected kid", sign1(tag, cBytes(prot), cborMap(4, kid), cBytes(payload), cBytes(sig)), ErrHeader},
		{"unprotected null", sign1(tag, cBytes(prot), []byte{0xf6}, cBytes(payload), cBytes(sig)), ErrHeader},
		{"unprotected indefinite", sign1(tag, cBytes(prot), []byte{0xbf, 0xff}, cBytes(payload), cBytes(sig)), ErrCBOR},
		{"signature 63 bytes", sign1(tag, cBytes(prot), []byte{0xa0}, cBytes(payload), cBytes(sig[:63])), ErrSignature},
		{"signature 65 bytes", sign1(tag, cBytes(prot), []byte{0xa0}, cBytes(payload), cBytes(append(append([]byte{}, sig...), 0))), ErrSignature},

		{"crit", withProt(cborMap(1, cInt(-8), 2, []byte{0x81, 0x18, 99}, 4, kid, 99, cInt(1))), ErrCritical},
		{"crit on known label", withProt(cborMap(1, cInt(-8), 2, []byte{0x81, 0x01}, 4, kid)), ErrCritical},
		{"content type", withProt(cborMap(1, cInt(-8), 3, cInt(60), 4, kid)), ErrHeader},
		{"private label", withProt(cborMap(1, cInt(-8), 4, kid, -65537, cInt(1))), ErrHeader},
		{"text label", withProt(cborMap(1, cInt(-8), 4, kid, "x", cInt(1))), ErrHeader},
		{"ES256", withProt(cborMap(1, cInt(-7), 4, kid)), ErrAlgorithm},
		{"alg missing", withProt(cborMap(4, kid)), ErrAlgorithm},
		{"alg as text", withProt(cborMap(1, cText("EdDSA"), 4, kid)), ErrAlgorithm},
		{"alg non-minimal", withProt(cborMap(1, []byte{0x38, 0x07}, 4, kid)), ErrAlgorithm},
		{"kid missing", withProt(cborMap(1, cInt(-8))), ErrHeader},
		{"kid 7 bytes", withProt(cborMap(1, cInt(-8), 4, cBytes(s.KID[:7]))), ErrHeader},
		{"kid 32 bytes", withProt(cborMap(1, cInt(-8), 4, cBytes(pub(s.Key)))), ErrHeader},
		{"kid as text", withProt(cborMap(1, cInt(-8), 4, cText(s.KID.String()))), ErrCBOR},
		{"duplicate alg", withProt(cborMap(1, cInt(-8), 1, cInt(-8), 4, kid)), ErrCBOR},
		{"duplicate kid", withProt(cborMap(1, cInt(-8), 4, kid, 4, kid)), ErrCBOR},
		{"labels out of order", withProt(cborMap(4, kid, 1, cInt(-8))), ErrCBOR},
		{"indefinite header", withProt(append(append([]byte{0xbf}, prot[1:]...), 0xff)), ErrCBOR},
		{"empty protected", withProt(nil), ErrCBOR},
		{"protected trailing byte", withProt(append(append([]byte{}, prot...), 0)), ErrCBOR},
		{"tagged kid", withProt(cborMap(1, cInt(-8), 4, append([]byte{0xd8, 0x40}, kid...))), ErrCBOR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := Parse(textOf(tt.cose))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if err := sealed.Verify(keySetFor(1, "MFA"), t0); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSealedSignedBytes checks the Sig_structure against RFC 9052 §4.4 built
// with the CBOR library rather than by hand.
func TestSealedSignedBytes(t *testing.T) {
	sealed, err := Parse(mustSign(t, maxClaims(t), testSigner(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := encMode.Marshal([]any{"Signature1", sealed.Protected, []byte{}, sealed.Payload})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sealed.SignedBytes(), want) {
		t.Fatalf("Sig_structure\n got %x\nwant %x", sealed.SignedBytes(), want)
	}
}
