package trust_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"valise/crypto/seal"
	"valise/crypto/trust"
)

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func key(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

var (
	root      = key(100)
	otherRoot = key(101)

	// Office keys: MFA rotated from key 1 (retired) to key 2 (active);
	// Berlin has key 3; key 4 was Tokyo's and is compromised; key 5 is
	// Berlin's next key, valid only from next month.
	kMFAOld, kMFA, kBerlin, kTokyo, kBerlinNext = key(1), key(2), key(3), key(4), key(5)
)

func officeKey(k ed25519.PrivateKey, office string, from, to time.Time, st trust.Status) trust.Key {
	tk := trust.Key{
		KID:       seal.KeyID(pub(k)),
		Office:    office,
		PublicKey: pub(k),
		NotBefore: from,
		NotAfter:  to,
		Status:    st,
	}
	if st == trust.StatusRevoked {
		tk.RevokedAt = t0.Add(-24 * time.Hour)
	}
	return tk
}

var revokedSerial = seal.Serial{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1}

// testList is a list issued an hour before t0, stale a week later.
func testList() *trust.List {
	return &trust.List{
		Sequence:   42,
		IssuedAt:   t0.Add(-time.Hour),
		StaleAfter: t0.Add(7 * 24 * time.Hour),
		Keys: []trust.Key{
			officeKey(kMFA, "MFA", t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0), trust.StatusActive),
			officeKey(kMFAOld, "MFA", t0.AddDate(-1, 0, 0), t0.AddDate(0, -1, 0), trust.StatusRetired),
			officeKey(kBerlin, "DE-BER", t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0), trust.StatusActive),
			officeKey(kTokyo, "JP-TYO", t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0), trust.StatusRevoked),
			officeKey(kBerlinNext, "DE-BER", t0.AddDate(0, 1, 0), t0.AddDate(2, 0, 0), trust.StatusActive),
		},
		RevokedSerials: []seal.Serial{{0xff}, revokedSerial, {0x01}},
	}
}

func mustSignList(t *testing.T, l *trust.List, k ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := trust.Sign(l, k)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return b
}

func mustParse(t *testing.T, b []byte) *trust.List {
	t.Helper()
	l, err := trust.ParseAt(b, pub(root), t0)
	if err != nil {
		t.Fatalf("ParseAt: %v", err)
	}
	return l
}

// rawEnvelope is the DSSE envelope, written independently of the package.
type rawEnvelope struct {
	Payload     []byte `json:"payload"`
	PayloadType string `json:"payloadType"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   []byte `json:"sig"`
	} `json:"signatures"`
}

// pae is DSSE's pre-authentication encoding, from the DSSE specification.
func pae(typ string, body []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(typ), typ, len(body), body)
}

// envelopeFor signs an arbitrary payload as a DSSE envelope, so that tests
// can reach the checks behind the signature.
func envelopeFor(typ string, body []byte, signers ...ed25519.PrivateKey) []byte {
	type sig struct {
		KeyID string `json:"keyid"`
		Sig   []byte `json:"sig"`
	}
	env := struct {
		Payload     []byte `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []sig  `json:"signatures"`
	}{body, typ, []sig{}}
	for _, k := range signers {
		env.Signatures = append(env.Signatures, sig{seal.KeyID(pub(k)).String(), ed25519.Sign(k, pae(typ, body))})
	}
	b, _ := json.Marshal(env)
	return b
}

func payloadOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var env rawEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	return env.Payload
}

