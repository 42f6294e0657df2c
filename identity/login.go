package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/password"
	"valise/internal/db"
	"valise/policy"
)

// Tokens is what a login or refresh returns.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"` // seconds
}

var (
	errCredentials = valise.Errorf(valise.EUNAUTHORIZED, "invalid username or password")
	errRefresh     = valise.Errorf(valise.EUNAUTHORIZED, "the refresh token is invalid, expired or already used")
)

// TooMany is the 429 of a throttled login: retry_after (whole seconds, at
// least 1) becomes the Retry-After header and a member of the problem body.
func TooMany(wait time.Duration) error {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &valise.Error{Code: valise.ETOOMANY, Message: "too many failed logins; try again later",
		Extra: map[string]any{"retry_after": secs}}
}

// Login checks a username and password and opens a session. Unknown users,
// wrong passwords and suspended users get the same answer after the same
// work (an unknown user is checked against a dummy hash). Failures slow
// down the address that makes them (FreeFailures, then a doubling back-off
// for that username and address only) and count towards the username's
// ceiling (MaxFailures within LockFor from all addresses), which locks it;
// known or not, every username is treated alike.
func (s *Service) Login(ctx context.Context, username, pw, remote string) (Tokens, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	if username == "" || pw == "" || len(pw) > 4*MaxPasswordLen || len(username) > 64 {
		password.VerifyDummy(pw)
		return Tokens{}, errCredentials
	}
	var lockedUntil, blockedUntil *time.Time
	err := s.pool.QueryRow(ctx, `SELECT (SELECT locked_until FROM login_throttle WHERE username = $1),
		(SELECT blocked_until FROM login_backoff WHERE username = $1 AND remote = $2)`, username, remote).Scan(&lockedUntil, &blockedUntil)
	if err != nil {
		return Tokens{}, db.Classify(fmt.Errorf("login throttle: %w", err))
	}
	now := s.now()
	for _, until := range []*time.Time{lockedUntil, blockedUntil} {
		if until != nil && until.After(now) {
			password.VerifyDummy(pw)
			s.log.WarnContext(ctx, "login refused: throttled", "username", username, "remote", remote,
				"account_locked", until == lockedUntil, "until", *until)
			return Tokens{}, TooMany(until.Sub(now))
		}
	}
	var (
		u    User
		hash string
	)
	row := s.pool.QueryRow(ctx, `SELECT `+userCols+`, c.password_hash FROM users u JOIN units n ON n.id = u.unit_id
		JOIN credentials c ON c.user_id = u.id WHERE u.username = $1`, username)
	var clearance int16
	err = row.Scan(&u.ID, &u.Username, &u.FullName, &u.Unit, &u.UnitKind, &u.Roles, &clearance, &u.CourierKind,
		&u.Scope, &u.Active, &u.CreatedAt, &u.UpdatedAt, &u.Version, &u.ParentUnit, &u.Position, &hash)
	u.Clearance = policy.Level(clearance)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		password.VerifyDummy(pw)
		return Tokens{}, s.failed(ctx, username, remote, "unknown user")
	case err != nil:
		return Tokens{}, db.Classify(fmt.Errorf("login: %w", err))
	}
	ok, err := password.Verify(pw, hash)
	if err != nil {
		return Tokens{}, fmt.Errorf("login %s: %w", username, err)
	}
	if !ok {
		return Tokens{}, s.failed(ctx, username, remote, "wrong password")
	}
	if !u.Active {
		return Tokens{}, s.failed(ctx, username, remote, "suspended")
	}
	// A success clears this address's back-off and the account's count (not
	// its lock history).
	if _, err := s.pool.Exec(ctx, `WITH b AS (DELETE FROM login_backoff WHERE username = $1 AND remote = $2)
		UPDATE login_throttle SET failures = 0 WHERE username = $1`, username, remote); err != nil {
		return Tokens{}, db.Classify(fmt.Errorf("login: %w", err))
	}
	if password.NeedsRehash(hash, s.cfg.Password) {
		if h, err := password.Hash(pw, s.cfg.Password); err == nil {
			_, _ = s.pool.Exec(ctx, `UPDATE credentials SET password_hash = $2 WHERE user_id = $1 AND password_hash = $3`, u.ID, h, hash)
		}
	}
	var sid string
	refresh, refreshHash := newRefreshToken()
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO sessions (user_id, expires_at, remote) VALUES ($1, $2, $3) RETURNING id`,
			u.ID, s.now().Add(s.cfg.RefreshTTL), remote).Scan(&sid); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)`,
			refreshHash, sid, s.now().Add(s.cfg.RefreshTTL))
		return err
	})
	if err != nil {
		return Tokens{}, db.Classify(fmt.Errorf("open session: %w", err))
	}
	access, err := s.issueAccess(ctx, u, sid)
	if err != nil {
		return Tokens{}, err
	}
	s.log.InfoContext(ctx, "login", "username", username, "user_id", u.ID, "session", sid, "remote", remote)
	return s.tokens(access, refresh), nil
}

