package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
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
	errLocked      = valise.Errorf(valise.ETOOMANY, "too many failed logins; try again later")
	errRefresh     = valise.Errorf(valise.EUNAUTHORIZED, "the refresh token is invalid, expired or already used")
)

// Login checks a username and password and opens a session. Unknown users,
// wrong passwords and suspended users get the same answer after the same
// work (an unknown user is checked against a dummy hash). Consecutive
// failures on one username, known or not, lock it for LockFor.
func (s *Service) Login(ctx context.Context, username, pw, remote string) (Tokens, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	if username == "" || pw == "" || len(pw) > 4*MaxPasswordLen || len(username) > 64 {
		password.VerifyDummy(pw)
		return Tokens{}, errCredentials
	}
	var lockedUntil *time.Time
	err := s.pool.QueryRow(ctx, `SELECT locked_until FROM login_throttle WHERE username = $1`, username).Scan(&lockedUntil)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Tokens{}, db.Classify(fmt.Errorf("login throttle: %w", err))
	}
	if lockedUntil != nil && lockedUntil.After(s.now()) {
		password.VerifyDummy(pw)
		s.log.WarnContext(ctx, "login refused: locked", "username", username, "remote", remote)
		return Tokens{}, errLocked
	}
	var (
		u    User
		hash string
	)
	row := s.pool.QueryRow(ctx, `SELECT `+userCols+`, c.password_hash FROM users u JOIN units n ON n.id = u.unit_id
		JOIN credentials c ON c.user_id = u.id WHERE u.username = $1`, username)
	var clearance int16
	err = row.Scan(&u.ID, &u.Username, &u.FullName, &u.Unit, &u.UnitKind, &u.Roles, &clearance, &u.CourierKind,
		&u.Scope, &u.Active, &u.CreatedAt, &u.UpdatedAt, &u.Version, &u.ParentUnit, &hash)
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
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_throttle WHERE username = $1`, username); err != nil {
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

// failed counts a failed login on username and locks it when the count
// reaches MaxFailures. Failures older than LockFor are forgotten.
func (s *Service) failed(ctx context.Context, username, remote, why string) error {
	ctx, cancel := detached(ctx)
	defer cancel()
	now := s.now()
	var locked bool
	err := s.pool.QueryRow(ctx, `
		INSERT INTO login_throttle AS t (username, failures, last_failure_at, last_remote) VALUES ($1, 1, $2, $3)
		ON CONFLICT (username) DO UPDATE SET
			failures = CASE WHEN t.last_failure_at < $5 THEN 1 ELSE t.failures + 1 END,
			last_failure_at = $2, last_remote = $3
		RETURNING failures >= $4`, username, now, remote, s.cfg.MaxFailures, now.Add(-s.cfg.LockFor)).Scan(&locked)
	if err != nil {
		s.log.ErrorContext(ctx, "record failed login", "err", err)
		return errCredentials
	}
	if locked {
		_, err = s.pool.Exec(ctx, `UPDATE login_throttle SET locked_until = $2, failures = 0, lock_count = lock_count + 1
			WHERE username = $1`, username, now.Add(s.cfg.LockFor))
		if err != nil {
			s.log.ErrorContext(ctx, "lock account", "err", err)
		}
		s.log.WarnContext(ctx, "login locked", "username", username, "remote", remote, "until", now.Add(s.cfg.LockFor))
	}
	s.log.WarnContext(ctx, "login failed", "username", username, "remote", remote, "reason", why)
	return errCredentials
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

// Lockout is a username whose failed logins locked it.
type Lockout struct {
	Username      string    `json:"username"`
	KnownUser     bool      `json:"known_user"`
	LockedUntil   time.Time `json:"locked_until"`
	Active        bool      `json:"active"` // still locked now
	LockCount     int       `json:"lock_count"`
	LastFailureAt time.Time `json:"last_failure_at"`
	LastRemote    string    `json:"last_remote"`
}

// Lockouts lists usernames that have been locked, current locks first.
func (s *Service) Lockouts(ctx context.Context) ([]Lockout, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.username, u.id IS NOT NULL, t.locked_until, t.locked_until > $1, t.lock_count,
		       coalesce(t.last_failure_at, t.locked_until), t.last_remote
		FROM login_throttle t LEFT JOIN users u ON u.username = t.username
		WHERE t.locked_until IS NOT NULL ORDER BY t.locked_until > $1 DESC, t.locked_until DESC LIMIT 500`, s.now())
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list lockouts: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lockout, error) {
		var l Lockout
		err := r.Scan(&l.Username, &l.KnownUser, &l.LockedUntil, &l.Active, &l.LockCount, &l.LastFailureAt, &l.LastRemote)
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
