package pouch

import (
	"bytes"
	"unicode/utf8"
)

// canonicalAlready reports whether raw is already what normalJSON would make
// of it, with every number stable (so normalJSON's answer would be raw
// itself, true): no space, object keys in strictly increasing order, strings
// without escapes and without the characters json.Marshal escapes, numbers
// plain and not a negative zero. Most events' blocks are written by Valise
// itself in that form; checking them in one pass, without decoding into
// maps and encoding again, is what a phone's batch of scans spent a sixth of
// its CPU on. Anything else (an escape, a space, a 1e3) is left to the slow
// path, which decides it as before. onlyCustodian: raw is an object whose
// one key is "custodian", with a value other than null.
func canonicalAlready(raw []byte) (ok, onlyCustodian bool) {
	p := canonScan{b: raw}
	if !p.value(0) || p.i != len(raw) {
		return false, false
	}
	return true, p.topKeys == 1 && p.firstKey == "custodian" && !p.firstNull
}

// canonScan walks JSON bytes for canonicalAlready.
type canonScan struct {
	b []byte
	i int
	// Of a top-level object: how many keys, its first key, and whether that
	// key's value is null.
	topKeys   int
	firstKey  string
	firstNull bool
}

func (p *canonScan) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *canonScan) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// value scans one value at nesting depth d (bounded like strict input).
func (p *canonScan) value(d int) bool {
	if d > 64 {
		return false
	}
	switch c := p.peek(); {
	case c == '{':
		p.i++
		if p.eat('}') {
			return true
		}
		var prev []byte
		for {
			k, ok := p.str()
			if !ok || (prev != nil && bytes.Compare(prev, k) >= 0) || !p.eat(':') {
				return false
			}
			if d == 0 {
				if p.topKeys == 0 {
					p.firstKey, p.firstNull = string(k), bytes.HasPrefix(p.b[p.i:], []byte("null"))
				}
				p.topKeys++
			}
			if !p.value(d + 1) {
				return false
			}
			prev = k
			if p.eat(',') {
				continue
			}
			return p.eat('}')
		}
	case c == '[':
		p.i++
		if p.eat(']') {
			return true
		}
		for {
			if !p.value(d + 1) {
				return false
			}
			if p.eat(',') {
				continue
			}
			return p.eat(']')
		}
	case c == '"':
		_, ok := p.str()
		return ok
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return false
}

func (p *canonScan) lit(s string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.i += len(s)
		return true
	}
	return false
}

// str scans a string json.Marshal writes unchanged: no escape, no control
// character, none of < > & (HTML-escaped), valid UTF-8 without U+2028 and
// U+2029. It returns the string's bytes.
func (p *canonScan) str() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c < 0x20 || c == '\\' || c == '<' || c == '>' || c == '&':
			return nil, false
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
				return nil, false
			}
			p.i += n
		}
	}
	return nil, false
}

// number scans a plain number (plainNumber) that is not a negative zero.
func (p *canonScan) number() bool {
	start := p.i
	p.eat('-')
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	default:
		return false
	}
	if p.eat('.') {
		n := p.i
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
		if p.i == n {
			return false
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		return false
	}
	s := p.b[start:p.i]
	return !(s[0] == '-' && len(bytes.Trim(s[1:], "0.")) == 0)
}
