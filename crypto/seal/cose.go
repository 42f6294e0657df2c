package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// KID identifies an office signing key: the first 8 bytes of the SHA-256 of
// the raw 32-byte Ed25519 public key (the EU DCC rule, applied to the key
// rather than a certificate). Deriving it from the key means nobody chooses
// kids, two keys cannot be given the same kid by mistake, and a verifier can
// check that a resolved key really is the one the seal names. Eight bytes
// keep the seal small; the trust list refuses duplicate kids, so a
// truncation collision could never be loaded.
type KID [8]byte

// KeyID returns the kid of an Ed25519 public key.
func KeyID(pub ed25519.PublicKey) KID {
	sum := sha256.Sum256(pub)
	var k KID
	copy(k[:], sum[:])
	return k
}

// ParseKID parses the unpadded base64url form of a kid.
func ParseKID(s string) (KID, error) {
	var k KID
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, fmt.Errorf("seal: kid %q is not %d base64url bytes", s, len(k))
	}
	copy(k[:], b)
	return k, nil
}

// String returns the kid as unpadded base64url (11 characters).
func (k KID) String() string { return base64.RawURLEncoding.EncodeToString(k[:]) }

// MarshalText implements [encoding.TextMarshaler] (used by the trust list).
func (k KID) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (k *KID) UnmarshalText(b []byte) error {
	v, err := ParseKID(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

const (
	coseTagSign1 = 0xd2 // CBOR tag 18 (COSE_Sign1), one byte
	coseAlgEdDSA = 0x27 // CBOR -8
	coseEmptyMap = 0xa0
)

// appendHead appends a CBOR head of the given major type (0..7) and argument
// in its shortest form.
func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= 0xff:
		return append(dst, m|24, byte(n))
	case n <= 0xffff:
		return append(dst, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(dst, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(dst, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func appendBstr(dst, b []byte) []byte {
	return append(appendHead(dst, 2, uint64(len(b))), b...)
}

// protectedHeader returns the serialized protected header {1: -8, 4: kid}.
func protectedHeader(kid KID) []byte {
	b := make([]byte, 0, 4+len(kid)+1)
	b = append(b, 0xa2, 0x01, coseAlgEdDSA, 0x04)
	return appendBstr(b, kid[:])
}

// sigStructure returns the COSE Sig_structure that an Ed25519 signature
// covers: ["Signature1", protected, empty external_aad, payload] (RFC 9052
// §4.4). It is built
// by hand: it is four items, and this avoids a reflective encode per
// verification.
func sigStructure(protected, payload []byte) []byte {
	const context = "Signature1"
	b := make([]byte, 0, 1+1+len(context)+3+len(protected)+1+3+len(payload))
	b = append(b, 0x84, 0x60|byte(len(context)))
	b = append(b, context...)
	b = appendBstr(b, protected)
	b = append(b, 0x40) // external_aad: empty
	return appendBstr(b, payload)
}

// marshalSign1 returns the tagged COSE_Sign1 with an empty unprotected header.
func marshalSign1(protected, payload, sig []byte) []byte {
	b := make([]byte, 0, 3+len(protected)+1+3+len(payload)+2+len(sig))
	b = append(b, coseTagSign1, 0x84)
	b = appendBstr(b, protected)
	b = append(b, coseEmptyMap)
	b = appendBstr(b, payload)
	return appendBstr(b, sig)
}

// wireSign1 is the untagged COSE_Sign1 array for decoding.
type wireSign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// wireHeader is the protected header for decoding. Crit is decoded only to
// report it precisely; any other label is an unknown field.
type wireHeader struct {
	Alg  cbor.RawMessage `cbor:"1,keyasint"`
	Crit cbor.RawMessage `cbor:"2,keyasint"`
	KID  []byte          `cbor:"4,keyasint"`
}

// unmarshalSign1 decodes a tagged COSE_Sign1 in this package's profile and
// returns its kid, serialized protected header, payload and signature.
func unmarshalSign1(b []byte) (kid KID, protected, payload, sig []byte, err error) {
	if len(b) == 0 || b[0] != coseTagSign1 {
		return kid, nil, nil, nil, fmt.Errorf("%w: not a tagged COSE_Sign1", ErrCBOR)
	}
	var w wireSign1
	if err := decMode.Unmarshal(b[1:], &w); err != nil {
		return kid, nil, nil, nil, fmt.Errorf("%w: COSE_Sign1: %w", ErrCBOR, err)
	}
	if len(w.Unprotected) != 1 || w.Unprotected[0] != coseEmptyMap {
		return kid, nil, nil, nil, fmt.Errorf("%w: unprotected header must be empty", ErrHeader)
	}
	var h wireHeader
	if err := decMode.Unmarshal(w.Protected, &h); err != nil {
		var unknown *cbor.UnknownFieldError
		if errors.As(err, &unknown) {
			// Report crit ahead of the labels it names: decode again without
			// the unknown-label check just to see whether crit is there.
			var lax wireHeader
			if laxDecMode.Unmarshal(w.Protected, &lax) == nil && lax.Crit != nil {
				return kid, nil, nil, nil, fmt.Errorf("%w: crit %x", ErrCritical, []byte(lax.Crit))
			}
			return kid, nil, nil, nil, fmt.Errorf("%w: %w", ErrHeader, err)
		}
		return kid, nil, nil, nil, fmt.Errorf("%w: protected header: %w", ErrCBOR, err)
	}
	switch {
	case h.Crit != nil:
		return kid, nil, nil, nil, fmt.Errorf("%w: crit %x", ErrCritical, []byte(h.Crit))
	case len(h.Alg) != 1 || h.Alg[0] != coseAlgEdDSA:
		return kid, nil, nil, nil, fmt.Errorf("%w: alg %x", ErrAlgorithm, []byte(h.Alg))
	case len(h.KID) != len(kid):
		return kid, nil, nil, nil, fmt.Errorf("%w: kid must be %d bytes, got %d", ErrHeader, len(kid), len(h.KID))
	}
	copy(kid[:], h.KID)
	if !bytes.Equal(w.Protected, protectedHeader(kid)) {
		return kid, nil, nil, nil, fmt.Errorf("%w: protected header is not deterministically encoded", ErrCBOR)
	}
	if len(w.Signature) != ed25519.SignatureSize {
		return kid, nil, nil, nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrSignature, len(w.Signature), ed25519.SignatureSize)
	}
	if !bytes.Equal(marshalSign1(w.Protected, w.Payload, w.Signature), b) {
		return kid, nil, nil, nil, fmt.Errorf("%w: COSE_Sign1 is not deterministically encoded", ErrCBOR)
	}
	return kid, w.Protected, w.Payload, w.Signature, nil
}
