// Package trust is the signed list of office seal keys and revoked seals
// that couriers' phones cache to verify seals offline.
//
// # Format
//
// A trust list is a DSSE envelope (github.com/secure-systems-lab/dsse):
//
//	{"payload": "<base64 of the JSON list>",
//	 "payloadType": "application/vnd.valise.trust-list+json",
//	 "signatures": [{"keyid": "<root kid>", "sig": "<base64 Ed25519 signature>"}]}
//
// The signature is over DSSE's pre-authentication encoding
//
//	"DSSEv1" SP len(type) SP type SP len(payload) SP payload
//
// with the root key. DSSE rather than COSE because the list has no size
// budget, is read by people (security officers) and by apps in other
// languages, and is fetched over HTTP: JSON is what all of them handle. DSSE
// signs the payload bytes exactly as sent (no canonicalization step to get
// wrong), binds the payload type into the signature (a root signature on a
// list can never be replayed as anything else, and seal signatures, whose
// COSE Sig_structure starts "Signature1", can never pass as a list), and
// carries several signatures, so that a new root can co-sign during a root
// rotation. The keyid is the root's kid, derived like every other kid.
//
// The payload is compact JSON in exactly the form [Sign] writes: fields in
// struct order, times in UTC RFC 3339 with whole seconds, keys sorted by
// office, not-before and kid, serials sorted. [Parse] re-encodes what it read
// and refuses any difference, so duplicate JSON keys or other parser
// differentials cannot make two apps read one signed list differently.
//
// # Keys
//
// Each office key has a kid (see seal.KID: the first 8 bytes of SHA-256 of
// the public key, base64url), the office's unit code, the public key, the
// window in which it may sign (not-before and not-after, inclusive), a
// status and, for a revoked key, when it was revoked. Status means:
//
//   - active: in use for new seals;
//   - retired: no longer used for new seals; seals it signed inside its
//     window keep verifying until their own expiry, which is what lets keys
//     rotate while bags are in transit;
//   - revoked: compromised; every seal it ever signed fails, since a thief
//     can write any issued-at. revoked_at is for the record only.
//
// # Freshness
//
// The list carries a sequence number, an issued-at and a stale-after time.
// Parse refuses a list issued in the future (beyond seal.ClockSkew) but
// accepts a stale one: a courier offline in an aircraft must still be able
// to check seals, with the list's [List.Age] shown and [List.Stale] flagged.
// [List.Replaces] refuses an update that would roll the cached list back,
// which would otherwise un-revoke a key.
package trust

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"valise/crypto/seal"
)

const (
	// PayloadType is the DSSE payload type of a trust list.
	PayloadType = "application/vnd.valise.trust-list+json"
	// Version is the payload format version.
	Version = 1
	// MaxSize bounds an encoded trust list; larger input is refused unread.
	// A list with 100,000 revoked serials is about 2.5 MB.
	MaxSize = 8 << 20
	// MaxSignatures bounds the signatures on a list (two during a root
	// rotation), so that a hostile list cannot make Parse verify thousands.
	MaxSignatures = 8
)

// Errors returned by Parse, Sign and Replaces; test with [errors.Is].
var (
	ErrTooLarge   = errors.New("trust: list too large")
	ErrFormat     = errors.New("trust: malformed list")
	ErrSignature  = errors.New("trust: list not signed by the root key")
	ErrInvalid    = errors.New("trust: invalid list content")
	ErrFromFuture = errors.New("trust: list issued in the future")
	ErrRollback   = errors.New("trust: list is older than the cached one")
)

// Status is an office key's status.
type Status string

// Key statuses; see the package documentation.
const (
	StatusActive  Status = "active"
	StatusRetired Status = "retired"
	StatusRevoked Status = "revoked"
)

// Key is an office seal key.
type Key struct {
	KID       seal.KID          `json:"kid"`
	Office    string            `json:"office"`
	PublicKey ed25519.PublicKey `json:"public_key"`
	NotBefore time.Time         `json:"not_before"`
	NotAfter  time.Time         `json:"not_after"`
	Status    Status            `json:"status"`
	RevokedAt time.Time         `json:"revoked_at,omitzero"`
}

// List is a trust list. Build one as a literal and [Sign] it; [Parse] a
// received one. A parsed List is read-only and safe for concurrent use.
type List struct {
	Sequence       uint64        `json:"sequence"`
	IssuedAt       time.Time     `json:"issued_at"`
	StaleAfter     time.Time     `json:"stale_after"`
	Keys           []Key         `json:"keys"`
	RevokedSerials []seal.Serial `json:"revoked_serials"`

	// Set by Parse.
	kids    map[seal.KID]int
	revoked map[seal.Serial]struct{}
	digest  [32]byte // SHA-256 of the signed payload
}

// payload is the signed JSON document.
type payload struct {
	Version int `json:"version"`
	List
}

// envelope and signature are the DSSE envelope.
type envelope struct {
	Payload     []byte      `json:"payload"`
	PayloadType string      `json:"payloadType"`
	Signatures  []signature `json:"signatures"`
}

