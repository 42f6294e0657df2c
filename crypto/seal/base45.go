package seal

import (
	"errors"
	"fmt"
)

// base45Alphabet is the RFC 9285 alphabet. It is exactly the character set of
// the QR alphanumeric mode, which is why Base45 text packs 5.5 bits per
// character into a QR code instead of the 8 bits of byte mode.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a byte to its Base45 digit value, or 0xff when the byte is
// not in the alphabet.
var base45Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = byte(i)
	}
	return t
}()

// base45EncodedLen is the length of the Base45 text for n bytes.
func base45EncodedLen(n int) int { return n/2*3 + n%2*2 }

// appendBase45 appends the RFC 9285 encoding of src to dst.
func appendBase45(dst, src []byte) []byte {
	for i := 0; i+1 < len(src); i += 2 {
		n := uint(src[i])<<8 | uint(src[i+1])
		dst = append(dst, base45Alphabet[n%45], base45Alphabet[n/45%45], base45Alphabet[n/2025])
	}
	if len(src)%2 == 1 {
		n := uint(src[len(src)-1])
		dst = append(dst, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return dst
}

// errBase45Length is returned for texts whose length is 1 modulo 3: no byte
// string encodes to such a length.
var errBase45Length = errors.New("length is 1 modulo 3")

// decodeBase45 decodes RFC 9285 text strictly: every character must be in
// the alphabet, the length must not be 1 modulo 3, a triplet must not exceed
// 65535 and a final pair must not exceed 255. Strictness makes the encoding a
// bijection, so one seal has exactly one text form.
func decodeBase45(src string) ([]byte, error) {
	if len(src)%3 == 1 {
		return nil, errBase45Length
	}
	dst := make([]byte, 0, len(src)/3*2+len(src)%3/2)
	for i := 0; i < len(src); i += 3 {
		if len(src)-i == 2 {
			c, d := base45Value[src[i]], base45Value[src[i+1]]
			if c == 0xff || d == 0xff {
				return nil, fmt.Errorf("invalid character at offset %d", badOffset(src, i, 2))
			}
			n := uint(c) + uint(d)*45
			if n > 0xff {
				return nil, fmt.Errorf("final pair at offset %d exceeds 255", i)
			}
			return append(dst, byte(n)), nil
		}
		c, d, e := base45Value[src[i]], base45Value[src[i+1]], base45Value[src[i+2]]
		if c == 0xff || d == 0xff || e == 0xff {
			return nil, fmt.Errorf("invalid character at offset %d", badOffset(src, i, 3))
		}
		n := uint(c) + uint(d)*45 + uint(e)*2025
		if n > 0xffff {
			return nil, fmt.Errorf("triplet at offset %d exceeds 65535", i)
		}
		dst = append(dst, byte(n>>8), byte(n))
	}
	return dst, nil
}

// badOffset finds the first character outside the alphabet in src[i:i+n].
func badOffset(src string, i, n int) int {
	for j := i; j < i+n; j++ {
		if base45Value[src[j]] == 0xff {
			return j
		}
	}
	return i
}
