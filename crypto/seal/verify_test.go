package seal

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// failingResolver stands for a key store that is down.
type failingResolver struct{ err error }

func (f failingResolver) SealKey(KID) (Key, error)         { return Key{}, f.err }
func (f failingResolver) SealRevoked(Serial) (bool, error) { return false, f.err }

// lyingResolver returns another office's key under any kid.
type lyingResolver struct{ k Key }

func (l lyingResolver) SealKey(KID) (Key, error)         { return l.k, nil }
func (l lyingResolver) SealRevoked(Serial) (bool, error) { return false, nil }

// revocationDown knows keys but cannot answer about revocations.
type revocationDown struct {
	*KeySet
	err error
}

func (r revocationDown) SealRevoked(Serial) (bool, error) { return false, r.err }

func TestVerify(t *testing.T) {
	mfa, berlin := testSigner(t, 1), testSigner(t, 2)
	base := typicalClaims(t)
	errDown := errors.New("key store down")

	// keys: signer 1 belongs to MFA, signer 2 to DE-BER; both may sign for
	// a year around t0.
	keys := func(edit func(ks *KeySet)) *KeySet {
		ks := keySetFor(1, "MFA")
		ks.Add(Key{Public: pub(berlin.Key), Office: "DE-BER", NotBefore: t0.AddDate(0, -6, 0), NotAfter: t0.AddDate(0, 6, 0)})
		if edit != nil {
			edit(ks)
		}
		return ks
	}
	editKey := func(s Signer, f func(*Key)) func(*KeySet) {
		return func(ks *KeySet) {
			k := ks.Keys[s.KID]
			f(&k)
			ks.Keys[s.KID] = k
		}
	}
	claims := func(f func(*Claims)) Claims {
		c := base
		f(&c)
		return c
	}
	forged := func() string {
		// Claims of one seal, signature of another from the same key.
		a, _ := Parse(mustSign(t, base, mfa))
		b, _ := Parse(mustSign(t, claims(func(c *Claims) { c.Destination = "JP-TYO" }), mfa))
		return textOf(marshalSign1(b.Protected, b.Payload, a.Signature))
	}
	impostor := func() string {
		// Signed by signer 3, but naming signer 1's kid.
		bad := testSigner(t, 3)
		payload, _ := marshalClaims(&base)
		return textOf(signRaw(bad, protectedHeader(mfa.KID), payload))
	}

	tests := []struct {
		name string
		text string
		keys KeyResolver
		now  time.Time
		want error
	}{
		{"valid", mustSign(t, base, mfa), keys(nil), t0, nil},
		{"valid from the other office", mustSign(t, claims(func(c *Claims) { c.Origin, c.Destination = "DE-BER", "MFA" }), berlin), keys(nil), t0, nil},
		{"malformed", "VS1:ABC", keys(nil), t0, ErrCBOR},
		{"unknown key", mustSign(t, base, testSigner(t, 9)), keys(nil), t0, ErrUnknownKey},
		{"nil resolver", mustSign(t, base, mfa), nil, t0, ErrUnknownKey},
		{"tampered claims", forged(), keys(nil), t0, ErrSignature},
		{"wrong key under kid", impostor(), keys(nil), t0, ErrSignature},
		{"resolver returns another key", mustSign(t, base, mfa), lyingResolver{keys(nil).Keys[berlin.KID]}, t0, ErrUnknownKey},
		{"resolver returns no key", mustSign(t, base, mfa), lyingResolver{}, t0, ErrUnknownKey},
		{"key revoked", mustSign(t, base, mfa), keys(editKey(mfa, func(k *Key) { k.Revoked = true })), t0, ErrKeyRevoked},
		{"key revoked and seal expired", mustSign(t, base, mfa), keys(editKey(mfa, func(k *Key) { k.Revoked = true })), base.Expires.Add(time.Hour), ErrKeyRevoked},
		{"other office's key claims our bag", mustSign(t, base, berlin), keys(nil), t0, ErrWrongOffice},
		{"office check is exact", mustSign(t, base, mfa), keys(editKey(mfa, func(k *Key) { k.Office = "mfa" })), t0, ErrWrongOffice},
		{"key not yet valid at issue", mustSign(t, base, mfa), keys(editKey(mfa, func(k *Key) { k.NotBefore = base.IssuedAt.Add(time.Second) })), t0, ErrKeyNotYetValid},
		{"key valid from issue exactly", mustSign(t, base, mfa), keys(editKey(mfa, func(k *Key) { k.NotBefore = base.IssuedAt })), t0, nil},
		{"key window over before issue", mustSign(t, base, mfa), keys(editKey(mfa, func(k *Key) { k.NotAfter = base.IssuedAt.Add(-time.Second) })), t0, ErrKeyExpired},
		{"key window ends at issue exactly", mustSign(t, base, mfa), keys(editKey(mfa, func(k *Key) { k.NotAfter = base.IssuedAt })), t0, nil},
		{"key retired since, seal still valid", mustSign(t, base, mfa), keys(editKey(mfa, func(k *Key) { k.NotAfter = base.IssuedAt.Add(time.Minute) })), base.Expires.Add(-time.Second), nil},
		{"serial revoked", mustSign(t, base, mfa), keys(func(ks *KeySet) { ks.Revoked = map[Serial]bool{base.Serial: true} }), t0, ErrSealRevoked},
		{"other serial revoked", mustSign(t, base, mfa), keys(func(ks *KeySet) { ks.Revoked = map[Serial]bool{{9}: true} }), t0, nil},
		{"issued within skew", mustSign(t, claims(func(c *Claims) { c.IssuedAt = t0.Add(ClockSkew) }), mfa), keys(nil), t0, nil},
		{"issued beyond skew", mustSign(t, claims(func(c *Claims) { c.IssuedAt = t0.Add(ClockSkew + time.Second) }), mfa), keys(nil), t0, ErrSealFromFuture},
		{"last second before expiry", mustSign(t, base, mfa), keys(nil), base.Expires.Add(-time.Second), nil},
		{"expired at expiry", mustSign(t, base, mfa), keys(nil), base.Expires, ErrSealExpired},
		{"expired long ago", mustSign(t, base, mfa), keys(nil), base.Expires.AddDate(1, 0, 0), ErrSealExpired},
		{"key store down", mustSign(t, base, mfa), failingResolver{errDown}, t0, errDown},
		{"revocation store down", mustSign(t, base, mfa), revocationDown{keys(nil), errDown}, t0, errDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Verify(tt.text, tt.keys, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				want, _ := Parse(tt.text)
				if got != want.Claims {
					t.Fatalf("Verify returned %+v, want %+v", got, want.Claims)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if got != (Claims{}) {
				t.Fatalf("Verify returned claims with an error: %+v", got)
			}
		})
	}
}

// TestSealedVerifyKeepsClaims shows the path for displaying an authentic
// but expired seal: Parse, then Verify on the result.
func TestSealedVerifyKeepsClaims(t *testing.T) {
	c := typicalClaims(t)
	s, err := Parse(mustSign(t, c, testSigner(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(keySetFor(1, "MFA"), c.Expires); !errors.Is(err, ErrSealExpired) {
		t.Fatalf("Verify = %v, want ErrSealExpired", err)
	}
	if s.Claims != c {
		t.Fatal("claims changed")
	}
}

func TestCode(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range codes {
		if c.code == "" || c.code == "error" || seen[c.code] || strings.ToLower(c.code) != c.code {
			t.Errorf("bad or duplicate code %q", c.code)
		}
		seen[c.code] = true
		wrapped := errors.Join(errors.New("context"), c.err)
		if got := Code(wrapped); got != c.code {
			t.Errorf("Code(%v) = %q, want %q", c.err, got, c.code)
		}
	}
	if Code(nil) != "" || Code(errors.New("other")) != "error" {
		t.Error("Code of nil or foreign error")
	}
	_, err := Verify(mustSign(t, typicalClaims(t), testSigner(t, 1)), keySetFor(1, "MFA"), typicalClaims(t).Expires)
	if Code(err) != "seal_expired" {
		t.Errorf("Code(%v) = %q", err, Code(err))
	}
}
