package identity

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"valise"
	"valise/internal/db"
)

// Unit kinds. Ministry and department are the MFA; embassy, consulate and
// permanent mission are foreign institutions (Art. 1(18)).
var UnitKinds = []string{"ministry", "department", "embassy", "consulate", "permanent_mission", "state_body", "organization", "carrier"}

// Unit is an organization unit. Units form a tree through Parent.
type Unit struct {
	ID      string `json:"id"`
	Code    string `json:"code"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Country string `json:"country,omitempty"`
	Parent  string `json:"parent,omitempty"` // parent unit code
	// TimeZone is the unit's IANA time zone, in which its printed documents
	// give local time beside UTC ("" prints UTC only).
	TimeZone  string    `json:"time_zone,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int       `json:"version"`
}

// UnitInput creates or replaces a unit's editable fields.
type UnitInput struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Country string `json:"country,omitempty"`
	Parent  string `json:"parent,omitempty"`
	// TimeZone: an IANA zone ("Europe/Berlin"); empty takes the country's
	// when it has one zone.
	TimeZone string `json:"time_zone,omitempty"`
}

var (
	unitCodeRe = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,15}$`)
	countryRe  = regexp.MustCompile(`^[A-Z]{2}$`)
)

func (in UnitInput) validate() error {
	var fs []valise.FieldError
	if !unitCodeRe.MatchString(in.Code) {
		fs = append(fs, valise.FieldError{Field: "code", Reason: "must be 2-16 capital letters, digits or dashes"})
	}
	if l := len([]rune(in.Name)); l < 1 || l > 200 {
		fs = append(fs, valise.FieldError{Field: "name", Reason: "must be 1-200 characters"})
	}
	ok := false
	for _, k := range UnitKinds {
		ok = ok || k == in.Kind
	}
	if !ok {
		fs = append(fs, valise.FieldError{Field: "kind", Reason: fmt.Sprintf("must be one of %v", UnitKinds)})
	}
	if in.Country != "" && !countryRe.MatchString(in.Country) {
		fs = append(fs, valise.FieldError{Field: "country", Reason: "must be an ISO 3166 alpha-2 code"})
	}
	if (in.Kind == "embassy" || in.Kind == "consulate" || in.Kind == "permanent_mission") && in.Country == "" {
		fs = append(fs, valise.FieldError{Field: "country", Reason: "a foreign institution needs its country"})
	}
	if in.TimeZone != "" {
		if _, err := time.LoadLocation(in.TimeZone); err != nil || in.TimeZone == "Local" || len(in.TimeZone) > 64 {
			fs = append(fs, valise.FieldError{Field: "time_zone", Reason: "an IANA time zone such as Europe/Berlin"})
		}
	}
	if in.Parent != "" && in.Parent == in.Code {
		fs = append(fs, valise.FieldError{Field: "parent", Reason: "a unit cannot be its own parent"})
	}
	if len(fs) > 0 {
		return valise.Invalid("the unit is not valid", fs...)
	}
	return nil
}

const unitCols = `u.id, u.code, u.name, u.kind, coalesce(u.country, ''), coalesce(p.code, ''), u.created_at, u.updated_at, u.version,
	u.time_zone`

func scanUnit(row pgx.Row) (Unit, error) {
	var u Unit
	err := row.Scan(&u.ID, &u.Code, &u.Name, &u.Kind, &u.Country, &u.Parent, &u.CreatedAt, &u.UpdatedAt, &u.Version, &u.TimeZone)
	return u, err
}

// ListUnits returns every unit, by code.
func (s *Service) ListUnits(ctx context.Context) ([]Unit, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+unitCols+` FROM units u LEFT JOIN units p ON p.id = u.parent_id ORDER BY u.code`)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list units: %w", err))
	}
	units, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Unit, error) { return scanUnit(r) })
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list units: %w", err))
	}
	return units, nil
}

// GetUnit returns the unit with code.
func (s *Service) GetUnit(ctx context.Context, code string) (Unit, error) {
	u, err := scanUnit(s.pool.QueryRow(ctx, `SELECT `+unitCols+` FROM units u LEFT JOIN units p ON p.id = u.parent_id WHERE u.code = $1`, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return Unit{}, valise.Errorf(valise.ENOTFOUND, "no unit %s", code)
	}
	if err != nil {
		return Unit{}, db.Classify(fmt.Errorf("get unit: %w", err))
	}
	return u, nil
}

// CreateUnit adds a unit under an existing parent (or at the root).
func (s *Service) CreateUnit(ctx context.Context, in UnitInput) (Unit, error) {
	if err := in.validate(); err != nil {
		return Unit{}, err
	}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		parent, err := parentID(ctx, tx, in.Parent)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO units (code, name, kind, country, parent_id, time_zone) VALUES ($1, $2, $3, nullif($4, ''), $5, $6)`,
			in.Code, in.Name, in.Kind, in.Country, parent, in.TimeZone)
		return err
	})
	if err != nil {
		return Unit{}, unitError(err, in.Code)
	}
	return s.GetUnit(ctx, in.Code)
}

