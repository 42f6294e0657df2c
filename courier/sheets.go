package courier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/seal"
	"valise/internal/db"
	"valise/policy"
	"valise/pouch"
)

// SheetBag is one bag named on a sheet, by registry number only: the sheet
// certifies status and package count, never contents.
type SheetBag struct {
	BagID          string `json:"bag_id"`
	RegistryNumber string `json:"registry_number"`
	Packages       int    `json:"packages"`
	// SealSerials are the physical seal serials of packages 1..N ("" for a
	// package sealed without one): what an officer compares at a border.
	SealSerials []string `json:"seal_serials"`
}

// Sheet is a courier sheet (Art. 1(6)): the document of the ministry or a
// foreign institution confirming the status of the mail and of its bearer.
type Sheet struct {
	ID          string `json:"id"`
	Number      string `json:"number"`
	Issuer      string `json:"issuer"`
	IssuerName  string `json:"issuer_name"`
	Conveyance  string `json:"conveyance"`
	CourierID   string `json:"courier_id,omitempty"`
	CourierKind string `json:"courier_kind,omitempty"`
	BearerName  string `json:"bearer_name"`
	// BearerPosition is the bearer's official position (a career courier's
	// account's, an ad hoc courier's record's).
	BearerPosition string `json:"bearer_position,omitempty"`
	// BearerDoc is the bearer's identity document as printed in English
	// ("Service passport No. N1234567 (KZ)"); Doc its parts.
	BearerDoc string    `json:"bearer_document,omitempty"`
	Doc       *Document `json:"bearer_document_details,omitempty"`
	// PassportID is the career courier's passport the eligibility check
	// used (issue 15); the sheet prints it as the bearer's document.
	PassportID    string     `json:"passport_id,omitempty"`
	Route         []string   `json:"route"`
	PackageCount  int        `json:"package_count"`
	Bags          []SheetBag `json:"bags"`
	ValidFrom     time.Time  `json:"valid_from"`
	ValidUntil    time.Time  `json:"valid_until"`
	Status        string     `json:"status"` // issued or revoked
	RevokedReason string     `json:"revoked_reason,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	Replaces      string     `json:"replaces,omitempty"`
	IssuedBy      string     `json:"issued_by"`
	// IssuedByName and IssuedByPosition name the issuing officer as the
	// sheet prints them (IssuedBy is their username).
	IssuedByName     string    `json:"issued_by_name,omitempty"`
	IssuedByPosition string    `json:"issued_by_position,omitempty"`
	IssuedAt         time.Time `json:"issued_at"`
	// TimeZone is the issuing unit's IANA time zone: the sheet prints its
	// times in it beside UTC ("" prints UTC only).
	TimeZone string `json:"time_zone,omitempty"`
	Version  int    `json:"version"`
	// QR is the sheet's signed QR text (VS1, verified like a bag seal);
	// QRSerial is its serial, revoked in the trust list with the sheet.
	QR       string `json:"qr,omitempty"`
	QRSerial string `json:"qr_serial,omitempty"`

	level    policy.Level
	couriers []string
}

// Resource is the sheet as the policy sees it: the highest level of its
// bags and their units.
func (sh *Sheet) Resource() policy.Resource {
	r := policy.Resource{Kind: "sheet", ID: sh.ID, Level: sh.level, Route: sh.Route, Couriers: sh.couriers}
	if len(sh.Route) > 0 {
		r.Origin, r.Destination = sh.Route[0], sh.Route[len(sh.Route)-1]
	}
	return r
}

// ValidAt reports whether the sheet covers its bags at t.
func (sh *Sheet) ValidAt(t time.Time) bool {
	return sh.Status == "issued" && !t.Before(sh.ValidFrom) && t.Before(sh.ValidUntil)
}

// IssueInput issues a sheet for sealed bags.
type IssueInput struct {
	Issuer     string     `json:"issuer"` // unit code: the ministry or a foreign institution
	Conveyance string     `json:"conveyance"`
	CourierID  string     `json:"courier_id,omitempty"`
	BearerName string     `json:"bearer_name,omitempty"` // aircraft captain or carrier, when no courier
	BagIDs     []string   `json:"bag_ids"`
	ValidFrom  *time.Time `json:"valid_from,omitempty"` // default now
	ValidUntil *time.Time `json:"valid_until"`
	// Replaces names a revoked sheet this one reissues.
	Replaces string `json:"replaces,omitempty"`
}

// Issue issues a courier sheet. Only the ministry or a foreign institution
// issues (DM-02); a courier conveyance names a courier of the matching kind
// (DM-03); every bag is sealed, shares one route, and is on no other
// issued sheet; the package count is the sum of the bags' packages.
func (s *Service) Issue(ctx context.Context, actor policy.Subject, in IssueInput, check pouch.Check) (*Sheet, error) {
	var fe []valise.FieldError
	if in.Issuer == "" {
		fe = append(fe, valise.FieldError{Field: "issuer", Reason: "required"})
	}
	conv := map[string]string{"career_courier": policy.CourierCareer, "ad_hoc_courier": policy.CourierAdHoc, "aircraft_captain": "", "freight": ""}
	wantKind, ok := conv[in.Conveyance]
	if !ok {
		fe = append(fe, valise.FieldError{Field: "conveyance", Reason: "must be career_courier, ad_hoc_courier, aircraft_captain or freight"})
	}
	if ok && wantKind != "" && in.CourierID == "" {
		fe = append(fe, valise.FieldError{Field: "courier_id", Reason: "required: the sheet names its courier"})
	}
	if ok && wantKind == "" && strings.TrimSpace(in.BearerName) == "" {
		fe = append(fe, valise.FieldError{Field: "bearer_name", Reason: "required: the aircraft captain or the carrier"})
	}
	if len(in.BagIDs) == 0 {
		fe = append(fe, valise.FieldError{Field: "bag_ids", Reason: "at least one bag"})
	}
	from := time.Now()
	if in.ValidFrom != nil {
		from = *in.ValidFrom
	}
	if in.ValidUntil == nil || !in.ValidUntil.After(from) {
		fe = append(fe, valise.FieldError{Field: "valid_until", Reason: "required, after valid_from"})
	} else if !in.ValidUntil.After(time.Now()) || time.Until(*in.ValidUntil) > seal.MaxLifetime {
		// The sheet's signed QR expires when the sheet does.
		fe = append(fe, valise.FieldError{Field: "valid_until", Reason: "must be in the future and within 366 days: the signed QR expires with the sheet"})
	}
	if fe != nil {
		return nil, valise.Invalid("the courier sheet is incomplete", fe...)
	}
	var out *Sheet
	// READ COMMITTED: the issuer's number counter serializes issuers
	// (pouch.NextNumber), and each bag is locked before it is checked, so a
	// second sheet for the same bag waits and then sees the first.
	err := db.InTxOpts(ctx, s.pool, db.ReadCommitted, func(tx pgx.Tx) error {
		issuer, err := pouch.UnitByCode(ctx, tx, in.Issuer, "issuer")
		if err != nil {
			return err
		}
		sh := &Sheet{Issuer: issuer.Code, Conveyance: in.Conveyance, BearerName: in.BearerName}
		var courierID *string
		if wantKind != "" {
			c, err := get(ctx, tx, in.CourierID)
			if err != nil {
				return valise.Invalid("unknown courier", valise.FieldError{Field: "courier_id", Reason: "no such courier"})
			}
			if c.Kind != wantKind {
				return valise.Invalid("courier kind does not match the conveyance", valise.FieldError{Field: "courier_id", Reason: "is a " + c.Kind + " courier"})
			}
			sh.BearerName, courierID = c.FullName, &c.ID
			if c.UserID != "" {
				// The record stands for the account (DM-04): it must still be
				// an active courier's of the record's kind.
				if _, err := courierAccount(ctx, tx, CourierInput{Kind: c.Kind, UserID: c.UserID}); err != nil {
					var ve *valise.Error
					if errors.As(err, &ve) && ve.Code == valise.EINVALID && len(ve.Fields) == 1 {
						return valise.Invalid("the courier's account may not carry mail: "+ve.Message,
							valise.FieldError{Field: "courier_id", Reason: "its account: " + ve.Fields[0].Reason})
					}
					return err
				}
				sh.couriers = []string{c.UserID}
			}
		}
		for i, id := range in.BagIDs {
			field := fmt.Sprintf("bag_ids[%d]", i)
			noSuchBag := valise.Invalid("no such bag", valise.FieldError{Field: field, Reason: "no such bag"})
			b, err := pouch.LockBag(ctx, tx, id)
			if valise.ErrorCode(err) == valise.ENOTFOUND {
				return noSuchBag
			}
			if err != nil {
				return fmt.Errorf("load bag: %w", err)
			}
			// A bag the actor may not read is one that does not exist: its
			// number, state and sheets are not disclosed.
			if err := check(ctx, policy.ActBagRead, b.Resource()); err != nil {
				if c := valise.ErrorCode(err); c == valise.ENOTFOUND || c == valise.EFORBIDDEN {
					return noSuchBag
				}
				return err
			}
			reg, state, route, pkgs, level := b.RegistryNumber, string(b.State), b.Route, b.PackageCount, b.Level
			if state != string(pouch.Sealed) {
				return &valise.Error{Code: valise.ECONFLICT, Message: "bag " + reg + " is " + state + "; a sheet covers sealed bags",
					Fields: []valise.FieldError{{Field: field, Reason: "not sealed"}}, Extra: map[string]any{"current_state": state}}
			}
			if i == 0 {
				sh.Route = route
			} else if !slices.Equal(route, sh.Route) {
				return valise.Invalid("all bags on a sheet share one route", valise.FieldError{Field: field, Reason: "on another route"})
			}
			var other string
			err = tx.QueryRow(ctx, `SELECT cs.number FROM courier_sheet_bags sb JOIN courier_sheets cs ON cs.id = sb.sheet_id
				WHERE sb.bag_id::text = $1 AND cs.status = 'issued' AND cs.valid_until > now() LIMIT 1`, id).Scan(&other)
			if err == nil {
				return &valise.Error{Code: valise.ECONFLICT, Message: "bag " + reg + " is already on sheet " + other + "; revoke it first",
					Fields: []valise.FieldError{{Field: field, Reason: "on another issued sheet"}}}
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			sh.Bags = append(sh.Bags, SheetBag{BagID: b.ID, RegistryNumber: reg, Packages: pkgs})
			sh.PackageCount += pkgs
			sh.level = policy.Max(sh.level, level)
		}
		if err := check(ctx, policy.ActSheetIssue, sh.Resource()); err != nil {
			return err
		}
		// Who may carry the mail (Art. 1(3), DM-04, DM-05; issue 15): every
		// failed condition is named in one refusal. Every person who carries
		// a bag is cleared for it (issue 9).
		var bearer *Courier
		if courierID != nil {
			if bearer, err = get(ctx, tx, *courierID); err != nil {
				return err
			}
		}
		passport, err := eligible(ctx, tx, bearer, from, *in.ValidUntil, sh.level, check)
		if err != nil {
			return err
		}
		// DM-02 holds whatever the policy says: the sheet is a document of the
		// ministry or a foreign institution.
		if !issuer.IsDiplomaticService() {
			return valise.Invalid("only the ministry or a foreign institution issues courier sheets (Art. 1(6))",
				valise.FieldError{Field: "issuer", Reason: "is a " + issuer.Kind})
		}
		if actor.UnitCode != issuer.Code {
			return valise.Errorf(valise.EFORBIDDEN, "you may issue sheets only in the name of your own unit")
		}
		var replaces *string
		if in.Replaces != "" {
			// A sheet the caller may not read answers like a missing one.
			if old, err := sheetHeader(ctx, tx, in.Replaces); err == nil {
				if err := check(ctx, policy.ActBagRead, old.Resource()); err != nil {
					if c := valise.ErrorCode(err); c != valise.ENOTFOUND && c != valise.EFORBIDDEN {
						return err
					}
					return valise.Invalid("no such sheet to replace", valise.FieldError{Field: "replaces", Reason: "no such sheet"})
				}
			}
			// A revoked sheet is reissued once: its replacements form a line.
			// Its row is locked first, in a statement of its own, so that a
			// second reissue waits for the first and then (a fresh snapshot)
			// sees its successor.
			if _, err := tx.Exec(ctx, `SELECT FROM courier_sheets WHERE id::text = $1 FOR UPDATE`, in.Replaces); err != nil {
				return fmt.Errorf("lock the sheet to replace: %w", err)
			}
			var status, successor string
			err := tx.QueryRow(ctx, `SELECT cs.status, coalesce((SELECT r.number FROM courier_sheets r WHERE r.replaces = cs.id
				ORDER BY r.issued_at LIMIT 1), '') FROM courier_sheets cs WHERE cs.id::text = $1`, in.Replaces).Scan(&status, &successor)
			if errors.Is(err, pgx.ErrNoRows) {
				return valise.Invalid("no such sheet to replace", valise.FieldError{Field: "replaces", Reason: "no such sheet"})
			}
			if err != nil {
				return fmt.Errorf("load the sheet to replace: %w", err)
			}
			if status != "revoked" {
				return valise.Invalid("revoke a sheet before reissuing it", valise.FieldError{Field: "replaces", Reason: "the sheet is still issued"})
			}
			if successor != "" {
				return valise.Invalid("the sheet was already reissued as "+successor,
					valise.FieldError{Field: "replaces", Reason: "already reissued as " + successor})
			}
			replaces = &in.Replaces
		}
		n, err := pouch.NextNumber(ctx, tx, issuer.ID, "sheet", from.Year())
		if err != nil {
			return err
		}
		number := fmt.Sprintf("%s-CS-%d-%06d", issuer.Code, from.Year(), n)
		var id string
		var passportID *string
		if passport != nil {
			passportID = &passport.ID
		}
		err = tx.QueryRow(ctx, `INSERT INTO courier_sheets (number, issuer_id, conveyance, courier_id, bearer_name, route_codes,
			package_count, valid_from, valid_until, status, replaces, issued_by, passport_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'issued', $10, $11, $12) RETURNING id`,
			number, issuer.ID, in.Conveyance, courierID, sh.BearerName, sh.Route, sh.PackageCount, from, *in.ValidUntil,
			replaces, actor.Username, passportID).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert sheet: %w", err)
		}
		for _, b := range sh.Bags {
			if _, err := tx.Exec(ctx, `INSERT INTO courier_sheet_bags (sheet_id, bag_id, packages) VALUES ($1, $2, $3)`, id, b.BagID, b.Packages); err != nil {
				return fmt.Errorf("insert sheet bag: %w", err)
			}
		}
		if out, err = getSheet(ctx, tx, id); err != nil {
			return err
		}
		// The signed QR commits with the sheet, or neither does.
		return s.sign(ctx, tx, out)
	})
	return out, err
}

const sheetSQL = `SELECT cs.id, cs.number, u.code, u.name, cs.conveyance, coalesce(cs.courier_id::text, ''), coalesce(c.kind, ''),
	cs.bearer_name, CASE WHEN pp.id IS NOT NULL THEN pp.passport_type || '_passport' ELSE coalesce(c.doc_kind, '') END,
	coalesce(pp.number, c.doc_number, ''), CASE WHEN pp.id IS NOT NULL THEN 'KZ' ELSE coalesce(c.doc_country, '') END,
	coalesce(pp.expires_on::text, c.doc_expires::text, ''), coalesce(cs.passport_id::text, ''), coalesce(nullif(cu.position, ''), c.position, ''), cs.route_codes, cs.package_count,
	cs.valid_from, cs.valid_until, cs.status, coalesce(cs.revoked_reason, ''), cs.revoked_at, coalesce(cs.replaces::text, ''),
	cs.issued_by, coalesce(iu.full_name, ''), coalesce(iu.position, ''), cs.issued_at, u.time_zone, cs.version,
	coalesce(c.user_id, ''),
	coalesce((SELECT max(b.level) FROM courier_sheet_bags sb JOIN bags b ON b.id = sb.bag_id WHERE sb.sheet_id = cs.id), 0)
	FROM courier_sheets cs JOIN units u ON u.id = cs.issuer_id LEFT JOIN couriers c ON c.id = cs.courier_id
	LEFT JOIN users cu ON cu.id::text = c.user_id LEFT JOIN users iu ON iu.username = cs.issued_by
	LEFT JOIN passports pp ON pp.id = cs.passport_id`

// scanSheet reads one row of sheetSQL: the sheet and what the policy reads
// of it (its bags' highest level), without its QR and bags.
func scanSheet(row pgx.Row) (*Sheet, error) {
	var sh Sheet
	var userID string
	var d Document
	var level int16
	err := row.Scan(&sh.ID, &sh.Number, &sh.Issuer, &sh.IssuerName,
		&sh.Conveyance, &sh.CourierID, &sh.CourierKind, &sh.BearerName, &d.Kind, &d.Number, &d.Country, &d.Expires, &sh.PassportID,
		&sh.BearerPosition, &sh.Route, &sh.PackageCount,
		&sh.ValidFrom, &sh.ValidUntil, &sh.Status, &sh.RevokedReason, &sh.RevokedAt, &sh.Replaces, &sh.IssuedBy,
		&sh.IssuedByName, &sh.IssuedByPosition, &sh.IssuedAt, &sh.TimeZone, &sh.Version, &userID, &level)
	if err != nil {
		return nil, err
	}
	if d.Kind != "" {
		sh.Doc, sh.BearerDoc = &d, d.Text("en")
	}
	if userID != "" {
		sh.couriers = []string{userID}
	}
	sh.level = policy.Level(level)
	return &sh, nil
}

// getSheet loads a sheet with its QR and bags.
func getSheet(ctx context.Context, q db.Querier, id string) (*Sheet, error) {
	sh, err := sheetHeader(ctx, q, id)
	if err != nil {
		return nil, err
	}
	return sh, sheetDetails(ctx, q, sh)
}

// sheetHeader loads a sheet and what the policy reads of it in one round
// trip, without its QR and bags.
func sheetHeader(ctx context.Context, q db.Querier, id string) (*Sheet, error) {
	sh, err := scanSheet(q.QueryRow(ctx, sheetSQL+` WHERE cs.id::text = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such courier sheet")
	}
	if err != nil {
		return nil, fmt.Errorf("load sheet: %w", err)
	}
	return sh, nil
}

