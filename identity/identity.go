// Package identity owns who the callers are: organization units, users and
// their roles and clearances, password credentials (argon2id), sessions with
// rotating refresh tokens, the Ed25519 keys that sign access tokens (sealed
// at rest under the master key), and login throttling. It turns a bearer
// token into the policy.Subject every authorization decision starts from.
//
// Access tokens are short-lived EdDSA JWTs; each request also checks, in the
// database, that the user is active and the session not revoked, so a
// suspension or a logout takes effect at once.
package identity

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/crypto/password"
)

// Config tunes the service. Zero values take the defaults noted.
type Config struct {
	Issuer      string        // iss of access tokens; default "valise"
	Audience    string        // aud of access tokens; default "valise-api"
	AccessTTL   time.Duration // access-token lifetime; default 5m
	RefreshTTL  time.Duration // session (refresh-token family) lifetime; default 12h
	KeyLifetime time.Duration // a signing key older than this is rotated; default 24h
	// MaxFailures is the per-account ceiling: failed logins on one username
	// from every address within LockFor that lock it for LockFor (a security
	// officer may lift the lock sooner); default 50.
	MaxFailures int
	LockFor     time.Duration // the ceiling's window and lock; default 1h
	// FreeFailures is how many failed logins one address may make on one
	// username before each further one backs that pair off for BackoffBase,
	// doubling up to BackoffMax (defaults 3, 1s, 15m). Other addresses, the
	// owner's among them, are not slowed. A success clears the pair.
	FreeFailures int
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	Password     password.Params // parameters of new hashes; default password.Default
	Now          func() time.Time
}

// Service is the identity domain over one database pool.
type Service struct {
	pool   *pgxpool.Pool
	master []byte
	cfg    Config
	log    *slog.Logger

	mu       sync.Mutex
	keys     map[string]*signingKey
	current  *signingKey
	loadedAt time.Time

	verified tokenMemo // access tokens that verified (tokenmemo.go)
}

// New returns the service. master is the key that seals signing keys (see
// crypto/secret); nil means a random key for this process only, which suits
// tests and nothing else. It does not touch the database: keys are loaded
// (and the first one made) on first use.
func New(pool *pgxpool.Pool, master []byte, cfg Config, log *slog.Logger) *Service {
	if cfg.Issuer == "" {
		cfg.Issuer = "valise"
	}
	if cfg.Audience == "" {
		cfg.Audience = "valise-api"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.AccessTTL, 5*time.Minute)
	def(&cfg.RefreshTTL, 12*time.Hour)
	def(&cfg.KeyLifetime, 24*time.Hour)
	def(&cfg.LockFor, time.Hour)
	def(&cfg.BackoffBase, time.Second)
	def(&cfg.BackoffMax, 15*time.Minute)
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 50
	}
	if cfg.FreeFailures == 0 {
		cfg.FreeFailures = 3
	}
	if cfg.Password.Memory == 0 {
		cfg.Password = password.Default
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	if master == nil {
		master = make([]byte, 32)
		_, _ = rand.Read(master)
	}
	return &Service{pool: pool, master: master, cfg: cfg, log: log, keys: map[string]*signingKey{}}
}

// AccessTTL is the lifetime of the access tokens the service issues.
func (s *Service) AccessTTL() time.Duration { return s.cfg.AccessTTL }

func (s *Service) now() time.Time { return s.cfg.Now() }

// withTimeout bounds background writes that must happen even when the
// request's context has been cancelled.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
}
