package personnel

// Passport holders outside the diplomatic service (issue 15). The List of
// Decree 722 entitles many people who have no staff record here: the
// President and his family (DL-2), deputies of Parliament (DL-21), military
// attachés (DL-29), airline crews of official delegations (SL-8) ... R§8:
// the MFA prepares, issues, records and keeps every passport, so such a
// person gets a passport-holder record kept by a unit of the MFA, with its
// own history (passport_holder_events). A family member or dependent of such
// a holder is a holder record naming the principal and the relation.
//
// The passport functions take an owner id: a staff record's or a holder
// record's. The personal-data policy decides a holder record as it decides
// a staff record of the same unit (kind "staff", no linked account):
// personnel officers of the unit's scope; hidden == missing.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Relations of a holder to a principal holder (the List's family items:
// spouses, children, family members, dependents).
var holderRelations = []string{"spouse", "child", "adopted_child", "parent", "dependent"}

// HolderInput registers a holder outside the diplomatic service: the R§18
// data the register needs (ethnicity only when the person states it).
type HolderInput struct {
	FullName    string `json:"full_name"`
	BirthDate   Date   `json:"birth_date"`
	Ethnicity   string `json:"ethnicity,omitempty"`
	PlaceOfWork string `json:"place_of_work"`
	Position    string `json:"position"`
	// Principal and Relation: a family member or dependent of another holder.
	Principal string `json:"principal,omitempty"`
	Relation  string `json:"relation,omitempty"`
	// Unit: the MFA unit whose personnel officers keep the record.
	Unit string `json:"unit"`
	Change
}

// Holder is a passport-holder record.
type Holder struct {
	ID          string     `json:"id"`
	FullName    string     `json:"full_name"`
	BirthDate   Date       `json:"birth_date"`
	Ethnicity   string     `json:"ethnicity,omitempty"`
	PlaceOfWork string     `json:"place_of_work"`
	Position    string     `json:"position"`
	Principal   string     `json:"principal,omitempty"`
	Relation    string     `json:"relation,omitempty"`
	Unit        string     `json:"unit"`
	Passports   []Passport `json:"passports"`
	Version     int        `json:"version"`
}

// holderPrefix marks a passport owner id as a holder record's (HolderOwner).
const holderPrefix = "holder:"

// HolderOwner is the owner id the passport functions take for a holder
// record (a bare id is a staff record's), so a holder's id never answers as
// a staff record's or the reverse.
func HolderOwner(id string) string { return holderPrefix + id }

// lockOwner resolves a passport owner id (a staff record's, or
// HolderOwner's), locks it for a change (not for a read) and asks the policy.
func lockOwner(ctx context.Context, tx pgx.Tx, owner string, check Check, action string) (resource, error) {
	if id, ok := strings.CutPrefix(owner, holderPrefix); ok {
		return lockHolder(ctx, tx, id, check, action)
	}
	return lockStaff(ctx, tx, owner, check, action)
}

func lockHolder(ctx context.Context, tx pgx.Tx, id string, check Check, action string) (resource, error) {
	r := resource{id: id, holder: true}
	if !db.ValidUUID(id) {
		return r, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	lock := ""
	if action != policy.ActStaffRead {
		lock = " FOR UPDATE OF h"
	}
	err := tx.QueryRow(ctx, `SELECT u.code FROM passport_holders h JOIN units u ON u.id = h.unit_id WHERE h.id = $1`+lock, id).Scan(&r.unit)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	if err != nil {
		return r, err
	}
	return r, check(ctx, action, r.policy())
}

// writeOwner runs fn in a transaction on a locked, authorized passport owner.
func (s *Service) writeOwner(ctx context.Context, id string, check Check, fn func(tx pgx.Tx, r resource) error) error {
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := lockOwner(ctx, tx, id, check, policy.ActStaffManage)
		if err != nil {
			return err
		}
		return fn(tx, r)
	})
}

