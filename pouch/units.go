package pouch

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
)

// Unit is the slice of an organization unit the mail rules read.
type Unit struct {
	ID      string `json:"id"`
	Code    string `json:"code"`
	Kind    string `json:"kind"`
	Country string `json:"country,omitempty"`
}

// Unit kinds as the law groups them (Art. 4, Art. 1(18)).
var (
	ministryKinds           = []string{"ministry", "department"}
	foreignInstitutionKinds = []string{"embassy", "consulate", "permanent_mission"}
)

// IsMinistry reports whether u is the ministry or one of its departments.
func (u Unit) IsMinistry() bool { return slices.Contains(ministryKinds, u.Kind) }

// IsForeignInstitution reports whether u is a mission or consular institution abroad.
func (u Unit) IsForeignInstitution() bool { return slices.Contains(foreignInstitutionKinds, u.Kind) }

// IsDiplomaticService reports whether u is a diplomatic service body (ministry or foreign institution).
func (u Unit) IsDiplomaticService() bool { return u.IsMinistry() || u.IsForeignInstitution() }

// UnitByCode loads a unit; an unknown code is EINVALID naming field.
func UnitByCode(ctx context.Context, q db.Querier, code, field string) (Unit, error) {
	var u Unit
	var country *string
	err := q.QueryRow(ctx, `SELECT id, code, kind, country FROM units WHERE code = $1`, code).
		Scan(&u.ID, &u.Code, &u.Kind, &country)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, valise.Invalid("unknown unit", valise.FieldError{Field: field, Reason: fmt.Sprintf("no unit has code %q", code)})
	}
	if err != nil {
		return u, fmt.Errorf("load unit %s: %w", code, err)
	}
	if country != nil {
		u.Country = *country
	}
	return u, nil
}

// nextNumber takes the next number of a unit's series for a year, in tx.
// Numbers are never reused: the counter only grows and rows naming them are
// never deleted; a transaction that rolls back gives its number back, so
// the series has no gaps. The counter row serializes the unit's writers:
// tx must run at READ COMMITTED (db.ReadCommitted), where a second writer
// waits for the first and then takes the next number; in a serializable
// transaction two writers at once fail with 40001, so it is refused.
func nextNumber(ctx context.Context, tx pgx.Tx, unitID, series string, year int) (int, error) {
	var n int
	var iso string
	err := tx.QueryRow(ctx, `
		INSERT INTO registry_counters (unit_id, series, year, last) VALUES ($1, $2, $3, 1)
		ON CONFLICT (unit_id, series, year) DO UPDATE SET last = registry_counters.last + 1
		RETURNING last, current_setting('transaction_isolation')`, unitID, series, year).Scan(&n, &iso)
	if err != nil {
		return 0, fmt.Errorf("next %s number: %w", series, err)
	}
	if iso != "read committed" {
		return 0, fmt.Errorf("next %s number: taken in a %s transaction; use db.ReadCommitted", series, iso)
	}
	return n, nil
}

// NextNumber is nextNumber for other domain packages (courier sheets).
func NextNumber(ctx context.Context, tx pgx.Tx, unitID, series string, year int) (int, error) {
	return nextNumber(ctx, tx, unitID, series, year)
}

// Setting reads a by-law duration from pouch_settings.
func setting(ctx context.Context, q db.Querier, key string) (string, error) {
	var v string
	err := q.QueryRow(ctx, `SELECT value::text FROM pouch_settings WHERE key = $1`, key).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("setting %s: %w", key, err)
	}
	return v, nil
}