func (s *Service) tokens(access, refresh string) Tokens {
	return Tokens{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL / time.Second)}
}

// failed records a failed login of username from remote: the pair's count
// (forgotten after LockFor without failure) and, beyond FreeFailures, its
// back-off; and the username's count within LockFor, which at MaxFailures
// locks the account for LockFor. The failing attempt itself answers 401.
func (s *Service) failed(ctx context.Context, username, remote, why string) error {
	ctx, cancel := detached(ctx)
	defer cancel()
	now := s.now()
	maxFailures, lockFor := s.loginLimits(ctx)
	forget := now.Add(-lockFor)
	var pairFailures int
	var locked bool
	err := s.pool.QueryRow(ctx, `
		WITH pair AS (
			INSERT INTO login_backoff AS b (username, remote, failures, last_failure_at) VALUES ($1, $2, 1, $3)
			ON CONFLICT (username, remote) DO UPDATE SET
				failures = CASE WHEN b.last_failure_at < $4 THEN 1 ELSE b.failures + 1 END, last_failure_at = $3
			RETURNING failures),
		acct AS (
			INSERT INTO login_throttle AS t (username, failures, last_failure_at, last_remote) VALUES ($1, 1, $3, $2)
			ON CONFLICT (username) DO UPDATE SET
				failures = CASE WHEN t.last_failure_at < $4 THEN 1 ELSE t.failures + 1 END,
				last_failure_at = $3, last_remote = $2
			RETURNING failures)
		SELECT (SELECT failures FROM pair), (SELECT failures FROM acct) >= $5`,
		username, remote, now, forget, maxFailures).Scan(&pairFailures, &locked)
	if err != nil {
		s.log.ErrorContext(ctx, "record failed login", "err", err)
		return errCredentials
	}
	// Now and then, forget pairs whose failures and back-off are over, so
	// guesses at many usernames do not grow the table without bound.
	if pruneTick.Add(1)%64 == 0 {
		if _, err := s.pool.Exec(ctx, `DELETE FROM login_backoff WHERE last_failure_at < $1
			AND coalesce(blocked_until, '-infinity') < $2`, forget, now); err != nil {
			s.log.ErrorContext(ctx, "prune login back-offs", "err", err)
		}
	}
	if over := pairFailures - s.cfg.FreeFailures; over > 0 {
		wait := s.cfg.BackoffMax
		if over <= 30 {
			wait = min(s.cfg.BackoffBase<<(over-1), s.cfg.BackoffMax)
		}
		if _, err := s.pool.Exec(ctx, `UPDATE login_backoff SET blocked_until = $3 WHERE username = $1 AND remote = $2`,
			username, remote, now.Add(wait)); err != nil {
			s.log.ErrorContext(ctx, "back off a login address", "err", err)
		}
		s.log.WarnContext(ctx, "login backed off", "username", username, "remote", remote, "failures", pairFailures, "for", wait)
	}
	if locked {
		_, err = s.pool.Exec(ctx, `UPDATE login_throttle SET locked_until = $2, failures = 0, lock_count = lock_count + 1
			WHERE username = $1`, username, now.Add(lockFor))
		if err != nil {
			s.log.ErrorContext(ctx, "lock account", "err", err)
		}
		s.log.WarnContext(ctx, "login locked: the account's ceiling of failures is reached", "username", username,
			"remote", remote, "until", now.Add(lockFor))
	}
	s.log.WarnContext(ctx, "login failed", "username", username, "remote", remote, "reason", why)
	return errCredentials
}

