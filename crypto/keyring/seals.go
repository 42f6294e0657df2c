package keyring

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/seal"
	"valise/internal/db"
)

// BagFacts are what a closed bag's seals sign. The bag engineer fills them
// from the bag being sealed, inside the transaction that seals it.
type BagFacts struct {
	BagID           string   // the bag's UUID
	Registry        string   // its registry number
	Origin          string   // unit code of the issuing office (whose key signs)
	Destination     string   // unit code of the destination
	Packages        int      // N, 1..99
	PhysicalSerials []string // serial of the physical seal on package k at [k-1]; nil when none are fitted
	ManifestHash    [32]byte // seal.HashManifest of the bag's manifest
}

// Seal is one issued seal as stored.
type Seal struct {
	BagID        string      `json:"bag_id"`
	Package      int         `json:"package"`
	Packages     int         `json:"packages"`
	Registry     string      `json:"registry_number"`
	PhysicalSeal string      `json:"physical_seal,omitempty"`
	Serial       seal.Serial `json:"serial"`
	KID          seal.KID    `json:"kid"`
	Text         string      `json:"text"`
	IssuedAt     time.Time   `json:"issued_at"`
	ExpiresAt    time.Time   `json:"expires_at"`
	SupersededAt *time.Time  `json:"superseded_at,omitempty"`
}

// claims turns the facts into the claims of each package, refusing what the
// VS1 format cannot carry with a field-level EINVALID.
func (f *BagFacts) claims(now, expires time.Time) ([]seal.Claims, error) {
	bagID, err := seal.ParseBagID(f.BagID)
	if err != nil {
		return nil, valise.Invalid("the bag cannot be sealed", valise.FieldError{Field: "bag_id", Reason: "not a UUID"})
	}
	if f.Packages < 1 || f.Packages > seal.MaxPackages {
		return nil, valise.Invalid("the bag cannot be sealed", valise.FieldError{Field: "packages",
			Reason: fmt.Sprintf("a seal carries 1..%d packages", seal.MaxPackages)})
	}
	if len(f.PhysicalSerials) != 0 && len(f.PhysicalSerials) != f.Packages {
		return nil, valise.Invalid("the bag cannot be sealed", valise.FieldError{Field: "seal_serials",
			Reason: "give one physical seal serial per package, or none"})
	}
	out := make([]seal.Claims, f.Packages)
	for i := range out {
		c := seal.Claims{BagID: bagID, Registry: f.Registry, Origin: f.Origin, Destination: f.Destination,
			Package: i + 1, Packages: f.Packages, ManifestHash: f.ManifestHash, IssuedAt: now, Expires: expires,
			Serial: seal.NewSerial()}
		if len(f.PhysicalSerials) > 0 {
			c.PhysicalSeal = f.PhysicalSerials[i]
		}
		if err := c.Validate(); err != nil {
			return nil, valise.Invalid("the bag cannot be sealed", valise.FieldError{Field: "seal", Reason: err.Error()})
		}
		out[i] = c
	}
	return out, nil
}

