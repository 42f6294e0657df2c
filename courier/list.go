package courier

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// SheetFilter narrows a sheet list. Zero values do not filter.
type SheetFilter struct {
	CourierID string // sheets naming this courier (a courier record id)
	BagID     string // sheets covering this bag
	Issuer    string // unit code of the issuing unit
	Status    string // issued or revoked
	// Valid: true lists sheets valid now (issued, within validity); false
	// those that are not; nil both.
	Valid *bool
	After string // cursor from a previous page
	Limit int    // 1..200, default 50
}

// ListSheets returns the sheets in the caller's list scope matching f,
// newest first, and the cursor of the next page ("" on the last). The scope
// is applied in SQL, as for bags: a sheet is listed only if every bag on it
// is within the caller's clearance and its route touches a unit in scope
// (or the scope is all, or the caller is the courier it names), the same
// facts GetSheet's policy check reads.
func (s *Service) ListSheets(ctx context.Context, actor policy.Subject, sc policy.Scope, f SheetFilter) ([]*Sheet, string, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where := `NOT EXISTS (SELECT 1 FROM courier_sheet_bags sb JOIN bags b ON b.id = sb.bag_id
		WHERE sb.sheet_id = cs.id AND b.level > ` + arg(int16(sc.MaxLevel)) + `)`
	if !sc.All {
		units := sc.Units
		if units == nil {
			units = []string{}
		}
		cond := "cs.route_codes && " + arg(units) + "::text[]"
		if sc.Courier && actor.UserID != "" {
			cond = "(" + cond + " OR c.user_id = " + arg(actor.UserID) + ")"
		}
		where += " AND " + cond
	}
	var fe []valise.FieldError
	if f.CourierID != "" {
		if !db.ValidUUID(f.CourierID) {
			fe = append(fe, valise.FieldError{Field: "courier", Reason: "a courier id"})
		}
		where += " AND cs.courier_id = " + arg(f.CourierID) + "::uuid"
	}
	if f.BagID != "" {
		if !db.ValidUUID(f.BagID) {
			fe = append(fe, valise.FieldError{Field: "bag", Reason: "a bag id"})
		}
		where += " AND EXISTS (SELECT 1 FROM courier_sheet_bags x WHERE x.sheet_id = cs.id AND x.bag_id = " + arg(f.BagID) + "::uuid)"
	}
	if f.Issuer != "" {
		where += " AND u.code = " + arg(f.Issuer)
	}
	switch f.Status {
	case "":
	case "issued", "revoked":
		where += " AND cs.status = " + arg(f.Status)
	default:
		fe = append(fe, valise.FieldError{Field: "status", Reason: "issued or revoked"})
	}
	if f.Valid != nil {
		valid := "(cs.status = 'issued' AND cs.valid_from <= now() AND now() < cs.valid_until)"
		if *f.Valid {
			where += " AND " + valid
		} else {
			where += " AND NOT " + valid
		}
	}
	if f.After != "" {
		t, id, err := db.ParseCursor(f.After, "after")
		if err != nil {
			fe = append(fe, valise.FieldError{Field: "after", Reason: "not a cursor from a previous page"})
		}
		where += " AND (cs.issued_at, cs.id) < (" + arg(t) + ", " + arg(id) + "::uuid)"
	}
	if f.Limit < 0 || f.Limit > 200 {
		fe = append(fe, valise.FieldError{Field: "limit", Reason: "1..200"})
	}
	if fe != nil {
		return nil, "", valise.Invalid("bad list parameters", fe...)
	}
	if sc.None() {
		return []*Sheet{}, "", nil
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	rows, err := s.pool.Query(ctx, sheetSQL+` WHERE `+where+
		fmt.Sprintf(` ORDER BY cs.issued_at DESC, cs.id DESC LIMIT %d`, f.Limit+1), args...)
	if err != nil {
		return nil, "", db.Classify(fmt.Errorf("list sheets: %w", err))
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Sheet, error) { return scanSheet(r) })
	if err != nil {
		return nil, "", db.Classify(fmt.Errorf("list sheets: %w", err))
	}
	next := ""
	if len(list) > f.Limit {
		list = list[:f.Limit]
		last := list[len(list)-1]
		next = db.Cursor(last.IssuedAt, last.ID)
	}
	if err := s.loadBags(ctx, list); err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// loadBags fills the bags of every sheet in list in one query.
func (s *Service) loadBags(ctx context.Context, list []*Sheet) error {
	byID := make(map[string]*Sheet, len(list))
	ids := make([]string, len(list))
	for i, sh := range list {
		byID[sh.ID], ids[i] = sh, sh.ID
		sh.Bags = []SheetBag{}
	}
	rows, err := s.pool.Query(ctx, `SELECT sb.sheet_id, b.id, b.registry_number, sb.packages, `+sealSerialsSQL+`
		FROM courier_sheet_bags sb JOIN bags b ON b.id = sb.bag_id WHERE sb.sheet_id = ANY($1::uuid[]) ORDER BY b.registry_number`, ids)
	if err != nil {
		return db.Classify(fmt.Errorf("list sheet bags: %w", err))
	}
	var sheetID string
	var b SheetBag
	_, err = pgx.ForEachRow(rows, []any{&sheetID, &b.BagID, &b.RegistryNumber, &b.Packages, &b.SealSerials}, func() error {
		byID[sheetID].Bags = append(byID[sheetID].Bags, b)
		return nil
	})
	if err != nil {
		return db.Classify(fmt.Errorf("list sheet bags: %w", err))
	}
	return nil
}
