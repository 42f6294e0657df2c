package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"

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

// seal seals a position (sort key seq, row id) of list for the caller userID.
func (c *cursors) seal(list, userID string, seq int64, id string) (string, error) {
	pt := binary.BigEndian.AppendUint64(nil, uint64(seq))
	pt = append(pt, id...)
	sealed, err := secret.Seal(c.key, pt, cursorAD(list, userID))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// open reads a cursor made by seal for the same list and caller; field
// names the query parameter in the 422. ok is false for an empty v.
func (c *cursors) open(list, userID, field, v string) (seq int64, id string, ok bool, err error) {
	if v == "" {
		return 0, "", false, nil
	}
	bad := valise.Invalid("bad cursor", valise.FieldError{Field: field, Reason: "not a cursor this server gave you for this list"})
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return 0, "", false, bad
	}
	pt, err := secret.Open(c.key, raw, cursorAD(list, userID))
	if err != nil || len(pt) < 8 {
		return 0, "", false, bad
	}
	return int64(binary.BigEndian.Uint64(pt)), string(pt[8:]), true, nil
}

// bag seals a bag list position for the caller userID ("" for no next page).
func (c *cursors) bag(userID string, at *pouch.BagCursor) (string, error) {
	if at == nil {
		return "", nil
	}
	return c.seal("bags", userID, at.Seq, at.ID)
}

// openBag reads a bag list cursor made by bag for the same caller.
func (c *cursors) openBag(userID, field, v string) (*pouch.BagCursor, error) {
	seq, id, ok, err := c.open("bags", userID, field, v)
	if !ok || err != nil {
		return nil, err
	}
	return &pouch.BagCursor{Seq: seq, ID: id}, nil
}

// historyPage reads the after (cursor) and limit parameters of a page of a
// bag's history; list names the list ("custody", "events"). The cursor is
// sealed for the caller, the list and the bag: another bag's is refused.
func (c *cursors) historyPage(r *http.Request, list, userID, bagID string) (int64, int, error) {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return 0, 0, err
	}
	after, bag, ok, err := c.open(list, userID, "after", q.Get("after"))
	if err != nil {
		return 0, 0, err
	}
	if ok && (bag != bagID || after < 1) {
		return 0, 0, valise.Invalid("bad cursor", valise.FieldError{Field: "after", Reason: "not a cursor this server gave you for this list"})
	}
	return after, limit, nil
}

// historyNext seals the cursor of the page after event id after of a bag's
// history ("" when after is 0: the last page).
func (c *cursors) historyNext(list, userID, bagID string, after int64) (string, error) {
	if after == 0 {
		return "", nil
	}
	return c.seal(list, userID, after, bagID)
}