// IssueSeals signs one seal per package with the origin office's active key
// and stores them. Call it in the transaction that closes the bag; it
// refuses a bag that already has seals (use Reseal).
func (k *Keyring) IssueSeals(ctx context.Context, q db.Querier, f BagFacts) ([]*Seal, error) {
	if _, err := f.claims(k.now(), k.now().Add(k.o.SealLifetime)); err != nil {
		return nil, err // before any query, so bad input touches nothing
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM seals WHERE bag_id = $1 AND superseded_at IS NULL`, f.BagID).Scan(&n); err != nil {
		return nil, fmt.Errorf("check existing seals: %w", err)
	}
	if n > 0 {
		return nil, valise.Errorf(valise.ECONFLICT, "the bag already has seals: re-seal it after a supervised opening")
	}
	return k.issue(ctx, q, f)
}

func (k *Keyring) issue(ctx context.Context, q db.Querier, f BagFacts) ([]*Seal, error) {
	signer, key, err := k.Signer(ctx, q, f.Origin)
	if err != nil {
		return nil, err
	}
	now := k.now()
	if now.Before(key.NotBefore) || now.After(key.NotAfter) {
		return nil, valise.Errorf(valise.ECONFLICT, "the seal key of %s may sign only from %s to %s: rotate it",
			f.Origin, key.NotBefore.Format(time.RFC3339), key.NotAfter.Format(time.RFC3339))
	}
	lifetime, err := k.sealLifetime(ctx, q)
	if err != nil {
		return nil, err
	}
	cs, err := f.claims(now, now.Add(lifetime))
	if err != nil {
		return nil, err
	}
	out := make([]*Seal, 0, len(cs))
	for _, c := range cs {
		text, err := seal.Sign(c, signer)
		if err != nil {
			return nil, fmt.Errorf("sign seal %d: %w", c.Package, err)
		}
		s := &Seal{BagID: f.BagID, Package: c.Package, Packages: c.Packages, Registry: c.Registry,
			PhysicalSeal: c.PhysicalSeal, Serial: c.Serial, KID: signer.KID, Text: text, IssuedAt: c.IssuedAt,
			ExpiresAt: c.Expires}
		_, err = q.Exec(ctx, `INSERT INTO seals (serial, bag_id, k, n, registry_number, physical_serial, kid, text,
			issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			c.Serial[:], f.BagID, c.Package, c.Packages, c.Registry, c.PhysicalSeal, signer.KID.String(), text,
			c.IssuedAt, c.Expires)
		if err != nil {
			return nil, fmt.Errorf("store seal %d: %w", c.Package, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Reseal replaces a bag's seals after a supervised opening: the current
// seals are superseded and their serials revoked, new seals are issued from
// f (the physical serials of the new seals), and a trust list carrying the
// revocations is published, all in q's transaction. Verifying an old seal
// then fails with "seal_revoked".
func (k *Keyring) Reseal(ctx context.Context, q db.Querier, f BagFacts, actor, reason string) ([]*Seal, error) {
	if reason == "" {
		reason = "re-sealed after a supervised opening"
	}
	now := k.now()
	if _, err := f.claims(now, now.Add(k.o.SealLifetime)); err != nil {
		return nil, err // before any change, so bad input revokes nothing
	}
	rows, err := q.Query(ctx, `UPDATE seals SET superseded_at = $2 WHERE bag_id = $1 AND superseded_at IS NULL
		RETURNING serial`, f.BagID, now)
	if err != nil {
		return nil, fmt.Errorf("supersede seals: %w", err)
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("supersede seals: %w", err)
	}
	if len(old) == 0 {
		return nil, valise.Errorf(valise.ECONFLICT, "the bag has no seals to replace")
	}
	for _, s := range old {
		if _, err := q.Exec(ctx, `INSERT INTO seal_revocations (serial, reason, revoked_by, revoked_at) VALUES ($1, $2, $3, $4)`,
			s, reason, actor, now); err != nil {
			return nil, fmt.Errorf("revoke serial: %w", err)
		}
	}
	out, err := k.issue(ctx, q, f)
	if err != nil {
		return nil, err
	}
	if _, err := k.Publish(ctx, q); err != nil {
		return nil, err
	}
	return out, nil
}

const sealColumns = `bag_id, k, n, registry_number, physical_serial, serial, kid, text, issued_at, expires_at, superseded_at`

func scanSeal(row pgx.Row) (*Seal, error) {
	var s Seal
	var serial []byte
	var kid string
	if err := row.Scan(&s.BagID, &s.Package, &s.Packages, &s.Registry, &s.PhysicalSeal, &serial, &kid, &s.Text,
		&s.IssuedAt, &s.ExpiresAt, &s.SupersededAt); err != nil {
		return nil, err
	}
	copy(s.Serial[:], serial)
	var err error
	s.KID, err = seal.ParseKID(kid)
	return &s, err
}

// BagSeals returns a bag's current seals by package number (none if the bag
// was never sealed or the id is not a UUID).
func BagSeals(ctx context.Context, q db.Querier, bagID string) ([]*Seal, error) {
	if _, err := seal.ParseBagID(bagID); err != nil {
		return []*Seal{}, nil
	}
	rows, err := q.Query(ctx, bagSealsSQL, bagID)
	if err != nil {
		return nil, fmt.Errorf("list seals: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Seal, error) { return scanSeal(r) })
}

const bagSealsSQL = `SELECT ` + sealColumns + ` FROM seals WHERE bag_id = $1 AND superseded_at IS NULL ORDER BY k`

// QueueBagSeals is BagSeals queued in a batch, so the read shares a round
// trip with the statements around it; *out is set when b's results are read.
func QueueBagSeals(b *pgx.Batch, bagID string, out *[]*Seal) {
	*out = []*Seal{}
	if _, err := seal.ParseBagID(bagID); err != nil {
		return
	}
	b.Queue(bagSealsSQL, bagID).Query(func(rows pgx.Rows) error {
		s, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Seal, error) { return scanSeal(r) })
		if err != nil {
			return fmt.Errorf("list seals: %w", err)
		}
		*out = s
		return nil
	})
}

// SealBySerial returns the issued seal with this serial, ENOTFOUND if this
// server never issued it.
func SealBySerial(ctx context.Context, q db.Querier, serial seal.Serial) (*Seal, error) {
	s, err := scanSeal(q.QueryRow(ctx, `SELECT `+sealColumns+` FROM seals WHERE serial = $1`, serial[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no seal with serial %s was issued here", serial)
	}
	if err != nil {
		return nil, fmt.Errorf("load seal: %w", err)
	}
	return s, nil
}

// ClaimsView is a seal's claims for people and JSON: hex and RFC 3339.
type ClaimsView struct {
	BagID        string    `json:"bag_id"`
	Registry     string    `json:"registry_number"`
	Origin       string    `json:"origin"`
	Destination  string    `json:"destination"`
	Package      int       `json:"package"`
	Packages     int       `json:"packages"`
	PhysicalSeal string    `json:"physical_seal,omitempty"`
	ManifestHash string    `json:"manifest_hash"`
	IssuedAt     time.Time `json:"issued_at"`
	Expires      time.Time `json:"expires_at"`
	Serial       string    `json:"serial"`
	KID          string    `json:"kid"`
}

// View returns the printable form of a parsed seal's claims.
func View(s *seal.Sealed) *ClaimsView {
	c := &s.Claims
	return &ClaimsView{BagID: c.BagID.String(), Registry: c.Registry, Origin: c.Origin, Destination: c.Destination,
		Package: c.Package, Packages: c.Packages, PhysicalSeal: c.PhysicalSeal,
		ManifestHash: hex.EncodeToString(c.ManifestHash[:]), IssuedAt: c.IssuedAt, Expires: c.Expires,
		Serial: c.Serial.String(), KID: s.KID.String()}
}

// BagRecord is what the server's bag record says, for comparison with an
// authentic seal.
type BagRecord struct {
	Registry        string
	Origin          string
	Destination     string
	Packages        int
	PhysicalSerials map[int]string // by package number; absent when none fitted
}

// Mismatch is one claim of a seal that differs from the server's record.
type Mismatch struct {
	Field string `json:"field"`
	Seal  string `json:"seal"` // what the seal says; the record's value is not disclosed
}

// Compare lists the claims of an authentic seal that the server's record of
// the bag contradicts: a seal moved from one bag to another (a transplant)
// still verifies, and only this comparison catches it. issued is the stored
// seal with the same serial, nil if this server has no record of it.
func Compare(c seal.Claims, rec BagRecord, issued *Seal) []Mismatch {
	var out []Mismatch
	add := func(field, v string) { out = append(out, Mismatch{Field: field, Seal: v}) }
	if issued == nil {
		add("serial", c.Serial.String())
	} else if issued.BagID != c.BagID.String() || issued.Package != c.Package {
		add("serial", c.Serial.String())
	}
	if rec.Registry != c.Registry {
		add("registry_number", c.Registry)
	}
	if rec.Origin != "" && rec.Origin != c.Origin {
		add("origin", c.Origin)
	}
	if rec.Destination != "" && rec.Destination != c.Destination {
		add("destination", c.Destination)
	}
	if rec.Packages != c.Packages {
		add("packages", fmt.Sprint(c.Packages))
	}
	if rec.PhysicalSerials[c.Package] != c.PhysicalSeal {
		add("physical_seal", c.PhysicalSeal)
	}
	return out
}
