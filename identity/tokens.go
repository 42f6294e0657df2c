package identity

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/secret"
	"valise/internal/db"
	"valise/policy"
)

// Claims are the access token's claims: the registered ones (iss, aud, sub,
// exp, iat, jti) plus roles, unit and clearance for clients, and the session
// id that each request checks is still live.
type Claims struct {
	jwt.RegisteredClaims
	Roles     []string     `json:"roles"`
	Unit      string       `json:"unit"`
	Clearance policy.Level `json:"clearance"`
	SessionID string       `json:"sid"`
}

type signingKey struct {
	kid       string
	public    ed25519.PublicKey
	private   ed25519.PrivateKey // nil unless this is the signing key
	createdAt time.Time
	retiredAt *time.Time
}

// errToken is the one answer to every bad token: callers learn nothing about
// which check failed (the server log does).
var errToken = valise.Errorf(valise.EUNAUTHORIZED, "the access token is missing, invalid or expired")

// keyReloadEvery bounds how often an unknown kid makes the service re-read
// the key table (another instance may have rotated).
const keyReloadEvery = 10 * time.Second

// loadKeys reads the keys still honoured; the newest unretired one signs.
// The caller holds s.mu.
func (s *Service) loadKeys(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT kid, public_key, private_key_sealed, created_at, retired_at FROM signing_keys
		WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at`, s.now().Add(-s.cfg.AccessTTL))
	if err != nil {
		return db.Classify(fmt.Errorf("load signing keys: %w", err))
	}
	defer rows.Close()
	keys := map[string]*signingKey{}
	var current *signingKey
	var currentSealed []byte
	for rows.Next() {
		k := &signingKey{}
		var pub, sealed []byte
		if err := rows.Scan(&k.kid, &pub, &sealed, &k.createdAt, &k.retiredAt); err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
		k.public = ed25519.PublicKey(pub)
		keys[k.kid] = k
		if k.retiredAt == nil {
			current, currentSealed = k, sealed
		}
	}
	if err := rows.Err(); err != nil {
		return db.Classify(fmt.Errorf("load signing keys: %w", err))
	}
	if current != nil {
		seed, err := secret.Open(s.master, currentSealed, []byte("signing_key:"+current.kid))
		if err != nil {
			return fmt.Errorf("open signing key %s (is the master key the one it was sealed with?): %w", current.kid, err)
		}
		current.private = ed25519.NewKeyFromSeed(seed)
	}
	s.keys, s.current, s.loadedAt = keys, current, s.now()
	return nil
}

// Rotate makes a new signing key and retires the current one, which keeps
// verifying until the tokens it signed have expired: nobody is logged out.
func (s *Service) Rotate(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotate(ctx, true)
}

// rotate creates a key when forced, when there is none, or when the current
// one is older than KeyLifetime. An advisory lock keeps two instances from
// rotating at once. The caller holds s.mu.
func (s *Service) rotate(ctx context.Context, force bool) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	kidBytes := make([]byte, 9)
	_, _ = rand.Read(kidBytes)
	kid := base64.RawURLEncoding.EncodeToString(kidBytes)
	sealed, err := secret.Seal(s.master, priv.Seed(), []byte("signing_key:"+kid))
	if err != nil {
		return err
	}
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('valise.signing_keys'))`); err != nil {
			return err
		}
		if !force {
			var fresh bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL AND created_at > $1)`,
				s.now().Add(-s.cfg.KeyLifetime)).Scan(&fresh)
			if err != nil || fresh {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, s.now()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, public_key, private_key_sealed, created_at) VALUES ($1, $2, $3, $4)`,
			kid, []byte(pub), sealed, s.now())
		return err
	})
	if err != nil {
		return db.Classify(fmt.Errorf("rotate signing key: %w", err))
	}
	s.log.InfoContext(ctx, "token signing key ready", "kid", kid)
	return s.loadKeys(ctx)
}

// signer returns the current signing key, loading or rotating as needed.
func (s *Service) signer(ctx context.Context) (*signingKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		if err := s.loadKeys(ctx); err != nil {
			return nil, err
		}
	}
	if s.current == nil || s.now().Sub(s.current.createdAt) > s.cfg.KeyLifetime {
		if err := s.rotate(ctx, false); err != nil {
			return nil, err
		}
	}
	if s.current == nil || s.current.private == nil {
		return nil, errors.New("no usable signing key")
	}
	return s.current, nil
}

// publicKey returns the verification key for kid, re-reading the table (at
// most every keyReloadEvery) when kid is unknown.
func (s *Service) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[kid]
	if !ok && s.now().Sub(s.loadedAt) > keyReloadEvery {
		if err := s.loadKeys(ctx); err != nil {
			return nil, err
		}
		k, ok = s.keys[kid]
	}
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if k.retiredAt != nil && s.now().After(k.retiredAt.Add(s.cfg.AccessTTL)) {
		return nil, fmt.Errorf("kid %q retired", kid)
	}
	return k.public, nil
}

