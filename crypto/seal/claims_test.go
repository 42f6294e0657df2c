package seal

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestClaimsValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Claims)
		ok     bool
	}{
		{"typical", func(*Claims) {}, true},
		{"max lengths", func(c *Claims) {
			m := maxClaims(t)
			m.IssuedAt, m.Expires = c.IssuedAt, c.Expires
			*c = m
		}, true},
		{"registry empty", func(c *Claims) { c.Registry = "" }, false},
		{"registry 32", func(c *Claims) { c.Registry = strings.Repeat("1", 32) }, true},
		{"registry 33", func(c *Claims) { c.Registry = strings.Repeat("1", 33) }, false},
		{"registry with slash and dot", func(c *Claims) { c.Registry = "12-3/456.7" }, true},
		{"registry lower case", func(c *Claims) { c.Registry = "kz-mfa-1" }, false},
		{"registry leading dash", func(c *Claims) { c.Registry = "-1" }, false},
		{"registry space", func(c *Claims) { c.Registry = "KZ 1" }, false},
		{"registry non-ASCII", func(c *Claims) { c.Registry = "KZ-МИД-1" }, false},
		{"registry control char", func(c *Claims) { c.Registry = "KZ\n1" }, false},
		{"origin 1 char", func(c *Claims) { c.Origin = "M" }, false},
		{"origin 16", func(c *Claims) { c.Origin = strings.Repeat("M", 16) }, true},
		{"origin 17", func(c *Claims) { c.Origin = strings.Repeat("M", 17) }, false},
		{"origin with dot", func(c *Claims) { c.Origin = "MFA.1" }, false},
		{"origin with slash", func(c *Claims) { c.Origin = "MFA/1" }, false},
		{"destination empty", func(c *Claims) { c.Destination = "" }, false},
		{"destination equals origin", func(c *Claims) { c.Destination = c.Origin }, false},
		{"k zero", func(c *Claims) { c.Package = 0 }, false},
		{"k negative", func(c *Claims) { c.Package = -1 }, false},
		{"k > N", func(c *Claims) { c.Package = 4 }, false},
		{"k = N", func(c *Claims) { c.Package = 3 }, true},
		{"N 99", func(c *Claims) { c.Package, c.Packages = 99, 99 }, true},
		{"N 100", func(c *Claims) { c.Package, c.Packages = 1, 100 }, false},
		{"N zero", func(c *Claims) { c.Package, c.Packages = 0, 0 }, false},
		{"physical seal empty", func(c *Claims) { c.PhysicalSeal = "" }, true},
		{"physical seal 24", func(c *Claims) { c.PhysicalSeal = strings.Repeat("9", 24) }, true},
		{"physical seal 25", func(c *Claims) { c.PhysicalSeal = strings.Repeat("9", 25) }, false},
		{"physical seal lower case", func(c *Claims) { c.PhysicalSeal = "astm-1" }, false},
		{"zero bag id", func(c *Claims) { c.BagID = BagID{} }, false},
		{"zero manifest hash", func(c *Claims) { c.ManifestHash = [32]byte{} }, false},
		{"zero serial", func(c *Claims) { c.Serial = Serial{} }, false},
		{"zero issued-at", func(c *Claims) { c.IssuedAt = time.Time{} }, false},
		{"issued-at before 1970", func(c *Claims) { c.IssuedAt = time.Unix(-5, 0) }, false},
		{"expiry beyond uint32", func(c *Claims) {
			c.IssuedAt, c.Expires = time.Unix(1<<32-100, 0), time.Unix(1<<32, 0)
		}, false},
		{"expiry equals issued-at", func(c *Claims) { c.Expires = c.IssuedAt }, false},
		{"expiry before issued-at", func(c *Claims) { c.Expires = c.IssuedAt.Add(-time.Second) }, false},
		{"lifetime exactly max", func(c *Claims) { c.Expires = c.IssuedAt.Add(MaxLifetime) }, true},
		{"lifetime over max", func(c *Claims) { c.Expires = c.IssuedAt.Add(MaxLifetime + time.Second) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := typicalClaims(t)
			tt.modify(&c)
			err := c.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrClaims) {
				t.Fatalf("Validate = %v, want ErrClaims", err)
			}
			// Sign validates too, and says so in the same terms.
			_, err = Sign(c, testSigner(t, 1))
			if tt.ok != (err == nil) || !tt.ok && !errors.Is(err, ErrClaims) {
				t.Fatalf("Sign = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestClaimsRoundTrip(t *testing.T) {
	for name, c := range map[string]Claims{"typical": typicalClaims(t), "max": maxClaims(t)} {
		t.Run(name, func(t *testing.T) {
			b, err := marshalClaims(&c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := unmarshalClaims(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != c {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
			}
		})
	}
	// The physical seal is optional and then absent from the wire.
	c := typicalClaims(t)
	c.PhysicalSeal = ""
	b, _ := marshalClaims(&c)
	if got, err := unmarshalClaims(b); err != nil || got != c {
		t.Fatalf("without physical seal: %+v, %v", got, err)
	}
	if len(b) >= func() int { c := typicalClaims(t); b, _ := marshalClaims(&c); return len(b) }() {
		t.Errorf("absent physical seal did not shrink the claims")
	}
}

func TestClaimsSubSecondDropped(t *testing.T) {
	c := typicalClaims(t)
	c.IssuedAt = c.IssuedAt.Add(999 * time.Millisecond)
	s, err := Parse(mustSign(t, c, testSigner(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Claims.IssuedAt.Equal(c.IssuedAt.Truncate(time.Second)) {
		t.Fatalf("issued-at %v, want %v", s.Claims.IssuedAt, c.IssuedAt.Truncate(time.Second))
	}
}

// claimPairs returns the typical claims as (key, raw value) pairs in
// canonical order, for building variants the encoder would never produce.
func claimPairs(t testing.TB) []any {
	c := typicalClaims(t)
	return []any{
		1, cBytes(c.BagID[:]),
		2, cText(c.Registry),
		3, cText(c.Origin),
		4, cText(c.Destination),
		5, cInt(c.Package),
		6, cInt(c.Packages),
		7, cText(c.PhysicalSeal),
		8, cBytes(c.ManifestHash[:]),
		9, cInt(int(c.IssuedAt.Unix())),
		10, cInt(int(c.Expires.Unix())),
		11, cBytes(c.Serial[:]),
	}
}

// withPair returns pairs with the value of key replaced (or the pair removed
// when v is nil).
func withPair(pairs []any, key int, v []byte) []any {
	out := make([]any, 0, len(pairs))
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i] == key {
			if v != nil {
				out = append(out, key, v)
			}
			continue
		}
		out = append(out, pairs[i], pairs[i+1])
	}
	return out
}

// TestParseClaimsStrict feeds correctly signed seals with odd claims to the
// parser: each must be refused for its own reason, not for the signature.
func TestParseClaimsStrict(t *testing.T) {
	s := testSigner(t, 1)
	canonical := cborMap(claimPairs(t)...)
	c := typicalClaims(t)
	if want, _ := marshalClaims(&c); string(canonical) != string(want) {
		t.Fatalf("test encoder disagrees with marshalClaims:\n%x\n%x", canonical, want)
	}
	nonMinimal := func(n int) []byte { return []byte{0x19, byte(n >> 8), byte(n)} }
	reversed := func() []any {
		p := claimPairs(t)
		var out []any
		for i := len(p) - 2; i >= 0; i -= 2 {
			out = append(out, p[i], p[i+1])
		}
		return out
	}
	tests := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"canonical", canonical, nil},
		{"unknown key 12", cborMap(append(claimPairs(t), 12, cInt(1))...), ErrUnknownClaim},
		{"unknown key 0", cborMap(append([]any{0, cInt(1)}, claimPairs(t)...)...), ErrUnknownClaim},
		{"unknown negative key", cborMap(append([]any{-1, cInt(1)}, claimPairs(t)...)...), ErrUnknownClaim},
		{"text key", cborMap(append(withPair(claimPairs(t), 2, nil), "2", cText("KZ-1"))...), ErrUnknownClaim},
		{"duplicate key", append([]byte{0xac}, append(canonical[1:], 0x05, 0x01)...), ErrCBOR},
		{"duplicate key same value", cborMap(append(claimPairs(t), 5, cInt(2))...), ErrCBOR},
		{"indefinite-length map", append(append([]byte{0xbf}, canonical[1:]...), 0xff), ErrCBOR},
		{"indefinite-length text", cborMap(withPair(claimPairs(t), 2, []byte{0x7f, 0x62, 'K', 'Z', 0xff})...), ErrCBOR},
		{"trailing byte", append(append([]byte{}, canonical...), 0x00), ErrCBOR},
		{"keys out of order", cborMap(reversed()...), ErrCBOR},
		{"non-minimal integer", cborMap(withPair(claimPairs(t), 5, nonMinimal(2))...), ErrCBOR},
		{"non-minimal length", cborMap(withPair(claimPairs(t), 3, []byte{0x78, 3, 'M', 'F', 'A'})...), ErrCBOR},
		{"empty physical seal present", cborMap(withPair(claimPairs(t), 7, cText(""))...), ErrCBOR},
		{"physical seal absent", cborMap(withPair(claimPairs(t), 7, nil)...), nil},
		{"registry missing", cborMap(withPair(claimPairs(t), 2, nil)...), ErrClaims},
		{"serial missing", cborMap(withPair(claimPairs(t), 11, nil)...), ErrClaims},
		{"registry as bytes", cborMap(withPair(claimPairs(t), 2, cBytes([]byte("KZ-1")))...), ErrCBOR},
		{"bag id as text", cborMap(withPair(claimPairs(t), 1, cText("0192f3a17c4e7b1a"))...), ErrCBOR},
		{"bag id 15 bytes", cborMap(withPair(claimPairs(t), 1, cBytes(make([]byte, 15)))...), ErrClaims},
		{"hash 16 bytes", cborMap(withPair(claimPairs(t), 8, cBytes(make([]byte, 16)))...), ErrClaims},
		{"serial 12 bytes", cborMap(withPair(claimPairs(t), 11, cBytes(make([]byte, 12)))...), ErrClaims},
		{"registry 33 chars", cborMap(withPair(claimPairs(t), 2, cText(strings.Repeat("1", 33)))...), ErrClaims},
		{"origin lower case", cborMap(withPair(claimPairs(t), 3, cText("mfa"))...), ErrClaims},
		{"invalid UTF-8", cborMap(withPair(claimPairs(t), 2, []byte{0x62, 0xc3, 0x28})...), ErrCBOR},
		{"k 100", cborMap(withPair(claimPairs(t), 5, cInt(100))...), ErrClaims},
		{"k negative", cborMap(withPair(claimPairs(t), 5, cInt(-1))...), ErrCBOR},
		{"k huge", cborMap(withPair(claimPairs(t), 5, appendHead(nil, 0, 1<<40))...), ErrClaims},
		{"k float", cborMap(withPair(claimPairs(t), 5, []byte{0xf9, 0x40, 0x00})...), ErrCBOR},
		{"iat beyond uint32", cborMap(withPair(claimPairs(t), 9, appendHead(nil, 0, 1<<32))...), ErrClaims},
		{"iat negative", cborMap(withPair(claimPairs(t), 9, cInt(-10))...), ErrCBOR},
		{"tagged iat", cborMap(withPair(claimPairs(t), 9, append([]byte{0xc1}, cInt(1773476813)...))...), ErrCBOR},
		{"array instead of map", append([]byte{0x81}, canonical...), ErrCBOR},
		{"empty", nil, ErrCBOR},
		{"null", []byte{0xf6}, ErrCBOR},
		{"nested map value", cborMap(withPair(claimPairs(t), 2, cborMap(1, cborMap(1, cborMap(1, cborMap(1, cInt(1))))))...), ErrCBOR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := Parse(textOf(signRaw(s, protectedHeader(s.KID), tt.payload)))
			switch {
			case tt.want == nil:
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if err := sealed.Verify(keySetFor(1, "MFA"), t0); err != nil {
					t.Fatalf("Verify: %v", err)
				}
			case !errors.Is(err, tt.want):
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseBagID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", "0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", true},
		{"0192F3A1-7C4E-7B1A-9D2E-5F6A7B8C9D0E", "0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", true},
		{"0192f3a17c4e7b1a9d2e5f6a7b8c9d0e", "", false},
		{"{0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e}", "", false},
		{"0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0g", "", false},
		{"0192f3a1+7c4e-7b1a-9d2e-5f6a7b8c9d0e", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		id, err := ParseBagID(tt.in)
		if tt.ok != (err == nil) || tt.ok && id.String() != tt.want {
			t.Errorf("ParseBagID(%q) = %v, %v", tt.in, id, err)
		}
		if !tt.ok && !errors.Is(err, ErrClaims) {
			t.Errorf("ParseBagID(%q) error %v is not ErrClaims", tt.in, err)
		}
	}
}

func TestSerialAndKIDText(t *testing.T) {
	s := NewSerial()
	if s == (Serial{}) || s == NewSerial() {
		t.Fatal("NewSerial is not random")
	}
	got, err := ParseSerial(s.String())
	if err != nil || got != s {
		t.Fatalf("ParseSerial(%s) = %v, %v", s, got, err)
	}
	if got, err := ParseSerial("0102030405060708"); err != nil || got != (Serial{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("ParseSerial: %v, %v", got, err)
	}
	if got, err := ParseSerial("ABCDEF0102030405"); err != nil || got.String() != "abcdef0102030405" {
		t.Errorf("ParseSerial upper case: %v, %v", got, err)
	}
	for _, bad := range []string{"", "01020304050607", "010203040506070809", "010203040506070g"} {
		if _, err := ParseSerial(bad); err == nil {
			t.Errorf("ParseSerial(%q) accepted", bad)
		}
	}

	kid := KeyID(pub(testKey(1)))
	if len(kid.String()) != 11 {
		t.Errorf("kid %q is not 11 characters", kid)
	}
	if got, err := ParseKID(kid.String()); err != nil || got != kid {
		t.Errorf("ParseKID(%s) = %v, %v", kid, got, err)
	}
	for _, bad := range []string{"", "AAAAAAAAAA", "AAAAAAAAAAAA", "AAAAAAAAAA+", "AAAAAAAAAA=", "AAAAAAAAAAB"} {
		if _, err := ParseKID(bad); err == nil {
			t.Errorf("ParseKID(%q) accepted", bad)
		}
	}
	var k KID
	if err := k.UnmarshalText([]byte(kid.String())); err != nil || k != kid {
		t.Errorf("KID.UnmarshalText: %v", err)
	}
	var sr Serial
	if err := sr.UnmarshalText([]byte("zz")); err == nil {
		t.Error("Serial.UnmarshalText accepted zz")
	}
}

func TestValidateUnitCode(t *testing.T) {
	for code, ok := range map[string]bool{
		"MFA": true, "DE-BER": true, "AIR-ASTANA": true, "MF": true, "0123456789ABCDEF": true,
		"": false, "M": false, "-MFA": false, "mfa": false, "DE BER": false, "DE.BER": false,
		"0123456789ABCDEFG": false, "МИД": false,
	} {
		if err := ValidateUnitCode(code); (err == nil) != ok || !ok && !errors.Is(err, ErrClaims) {
			t.Errorf("ValidateUnitCode(%q) = %v, want ok=%v", code, err, ok)
		}
	}
}