// pruneTick counts failed logins between prunes of login_backoff.
var pruneTick atomic.Uint64

// LiftLock ends the account lock and every address's back-off on username
// (known or not) and records who lifted it. Lifting nothing is not an error.
func (s *Service) LiftLock(ctx context.Context, actor policy.Subject, username string) error {
	username = strings.ToLower(strings.TrimSpace(username))
	_, err := s.pool.Exec(ctx, `WITH b AS (DELETE FROM login_backoff WHERE username = $1)
		UPDATE login_throttle SET locked_until = least(locked_until, $2), failures = 0, lifted_at = $2, lifted_by = $3
		WHERE username = $1`, username, s.now(), actor.Username)
	if err != nil {
		return db.Classify(fmt.Errorf("lift lock: %w", err))
	}
	s.log.WarnContext(ctx, "login lock lifted", "username", username, "by", actor.Username)
	return nil
}

// Refresh rotates a refresh token: the old one is spent and a new pair is
// issued in the same session. Presenting a spent token again means it was
// stolen or replayed, so the whole session (family) is revoked.
func (s *Service) Refresh(ctx context.Context, refresh, remote string) (Tokens, error) {
	h, ok := hashRefresh(refresh)
	if !ok {
		return Tokens{}, errRefresh
	}
	var (
		u     User
		sid   string
		reuse bool
	)
	next, nextHash := newRefreshToken()
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var usedAt *time.Time
		var expires time.Time
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT r.session_id, r.used_at, least(r.expires_at, s.expires_at), s.revoked_at IS NOT NULL
			FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1 FOR UPDATE`, h).
			Scan(&sid, &usedAt, &expires, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return errRefresh
		}
		if err != nil {
			return err
		}
		if usedAt != nil {
			reuse = true
			_, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = coalesce(revoked_at, $2), revoked_reason = coalesce(revoked_reason, 'refresh token reused')
				WHERE id = $1`, sid, s.now())
			return err // commit the revocation; the error is returned below
		}
		if revoked || !expires.After(s.now()) {
			return errRefresh
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1`, h, s.now()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
			SELECT $1, id, expires_at FROM sessions WHERE id = $2`, nextHash, sid); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users u JOIN units n ON n.id = u.unit_id
			JOIN sessions s ON s.user_id = u.id WHERE s.id = $1`, sid))
		if err != nil {
			return err
		}
		if !u.Active {
			return errRefresh
		}
		return nil
	})
	if reuse {
		s.log.WarnContext(ctx, "refresh token reused: session revoked", "session", sid, "remote", remote)
		return Tokens{}, errRefresh
	}
	if err != nil {
		var ve *valise.Error
		if errors.As(err, &ve) {
			return Tokens{}, err
		}
		return Tokens{}, db.Classify(fmt.Errorf("refresh: %w", err))
	}
	access, err := s.issueAccess(ctx, u, sid)
	if err != nil {
		return Tokens{}, err
	}
	return s.tokens(access, next), nil
}

// Logout revokes a session: its access tokens stop working on the next
// request and its refresh tokens are dead.
func (s *Service) Logout(ctx context.Context, sessionID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoked_reason = 'logout'
		WHERE id::text = $1 AND revoked_at IS NULL`, sessionID, s.now())
	if err != nil {
		return db.Classify(fmt.Errorf("logout: %w", err))
	}
	return nil
}