// issueAccess signs an access token for u in session sid.
func (s *Service) issueAccess(ctx context.Context, u User, sid string) (string, error) {
	k, err := s.signer(ctx)
	if err != nil {
		return "", err
	}
	now := s.now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.cfg.Issuer, Audience: jwt.ClaimStrings{s.cfg.Audience}, Subject: u.ID,
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)), IssuedAt: jwt.NewNumericDate(now),
			ID: base64.RawURLEncoding.EncodeToString(jti),
		},
		Roles: u.Roles, Unit: u.Unit, Clearance: u.Clearance, SessionID: sid,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = k.kid
	signed, err := t.SignedString(k.private)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return signed, nil
}

// Authenticate verifies a bearer access token and returns the subject as the
// database knows it now (roles, unit and clearance are read fresh, and the
// user must be active and the session live), with the session id.
//
// Only EdDSA is accepted, so "alg: none" and HS256 signed with the public key
// fail; the kid must name a key still honoured; iss, aud, exp and iat are
// required and checked.
func (s *Service) Authenticate(ctx context.Context, token string) (policy.Subject, string, error) {
	var c Claims
	if r, ok := s.verified.Get(token); ok {
		// Verified before: the same bytes, the same signature. What time or
		// the keys can change is checked again.
		c = r.claims
		if !c.timely(s.now()) {
			s.log.InfoContext(ctx, "access token refused", "reason", "token is expired or not yet issued")
			return policy.Subject{}, "", errToken
		}
		if _, err := s.publicKey(ctx, r.kid); err != nil {
			return policy.Subject{}, "", s.refuseToken(ctx, err)
		}
		return s.subjectOf(ctx, &c)
	}
	var kid string
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(s.cfg.Issuer), jwt.WithAudience(s.cfg.Audience), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(s.cfg.Now))
	_, err := parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		return s.publicKey(ctx, kid)
	})
	if err != nil {
		return policy.Subject{}, "", s.refuseToken(ctx, err)
	}
	s.verified.Put(token, rememberedToken{claims: c, kid: kid})
	return s.subjectOf(ctx, &c)
}

// refuseToken is the answer to a token that failed verification for err:
// err itself when the database is unavailable (a valise.Error), else the
// token error, with the reason logged.
func (s *Service) refuseToken(ctx context.Context, err error) error {
	if ve := (*valise.Error)(nil); errors.As(err, &ve) {
		return err
	}
	s.log.InfoContext(ctx, "access token refused", "reason", err.Error())
	return errToken
}

// subjectOf is the live subject of verified claims c and their session id.
func (s *Service) subjectOf(ctx context.Context, c *Claims) (policy.Subject, string, error) {
	// Both ids are compared as uuids, so the look-up is two primary-key
	// probes however many sessions the table holds (comparing id::text
	// scanned every session on every request). Ids that are not uuids
	// cannot name a session.
	if !db.ValidUUID(c.Subject) || !db.ValidUUID(c.SessionID) {
		s.log.InfoContext(ctx, "access token refused", "reason", "subject or session is not a uuid")
		return policy.Subject{}, "", errToken
	}
	sub, err := s.liveSubject(ctx, c.Subject, c.SessionID)
	if err != nil {
		return policy.Subject{}, "", err
	}
	return sub, c.SessionID, nil
}

// Session returns the subject of a live session, as Authenticate would for
// an access token of it: the web console's cookie names its session (an id
// the console's own key authenticates), not a token. A revoked, expired or
// unknown session, or a suspended user, is the token error.
func (s *Service) Session(ctx context.Context, sessionID string) (policy.Subject, error) {
	if !db.ValidUUID(sessionID) {
		return policy.Subject{}, errToken
	}
	return s.liveSubject(ctx, "", sessionID)
}

// liveSubject reads the subject of session sid (of user userID when it is
// not ""): two primary-key probes. The user must be active and the session
// live.
func (s *Service) liveSubject(ctx context.Context, userID, sid string) (policy.Subject, error) {
	var sub policy.Subject
	var clearance int16
	var live bool
	err := s.pool.QueryRow(ctx, `
		SELECT u.id::text, u.username, u.roles, u.clearance, coalesce(u.courier_kind, ''), u.scope, n.id, n.code, n.kind,
		       coalesce((SELECT p.code FROM units p WHERE p.id = n.parent_id), ''),
		       u.active AND s.revoked_at IS NULL AND s.expires_at > $3
		FROM sessions s JOIN users u ON u.id = s.user_id JOIN units n ON n.id = u.unit_id
		WHERE s.id = $2::uuid AND ($1 = '' OR u.id = nullif($1, '')::uuid)`, userID, sid, s.now()).
		Scan(&sub.UserID, &sub.Username, &sub.Roles, &clearance, &sub.CourierKind, &sub.Scope, &sub.UnitID, &sub.UnitCode, &sub.UnitKind,
			&sub.ParentUnit, &live)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !live) {
		s.log.InfoContext(ctx, "access token refused", "reason", "user suspended or session revoked", "user_id", userID)
		return policy.Subject{}, errToken
	}
	if err != nil {
		return policy.Subject{}, db.Classify(fmt.Errorf("check session: %w", err))
	}
	sub.Clearance = policy.Level(clearance)
	return sub, nil
}
