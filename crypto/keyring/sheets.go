package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/seal"
	"valise/internal/db"
)

// SheetFacts are what a courier sheet's signed QR claims. The sheet is
// signed as a one-package VS1 seal (see docs/decisions.md, "Signed courier
// sheets"), so phones and `valise seal verify` need nothing new:
//
//	bag id          -> the sheet's id
//	registry number -> the sheet number (<unit>-CS-<year>-<6 digits>)
//	origin          -> the issuing unit (whose key signs)
//	destination     -> the final destination of the route
//	package k of N  -> 1 of 1 (the packages are in the manifest)
//	physical seal   -> none
//	manifest hash   -> SHA-256 of the sheet's canonical content
//	expiry          -> the end of the sheet's validity
type SheetFacts struct {
	SheetID      string
	Number       string
	Issuer       string
	Destination  string
	ManifestHash [32]byte
	ValidUntil   time.Time
}

// IssueSheetSeal signs and stores the QR of a courier sheet in q's
// transaction. The row lives in seals with bag_id = the sheet's id (sheet
// and bag ids are both random UUIDs), so revoking its serial travels in the
// trust list like any seal's.
func (k *Keyring) IssueSheetSeal(ctx context.Context, q db.Querier, f SheetFacts) (*Seal, error) {
	now := k.now()
	exp := f.ValidUntil.UTC().Truncate(time.Second)
	id, err := seal.ParseBagID(f.SheetID)
	if err != nil {
		return nil, fmt.Errorf("sheet id: %w", err)
	}
	c := seal.Claims{BagID: id, Registry: f.Number, Origin: f.Issuer, Destination: f.Destination, Package: 1, Packages: 1,
		ManifestHash: f.ManifestHash, IssuedAt: now, Expires: exp, Serial: seal.NewSerial()}
	if err := c.Validate(); err != nil {
		return nil, valise.Invalid("the courier sheet cannot be signed", valise.FieldError{Field: "sheet", Reason: err.Error()})
	}
	signer, key, err := k.Signer(ctx, q, f.Issuer)
	if err != nil {
		return nil, err
	}
	if now.Before(key.NotBefore) || now.After(key.NotAfter) {
		return nil, valise.Errorf(valise.ECONFLICT, "the seal key of %s may sign only from %s to %s: rotate it",
			f.Issuer, key.NotBefore.Format(time.RFC3339), key.NotAfter.Format(time.RFC3339))
	}
	text, err := seal.Sign(c, signer)
	if err != nil {
		return nil, fmt.Errorf("sign courier sheet: %w", err)
	}
	_, err = q.Exec(ctx, `INSERT INTO seals (serial, bag_id, k, n, registry_number, physical_serial, kid, text,
		issued_at, expires_at) VALUES ($1, $2, 1, 1, $3, '', $4, $5, $6, $7)`,
		c.Serial[:], f.SheetID, c.Registry, signer.KID.String(), text, c.IssuedAt, c.Expires)
	if err != nil {
		return nil, fmt.Errorf("store courier sheet seal: %w", err)
	}
	return &Seal{BagID: f.SheetID, Package: 1, Packages: 1, Registry: c.Registry, Serial: c.Serial, KID: signer.KID,
		Text: text, IssuedAt: c.IssuedAt, ExpiresAt: c.Expires}, nil
}

// SheetSeal returns the signed QR of a courier sheet, nil if it has none
// (sheets issued before sheets were signed).
func SheetSeal(ctx context.Context, q db.Querier, sheetID string) (*Seal, error) {
	if _, err := seal.ParseBagID(sheetID); err != nil {
		return nil, nil
	}
	s, err := scanSeal(q.QueryRow(ctx, `SELECT `+sealColumns+` FROM seals WHERE bag_id = $1 AND superseded_at IS NULL
		ORDER BY issued_at DESC LIMIT 1`, sheetID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load courier sheet seal: %w", err)
	}
	return s, nil
}

// RevokeSheetSeal revokes the serial of a revoked courier sheet's QR and
// publishes a trust list carrying it, in q's transaction: verifying the
// sheet then fails with "seal_revoked", online and offline.
func (k *Keyring) RevokeSheetSeal(ctx context.Context, q db.Querier, sheetID, actor, reason string) error {
	s, err := SheetSeal(ctx, q, sheetID)
	if err != nil || s == nil {
		return err
	}
	if reason == "" {
		reason = "courier sheet revoked"
	}
	if r := []rune(reason); len(r) > 500 {
		reason = string(r[:500])
	}
	if _, err := q.Exec(ctx, `INSERT INTO seal_revocations (serial, reason, revoked_by, revoked_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (serial) DO NOTHING`, s.Serial[:], reason, actor, k.now()); err != nil {
		return fmt.Errorf("revoke courier sheet seal: %w", err)
	}
	_, err = k.Publish(ctx, q)
	return err
}