// sheetDetails loads the sheet's QR and bags into sh.
func sheetDetails(ctx context.Context, q db.Querier, sh *Sheet) error {
	if err := loadQR(ctx, q, sh); err != nil {
		return err
	}
	rows, err := q.Query(ctx, `SELECT b.id, b.registry_number, sb.packages, `+sealSerialsSQL+`, b.level FROM courier_sheet_bags sb
		JOIN bags b ON b.id = sb.bag_id WHERE sb.sheet_id = $1 ORDER BY b.registry_number`, sh.ID)
	if err != nil {
		return fmt.Errorf("load sheet bags: %w", err)
	}
	sh.Bags, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SheetBag, error) {
		var b SheetBag
		var level int16
		err := r.Scan(&b.BagID, &b.RegistryNumber, &b.Packages, &b.SealSerials, &level)
		sh.level = policy.Max(sh.level, policy.Level(level))
		return b, err
	})
	if err != nil {
		return fmt.Errorf("load sheet bags: %w", err)
	}
	return nil
}

// GetSheet returns a sheet after check authorizes reading it (bag.read on its bags).
func (s *Service) GetSheet(ctx context.Context, id string, check pouch.Check) (*Sheet, error) {
	sh, err := sheetHeader(ctx, s.pool, id)
	if err != nil {
		return nil, db.Classify(err)
	}
	if err := check(ctx, policy.ActBagRead, sh.Resource()); err != nil {
		return nil, err
	}
	// The QR and bags are read only once check allows: a hidden sheet costs
	// the round trip a missing one does.
	return sh, db.Classify(sheetDetails(ctx, s.pool, sh))
}

