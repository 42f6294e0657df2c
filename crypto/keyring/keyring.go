// Package keyring keeps Valise's seal-signing keys in PostgreSQL and does
// everything that needs them: it creates the root key and the office keys,
// rotates, retires and revokes them, publishes the root-signed trust list,
// and issues (and re-issues) the seals of a closed bag.
//
// It is the one package that ever holds a private seal key in memory. Keys
// are stored only as crypto/secret ciphertexts under the master key, with the
// associated data "seal_key:<kid>" (or "seal_root_key:<kid>"), so a
// ciphertext copied onto another key's row does not open.
//
// Every function takes a db.Querier so that it runs inside the caller's
// transaction: closing a bag and issuing its seals, or re-sealing it and
// revoking the old serials, commit together or not at all. Every change to a
// key or a revocation publishes a new trust list in the same transaction, so
// the list served is never behind the database.
//
// Key lifecycle (see crypto/trust for what verifiers do with it):
//
//	issue   -> active: signs the office's new seals (one active key per office)
//	rotate  -> the new key becomes active; the old one is retired: it stops
//	           signing now but stays in the trust list for the overlap window,
//	           so seals it signed keep verifying until they expire
//	retire  -> stop signing (the office then has no key until one is issued)
//	revoke  -> compromised: every seal it ever signed fails ("key_revoked")
package keyring

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"valise"
	"valise/crypto/seal"
	"valise/crypto/secret"
	"valise/crypto/trust"
	"valise/internal/db"
)

// Options tune the keyring. Zero values take the defaults noted.
type Options struct {
	// KeyValidity is how long a new office key may sign. Default 365 days.
	KeyValidity time.Duration
	// Overlap is how long a retired key stays in the trust list when no
	// overlap is given. It should be at least SealLifetime. Default 30 days.
	Overlap time.Duration
	// SealLifetime is expiry minus issued-at of new seals. Default 30 days
	// (at most seal.MaxLifetime).
	SealLifetime time.Duration
	// StaleAfter is how long after issue a trust list is stale. Default 7 days.
	StaleAfter time.Duration
	// Now is the clock; default time.Now. Tests move it.
	Now func() time.Time
}

// Keyring issues keys, trust lists and seals with one master key.
type Keyring struct {
	master []byte
	o      Options
}

// New returns a keyring using master (from secret.LoadMasterKey).
func New(master []byte, o Options) (*Keyring, error) {
	if len(master) != secret.KeySize {
		return nil, fmt.Errorf("keyring: master key is %d bytes, want %d", len(master), secret.KeySize)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.KeyValidity, 365*24*time.Hour)
	def(&o.Overlap, 30*24*time.Hour)
	def(&o.SealLifetime, 30*24*time.Hour)
	def(&o.StaleAfter, 7*24*time.Hour)
	if o.SealLifetime > seal.MaxLifetime {
		return nil, fmt.Errorf("keyring: seal lifetime %v exceeds %v", o.SealLifetime, seal.MaxLifetime)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Keyring{master: master, o: o}, nil
}

// now is the clock in whole seconds: seals and trust lists carry seconds.
func (k *Keyring) now() time.Time { return k.o.Now().UTC().Truncate(time.Second) }

// Status of an office key.
type Status = trust.Status

// KeyInfo is an office key as stored, without its private half.
type KeyInfo struct {
	KID         seal.KID          `json:"kid"`
	Office      string            `json:"office"`
	PublicKey   ed25519.PublicKey `json:"public_key"`
	NotBefore   time.Time         `json:"not_before"`
	NotAfter    time.Time         `json:"not_after"`
	Status      Status            `json:"status"`
	ListedUntil *time.Time        `json:"listed_until,omitempty"`
	RevokedAt   *time.Time        `json:"revoked_at,omitempty"`
	CreatedBy   string            `json:"created_by"`
	CreatedAt   time.Time         `json:"created_at"`
}

func rootAD(kid seal.KID) []byte { return []byte("seal_root_key:" + kid.String()) }
func keyAD(kid seal.KID) []byte  { return []byte("seal_key:" + kid.String()) }

// newKey generates a key pair and its sealed seed.
func (k *Keyring) newKey(ad func(seal.KID) []byte) (seal.KID, ed25519.PrivateKey, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return seal.KID{}, nil, nil, fmt.Errorf("generate key: %w", err)
	}
	kid := seal.KeyID(pub)
	sealed, err := secret.Seal(k.master, priv.Seed(), ad(kid))
	if err != nil {
		return seal.KID{}, nil, nil, fmt.Errorf("encrypt key %s: %w", kid, err)
	}
	return kid, priv, sealed, nil
}