func TestSignParse(t *testing.T) {
	in := testList()
	b := mustSignList(t, in, root)
	l := mustParse(t, b)

	if l.Sequence != 42 || !l.IssuedAt.Equal(in.IssuedAt) || !l.StaleAfter.Equal(in.StaleAfter) {
		t.Fatalf("header = %d %v %v", l.Sequence, l.IssuedAt, l.StaleAfter)
	}
	if len(l.Keys) != len(in.Keys) || len(l.RevokedSerials) != 3 {
		t.Fatalf("%d keys, %d serials", len(l.Keys), len(l.RevokedSerials))
	}
	for _, want := range in.Keys {
		got, ok := l.Key(want.KID)
		if !ok || !got.PublicKey.Equal(want.PublicKey) || got.Office != want.Office || got.Status != want.Status ||
			!got.NotBefore.Equal(want.NotBefore) || !got.NotAfter.Equal(want.NotAfter) || !got.RevokedAt.Equal(want.RevokedAt) {
			t.Errorf("key %s = %+v, want %+v", want.KID, got, want)
		}
	}
	// Sign sorted keys by office, not-before, kid, and serials bytewise.
	var order []string
	for _, k := range l.Keys {
		order = append(order, k.Office+"@"+k.NotBefore.Format("2006-01"))
	}
	if got := strings.Join(order, " "); got != "DE-BER@2025-03 DE-BER@2026-04 JP-TYO@2025-03 MFA@2025-03 MFA@2026-02" {
		t.Errorf("key order %s", got)
	}
	if l.RevokedSerials[0] != (seal.Serial{0x01}) || l.RevokedSerials[2] != (seal.Serial{0xff}) {
		t.Errorf("serial order %v", l.RevokedSerials)
	}
	// Signing is deterministic, and did not touch the input.
	if !bytes.Equal(b, mustSignList(t, testList(), root)) {
		t.Error("signing the same list twice gave different bytes")
	}
	if in.Keys[0].Office != "MFA" || in.RevokedSerials[0] != (seal.Serial{0xff}) {
		t.Error("Sign reordered its input")
	}
	if l.Stale(t0) || l.Age(t0) != time.Hour {
		t.Errorf("Stale=%v Age=%v", l.Stale(t0), l.Age(t0))
	}
}

func TestFormatIsReadable(t *testing.T) {
	b := mustSignList(t, testList(), root)
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	if len(env) != 3 || env["payloadType"] != trust.PayloadType {
		t.Fatalf("envelope %v", env)
	}
	sigs := env["signatures"].([]any)
	if len(sigs) != 1 || sigs[0].(map[string]any)["keyid"] != seal.KeyID(pub(root)).String() {
		t.Fatalf("signatures %v", sigs)
	}
	p := string(payloadOf(t, b))
	for _, want := range []string{
		`{"version":1,"sequence":42,"issued_at":"2026-03-14T08:26:53Z","stale_after":"2026-03-21T09:26:53Z","keys":[`,
		`"kid":"` + seal.KeyID(pub(kMFA)).String() + `","office":"MFA","public_key":"` + base64.StdEncoding.EncodeToString(pub(kMFA)) + `"`,
		`"status":"revoked","revoked_at":"2026-03-13T09:26:53Z"`,
		`"revoked_serials":["0100000000000000","deadbeef00000001","ff00000000000000"]}`,
	} {
		if !strings.Contains(p, want) {
			t.Errorf("payload lacks %s\n%s", want, p)
		}
	}
}

func TestNormalizesTimes(t *testing.T) {
	l := testList()
	astana := time.FixedZone("Asia/Almaty", 5*3600)
	l.IssuedAt = l.IssuedAt.In(astana).Add(700 * time.Millisecond)
	got := mustParse(t, mustSignList(t, l, root))
	if got.IssuedAt.Location() != time.UTC || !got.IssuedAt.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("issued-at %v", got.IssuedAt)
	}
}

