package identity

import (
	"time"

	"valise/internal/memo"
)

// tokenMemo remembers access tokens whose signature and claims verified, so
// that the Ed25519 check of a token (about 80 µs on the 2-core machine, a
// tenth of a hand-off request's own CPU) is paid once per token, not once per
// request. A token is a fixed string signed by this service: the same bytes
// verify the same way every time, and what can change is re-checked on every
// use: the clock against its expiry and issued-at, its signing key against
// retirement (publicKey), and its session and user against the database
// (liveSubject, as before). Only verified tokens are remembered.
type tokenMemo = memo.Map[string, rememberedToken]

type rememberedToken struct {
	claims Claims
	kid    string
}

// timely reports whether c is within its validity at now, as the parser
// checks it (expiry required and strictly after now; issued-at not after now).
func (c *Claims) timely(now time.Time) bool {
	if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) {
		return false
	}
	return c.IssuedAt == nil || !now.Before(c.IssuedAt.Time)
}
