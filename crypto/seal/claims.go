package seal

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Limits on claims. They are part of the VS1 format: the parser refuses
// anything outside them, and they bound the QR version (see the package
// documentation).
const (
	MaxRegistryLen     = 32
	MaxUnitCodeLen     = 16
	MinUnitCodeLen     = 2
	MaxPhysicalSealLen = 24
	MaxPackages        = 99

	// MaxLifetime bounds expiry minus issued-at. A seal only has to outlive
	// one journey; a short life limits what a stolen key can do and lets the
	// trust list drop revoked serials once their seals have expired anyway.
	MaxLifetime = 366 * 24 * time.Hour
)

// BagID is a bag's UUID in its 16-byte binary form.
type BagID [16]byte

// ParseBagID parses the canonical 36-character UUID form
// (8-4-4-4-12 hexadecimal digits, either case).
func ParseBagID(s string) (BagID, error) {
	var id BagID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("%w: bag id %q is not a UUID", ErrClaims, s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return BagID{}, fmt.Errorf("%w: bag id %q is not a UUID", ErrClaims, s)
	}
	return id, nil
}

// String returns the canonical lower-case UUID form.
func (id BagID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}

// Serial is a seal's own serial number: random, unique per seal, and the
// handle by which a single seal is revoked in the trust list. Eight random
// bytes make an accidental collision among a billion seals less likely than
// one in ten thousand, and the issuer checks uniqueness when it stores the
// seal anyway.
type Serial [8]byte

// NewSerial returns a random serial.
func NewSerial() Serial {
	var s Serial
	_, _ = rand.Read(s[:]) // crypto/rand.Read never fails (Go 1.24+).
	return s
}

// ParseSerial parses the 16-hex-digit form, either case.
func ParseSerial(s string) (Serial, error) {
	var out Serial
	if len(s) != 2*len(out) {
		return out, fmt.Errorf("seal: serial %q: want %d hex digits", s, 2*len(out))
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return Serial{}, fmt.Errorf("seal: serial %q: %w", s, err)
	}
	return out, nil
}

// String returns the serial as 16 lower-case hex digits, which are easier to
// read out over a telephone than base64.
func (s Serial) String() string { return hex.EncodeToString(s[:]) }

// MarshalText implements [encoding.TextMarshaler] (used by the trust list).
func (s Serial) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (s *Serial) UnmarshalText(b []byte) error {
	v, err := ParseSerial(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// HashManifest returns the manifest hash for the serialized manifest.
func HashManifest(manifest []byte) [32]byte { return sha256.Sum256(manifest) }

// Claims are the facts a seal signs. See the package documentation for the
// wire format. Times have one-second precision; sub-second parts are dropped
// when signing.
type Claims struct {
	BagID        BagID
	Registry     string // registry number, e.g. "KZ-MFA-2026-000123"
	Origin       string // origin unit code; must be the signing key's office
	Destination  string // destination unit code
	Package      int    // k of "package k of N"
	Packages     int    // N of "package k of N"
	PhysicalSeal string // serial of the physical (ASTM F946) seal; optional
	ManifestHash [32]byte
	IssuedAt     time.Time
	Expires      time.Time
	Serial       Serial
}

// Validate checks every field against the format's limits. Sign calls it;
// callers may call it earlier to report errors on a form.
func (c *Claims) Validate() error {
	if err := checkCode("registry number", c.Registry, 1, MaxRegistryLen, true); err != nil {
		return err
	}
	if err := checkCode("origin unit code", c.Origin, MinUnitCodeLen, MaxUnitCodeLen, false); err != nil {
		return err
	}
	if err := checkCode("destination unit code", c.Destination, MinUnitCodeLen, MaxUnitCodeLen, false); err != nil {
		return err
	}
	if c.Origin == c.Destination {
		return fmt.Errorf("%w: origin and destination are both %q", ErrClaims, c.Origin)
	}
	if c.Packages < 1 || c.Packages > MaxPackages {
		return fmt.Errorf("%w: package count %d not in 1..%d", ErrClaims, c.Packages, MaxPackages)
	}
	if c.Package < 1 || c.Package > c.Packages {
		return fmt.Errorf("%w: package %d not in 1..%d", ErrClaims, c.Package, c.Packages)
	}
	if c.PhysicalSeal != "" {
		if err := checkCode("physical seal", c.PhysicalSeal, 1, MaxPhysicalSealLen, true); err != nil {
			return err
		}
	}
	if c.BagID == (BagID{}) {
		return fmt.Errorf("%w: bag id is zero", ErrClaims)
	}
	if c.ManifestHash == ([32]byte{}) {
		return fmt.Errorf("%w: manifest hash is zero", ErrClaims)
	}
	if c.Serial == (Serial{}) {
		return fmt.Errorf("%w: seal serial is zero", ErrClaims)
	}
	iat, exp := c.IssuedAt.Unix(), c.Expires.Unix()
	if iat < 1 || iat > math.MaxUint32 {
		return fmt.Errorf("%w: issued-at %v out of range", ErrClaims, c.IssuedAt)
	}
	if exp <= iat || exp > math.MaxUint32 {
		return fmt.Errorf("%w: expiry %v not after issued-at %v or out of range", ErrClaims, c.Expires, c.IssuedAt)
	}
	if time.Duration(exp-iat)*time.Second > MaxLifetime {
		return fmt.Errorf("%w: lifetime %v exceeds %v", ErrClaims, time.Duration(exp-iat)*time.Second, MaxLifetime)
	}
	return nil
}

// ValidateUnitCode checks an organization unit code: 2 to 16 characters of
// A-Z, 0-9 and '-', not starting with '-' (the rule of the units table).
func ValidateUnitCode(code string) error {
	return checkCode("unit code", code, MinUnitCodeLen, MaxUnitCodeLen, false)
}

// checkCode checks an identifier of minLen..maxLen ASCII characters: the first
// A-Z or 0-9, the rest also '-', and '.' and '/' when punct is set. Upper
// case only and no spaces, so that a printed value reads back unambiguously
// and one character is one byte of the QR budget.
func checkCode(what, s string, minLen, maxLen int, punct bool) error {
	if len(s) < minLen || len(s) > maxLen {
		return fmt.Errorf("%w: %s %q: length %d not in %d..%d", ErrClaims, what, s, len(s), minLen, maxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '-' || punct && (c == '.' || c == '/'))
		if !ok {
			return fmt.Errorf("%w: %s %q: character %q at %d not allowed", ErrClaims, what, s, c, i)
		}
	}
	return nil
}

// wireClaims is the CBOR form of Claims. The integer keys are the format; see
// the package documentation.
type wireClaims struct {
	BagID        []byte `cbor:"1,keyasint"`
	Registry     string `cbor:"2,keyasint"`
	Origin       string `cbor:"3,keyasint"`
	Destination  string `cbor:"4,keyasint"`
	Package      uint64 `cbor:"5,keyasint"`
	Packages     uint64 `cbor:"6,keyasint"`
	PhysicalSeal string `cbor:"7,keyasint,omitempty"`
	ManifestHash []byte `cbor:"8,keyasint"`
	IssuedAt     uint64 `cbor:"9,keyasint"`
	Expires      uint64 `cbor:"10,keyasint"`
	Serial       []byte `cbor:"11,keyasint"`
}

// CBOR modes shared by the package. Decoding is as strict as the library
// allows; whatever it still tolerates (non-shortest integers, text keys that
// happen to match) is caught by re-encoding and comparing.
var (
	encMode    cbor.EncMode
	decMode    cbor.DecMode
	laxDecMode cbor.DecMode // decMode without the unknown-field error; for error reports only
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{
		Sort:        cbor.SortCoreDeterministic,
		IndefLength: cbor.IndefLengthForbidden,
	}.EncMode()
	if err != nil {
		panic(err) // static options; cannot fail
	}
	opts := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   4,
		MaxArrayElements:  16,
		MaxMapPairs:       16,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}
	if decMode, err = opts.DecMode(); err != nil {
		panic(err) // static options; cannot fail
	}
	opts.ExtraReturnErrors = cbor.ExtraDecErrorNone
	if laxDecMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
}

// marshalClaims validates c and returns its deterministic CBOR encoding.
func marshalClaims(c *Claims) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	w := wireClaims{
		BagID:        c.BagID[:],
		Registry:     c.Registry,
		Origin:       c.Origin,
		Destination:  c.Destination,
		Package:      uint64(c.Package),
		Packages:     uint64(c.Packages),
		PhysicalSeal: c.PhysicalSeal,
		ManifestHash: c.ManifestHash[:],
		IssuedAt:     uint64(c.IssuedAt.Unix()),
		Expires:      uint64(c.Expires.Unix()),
		Serial:       c.Serial[:],
	}
	b, err := encMode.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding claims: %w", ErrCBOR, err)
	}
	return b, nil
}