// recordFor appends an event to the owner's history: a staff record's
// staff_events, or a holder record's passport_holder_events.
func recordFor(ctx context.Context, tx pgx.Tx, r resource, kind string, data any, c Change, by policy.Subject) (string, error) {
	if !r.holder {
		return record(ctx, tx, r.id, kind, data, c, "", by)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "", err
	}
	var id string
	if err := tx.QueryRow(ctx, `INSERT INTO passport_holder_events (holder_id, kind, data, reason, act_number, act_date, recorded_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, r.id, kind, b, c.Reason, c.Act.Number, c.Act.Date, by.Username).Scan(&id); err != nil {
		return "", fmt.Errorf("record %s event: %w", kind, err)
	}
	_, err = tx.Exec(ctx, `UPDATE passport_holders SET version = version + 1 WHERE id = $1`, r.id)
	return id, err
}

// RegisterHolder records a passport holder outside the diplomatic service
// (event holder_registered). Whether the person is entitled is decided per
// application (the List item and its evidence), not here.
func (s *Service) RegisterHolder(ctx context.Context, check Check, by policy.Subject, in HolderInput) (Holder, error) {
	var out Holder
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		fs := in.fields()
		for _, f := range []struct{ name, v string }{{"full_name", in.FullName}, {"place_of_work", in.PlaceOfWork}, {"position", in.Position}} {
			if strings.TrimSpace(f.v) == "" {
				fs = append(fs, fe(f.name, "R§18: required"))
			}
		}
		if len(in.FullName) > 200 || len(in.PlaceOfWork) > 300 || len(in.Position) > 300 || len(in.Ethnicity) > 100 {
			fs = append(fs, fe("full_name", "too long (200 characters; place of work and position 300)"))
		}
		if in.BirthDate.IsZero() || in.BirthDate.After(Today(s.now())) {
			fs = append(fs, fe("birth_date", "R§18: the date of birth, not in the future"))
		}
		if (in.Principal == "") != (in.Relation == "") {
			fs = append(fs, fe("relation", "a family member or dependent names both the principal holder and the relation"))
		} else if in.Relation != "" && !slices.Contains(holderRelations, in.Relation) {
			fs = append(fs, fe("relation", "one of "+strings.Join(holderRelations, ", ")))
		}
		var unitID string
		err := tx.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, in.Unit).Scan(&unitID)
		if errors.Is(err, pgx.ErrNoRows) {
			fs = append(fs, fe("unit", "the MFA unit that keeps the record (a unit code)"))
		} else if err != nil {
			return err
		}
		if unitID != "" {
			if err := check(ctx, policy.ActStaffManage, resource{unit: in.Unit, holder: true}.policy()); err != nil {
				if valise.ErrorCode(err) != valise.ENOTFOUND {
					return err
				}
				fs = append(fs, fe("unit", "not a unit whose records you keep"))
			}
		}
		if in.Principal != "" {
			pr, err := lockHolder(ctx, tx, in.Principal, check, policy.ActStaffRead)
			switch {
			case valise.ErrorCode(err) == valise.ENOTFOUND:
				fs = append(fs, fe("principal", "no such passport holder"))
			case err != nil:
				return err
			case pr.unit != in.Unit:
				fs = append(fs, fe("principal", "a family member's record is kept by the principal's unit ("+pr.unit+")"))
			}
		}
		if len(fs) > 0 {
			return refusal("the passport holder is invalid", fs...)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO passport_holders (full_name, birth_date, ethnicity, place_of_work, position, principal_id, relation, unit_id)
			VALUES ($1, $2, $3, $4, $5, nullif($6, '')::uuid, nullif($7, ''), $8) RETURNING id`, strings.TrimSpace(in.FullName), in.BirthDate,
			in.Ethnicity, strings.TrimSpace(in.PlaceOfWork), strings.TrimSpace(in.Position), in.Principal, in.Relation, unitID).Scan(&out.ID); err != nil {
			return err
		}
		data := in
		data.Change = Change{}
		if _, err := recordFor(ctx, tx, resource{id: out.ID, holder: true}, "holder_registered", data, in.Change, by); err != nil {
			return err
		}
		return scanHolder(ctx, tx, out.ID, Today(s.now()), &out)
	})
	return out, err
}

func scanHolder(ctx context.Context, tx pgx.Tx, id string, today Date, h *Holder) error {
	if err := tx.QueryRow(ctx, `SELECT h.id, h.full_name, h.birth_date, h.ethnicity, h.place_of_work, h.position,
		coalesce(h.principal_id::text, ''), coalesce(h.relation, ''), u.code, h.version
		FROM passport_holders h JOIN units u ON u.id = h.unit_id WHERE h.id = $1`, id).Scan(&h.ID, &h.FullName, &h.BirthDate,
		&h.Ethnicity, &h.PlaceOfWork, &h.Position, &h.Principal, &h.Relation, &h.Unit, &h.Version); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT `+passportCols+` FROM passports p WHERE p.holder_id = $1 ORDER BY p.received_on, p.id`, id)
	if err != nil {
		return err
	}
	h.Passports, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Passport, error) { return scanPassport(r, today) })
	h.Passports = nonNil(h.Passports)
	return err
}

// GetHolder returns a holder record with its passports.
func (s *Service) GetHolder(ctx context.Context, check Check, id string) (Holder, error) {
	var out Holder
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockHolder(ctx, tx, id, check, policy.ActStaffRead); err != nil {
			return err
		}
		return scanHolder(ctx, tx, id, Today(s.now()), &out)
	})
	return out, err
}

// HolderEvents returns a holder record's history, oldest first.
func (s *Service) HolderEvents(ctx context.Context, check Check, id string) ([]Event, error) {
	var out []Event
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockHolder(ctx, tx, id, check, policy.ActStaffRead); err != nil {
			return err
		}
		var err error
		out, err = historyOf(ctx, tx, "passport_holder_events", "holder_id", id)
		return err
	})
	return out, err
}

// holderAlertFacts: alerts about a holder record's passports carry the ref
// "passport_holder/<id>", so Service.Alerts asks the policy about the holder
// record (its unit) as it does about a staff record.
func init() {
	alertRefFacts["passport_holder"] = func(ctx context.Context, q db.Querier, ids []string) (map[string]resource, error) {
		rows, err := q.Query(ctx, `SELECT h.id::text, u.code FROM passport_holders h JOIN units u ON u.id = h.unit_id
			WHERE h.id = ANY($1::uuid[])`, ids)
		if err != nil {
			return nil, err
		}
		out := map[string]resource{}
		var r resource
		r.holder = true
		_, err = pgx.ForEachRow(rows, []any{&r.id, &r.unit}, func() error {
			out[r.id] = r
			return nil
		})
		return out, err
	}
}
