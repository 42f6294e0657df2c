package pouch

import (
	"bytes"
	"testing"
	"time"
)

// checkCanonical: what the fast path accepts is exactly what the slow path
// gives back unchanged, with stable numbers and the same custodian answer.
func checkCanonical(t *testing.T, raw []byte) bool {
	ok, only := canonicalAlready(raw)
	if !ok {
		return false
	}
	out, stable, slowOnly, err := decodeNormalJSON(raw)
	if err != nil || !bytes.Equal(out, raw) || !stable || only != slowOnly {
		t.Fatalf("fast path took %q: slow path gives %q, stable %v, only custodian %v (fast %v), err %v", raw, out, stable, slowOnly, only, err)
	}
	return true
}

func TestCanonicalFastPathAgrees(t *testing.T) {
	for _, c := range []struct {
		raw  string
		fast bool
	}{
		{`{}`, true},
		{`{"a":1,"b":[true,false,null,"x"],"c":{"d":-0.5}}`, true},
		{`{"custodian":{"kind":"person","unit":"MFA"}}`, true},
		{`{"custodian":null}`, true},
		{`"Алматы — Берлин"`, true},
		{`[1,2.25,-3]`, true},
		{`{"b":1,"a":2}`, false}, // keys out of order
		{`{"a":1,"a":2}`, false}, // a duplicate key
		{`{"a": 1}`, false},      // a space
		{`{"a":"x\"y"}`, false},  // an escape
		{`{"a":"<b>"}`, false},   // json.Marshal escapes < and >
		{`{"a":1e3}`, false},     // jsonb rewrites exponents
		{`{"a":-0}`, false},      // a negative zero
		{`{"a":01}`, false},      // not JSON
		{`{"a":1}x`, false},      // trailing bytes
		{"{\"a\":\"\u2028\"}", false},
		{"{\"a\":\"\xff\"}", false}, // invalid UTF-8
	} {
		if got := checkCanonical(t, []byte(c.raw)); got != c.fast {
			t.Errorf("%s: fast path %v, want %v", c.raw, got, c.fast)
		}
	}
}

// TestBlocksAreWrittenCanonical: a custody block as Valise writes it, every
// field set, is already in the log's canonical form, so its leaf is built
// without decoding it again. A field added out of its JSON name's order
// fails here.
func TestBlocksAreWrittenCanonical(t *testing.T) {
	n, intact := 2, true
	p := &Party{Kind: CustodianBearer, Unit: "MFA", User: "u", Username: "x", Name: "Captain", Document: "P1", SheetID: "s"}
	b := Block{Coordinates: &Coordinates{Lat: 51.5, Lon: 71.25}, Custodian: p, From: p, To: p,
		Device:    &DeviceMark{Counter: 3, DeviceTime: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Flags: []string{"clock"}, ID: "d", PayloadSHA256: "ab"},
		HandoffID: "h", Note: "n", Packages: 2, Purpose: "transit", Transfer: "one_sided",
		Seals: &SealResult{Checked: []SealCheck{{Fields: []string{"origin"}, Package: 1, Result: "mismatch", Serial: "S"}},
			Method: "vs1", OK: false, PackagesCounted: &n, PackagesExpected: 2, Problems: []string{"p"}, SealsIntact: &intact, TrustList: 4}}
	raw := mustJSON(b)
	if !checkCanonical(t, raw) {
		t.Fatalf("a block as Valise writes it is not canonical: %s", raw)
	}
	if !checkCanonical(t, mustJSON(map[string]any{"purpose": "transit", "sheet_id": "s"})) {
		t.Fatal("an event's data as Valise writes it is not canonical")
	}
}

// FuzzCanonicalAlready: nothing the fast path accepts differs from the slow
// path's answer.
func FuzzCanonicalAlready(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"c"}]}`, `{"custodian":{"kind":"registry","unit":"MFA"}}`, `[-0.0]`, `"\u00e9"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkCanonical(t, raw) })
}
