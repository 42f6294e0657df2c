package api

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"valise"
)

// Limits every JSON request body is held to, beyond the server's byte limit
// (Config.MaxBodyBytes). One policy for all of it: a proxy and Valise must
// read a body the same way, and nothing reaches the database that
// PostgreSQL would refuse or that would sit in the append-only history
// forever.
const (
	// MaxJSONDepth bounds the nesting of objects and arrays.
	MaxJSONDepth = 32
	// MaxJSONString bounds one string (a key or a value), in bytes of UTF-8.
	MaxJSONString = 16 << 10
	// MaxJSONNumber bounds a number literal, in characters.
	MaxJSONNumber = 32
)

// checkJSON checks that b is one JSON value that a lenient parser cannot read
// differently from a strict one: valid UTF-8; no NUL, raw or escaped; no
// unpaired UTF-16 surrogate escape; no key twice in one object, at any depth;
// nesting at most MaxJSONDepth; strings and numbers within their limits; no
// trailing data. Refusals name the field (a path such as `data.items[2].kind`)
// and are 400, or 422 for a value over a length limit.
func checkJSON(b []byte) error {
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return valise.Errorf(valise.EBADREQUEST, "the request body is not valid UTF-8 (byte %d)", i)
	}
	s := &jsonScan{b: b}
	s.ws()
	if s.i == len(b) {
		return valise.Errorf(valise.EBADREQUEST, "the request body is empty")
	}
	if err := s.value(0, ""); err != nil {
		return err
	}
	s.ws()
	if s.i != len(b) {
		return valise.Errorf(valise.EBADREQUEST, "the request body must hold a single JSON value")
	}
	return nil
}

type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *jsonScan) syntax() error {
	if s.i >= len(s.b) {
		return valise.Errorf(valise.EBADREQUEST, "malformed JSON: the body ends too early")
	}
	return valise.Errorf(valise.EBADREQUEST, "malformed JSON at byte %d", s.i)
}

// bodyField is the name a refusal gives the field at path.
func bodyField(path string) string {
	if path == "" {
		return "(body)"
	}
	return path
}

func fieldProblem(code, msg, path, reason string) error {
	return &valise.Error{Code: code, Message: msg, Fields: []valise.FieldError{{Field: bodyField(path), Reason: reason}}}
}

func (s *jsonScan) value(depth int, path string) error {
	if s.i >= len(s.b) {
		return s.syntax()
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth >= MaxJSONDepth {
			return fieldProblem(valise.EBADREQUEST, fmt.Sprintf("the request body nests deeper than %d levels", MaxJSONDepth),
				path, fmt.Sprintf("nested deeper than %d levels", MaxJSONDepth))
		}
		if c == '{' {
			return s.object(depth+1, path)
		}
		return s.array(depth+1, path)
	case c == '"':
		_, err := s.str(path)
		return err
	case c == '-' || '0' <= c && c <= '9':
		return s.number(path)
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(string(s.b[s.i:min(len(s.b), s.i+len(lit))]), lit) {
				s.i += len(lit)
				return nil
			}
		}
		return s.syntax()
	}
}

func (s *jsonScan) object(depth int, path string) error {
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	seen := map[string]bool{}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntax()
		}
		key, err := s.str(path)
		if err != nil {
			return err
		}
		child := key
		if path != "" {
			child = path + "." + key
		}
		if seen[key] {
			return fieldProblem(valise.EBADREQUEST, "the request body has a key twice in one object", child, "duplicate key")
		}
		seen[key] = true
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.syntax()
		}
		s.i++
		s.ws()
		if err := s.value(depth, child); err != nil {
			return err
		}
		if done, err := s.after('}'); done || err != nil {
			return err
		}
	}
}

// after reads the comma or the closing bracket after a member or element:
// done when it closed the object or array.
func (s *jsonScan) after(closing byte) (done bool, err error) {
	s.ws()
	switch {
	case s.i < len(s.b) && s.b[s.i] == ',':
		s.i++
		return false, nil
	case s.i < len(s.b) && s.b[s.i] == closing:
		s.i++
		return true, nil
	default:
		return false, s.syntax()
	}
}