// Revoke revokes an issued sheet with a reason; its bags can then go on a
// new sheet (Issue with Replaces). A dispatched bag keeps its history.
func (s *Service) Revoke(ctx context.Context, actor policy.Subject, id string, ifMatch int, reason string, check pouch.Check) (*Sheet, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, valise.Invalid("say why the sheet is revoked", valise.FieldError{Field: "reason", Reason: "required"})
	}
	var out *Sheet
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		sh, err := getSheet(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActSheetRevoke, sh.Resource()); err != nil {
			return err
		}
		if ifMatch != 0 && ifMatch != sh.Version {
			return valise.Errorf(valise.EPRECONDITION, "the sheet changed since you read it (version %d, now %d)", ifMatch, sh.Version)
		}
		if sh.Status == "revoked" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "the sheet is already revoked",
				Extra: map[string]any{"current_state": "revoked", "allowed_next": []string{}}}
		}
		tag, err := tx.Exec(ctx, `UPDATE courier_sheets SET status = 'revoked', revoked_reason = $2, revoked_by = $3,
			revoked_at = now(), version = version + 1 WHERE id = $1 AND version = $4`, sh.ID, reason, actor.Username, sh.Version)
		if err != nil {
			return fmt.Errorf("revoke sheet: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return valise.Errorf(valise.EPRECONDITION, "the sheet changed meanwhile; reload it")
		}
		// Its QR's serial goes into the trust list published now.
		if s.keys != nil {
			if err := s.keys.RevokeSheetSeal(ctx, tx, sh.ID, actor.Username, "courier sheet "+sh.Number+" revoked: "+reason); err != nil {
				return err
			}
		} else if sh.QR != "" {
			return fmt.Errorf("courier: the service has no keyring (courier.WithKeyring): it cannot revoke the sheet's QR")
		}
		out, err = getSheet(ctx, tx, id)
		return err
	})
	return out, err
}
