package seal

import (
	"crypto/ed25519"
	"fmt"
	"strings"
)

const (
	// Prefix starts every seal text. It names the format version; all of it
	// is in the QR alphanumeric set.
	Prefix = "VS1:"

	// MaxTextLen bounds the seal text. Real seals are at most 402
	// characters; the margin only keeps the bound simple. Longer input is
	// refused before any decoding, so a hostile QR code cannot make the
	// parser allocate or work much.
	MaxTextLen = 1024
)

// Signer is an office's signing key and its kid.
type Signer struct {
	KID KID
	Key ed25519.PrivateKey
}

// NewSigner returns the Signer for key, with the kid derived from its public
// half.
func NewSigner(key ed25519.PrivateKey) (Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Signer{}, fmt.Errorf("%w: private key is %d bytes, want %d", ErrBadKey, len(key), ed25519.PrivateKeySize)
	}
	return Signer{KID: KeyID(key.Public().(ed25519.PublicKey)), Key: key}, nil
}

// Sign validates the claims and returns the seal text. It refuses a Signer
// whose kid is not the one derived from its key, since such a seal could
// never verify.
func Sign(c Claims, s Signer) (string, error) {
	if len(s.Key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("%w: private key is %d bytes, want %d", ErrBadKey, len(s.Key), ed25519.PrivateKeySize)
	}
	if KeyID(s.Key.Public().(ed25519.PublicKey)) != s.KID {
		return "", fmt.Errorf("%w: kid %s is not the key's kid", ErrBadKey, s.KID)
	}
	payload, err := marshalClaims(&c)
	if err != nil {
		return "", err
	}
	protected := protectedHeader(s.KID)
	sig := ed25519.Sign(s.Key, sigStructure(protected, payload))
	msg := marshalSign1(protected, payload, sig)
	out := make([]byte, 0, len(Prefix)+base45EncodedLen(len(msg)))
	out = append(out, Prefix...)
	return string(appendBase45(out, msg)), nil
}

// Sealed is a structurally valid seal whose signature has not been checked.
// Its claims are what the seal says, not yet what its issuer said: show them
// only as unverified until [Sealed.Verify] succeeds.
type Sealed struct {
	KID    KID
	Claims Claims

	Protected []byte // serialized protected header, as signed
	Payload   []byte // serialized claims, as signed
	Signature []byte // Ed25519 signature over SignedBytes
}

// SignedBytes returns the COSE Sig_structure, the exact bytes the signature
// covers.
func (s *Sealed) SignedBytes() []byte { return sigStructure(s.Protected, s.Payload) }

// Parse decodes a seal text and checks its structure and claims, but not its
// signature: use it to display a seal, [Verify] to trust one.
func Parse(text string) (*Sealed, error) {
	if len(text) > MaxTextLen {
		return nil, fmt.Errorf("%w: %d characters, limit %d", ErrTooLarge, len(text), MaxTextLen)
	}
	body, ok := strings.CutPrefix(text, Prefix)
	if !ok {
		return nil, ErrBadPrefix
	}
	raw, err := decodeBase45(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBase45, err)
	}
	kid, protected, payload, sig, err := unmarshalSign1(raw)
	if err != nil {
		return nil, err
	}
	claims, err := unmarshalClaims(payload)
	if err != nil {
		return nil, err
	}
	return &Sealed{KID: kid, Claims: claims, Protected: protected, Payload: payload, Signature: sig}, nil
}
