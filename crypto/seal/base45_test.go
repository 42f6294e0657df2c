package seal

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBase45Vectors(t *testing.T) {
	// RFC 9285 §4.3 and §4.4, plus edge values.
	tests := []struct{ raw, text string }{
		{"", ""},
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"\x00", "00"},
		{"\xff", "U5"},
		{"\x00\x00", "000"},
		{"\xff\xff", "FGW"},
	}
	for _, tt := range tests {
		if got := string(appendBase45(nil, []byte(tt.raw))); got != tt.text {
			t.Errorf("encode(%q) = %q, want %q", tt.raw, got, tt.text)
		}
		if n := base45EncodedLen(len(tt.raw)); n != len(tt.text) {
			t.Errorf("base45EncodedLen(%d) = %d, want %d", len(tt.raw), n, len(tt.text))
		}
		got, err := decodeBase45(tt.text)
		if err != nil || string(got) != tt.raw {
			t.Errorf("decode(%q) = %q, %v; want %q", tt.text, got, err, tt.raw)
		}
	}
}

func TestBase45RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		got, err := decodeBase45(string(appendBase45(nil, b)))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %d bytes: %x, %v", n, got, err)
		}
	}
}

func TestBase45DecodeStrict(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"one char", "A", "1 modulo 3"},
		{"four chars", "BB8A", "1 modulo 3"},
		{"lower case", "bb8", "invalid character at offset 0"},
		{"bad char in pair", "BB8B#", "invalid character at offset 4"},
		{"non-ASCII", "BB\xc3\xa9", "1 modulo 3"},
		{"non-ASCII triplet", "B\xc3\xa9", "invalid character at offset 1"},
		{"NUL", "BB\x00", "invalid character at offset 2"},
		{"triplet 65536", "GGW", "exceeds 65535"},
		{"triplet max+", "::::", "1 modulo 3"},
		{"triplet all 44", ":::", "exceeds 65535"},
		{"pair 256", "V5", "exceeds 255"},
		{"pair max", "::", "exceeds 255"},
		{"trailing pair after good triplet", "BB8V5", "exceeds 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeBase45(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("decode(%q) error = %v, want %q", tt.text, err, tt.want)
			}
		})
	}
}

// TestBase45AlphabetIsQRAlphanumeric pins the property the QR size depends
// on: the prefix and every Base45 character are in the QR alphanumeric set.
func TestBase45AlphabetIsQRAlphanumeric(t *testing.T) {
	const qrAlphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" // ISO/IEC 18004 table 5
	for _, c := range base45Alphabet + Prefix {
		if !strings.ContainsRune(qrAlphanumeric, c) {
			t.Errorf("%q is not QR alphanumeric", c)
		}
	}
	if len(base45Alphabet) != 45 {
		t.Errorf("alphabet has %d characters", len(base45Alphabet))
	}
}