// Lockout is a username whose failed logins locked it (the per-account
// ceiling) or backed off one of its addresses.
type Lockout struct {
	Username      string     `json:"username"`
	KnownUser     bool       `json:"known_user"`
	LockedUntil   *time.Time `json:"locked_until,omitempty"` // the account lock, when there was one
	Active        bool       `json:"active"`                 // the account is locked now
	LockCount     int        `json:"lock_count"`
	LastFailureAt *time.Time `json:"last_failure_at,omitempty"`
	LastRemote    string     `json:"last_remote"`
	LiftedAt      *time.Time `json:"lifted_at,omitempty"`
	LiftedBy      string     `json:"lifted_by,omitempty"`
	// BackedOff lists the addresses slowed down on this username now.
	BackedOff []Backoff `json:"backed_off"`
}

// Backoff is one address slowed down on one username.
type Backoff struct {
	Remote       string    `json:"remote"`
	Failures     int       `json:"failures"`
	BlockedUntil time.Time `json:"blocked_until"`
}

// Lockouts lists usernames that have been locked or are backed off at some
// address, current ones first.
func (s *Service) Lockouts(ctx context.Context) ([]Lockout, error) {
	rows, err := s.pool.Query(ctx, `
		WITH names AS (SELECT username FROM login_throttle WHERE locked_until IS NOT NULL
		               UNION SELECT username FROM login_backoff WHERE blocked_until > $1)
		SELECT n.username, u.id IS NOT NULL, t.locked_until, coalesce(t.locked_until > $1, false), coalesce(t.lock_count, 0),
		       t.last_failure_at, coalesce(t.last_remote, ''), t.lifted_at, coalesce(t.lifted_by, ''),
		       coalesce((SELECT json_agg(json_build_object('remote', b.remote, 'failures', b.failures, 'blocked_until', b.blocked_until)
		                 ORDER BY b.blocked_until DESC) FROM login_backoff b WHERE b.username = n.username AND b.blocked_until > $1), '[]')
		FROM names n LEFT JOIN login_throttle t ON t.username = n.username LEFT JOIN users u ON u.username = n.username
		ORDER BY coalesce(t.locked_until > $1, false) DESC, t.locked_until DESC NULLS LAST, n.username LIMIT 500`, s.now())
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list lockouts: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lockout, error) {
		var l Lockout
		err := r.Scan(&l.Username, &l.KnownUser, &l.LockedUntil, &l.Active, &l.LockCount, &l.LastFailureAt, &l.LastRemote,
			&l.LiftedAt, &l.LiftedBy, &l.BackedOff)
		return l, err
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list lockouts: %w", err))
	}
	return out, nil
}

func newRefreshToken() (string, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	t := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(t))
	return t, h[:]
}

func hashRefresh(t string) ([]byte, bool) {
	if len(t) != 43 {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(t); err != nil {
		return nil, false
	}
	h := sha256.Sum256([]byte(t))
	return h[:], true
}

// loginLimits are the lockout limits in force: the login.max_failures and
// login.lock_for settings when an administrator has set them (package
// settings), else the configuration. A failure to read them keeps the
// configured limits: a lockout never loosens because a query failed.
func (s *Service) loginLimits(ctx context.Context) (int, time.Duration) {
	maxFailures, lockFor := s.cfg.MaxFailures, s.cfg.LockFor
	var n, secs *int64
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count FROM pouch_settings WHERE key = 'login.max_failures'),
		(SELECT extract(epoch FROM value)::bigint FROM pouch_settings WHERE key = 'login.lock_for')`).Scan(&n, &secs)
	if err != nil {
		s.log.ErrorContext(ctx, "read login limits; using the configured ones", "err", err)
		return maxFailures, lockFor
	}
	if n != nil {
		maxFailures = int(*n)
	}
	if secs != nil {
		lockFor = time.Duration(*secs) * time.Second
	}
	return maxFailures, lockFor
}