// unmarshalClaims decodes and validates a claims payload, refusing unknown
// keys and any encoding other than the one marshalClaims produces.
func unmarshalClaims(b []byte) (Claims, error) {
	if len(b) == 0 || b[0]>>5 != 5 {
		// Checked first: the decoder would quietly accept null as "no fields".
		return Claims{}, fmt.Errorf("%w: claims are not a CBOR map", ErrCBOR)
	}
	var w wireClaims
	if err := decMode.Unmarshal(b, &w); err != nil {
		var unknown *cbor.UnknownFieldError
		if errors.As(err, &unknown) {
			return Claims{}, fmt.Errorf("%w: %w", ErrUnknownClaim, err)
		}
		return Claims{}, fmt.Errorf("%w: claims: %w", ErrCBOR, err)
	}
	if len(w.BagID) != len(BagID{}) || len(w.ManifestHash) != 32 || len(w.Serial) != len(Serial{}) {
		return Claims{}, fmt.Errorf("%w: bag id, manifest hash or serial has the wrong length (%d, %d, %d)",
			ErrClaims, len(w.BagID), len(w.ManifestHash), len(w.Serial))
	}
	if w.Package > MaxPackages || w.Packages > MaxPackages || w.IssuedAt > math.MaxUint32 || w.Expires > math.MaxUint32 {
		return Claims{}, fmt.Errorf("%w: number out of range", ErrClaims)
	}
	c := Claims{
		Registry:     w.Registry,
		Origin:       w.Origin,
		Destination:  w.Destination,
		Package:      int(w.Package),
		Packages:     int(w.Packages),
		PhysicalSeal: w.PhysicalSeal,
		IssuedAt:     time.Unix(int64(w.IssuedAt), 0).UTC(),
		Expires:      time.Unix(int64(w.Expires), 0).UTC(),
	}
	copy(c.BagID[:], w.BagID)
	copy(c.ManifestHash[:], w.ManifestHash)
	copy(c.Serial[:], w.Serial)
	canon, err := marshalClaims(&c) // validates
	if err != nil {
		return Claims{}, err
	}
	if !bytes.Equal(canon, b) {
		return Claims{}, fmt.Errorf("%w: claims are not deterministically encoded", ErrCBOR)
	}
	return c, nil
}