func TestParseRefuses(t *testing.T) {
	good := mustSignList(t, testList(), root)
	body := payloadOf(t, good)
	resign := func(edit func(string) string) []byte {
		return envelopeFor(trust.PayloadType, []byte(edit(string(body))), root)
	}
	var env rawEnvelope
	_ = json.Unmarshal(good, &env)

	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"good", good, nil},
		{"good, independently signed", envelopeFor(trust.PayloadType, body, root), nil},
		{"co-signed by a second root", envelopeFor(trust.PayloadType, body, otherRoot, root), nil},
		{"tampered payload", func() []byte {
			e := env
			e.Payload = bytes.Replace(body, []byte(`"office":"MFA"`), []byte(`"office":"MFB"`), 1)
			b, _ := json.Marshal(e)
			return b
		}(), trust.ErrSignature},
		{"tampered signature", func() []byte {
			e := env
			e.Signatures[0].Sig = bytes.Clone(e.Signatures[0].Sig)
			e.Signatures[0].Sig[0] ^= 1
			b, _ := json.Marshal(e)
			return b
		}(), trust.ErrSignature},
		{"wrong root", mustSignList(t, testList(), otherRoot), trust.ErrSignature},
		{"root signature under another keyid", bytes.Replace(good, []byte(seal.KeyID(pub(root)).String()), []byte(seal.KeyID(pub(otherRoot)).String()), 1), trust.ErrSignature},
		{"no signatures", envelopeFor(trust.PayloadType, body), trust.ErrSignature},
		{"too many signatures", envelopeFor(trust.PayloadType, body, root, root, root, root, root, root, root, root, root), trust.ErrFormat},
		{"other payload type", envelopeFor("application/json", body, root), trust.ErrFormat},
		{"not JSON", []byte("VS1:"), trust.ErrFormat},
		{"empty", nil, trust.ErrFormat},
		{"trailing data", append(bytes.Clone(good), []byte(` {}`)...), trust.ErrFormat},
		{"unknown envelope field", bytes.Replace(good, []byte(`{"payload"`), []byte(`{"x":1,"payload"`), 1), trust.ErrFormat},
		{"unknown payload field", resign(func(s string) string { return strings.Replace(s, `"version":1,`, `"version":1,"note":"x",`, 1) }), trust.ErrFormat},
		{"version 2", resign(func(s string) string { return strings.Replace(s, `"version":1,`, `"version":2,`, 1) }), trust.ErrFormat},
		{"indented payload", resign(func(s string) string { return strings.Replace(s, `,"sequence"`, `, "sequence"`, 1) }), trust.ErrFormat},
		{"duplicate JSON key", resign(func(s string) string { return strings.Replace(s, `"sequence":42,`, `"sequence":1,"sequence":42,`, 1) }), trust.ErrFormat},
		{"fractional seconds", resign(func(s string) string { return strings.Replace(s, `08:26:53Z`, `08:26:53.5Z`, 1) }), trust.ErrFormat},
		{"local time zone", resign(func(s string) string {
			return strings.Replace(s, `"2026-03-14T08:26:53Z"`, `"2026-03-14T13:26:53+05:00"`, 1)
		}), trust.ErrFormat},
		{"keys out of order", resign(func(s string) string {
			l := testList()
			l.Keys = l.Keys[:2] // MFA only: active (later not-before) first in testList
			b, _ := json.Marshal(struct {
				Version int `json:"version"`
				*trust.List
			}{1, l})
			return string(b)
		}), trust.ErrInvalid},
		{"kid not of its key", resign(func(s string) string {
			return strings.Replace(s, seal.KeyID(pub(kMFA)).String(), seal.KeyID(pub(kMFAOld)).String(), 1)
		}), trust.ErrInvalid},
		{"too large", append(bytes.Clone(good), bytes.Repeat([]byte(" "), trust.MaxSize)...), trust.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := trust.ParseAt(tt.data, pub(root), t0)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ParseAt: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || l != nil {
				t.Fatalf("ParseAt = %v, %v; want %v", l, err, tt.want)
			}
		})
	}
	if _, err := trust.ParseAt(good, pub(root)[:31], t0); !errors.Is(err, trust.ErrSignature) {
		t.Errorf("short root key: %v", err)
	}
}