func (s *jsonScan) array(depth int, path string) error {
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.ws()
		if err := s.value(depth, fmt.Sprintf("%s[%d]", path, n)); err != nil {
			return err
		}
		if done, err := s.after(']'); done || err != nil {
			return err
		}
	}
}

// str reads a string token and returns it decoded.
func (s *jsonScan) str(path string) (string, error) {
	s.i++ // opening quote
	// Most strings (base64, ids, words) have no escape: scan them in place.
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			s.i++
			if s.i-1-start > MaxJSONString {
				return "", fieldProblem(valise.EINVALID, "a string in the request body is too long", path,
					fmt.Sprintf("longer than %d bytes", MaxJSONString))
			}
			return string(s.b[start : s.i-1]), nil
		}
		if c == '\\' || c < 0x20 || s.i-start > MaxJSONString+4 {
			break // the careful loop below says what is wrong, or unescapes
		}
		s.i++
	}
	var out strings.Builder
	out.Write(s.b[start:s.i])
	for {
		if s.i >= len(s.b) {
			return "", s.syntax()
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if out.Len() > MaxJSONString {
				return "", fieldProblem(valise.EINVALID, "a string in the request body is too long", path,
					fmt.Sprintf("longer than %d bytes", MaxJSONString))
			}
			return out.String(), nil
		case c == 0:
			return "", fieldProblem(valise.EBADREQUEST, "the request body holds a NUL character", path, "contains NUL")
		case c < 0x20:
			return "", s.syntax()
		case c == '\\':
			r, err := s.escape(path)
			if err != nil {
				return "", err
			}
			out.WriteRune(r)
		default:
			out.WriteByte(c)
			s.i++
		}
		if out.Len() > MaxJSONString+4 { // stop early; the exact check is at the end
			return "", fieldProblem(valise.EINVALID, "a string in the request body is too long", path,
				fmt.Sprintf("longer than %d bytes", MaxJSONString))
		}
	}
}

var simpleEscapes = map[byte]rune{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escape reads one backslash escape at s.i.
func (s *jsonScan) escape(path string) (rune, error) {
	if s.i+1 >= len(s.b) {
		s.i = len(s.b)
		return 0, s.syntax()
	}
	c := s.b[s.i+1]
	if simple, ok := simpleEscapes[c]; ok {
		s.i += 2
		return simple, nil
	}
	if c != 'u' {
		s.i++
		return 0, s.syntax()
	}
	r, ok := s.hex4(s.i + 2)
	if !ok {
		return 0, s.syntax()
	}
	s.i += 6
	switch {
	case r == 0:
		return 0, fieldProblem(valise.EBADREQUEST, "the request body holds a NUL character", path, `contains NUL (\u0000)`)
	case utf16.IsSurrogate(r):
		lo, ok := rune(0), false
		if r < 0xDC00 && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
			lo, ok = s.hex4(s.i + 2)
		}
		if pair := utf16.DecodeRune(r, lo); ok && pair != utf8.RuneError {
			s.i += 6
			return pair, nil
		}
		return 0, fieldProblem(valise.EBADREQUEST, "the request body holds an unpaired UTF-16 surrogate escape", path,
			"unpaired surrogate (not valid Unicode)")
	}
	return r, nil
}

func (s *jsonScan) hex4(at int) (rune, bool) {
	if at+4 > len(s.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.b[at:at+4]), 16, 32)
	return rune(n), err == nil
}

func (s *jsonScan) number(path string) error {
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return s.syntax()
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.syntax()
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.syntax()
		}
	}
	lit := string(s.b[start:s.i])
	if len(lit) > MaxJSONNumber {
		return fieldProblem(valise.EINVALID, "a number in the request body is too long", path,
			fmt.Sprintf("longer than %d characters", MaxJSONNumber))
	}
	if _, err := strconv.ParseFloat(lit, 64); err != nil {
		return fieldProblem(valise.EINVALID, "a number in the request body is out of range", path, "out of range")
	}
	return nil
}
