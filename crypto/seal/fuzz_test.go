package seal

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to Parse and Verify. Neither may panic; an
// error must wrap one of the package's sentinels; and anything accepted must
// re-encode to exactly the input (one seal, one text).
//
// A plain `go test` runs only the seeds. Explore with
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 30s ./crypto/seal
func FuzzParse(f *testing.F) {
	s := testSigner(f, 1)
	small := typicalClaims(f)
	small.Registry, small.Origin, small.Destination, small.PhysicalSeal = "1", "MF", "DE", ""
	var seeds []string
	for _, c := range []Claims{typicalClaims(f), maxClaims(f), small} {
		seeds = append(seeds, mustSign(f, c, s))
	}
	good := seeds[0]
	body := strings.TrimPrefix(good, Prefix)
	seeds = append(seeds,
		"", Prefix, "VS1", "vs1:"+body, body,
		good[:len(good)-1], good[:len(good)-2], good[:len(good)/2],
		good+"0", good+"00", good+"000",
		Prefix+strings.ToLower(body),
		good[:20]+"*"+good[21:],
		good[:len(good)-5]+"::"+good[len(good)-3:],
		Prefix+strings.Repeat(":", 400),
		Prefix+strings.Repeat("0", MaxTextLen),
		// A well-formed seal with a crit header (see TestParseCOSEStrict).
		textOf(signRaw(s, cborMap(1, cInt(-8), 2, []byte{0x81, 0x01}, 4, cBytes(s.KID[:])), []byte{0xa0})),
	)
	for _, seed := range seeds {
		f.Add(seed)
	}
	keys := keySetFor(1, "MFA")
	f.Fuzz(func(t *testing.T, text string) {
		sealed, err := Parse(text)
		if err != nil {
			if sealed != nil {
				t.Fatal("Parse returned a seal with an error")
			}
			if Code(err) == "error" {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if got := textOf(marshalSign1(sealed.Protected, sealed.Payload, sealed.Signature)); got != text {
			t.Fatalf("accepted a non-canonical text:\n in %q\nout %q", text, got)
		}
		if err := sealed.Claims.Validate(); err != nil {
			t.Fatalf("accepted invalid claims: %v", err)
		}
		if err := sealed.Verify(keys, t0); err != nil && Code(err) == "error" {
			t.Fatalf("verification error wraps no sentinel: %v", err)
		}
	})
}

// FuzzBase45 checks that strict decoding makes Base45 a bijection.
func FuzzBase45(f *testing.F) {
	for _, s := range []string{"", "BB8", "%69 VD92EX0", "FGW", "GGW", "U5", "V5", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := decodeBase45(s)
		if err != nil {
			return
		}
		if got := string(appendBase45(nil, b)); got != s {
			t.Fatalf("decode(%q) = %x re-encodes to %q", s, b, got)
		}
	})
}