// TestSignAndParseCheckContent: every invalid list is refused by Sign, and
// by Parse if someone signs it by other means.
func TestSignAndParseCheckContent(t *testing.T) {
	tests := []struct {
		name string
		edit func(l *trust.List)
	}{
		{"sequence zero", func(l *trust.List) { l.Sequence = 0 }},
		{"no issued-at", func(l *trust.List) { l.IssuedAt = time.Time{} }},
		{"stale before issued", func(l *trust.List) { l.StaleAfter = l.IssuedAt }},
		{"kid not of its key", func(l *trust.List) { l.Keys[0].KID = l.Keys[1].KID }},
		{"zero kid", func(l *trust.List) { l.Keys[0].KID = seal.KID{} }},
		{"short public key", func(l *trust.List) { l.Keys[0].PublicKey = l.Keys[0].PublicKey[:31] }},
		{"key listed twice", func(l *trust.List) { l.Keys = append(l.Keys, l.Keys[0]) }},
		{"same key for two offices", func(l *trust.List) { k := l.Keys[0]; k.Office = "KZ-AST"; l.Keys = append(l.Keys, k) }},
		{"root key as office key", func(l *trust.List) {
			l.Keys = append(l.Keys, officeKey(root, "MFA", t0, t0.AddDate(1, 0, 0), trust.StatusActive))
		}},
		{"bad office", func(l *trust.List) { l.Keys[0].Office = "mfa" }},
		{"empty office", func(l *trust.List) { l.Keys[0].Office = "" }},
		{"window reversed", func(l *trust.List) { l.Keys[0].NotAfter = l.Keys[0].NotBefore }},
		{"no not-before", func(l *trust.List) { l.Keys[0].NotBefore = time.Time{} }},
		{"unknown status", func(l *trust.List) { l.Keys[0].Status = "suspended" }},
		{"revoked without revoked-at", func(l *trust.List) { l.Keys[3].RevokedAt = time.Time{} }},
		{"active with revoked-at", func(l *trust.List) { l.Keys[0].RevokedAt = t0 }},
		{"serial twice", func(l *trust.List) { l.RevokedSerials = append(l.RevokedSerials, revokedSerial) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testList()
			tt.edit(l)
			if _, err := trust.Sign(l, root); !errors.Is(err, trust.ErrInvalid) {
				t.Fatalf("Sign = %v, want ErrInvalid", err)
			}
			b, err := json.Marshal(struct {
				Version int `json:"version"`
				*trust.List
			}{1, l})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := trust.ParseAt(envelopeFor(trust.PayloadType, b, root), pub(root), t0); !errors.Is(err, trust.ErrInvalid) {
				t.Fatalf("ParseAt = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := trust.Sign(testList(), root[:10]); err == nil {
		t.Error("Sign accepted a short root key")
	}
}

func TestFreshness(t *testing.T) {
	l := testList()
	l.IssuedAt = t0.Add(seal.ClockSkew)
	if _, err := trust.ParseAt(mustSignList(t, l, root), pub(root), t0); err != nil {
		t.Fatalf("list issued within the clock skew: %v", err)
	}
	l.IssuedAt = t0.Add(seal.ClockSkew + time.Second)
	if _, err := trust.ParseAt(mustSignList(t, l, root), pub(root), t0); !errors.Is(err, trust.ErrFromFuture) {
		t.Fatalf("future list: %v, want ErrFromFuture", err)
	}

	// A stale list parses, verifies seals, and says it is stale.
	stale := mustParse(t, mustSignList(t, testList(), root))
	tests := []struct {
		now   time.Time
		stale bool
		age   time.Duration
	}{
		{t0.Add(-2 * time.Hour), false, 0},
		{t0, false, time.Hour},
		{stale.StaleAfter.Add(-time.Second), false, stale.StaleAfter.Sub(stale.IssuedAt) - time.Second},
		{stale.StaleAfter, true, stale.StaleAfter.Sub(stale.IssuedAt)},
		{stale.StaleAfter.AddDate(0, 1, 0), true, stale.StaleAfter.AddDate(0, 1, 0).Sub(stale.IssuedAt)},
	}
	for _, tt := range tests {
		if got := stale.Stale(tt.now); got != tt.stale {
			t.Errorf("Stale(%v) = %v", tt.now, got)
		}
		if got := stale.Age(tt.now); got != tt.age {
			t.Errorf("Age(%v) = %v, want %v", tt.now, got, tt.age)
		}
	}
	if _, err := trust.Parse(mustSignList(t, testList(), root), pub(root)); err != nil {
		t.Errorf("Parse at the real time: %v", err)
	}
}

func TestReplaces(t *testing.T) {
	parse := func(seq uint64, edit func(*trust.List)) *trust.List {
		l := testList()
		l.Sequence = seq
		if edit != nil {
			edit(l)
		}
		return mustParse(t, mustSignList(t, l, root))
	}
	cached := parse(42, nil)
	tests := []struct {
		name string
		next *trust.List
		old  *trust.List
		want error
	}{
		{"first list", cached, nil, nil},
		{"newer", parse(43, nil), cached, nil},
		{"same list again", parse(42, nil), cached, nil},
		{"older", parse(41, nil), cached, trust.ErrRollback},
		{"same sequence, other content", parse(42, func(l *trust.List) { l.RevokedSerials = nil }), cached, trust.ErrRollback},
		{"unparsed list, same sequence", testList(), cached, trust.ErrRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.next.Replaces(tt.old); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Replaces = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSealVerification runs seal.Verify with the trust list as resolver.
func TestSealVerification(t *testing.T) {
	list := mustParse(t, mustSignList(t, testList(), root))
	signer := func(k ed25519.PrivateKey) seal.Signer {
		s, err := seal.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(origin string, issued time.Time, serial byte) seal.Claims {
		dest := "MFA"
		if origin == "MFA" {
			dest = "DE-BER"
		}
		return seal.Claims{
			BagID:        seal.BagID{1, 2, 3},
			Registry:     "KZ-MFA-2026-000123",
			Origin:       origin,
			Destination:  dest,
			Package:      1,
			Packages:     1,
			ManifestHash: seal.HashManifest([]byte("manifest")),
			IssuedAt:     issued,
			Expires:      issued.Add(30 * 24 * time.Hour),
			Serial:       seal.Serial{serial, 1},
		}
	}
	oldWindowEnd := t0.AddDate(0, -1, 0)
	tests := []struct {
		name   string
		key    ed25519.PrivateKey
		claims seal.Claims
		now    time.Time
		want   error
	}{
		{"active key", kMFA, claims("MFA", t0.Add(-time.Hour), 1), t0, nil},
		{"retired key, signed in its window, checked after it", kMFAOld, claims("MFA", oldWindowEnd.Add(-time.Hour), 2), oldWindowEnd.Add(20 * 24 * time.Hour), nil},
		{"retired key, signed on its last second", kMFAOld, claims("MFA", oldWindowEnd, 2), oldWindowEnd.Add(time.Hour), nil},
		{"retired key, signed after its window", kMFAOld, claims("MFA", oldWindowEnd.Add(time.Second), 3), t0, seal.ErrKeyExpired},
		{"revoked key", kTokyo, claims("JP-TYO", t0.AddDate(0, -2, 0), 4), t0.AddDate(0, -2, 0).Add(time.Hour), seal.ErrKeyRevoked},
		{"revoked serial", kMFA, func() seal.Claims { c := claims("MFA", t0.Add(-time.Hour), 0); c.Serial = revokedSerial; return c }(), t0, seal.ErrSealRevoked},
		{"key not yet valid at issue", kBerlinNext, claims("DE-BER", t0, 5), t0, seal.ErrKeyNotYetValid},
		{"next key once valid", kBerlinNext, claims("DE-BER", t0.AddDate(0, 1, 0), 5), t0.AddDate(0, 1, 0), nil},
		{"another office's key", kBerlin, claims("MFA", t0.Add(-time.Hour), 6), t0, seal.ErrWrongOffice},
		{"key not in the list", key(77), claims("MFA", t0.Add(-time.Hour), 7), t0, seal.ErrUnknownKey},
		{"root key cannot sign seals", root, claims("MFA", t0.Add(-time.Hour), 8), t0, seal.ErrUnknownKey},
		{"seal expired", kMFA, claims("MFA", t0.Add(-time.Hour), 9), t0.Add(31 * 24 * time.Hour), seal.ErrSealExpired},
		{"stale list still verifies", kMFA, claims("MFA", t0.Add(-time.Hour), 10), list.StaleAfter.Add(time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := seal.Sign(tt.claims, signer(tt.key))
			if err != nil {
				t.Fatal(err)
			}
			// Parsed list (indexed) and a list built in code (scanned)
			// must agree.
			for _, keys := range []seal.KeyResolver{list, testList()} {
				got, err := seal.Verify(text, keys, tt.now)
				if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
					t.Fatalf("Verify = %v, want %v", err, tt.want)
				}
				if tt.want == nil && got != tt.claims {
					t.Fatalf("claims %+v", got)
				}
			}
		})
	}
}
