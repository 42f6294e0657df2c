package pouch

import (
	"time"

	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/internal/db"
	"valise/policy"
)

// Option configures a Service.
type Option func(*Service)

// WithKeyring lets the service issue VS1 seals when a bag is sealed and
// re-issue them when it is re-sealed after a supervised opening. A service
// without one refuses to seal or re-seal bags: a sealed bag without signed
// seals could not be verified at a border.
func WithKeyring(k *keyring.Keyring) Option { return func(s *Service) { s.keys = k } }

// New returns the service.
func New(pool *pgxpool.Pool, opts ...Option) *Service {
	s := &Service{pool: pool, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// keyring returns the service's keyring or a plain error: a wiring mistake,
// not something a user can fix.
func (s *Service) keyring() (*keyring.Keyring, error) {
	if s.keys == nil {
		return nil, fmt.Errorf("pouch: the service has no keyring (pouch.WithKeyring): it cannot issue seals")
	}
	return s.keys, nil
}

// validSealSerial reports whether a physical seal serial can be carried in a
// VS1 seal: 1..24 characters of A-Z, 0-9 and, after the first, '-', '.', '/'.
func validSealSerial(s string) bool {
	if len(s) < 1 || len(s) > seal.MaxPhysicalSealLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '.' || c == '/')
		if !ok {
			return false
		}
	}
	return true
}

// serialRule is the field error reason for a serial a seal cannot carry.
var serialRule = fmt.Sprintf("1..%d characters of A-Z, 0-9 and - . / (not first), distinct: a signed seal carries it", seal.MaxPhysicalSealLen)

// manifestItem is one item of a bag's manifest as hashed. Fields are
// declared in lexicographic order of their JSON names, so the compact JSON
// encoding (without HTML escaping) is the RFC 8785 canonical form.
type manifestItem struct {
	Count          int    `json:"count"`
	ItemID         string `json:"item_id"`
	Kind           string `json:"kind"`
	Level          int    `json:"level"`
	RegistryNumber string `json:"registry_number"`
	Seq            int    `json:"seq"`
	SubmissionID   string `json:"submission_id"`
}

// manifest is the hashed document. Version names the encoding.
type manifest struct {
	BagID          string         `json:"bag_id"`
	Items          []manifestItem `json:"items"`
	RegistryNumber string         `json:"registry_number"`
	Version        string         `json:"v"`
}

// Manifest returns the canonical bytes of a bag's manifest: what a seal's
// manifest hash (SHA-256 of these bytes) commits to. It is the compact JSON
// object {"bag_id","items","registry_number","v":"valise-manifest-1"} with
// keys in lexicographic order and no insignificant whitespace; items are its
// submissions' items ordered by submission id then sequence, each
// {"count","item_id","kind","level" (0..4),"registry_number" ("" if none),
// "seq","submission_id"}. Item descriptions (the contents) are left out on
// purpose: the hash proves which registered items are in the bag without
// saying what they say.
func Manifest(ctx context.Context, q db.Querier, bagID, registry string) ([]byte, error) {
	rows, err := q.Query(ctx, `SELECT s.id::text, i.id::text, i.seq, i.kind, i.level, coalesce(i.registry_number, ''), i.count
		FROM submissions s JOIN submission_items i ON i.submission_id = s.id
		WHERE s.bag_id = $1 ORDER BY s.id, i.seq`, bagID)
	if err != nil {
		return nil, fmt.Errorf("load manifest: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (manifestItem, error) {
		var m manifestItem
		var level int16
		err := r.Scan(&m.SubmissionID, &m.ItemID, &m.Seq, &m.Kind, &level, &m.RegistryNumber, &m.Count)
		m.Level = int(level)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("load manifest: %w", err)
	}
	if items == nil {
		items = []manifestItem{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(manifest{BagID: bagID, Items: items, RegistryNumber: registry, Version: "valise-manifest-1"}); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// sealFacts are what the bag's VS1 seals sign, read in tx after its
// packages are recorded.
func sealFacts(ctx context.Context, tx pgx.Tx, b *Bag, serials []string) (keyring.BagFacts, error) {
	doc, err := Manifest(ctx, tx, b.ID, b.RegistryNumber)
	if err != nil {
		return keyring.BagFacts{}, err
	}
	f := keyring.BagFacts{BagID: b.ID, Registry: b.RegistryNumber, Origin: b.Origin, Destination: b.Destination,
		Packages: b.PackageCount, ManifestHash: seal.HashManifest(doc)}
	for _, s := range serials {
		if s != "" {
			f.PhysicalSerials = serials
			break
		}
	}
	return f, nil
}

// issueSeals signs the bag's seals in tx (resealing when it has some).
func (s *Service) issueSeals(ctx context.Context, tx pgx.Tx, actor policy.Subject, b *Bag, serials []string, reason string) error {
	kr, err := s.keyring()
	if err != nil {
		return err
	}
	f, err := sealFacts(ctx, tx, b, serials)
	if err != nil {
		return err
	}
	existing, err := keyring.BagSeals(ctx, tx, b.ID)
	if err != nil {
		return err
	}
	if len(existing) == 0 {
		_, err = kr.IssueSeals(ctx, tx, f)
	} else {
		_, err = kr.Reseal(ctx, tx, f, actor.Username, reason)
	}
	if err != nil {
		return fmt.Errorf("issue seals of %s: %w", b.RegistryNumber, err) // keeps a *valise.Error's code
	}
	return nil
}