// open decrypts a stored seed; a failure means the master key is not the one
// the key was stored under (or the row was tampered with).
func (k *Keyring) open(kid seal.KID, sealed []byte, ad func(seal.KID) []byte) (ed25519.PrivateKey, error) {
	seed, err := secret.Open(k.master, sealed, ad(kid))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("keyring: key %s does not open with this master key: %w", kid, secret.ErrOpen)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// InitRoot creates the root key. There is one; a second call is a conflict
// (root rotation, with two signatures on the list during the change, is not
// implemented yet).
func (k *Keyring) InitRoot(ctx context.Context, q db.Querier) (seal.KID, ed25519.PublicKey, error) {
	kid, priv, sealed, err := k.newKey(rootAD)
	if err != nil {
		return seal.KID{}, nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	_, err = q.Exec(ctx, `INSERT INTO seal_root_keys (kid, public_key, private_key, not_before) VALUES ($1, $2, $3, $4)`,
		kid.String(), []byte(pub), sealed, k.now())
	if isUnique(err) {
		return seal.KID{}, nil, valise.Errorf(valise.ECONFLICT, "a root key already exists")
	}
	if err != nil {
		return seal.KID{}, nil, fmt.Errorf("store root key: %w", err)
	}
	return kid, pub, nil
}

// Root returns the current root public key, or ENOTFOUND before InitRoot.
func Root(ctx context.Context, q db.Querier) (seal.KID, ed25519.PublicKey, error) {
	var kid string
	var pub []byte
	err := q.QueryRow(ctx, `SELECT kid, public_key FROM seal_root_keys WHERE retired_at IS NULL`).Scan(&kid, &pub)
	if errors.Is(err, pgx.ErrNoRows) {
		return seal.KID{}, nil, valise.Errorf(valise.ENOTFOUND, "there is no root key: run 'valise keys init-root'")
	}
	if err != nil {
		return seal.KID{}, nil, fmt.Errorf("load root key: %w", err)
	}
	id, err := seal.ParseKID(kid)
	return id, ed25519.PublicKey(pub), err
}

func (k *Keyring) rootSigner(ctx context.Context, q db.Querier) (seal.KID, ed25519.PrivateKey, error) {
	var kid string
	var sealed []byte
	err := q.QueryRow(ctx, `SELECT kid, private_key FROM seal_root_keys WHERE retired_at IS NULL`).Scan(&kid, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return seal.KID{}, nil, valise.Errorf(valise.ECONFLICT, "there is no root key to sign the trust list: run 'valise keys init-root'")
	}
	if err != nil {
		return seal.KID{}, nil, fmt.Errorf("load root key: %w", err)
	}
	id, err := seal.ParseKID(kid)
	if err != nil {
		return seal.KID{}, nil, err
	}
	priv, err := k.open(id, sealed, rootAD)
	return id, priv, err
}

// IssueKey creates the active key of an office that has none. NotBefore
// defaults to now; a later one makes a key that cannot sign yet.
func (k *Keyring) IssueKey(ctx context.Context, q db.Querier, office, actor string, notBefore time.Time) (*KeyInfo, error) {
	info, err := k.insertKey(ctx, q, office, actor, notBefore)
	if err != nil {
		return nil, err
	}
	if _, err := k.Publish(ctx, q); err != nil {
		return nil, err
	}
	return info, nil
}

func (k *Keyring) insertKey(ctx context.Context, q db.Querier, office, actor string, notBefore time.Time) (*KeyInfo, error) {
	officeID, err := unitID(ctx, q, office)
	if err != nil {
		return nil, err
	}
	if notBefore.IsZero() {
		notBefore = k.now()
	}
	notBefore = notBefore.UTC().Truncate(time.Second)
	kid, priv, sealed, err := k.newKey(keyAD)
	if err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	_, err = q.Exec(ctx, `
		INSERT INTO seal_keys (kid, office_id, public_key, private_key, not_before, not_after, status, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, 'active', $7)`,
		kid.String(), officeID, []byte(pub), sealed, notBefore, notBefore.Add(k.o.KeyValidity), actor)
	if isUnique(err) {
		return nil, valise.Errorf(valise.ECONFLICT, "office %s already has an active seal key: rotate it instead", office)
	}
	if err != nil {
		return nil, fmt.Errorf("store key: %w", err)
	}
	return Key(ctx, q, kid)
}

// Rotate replaces an office's active key by a new one. The old key stops
// signing now and stays in the trust list for overlap (default
// Options.Overlap), so seals it signed keep verifying until they expire.
func (k *Keyring) Rotate(ctx context.Context, q db.Querier, office, actor string, overlap time.Duration) (newKey, old *KeyInfo, err error) {
	officeID, err := unitID(ctx, q, office)
	if err != nil {
		return nil, nil, err
	}
	var kid string
	err = q.QueryRow(ctx, `SELECT kid FROM seal_keys WHERE office_id = $1 AND status = 'active' FOR UPDATE`, officeID).Scan(&kid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, valise.Errorf(valise.ECONFLICT, "office %s has no active seal key to rotate: issue one", office)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find active key: %w", err)
	}
	oldKID, err := seal.ParseKID(kid)
	if err != nil {
		return nil, nil, err
	}
	if err := k.retire(ctx, q, oldKID, overlap); err != nil {
		return nil, nil, err
	}
	if newKey, err = k.insertKey(ctx, q, office, actor, time.Time{}); err != nil {
		return nil, nil, err
	}
	if _, err := k.Publish(ctx, q); err != nil {
		return nil, nil, err
	}
	old, err = Key(ctx, q, oldKID)
	return newKey, old, err
}

// Retire stops an active key signing now; it stays listed for overlap.
func (k *Keyring) Retire(ctx context.Context, q db.Querier, kid seal.KID, overlap time.Duration) (*KeyInfo, error) {
	if err := k.retire(ctx, q, kid, overlap); err != nil {
		return nil, err
	}
	if _, err := k.Publish(ctx, q); err != nil {
		return nil, err
	}
	return Key(ctx, q, kid)
}

func (k *Keyring) retire(ctx context.Context, q db.Querier, kid seal.KID, overlap time.Duration) error {
	if overlap <= 0 {
		// Seals the key signed keep verifying until they expire: at least
		// the seal lifetime in force, however it was tuned.
		lifetime, err := k.sealLifetime(ctx, q)
		if err != nil {
			return err
		}
		overlap = max(k.o.Overlap, lifetime)
	}
	now := k.now()
	// The window ends now, unless the key has not started yet (then it
	// never signs: its window shrinks to one second at its start).
	tag, err := q.Exec(ctx, `
		UPDATE seal_keys SET status = 'retired', listed_until = $2::timestamptz + $3 * interval '1 second',
		       not_after = least(not_after, greatest($2::timestamptz, not_before + interval '1 second'))
		WHERE kid = $1 AND status = 'active'`, kid.String(), now, int64(overlap/time.Second))
	if err != nil {
		return fmt.Errorf("retire key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := Key(ctx, q, kid); err != nil {
			return err
		}
		return valise.Errorf(valise.ECONFLICT, "key %s is not active", kid)
	}
	return nil
}

// Revoke marks a key compromised: every seal it signed fails from the next
// trust list on, whatever its issued-at.
func (k *Keyring) Revoke(ctx context.Context, q db.Querier, kid seal.KID, reason string) (*KeyInfo, error) {
	if reason == "" {
		reason = "revoked"
	}
	tag, err := q.Exec(ctx, `
		UPDATE seal_keys SET status = 'revoked', revoked_at = $2, revoked_reason = $3,
		       not_after = least(not_after, greatest($2::timestamptz, not_before + interval '1 second'))
		WHERE kid = $1 AND status <> 'revoked'`, kid.String(), k.now(), reason)
	if err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := Key(ctx, q, kid); err != nil {
			return nil, err
		}
		return nil, valise.Errorf(valise.ECONFLICT, "key %s is already revoked", kid)
	}
	if _, err := k.Publish(ctx, q); err != nil {
		return nil, err
	}
	return Key(ctx, q, kid)
}

const keyColumns = `k.kid, u.code, k.public_key, k.not_before, k.not_after, k.status, k.listed_until, k.revoked_at,
	k.created_by, k.created_at`

func scanKey(row pgx.Row) (*KeyInfo, error) {
	var ki KeyInfo
	var kid, status string
	var pub []byte
	if err := row.Scan(&kid, &ki.Office, &pub, &ki.NotBefore, &ki.NotAfter, &status, &ki.ListedUntil, &ki.RevokedAt,
		&ki.CreatedBy, &ki.CreatedAt); err != nil {
		return nil, err
	}
	var err error
	if ki.KID, err = seal.ParseKID(kid); err != nil {
		return nil, err
	}
	ki.PublicKey, ki.Status = pub, Status(status)
	return &ki, nil
}

// Key returns one office key.
func Key(ctx context.Context, q db.Querier, kid seal.KID) (*KeyInfo, error) {
	ki, err := scanKey(q.QueryRow(ctx, `SELECT `+keyColumns+` FROM seal_keys k JOIN units u ON u.id = k.office_id
		WHERE k.kid = $1`, kid.String()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no seal key %s", kid)
	}
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", kid, err)
	}
	return ki, nil
}

// Keys lists every office key, by office and start.
func Keys(ctx context.Context, q db.Querier) ([]*KeyInfo, error) {
	rows, err := q.Query(ctx, `SELECT `+keyColumns+` FROM seal_keys k JOIN units u ON u.id = k.office_id
		ORDER BY u.code, k.not_before, k.kid`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*KeyInfo, error) { return scanKey(r) })
}

