package courier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/internal/db"
)

// sheetBagDoc and sheetDoc are the canonical content a sheet's QR commits
// to. Fields are declared in lexicographic order of their JSON names, so the
// compact JSON encoding (no HTML escaping) is the RFC 8785 canonical form.
type sheetBagDoc struct {
	BagID          string `json:"bag_id"`
	Packages       int    `json:"packages"`
	RegistryNumber string `json:"registry_number"`
}

type sheetDoc struct {
	Bags         []sheetBagDoc `json:"bags"`
	BearerName   string        `json:"bearer_name"`
	Conveyance   string        `json:"conveyance"`
	CourierID    string        `json:"courier_id"`
	Issuer       string        `json:"issuer"`
	Number       string        `json:"number"`
	PackageCount int           `json:"package_count"`
	Route        []string      `json:"route"`
	SheetID      string        `json:"sheet_id"`
	ValidFrom    string        `json:"valid_from"`
	ValidUntil   string        `json:"valid_until"`
	Version      string        `json:"v"`
}

// Canonical returns the bytes a sheet's signed QR hashes (its manifest
// hash is their SHA-256): the compact JSON object {"bags","bearer_name",
// "conveyance","courier_id" ("" without one),"issuer","number",
// "package_count","route","sheet_id","v":"valise-sheet-1","valid_from",
// "valid_until"} with keys in lexicographic order, times as RFC 3339 UTC
// seconds, bags ({"bag_id","packages","registry_number"}) ordered by
// registry number. Revocation is not part of it: a revoked sheet's QR is
// revoked in the trust list instead.
func (sh *Sheet) Canonical() []byte {
	d := sheetDoc{Bags: []sheetBagDoc{}, BearerName: sh.BearerName, Conveyance: sh.Conveyance, CourierID: sh.CourierID,
		Issuer: sh.Issuer, Number: sh.Number, PackageCount: sh.PackageCount, Route: sh.Route, SheetID: sh.ID,
		ValidFrom: rfc3339(sh.ValidFrom), ValidUntil: rfc3339(sh.ValidUntil), Version: "valise-sheet-1"}
	for _, b := range sh.Bags {
		d.Bags = append(d.Bags, sheetBagDoc{BagID: b.BagID, Packages: b.Packages, RegistryNumber: b.RegistryNumber})
	}
	slices.SortFunc(d.Bags, func(a, b sheetBagDoc) int {
		if a.RegistryNumber < b.RegistryNumber {
			return -1
		}
		if a.RegistryNumber > b.RegistryNumber {
			return 1
		}
		return 0
	})
	if d.Route == nil {
		d.Route = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(d) // strings, ints and slices of them cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func rfc3339(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// Facts are the claims of the sheet's signed QR.
func (sh *Sheet) Facts() keyring.SheetFacts {
	f := keyring.SheetFacts{SheetID: sh.ID, Number: sh.Number, Issuer: sh.Issuer,
		ManifestHash: seal.HashManifest(sh.Canonical()), ValidUntil: sh.ValidUntil}
	if len(sh.Route) > 0 {
		f.Destination = sh.Route[len(sh.Route)-1]
	}
	return f
}

// Mismatch is one claim of an authentic sheet QR that the sheet record
// contradicts (the record's value is not disclosed).
type Mismatch = keyring.Mismatch

// Compare lists the claims of an authentic sheet QR that differ from the
// sheet record, and whether the record says the sheet is valid now.
func (sh *Sheet) Compare(c seal.Claims, issued *keyring.Seal) []Mismatch {
	var out []Mismatch
	add := func(field, v string) { out = append(out, Mismatch{Field: field, Seal: v}) }
	f := sh.Facts()
	if issued == nil || issued.BagID != sh.ID {
		add("serial", c.Serial.String())
	}
	if c.Registry != f.Number {
		add("number", c.Registry)
	}
	if c.Origin != f.Issuer {
		add("issuer", c.Origin)
	}
	if c.Destination != f.Destination {
		add("destination", c.Destination)
	}
	if c.ManifestHash != f.ManifestHash {
		add("manifest_hash", fmt.Sprintf("%x", c.ManifestHash))
	}
	if !c.Expires.Equal(sh.ValidUntil.UTC().Truncate(time.Second)) {
		add("valid_until", c.Expires.UTC().Format(time.RFC3339))
	}
	return out
}

// loadQR fills sh.QR with the text of the sheet's signed QR, if it has one.
func loadQR(ctx context.Context, q db.Querier, sh *Sheet) error {
	s, err := keyring.SheetSeal(ctx, q, sh.ID)
	if err != nil {
		return err
	}
	if s != nil {
		sh.QR, sh.QRSerial = s.Text, s.Serial.String()
	}
	return nil
}

// sign issues the sheet's QR in tx.
func (s *Service) sign(ctx context.Context, tx pgx.Tx, sh *Sheet) error {
	if s.keys == nil {
		return fmt.Errorf("courier: the service has no keyring (courier.WithKeyring): it cannot sign sheets")
	}
	q, err := s.keys.IssueSheetSeal(ctx, tx, sh.Facts())
	if err != nil {
		return err
	}
	sh.QR, sh.QRSerial = q.Text, q.Serial.String()
	return nil
}

// SheetBySeal returns the courier sheet a seal's bag-id claim names, nil if
// it names no sheet (then it is a bag seal). It reads no authorization:
// the caller decides what to disclose.
func SheetBySeal(ctx context.Context, q db.Querier, c seal.Claims) (*Sheet, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM courier_sheets WHERE id = $1`, c.BagID.String()).Scan(&n); err != nil {
		return nil, fmt.Errorf("find courier sheet: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	return getSheet(ctx, q, c.BagID.String())
}