type signature struct {
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

// pae is DSSE's pre-authentication encoding of a payload.
func pae(body []byte) []byte {
	b := make([]byte, 0, 32+len(PayloadType)+len(body))
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(PayloadType)), 10)
	b = append(b, ' ')
	b = append(b, PayloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, ' ')
	return append(b, body...)
}

// Sign checks and normalizes a copy of l (UTC whole-second times, sorted keys
// and serials) and returns it signed by root as a DSSE envelope.
func Sign(l *List, root ed25519.PrivateKey) ([]byte, error) {
	if len(root) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: root key is %d bytes", ErrSignature, len(root))
	}
	n := normalize(l)
	if err := n.validate(seal.KeyID(root.Public().(ed25519.PublicKey))); err != nil {
		return nil, err
	}
	body, err := json.Marshal(payload{Version: Version, List: *n})
	if err != nil {
		return nil, fmt.Errorf("trust: encoding list: %w", err)
	}
	env := envelope{
		Payload:     body,
		PayloadType: PayloadType,
		Signatures: []signature{{
			KeyID: seal.KeyID(root.Public().(ed25519.PublicKey)).String(),
			Sig:   ed25519.Sign(root, pae(body)),
		}},
	}
	out, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("trust: encoding envelope: %w", err)
	}
	return out, nil
}

// normalize returns a copy of l in the one form Sign writes.
func normalize(l *List) *List {
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.UTC().Truncate(time.Second)
	}
	n := &List{
		Sequence:       l.Sequence,
		IssuedAt:       utc(l.IssuedAt),
		StaleAfter:     utc(l.StaleAfter),
		Keys:           make([]Key, len(l.Keys)),
		RevokedSerials: append(make([]seal.Serial, 0, len(l.RevokedSerials)), l.RevokedSerials...),
	}
	for i, k := range l.Keys {
		k.PublicKey = slices.Clone(k.PublicKey)
		k.NotBefore, k.NotAfter, k.RevokedAt = utc(k.NotBefore), utc(k.NotAfter), utc(k.RevokedAt)
		n.Keys[i] = k
	}
	slices.SortFunc(n.Keys, compareKeys)
	slices.SortFunc(n.RevokedSerials, func(a, b seal.Serial) int { return bytes.Compare(a[:], b[:]) })
	return n
}

func compareKeys(a, b Key) int {
	return cmp.Or(
		cmp.Compare(a.Office, b.Office),
		a.NotBefore.Compare(b.NotBefore),
		bytes.Compare(a.KID[:], b.KID[:]),
	)
}

// validate checks the list's content; rootKID is refused as an office key,
// because the root signs lists and nothing else.
func (l *List) validate(rootKID seal.KID) error {
	if l.Sequence == 0 {
		return fmt.Errorf("%w: sequence must be at least 1", ErrInvalid)
	}
	if l.IssuedAt.IsZero() || !l.StaleAfter.After(l.IssuedAt) {
		return fmt.Errorf("%w: stale-after %v must follow issued-at %v", ErrInvalid, l.StaleAfter, l.IssuedAt)
	}
	seen := make(map[seal.KID]bool, len(l.Keys))
	for i, k := range l.Keys {
		if len(k.PublicKey) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: key %d: public key is %d bytes", ErrInvalid, i, len(k.PublicKey))
		}
		if kid := seal.KeyID(k.PublicKey); kid != k.KID {
			return fmt.Errorf("%w: key %d: kid %s, but the public key's kid is %s", ErrInvalid, i, k.KID, kid)
		}
		if k.KID == rootKID {
			return fmt.Errorf("%w: key %s is the root key", ErrInvalid, k.KID)
		}
		if seen[k.KID] {
			return fmt.Errorf("%w: key %s listed twice", ErrInvalid, k.KID)
		}
		seen[k.KID] = true
		if err := seal.ValidateUnitCode(k.Office); err != nil {
			return fmt.Errorf("%w: key %s: %w", ErrInvalid, k.KID, err)
		}
		if k.NotBefore.IsZero() || !k.NotAfter.After(k.NotBefore) {
			return fmt.Errorf("%w: key %s: not-after %v must follow not-before %v", ErrInvalid, k.KID, k.NotAfter, k.NotBefore)
		}
		switch {
		case k.Status != StatusActive && k.Status != StatusRetired && k.Status != StatusRevoked:
			return fmt.Errorf("%w: key %s: unknown status %q", ErrInvalid, k.KID, k.Status)
		case (k.Status == StatusRevoked) != !k.RevokedAt.IsZero():
			return fmt.Errorf("%w: key %s: revoked-at must be set exactly when the status is revoked", ErrInvalid, k.KID)
		}
		if i > 0 && compareKeys(l.Keys[i-1], k) >= 0 {
			return fmt.Errorf("%w: keys not sorted by office, not-before, kid", ErrInvalid)
		}
	}
	for i := 1; i < len(l.RevokedSerials); i++ {
		if bytes.Compare(l.RevokedSerials[i-1][:], l.RevokedSerials[i][:]) >= 0 {
			return fmt.Errorf("%w: revoked serials not sorted or repeated at %s", ErrInvalid, l.RevokedSerials[i])
		}
	}
	return nil
}