// UpdateUnit replaces the name, kind, country and parent of the unit with
// code. A parent may not be the unit itself or one of its descendants.
func (s *Service) UpdateUnit(ctx context.Context, code string, in UnitInput) (Unit, error) {
	in.Code = code
	if err := in.validate(); err != nil {
		return Unit{}, err
	}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		parent, err := parentID(ctx, tx, in.Parent)
		if err != nil {
			return err
		}
		if parent != nil {
			var cycle bool
			err := tx.QueryRow(ctx, `
				WITH RECURSIVE up AS (
					SELECT id, parent_id FROM units WHERE id = $1
					UNION SELECT u.id, u.parent_id FROM units u JOIN up ON u.id = up.parent_id)
				SELECT EXISTS (SELECT 1 FROM up JOIN units me ON me.id = up.id WHERE me.code = $2)`, parent, code).Scan(&cycle)
			if err != nil {
				return err
			}
			if cycle {
				return valise.Invalid("the unit is not valid", valise.FieldError{Field: "parent", Reason: "would make a cycle in the unit tree"})
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE units SET name = $2, kind = $3, country = nullif($4, ''), parent_id = $5,
			time_zone = CASE WHEN $6 = '' THEN unit_default_time_zone(nullif($4, '')) ELSE $6 END,
			updated_at = now(), version = version + 1 WHERE code = $1`, code, in.Name, in.Kind, in.Country, parent, in.TimeZone)
		if err == nil && tag.RowsAffected() == 0 {
			return valise.Errorf(valise.ENOTFOUND, "no unit %s", code)
		}
		return err
	})
	if err != nil {
		return Unit{}, unitError(err, code)
	}
	return s.GetUnit(ctx, code)
}

// DeleteUnit removes a unit that nothing refers to.
func (s *Service) DeleteUnit(ctx context.Context, code string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM units WHERE code = $1`, code)
	if err != nil {
		return unitError(err, code)
	}
	if tag.RowsAffected() == 0 {
		return valise.Errorf(valise.ENOTFOUND, "no unit %s", code)
	}
	return nil
}

func parentID(ctx context.Context, tx pgx.Tx, code string) (*string, error) {
	if code == "" {
		return nil, nil
	}
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, code).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Invalid("the unit is not valid", valise.FieldError{Field: "parent", Reason: "no such unit"})
	}
	return &id, err
}

func unitError(err error, code string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return valise.Errorf(valise.ECONFLICT, "a unit with code %s already exists", code)
		case "23503":
			return valise.Errorf(valise.ECONFLICT, "unit %s is still referred to (by users, child units or mail)", code)
		}
	}
	var ve *valise.Error
	if errors.As(err, &ve) {
		return err
	}
	return db.Classify(fmt.Errorf("unit %s: %w", code, err))
}
