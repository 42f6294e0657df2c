package seal

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// ClockSkew is how far in the future a seal's issued-at may be before it is
// refused. Couriers' phones are often offline for hours, and their clocks
// drift; a few minutes tolerate that without letting a post-dated seal pass.
const ClockSkew = 5 * time.Minute

// Key is an office signing key as a verifier knows it.
type Key struct {
	Public ed25519.PublicKey
	Office string // unit code of the issuing office

	// NotBefore and NotAfter bound when the key may sign (both inclusive).
	// They are compared with the seal's issued-at, not with the time of
	// verification: a seal signed inside the window stays valid until its
	// own expiry, so keys can rotate without invalidating bags in transit.
	NotBefore time.Time
	NotAfter  time.Time

	// Revoked marks a compromised key. Every seal it signed is refused,
	// whatever its issued-at says, because a thief can write any issued-at.
	Revoked bool
}

// KeyResolver supplies verification keys and seal revocations; trust.List
// implements it from the signed trust list, so verification works offline.
type KeyResolver interface {
	// SealKey returns the key with this kid, or an error wrapping
	// ErrUnknownKey if there is none. Other errors (a failing database)
	// are passed through and make verification fail.
	SealKey(kid KID) (Key, error)
	// SealRevoked reports whether the seal with this serial is revoked.
	SealRevoked(serial Serial) (bool, error)
}

// Verify parses a seal text and verifies it at time now against keys,
// returning its claims only if every check passes. To show the claims of a
// seal that fails (say, an expired one), use [Parse] and [Sealed.Verify].
func Verify(text string, keys KeyResolver, now time.Time) (Claims, error) {
	return VerifyWith(text, keys, now, nil)
}

// VerifyWith is [Verify] with the signature check remembered in m (nil: not
// remembered); the answer is the same.
func VerifyWith(text string, keys KeyResolver, now time.Time, m *Memo) (Claims, error) {
	s, err := Parse(text)
	if err != nil {
		return Claims{}, err
	}
	if err := s.VerifyWith(keys, now, m); err != nil {
		return Claims{}, err
	}
	return s.Claims, nil
}

// Verify checks the seal at time now against keys. It reports the first
// failure in this order: unknown key, signature, key revoked, wrong office,
// issued-at outside the key's window, seal revoked, issued in the future,
// expired. The signature comes first so that every later reason describes
// authentic claims.
func (s *Sealed) Verify(keys KeyResolver, now time.Time) error {
	return s.VerifyWith(keys, now, nil)
}

// VerifyWith is [Sealed.Verify] with the signature check remembered in m
// (nil: not remembered); the answer is the same.
func (s *Sealed) VerifyWith(keys KeyResolver, now time.Time, m *Memo) error {
	if keys == nil {
		return fmt.Errorf("%w: no key resolver", ErrUnknownKey)
	}
	k, err := keys.SealKey(s.KID)
	if err != nil {
		return fmt.Errorf("seal: resolving kid %s: %w", s.KID, err)
	}
	if len(k.Public) != ed25519.PublicKeySize || KeyID(k.Public) != s.KID {
		// A resolver that hands out another key under this kid is broken;
		// refuse rather than trust its answer.
		return fmt.Errorf("%w: resolver returned a key that does not match kid %s", ErrUnknownKey, s.KID)
	}
	if !m.verify(k.Public, s.SignedBytes(), s.Signature) {
		return fmt.Errorf("%w: kid %s", ErrSignature, s.KID)
	}
	c := &s.Claims
	switch {
	case k.Revoked:
		return fmt.Errorf("%w: kid %s", ErrKeyRevoked, s.KID)
	case k.Office != c.Origin:
		return fmt.Errorf("%w: kid %s belongs to %q, seal claims origin %q", ErrWrongOffice, s.KID, k.Office, c.Origin)
	case c.IssuedAt.Before(k.NotBefore):
		return fmt.Errorf("%w: issued %v, key valid from %v", ErrKeyNotYetValid, c.IssuedAt, k.NotBefore.UTC())
	case c.IssuedAt.After(k.NotAfter):
		return fmt.Errorf("%w: issued %v, key valid until %v", ErrKeyExpired, c.IssuedAt, k.NotAfter.UTC())
	}
	revoked, err := keys.SealRevoked(c.Serial)
	if err != nil {
		return fmt.Errorf("seal: checking revocation of serial %s: %w", c.Serial, err)
	}
	switch {
	case revoked:
		return fmt.Errorf("%w: serial %s", ErrSealRevoked, c.Serial)
	case c.IssuedAt.After(now.Add(ClockSkew)):
		return fmt.Errorf("%w: issued %v, now %v", ErrSealFromFuture, c.IssuedAt, now.UTC())
	case !now.Before(c.Expires):
		return fmt.Errorf("%w: at %v, now %v", ErrSealExpired, c.Expires, now.UTC())
	}
	return nil
}

// KeySet is a simple in-memory [KeyResolver], for tests and for servers that
// load keys from their own store. The zero value is empty and usable.
type KeySet struct {
	Keys    map[KID]Key
	Revoked map[Serial]bool
}

// Add registers k under its derived kid.
func (ks *KeySet) Add(k Key) KID {
	if ks.Keys == nil {
		ks.Keys = make(map[KID]Key)
	}
	kid := KeyID(k.Public)
	ks.Keys[kid] = k
	return kid
}

// SealKey implements [KeyResolver].
func (ks *KeySet) SealKey(kid KID) (Key, error) {
	k, ok := ks.Keys[kid]
	if !ok {
		return Key{}, ErrUnknownKey
	}
	return k, nil
}

// SealRevoked implements [KeyResolver].
func (ks *KeySet) SealRevoked(s Serial) (bool, error) { return ks.Revoked[s], nil }

var _ KeyResolver = (*KeySet)(nil)
