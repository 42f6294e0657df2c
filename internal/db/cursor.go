package db

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"valise"
)

// A keyset cursor for lists ordered by (a time, an id) newest first: opaque
// to the caller (base64url), and it names a row, not a position, so rows
// added meanwhile neither repeat nor vanish from the pages that follow.

// Cursor encodes the position after the row (t, id).
func Cursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + id))
}

// ParseCursor decodes a Cursor; a malformed one is a 422 naming field.
func ParseCursor(s, field string) (time.Time, string, error) {
	bad := valise.Invalid("bad cursor", valise.FieldError{Field: field, Reason: "not a cursor from a previous page"})
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", bad
	}
	us, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || !ValidUUID(id) {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n), id, nil
}