// Signer returns an office's active key, able to sign at now. Tests of the
// verifiers also use it to make seals no honest issuer would make.
func (k *Keyring) Signer(ctx context.Context, q db.Querier, office string) (seal.Signer, *KeyInfo, error) {
	var kid string
	var sealed []byte
	err := q.QueryRow(ctx, `SELECT k.kid, k.private_key FROM seal_keys k JOIN units u ON u.id = k.office_id
		WHERE u.code = $1 AND k.status = 'active'`, office).Scan(&kid, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return seal.Signer{}, nil, valise.Errorf(valise.ECONFLICT,
			"office %s has no active seal key: run 'valise keys issue --office %s'", office, office)
	}
	if err != nil {
		return seal.Signer{}, nil, fmt.Errorf("load signing key: %w", err)
	}
	id, err := seal.ParseKID(kid)
	if err != nil {
		return seal.Signer{}, nil, err
	}
	priv, err := k.open(id, sealed, keyAD)
	if err != nil {
		return seal.Signer{}, nil, err
	}
	s, err := seal.NewSigner(priv)
	if err != nil {
		return seal.Signer{}, nil, err
	}
	ki, err := Key(ctx, q, id)
	return s, ki, err
}

func unitID(ctx context.Context, q db.Querier, code string) (string, error) {
	if err := seal.ValidateUnitCode(code); err != nil {
		return "", valise.Invalid("not a unit code", valise.FieldError{Field: "office", Reason: err.Error()})
	}
	var id string
	err := q.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, code).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", valise.Errorf(valise.ENOTFOUND, "no unit %s", code)
	}
	if err != nil {
		return "", fmt.Errorf("find unit %s: %w", code, err)
	}
	return id, nil
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
