package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"

	"valise"
	"valise/crypto/secret"
	"valise/pouch"
)

// cursors seals list positions into opaque page cursors. A position holds
// the row's sort key (for bags, its place in the global registry sequence,
// whose gaps in a page walk would locate hidden bags), so a cursor is the
// position encrypted and authenticated (XChaCha20-Poly1305, crypto/secret)
// under a key derived from the master key, bound to the list and to the
// caller: it reveals nothing, and a tampered, foreign or another caller's
// cursor is refused with 422. Every server on one database shares the master
// key, so a cursor from one works on another.
type cursors struct{ key []byte }

func newCursors(master []byte) *cursors {
	if master == nil { // tests: a key for this process only
		master = make([]byte, 32)
		_, _ = rand.Read(master)
	}
	m := hmac.New(sha256.New, master)
	m.Write([]byte("valise list cursor v1"))
	return &cursors{key: m.Sum(nil)}
}

func cursorAD(list, userID string) []byte {
	return []byte("valise-cursor\x00" + list + "\x00" + userID)
}

// bag seals a bag list position for the caller userID ("" for no next page).
func (c *cursors) bag(userID string, at *pouch.BagCursor) (string, error) {
	if at == nil {
		return "", nil
	}
	pt := binary.BigEndian.AppendUint64(nil, uint64(at.Seq))
	pt = append(pt, at.ID...)
	sealed, err := secret.Seal(c.key, pt, cursorAD("bags", userID))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openBag reads a cursor made by bag for the same caller; field names the
// query parameter in the 422.
func (c *cursors) openBag(userID, field, v string) (*pouch.BagCursor, error) {
	if v == "" {
		return nil, nil
	}
	bad := valise.Invalid("bad cursor", valise.FieldError{Field: field, Reason: "not a cursor this server gave you for this list"})
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, bad
	}
	pt, err := secret.Open(c.key, raw, cursorAD("bags", userID))
	if err != nil || len(pt) < 8 {
		return nil, bad
	}
	return &pouch.BagCursor{Seq: int64(binary.BigEndian.Uint64(pt)), ID: string(pt[8:])}, nil
}