// Parse verifies a trust list against the root public key at the current
// time; see [ParseAt].
func Parse(data []byte, root ed25519.PublicKey) (*List, error) {
	return ParseAt(data, root, time.Now())
}

// ParseAt verifies a trust list against the root public key and returns it
// ready for use as a seal.KeyResolver. It refuses a list that is not signed
// by root, not in canonical form, inconsistent, or issued after now plus
// seal.ClockSkew. A stale list is returned without error: check
// [List.Stale].
func ParseAt(data []byte, root ed25519.PublicKey, now time.Time) (*List, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxSize)
	}
	if len(root) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: root public key is %d bytes", ErrSignature, len(root))
	}
	var env envelope
	if err := decodeStrict(data, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %w", ErrFormat, err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payload type %q", ErrFormat, env.PayloadType)
	}
	if len(env.Signatures) > MaxSignatures {
		return nil, fmt.Errorf("%w: %d signatures, limit %d", ErrFormat, len(env.Signatures), MaxSignatures)
	}
	rootKID := seal.KeyID(root)
	signed := false
	m := pae(env.Payload)
	for _, s := range env.Signatures {
		if s.KeyID == rootKID.String() && ed25519.Verify(root, m, s.Sig) {
			signed = true
			break
		}
	}
	if !signed {
		return nil, fmt.Errorf("%w: no valid signature by root %s", ErrSignature, rootKID)
	}

	var p payload
	if err := decodeStrict(env.Payload, &p); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrFormat, err)
	}
	if p.Version != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrFormat, p.Version, Version)
	}
	l := &p.List
	if err := l.validate(rootKID); err != nil {
		return nil, err
	}
	if canon, err := json.Marshal(payload{Version: Version, List: *normalize(l)}); err != nil || !bytes.Equal(canon, env.Payload) {
		return nil, fmt.Errorf("%w: payload is not in canonical form", ErrFormat)
	}
	if l.IssuedAt.After(now.Add(seal.ClockSkew)) {
		return nil, fmt.Errorf("%w: issued %v, now %v", ErrFromFuture, l.IssuedAt, now.UTC())
	}
	l.kids = make(map[seal.KID]int, len(l.Keys))
	for i, k := range l.Keys {
		l.kids[k.KID] = i
	}
	l.revoked = make(map[seal.Serial]struct{}, len(l.RevokedSerials))
	for _, s := range l.RevokedSerials {
		l.revoked[s] = struct{}{}
	}
	l.digest = sha256.Sum256(env.Payload)
	return l, nil
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing
// data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// Stale reports whether the list is past its stale-after time at now. A
// stale list still verifies seals; the app should say how old it is.
func (l *List) Stale(now time.Time) bool { return !now.Before(l.StaleAfter) }

// Age returns how long ago the list was issued (zero if within the clock
// skew of the future).
func (l *List) Age(now time.Time) time.Duration { return max(now.Sub(l.IssuedAt), 0) }

// Replaces checks that l may replace the cached list old: a higher sequence
// number, or the very same list fetched again. A lower sequence, or the same
// sequence with different content, is refused with [ErrRollback]: accepting
// it would let whoever serves the list un-revoke keys and seals.
func (l *List) Replaces(old *List) error {
	switch {
	case old == nil || l.Sequence > old.Sequence:
		return nil
	case l.Sequence == old.Sequence && l.digest == old.digest && l.digest != [32]byte{}:
		return nil
	case l.Sequence == old.Sequence:
		return fmt.Errorf("%w: two different lists with sequence %d", ErrRollback, l.Sequence)
	default:
		return fmt.Errorf("%w: sequence %d after %d", ErrRollback, l.Sequence, old.Sequence)
	}
}

// Key returns the office key with this kid.
func (l *List) Key(kid seal.KID) (Key, bool) {
	if l.kids != nil {
		i, ok := l.kids[kid]
		if !ok {
			return Key{}, false
		}
		return l.Keys[i], true
	}
	for _, k := range l.Keys { // a List built in code rather than parsed
		if k.KID == kid {
			return k, true
		}
	}
	return Key{}, false
}

// SealKey implements seal.KeyResolver.
func (l *List) SealKey(kid seal.KID) (seal.Key, error) {
	k, ok := l.Key(kid)
	if !ok {
		return seal.Key{}, seal.ErrUnknownKey
	}
	return seal.Key{
		Public:    k.PublicKey,
		Office:    k.Office,
		NotBefore: k.NotBefore,
		NotAfter:  k.NotAfter,
		Revoked:   k.Status == StatusRevoked,
	}, nil
}

// SealRevoked implements seal.KeyResolver.
func (l *List) SealRevoked(s seal.Serial) (bool, error) {
	if l.revoked != nil {
		_, ok := l.revoked[s]
		return ok, nil
	}
	return slices.Contains(l.RevokedSerials, s), nil
}

var _ seal.KeyResolver = (*List)(nil)
