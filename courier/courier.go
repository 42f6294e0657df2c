// Package courier keeps the people who carry diplomatic mail and the
// courier sheets that make a consignment diplomatic mail (Art. 1(1), 1(3),
// 1(5), 1(6); DM-01 … DM-05). Career couriers stand for users holding the
// courier role until the personnel issue links them to staff records;
// ad hoc couriers are natural persons identified by a document.
package courier

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/crypto/keyring"
	"valise/internal/db"
	"valise/policy"
	"valise/pouch"
)

// Service manages couriers and sheets over one pool.
type Service struct {
	pool *pgxpool.Pool
	keys *keyring.Keyring // signs the QR of issued sheets (WithKeyring)
}

// Option configures a Service.
type Option func(*Service)

// WithKeyring makes Issue sign each sheet's QR with the issuing unit's seal
// key and Revoke revoke it. A service without one refuses to issue sheets.
func WithKeyring(k *keyring.Keyring) Option { return func(s *Service) { s.keys = k } }

// New returns the service.
func New(pool *pgxpool.Pool, opts ...Option) *Service {
	s := &Service{pool: pool}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Courier is a career or ad hoc courier.
type Courier struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"` // career or ad_hoc
	UserID      string    `json:"user_id,omitempty"`
	Username    string    `json:"username,omitempty"`
	FullName    string    `json:"full_name"`
	DocKind     string    `json:"doc_kind,omitempty"`
	DocNumber   string    `json:"doc_number,omitempty"`
	DocCountry  string    `json:"doc_country,omitempty"`
	DocExpires  string    `json:"doc_expires,omitempty"`
	Nationality string    `json:"nationality,omitempty"`
	Unit        string    `json:"unit,omitempty"`
	Position    string    `json:"position,omitempty"` // an ad hoc courier's; a career courier's is their account's
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// CourierInput records a courier. Career: user_id of an active user holding
// the courier role as a career courier (username, if given, must match; it
// is taken from the account). Ad hoc: the identity document (DM-05), and
// optionally the user_id of their ad hoc courier account.
type CourierInput struct {
	Kind        string `json:"kind"`
	UserID      string `json:"user_id,omitempty"`
	Username    string `json:"username,omitempty"`
	FullName    string `json:"full_name"`
	DocKind     string `json:"doc_kind,omitempty"`
	DocNumber   string `json:"doc_number,omitempty"`
	DocCountry  string `json:"doc_country,omitempty"`
	DocExpires  string `json:"doc_expires,omitempty"`
	Nationality string `json:"nationality,omitempty"`
	Unit        string `json:"unit,omitempty"`
	// Position is printed on the sheet under the bearer's name (an ad hoc
	// courier's; a career courier's comes from their account).
	Position string `json:"position,omitempty"`
}

var (
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	docKinds  = []string{"diplomatic_passport", "service_passport", "passport", "id_card"}
)

// Validate checks the input's shape.
func (in CourierInput) Validate() error {
	var fe []valise.FieldError
	if strings.TrimSpace(in.FullName) == "" {
		fe = append(fe, valise.FieldError{Field: "full_name", Reason: "required"})
	}
	switch in.Kind {
	case policy.CourierCareer:
		if in.UserID == "" {
			fe = append(fe, valise.FieldError{Field: "user_id", Reason: "a career courier is linked to a user holding the courier role"})
		}
		if in.DocKind != "" { // a career courier's passport, printed on their sheets
			fe = append(fe, in.validateDoc()...)
		}
	case policy.CourierAdHoc:
		fe = append(fe, in.validateDoc()...)
	default:
		fe = append(fe, valise.FieldError{Field: "kind", Reason: "must be career or ad_hoc"})
	}
	if len(in.Position) > 200 {
		fe = append(fe, valise.FieldError{Field: "position", Reason: "up to 200 characters"})
	}
	if in.Nationality != "" && !countryRE.MatchString(in.Nationality) {
		fe = append(fe, valise.FieldError{Field: "nationality", Reason: "ISO 3166 alpha-2"})
	}
	if fe != nil {
		return valise.Invalid("the courier record is incomplete", fe...)
	}
	return nil
}

// validateDoc checks the identity document (DM-05).
func (in CourierInput) validateDoc() []valise.FieldError {
	var fe []valise.FieldError
	if !slices.Contains(docKinds, in.DocKind) {
		fe = append(fe, valise.FieldError{Field: "doc_kind", Reason: "required: " + strings.Join(docKinds, ", ")})
	}
	if strings.TrimSpace(in.DocNumber) == "" || len(in.DocNumber) > 40 {
		fe = append(fe, valise.FieldError{Field: "doc_number", Reason: "required, up to 40 characters"})
	}
	if !countryRE.MatchString(in.DocCountry) {
		fe = append(fe, valise.FieldError{Field: "doc_country", Reason: "required: ISO 3166 alpha-2 of the issuing state"})
	}
	if t, err := time.Parse(time.DateOnly, in.DocExpires); err != nil || t.Before(time.Now()) {
		fe = append(fe, valise.FieldError{Field: "doc_expires", Reason: "required, YYYY-MM-DD, not expired"})
	}
	return fe
}

// Create records a courier.
func (s *Service) Create(ctx context.Context, actor policy.Subject, in CourierInput) (*Courier, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *Courier
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if in.UserID != "" {
			username, err := courierAccount(ctx, tx, in)
			if err != nil {
				return err
			}
			in.Username = username
		}
		var unitID *string
		if in.Unit != "" {
			u, err := pouch.UnitByCode(ctx, tx, in.Unit, "unit")
			if err != nil {
				return err
			}
			unitID = &u.ID
		}
		var id string
		err := tx.QueryRow(ctx, `INSERT INTO couriers (kind, user_id, username, full_name, doc_kind, doc_number, doc_country,
			doc_expires, nationality, unit_id, created_by, position)
			VALUES ($1, nullif($2, ''), nullif($3, ''), $4, nullif($5, ''), nullif($6, ''), nullif($7, ''),
			        nullif($8, '')::date, nullif($9, ''), $10, $11, $12) RETURNING id`,
			in.Kind, in.UserID, in.Username, in.FullName, in.DocKind, in.DocNumber, in.DocCountry, in.DocExpires,
			in.Nationality, unitID, actor.Username, strings.TrimSpace(in.Position)).Scan(&id)
		if err != nil {
			if strings.Contains(err.Error(), "couriers_user_idx") {
				return valise.Invalid("this user is already a courier", valise.FieldError{Field: "user_id", Reason: "already recorded"})
			}
			return fmt.Errorf("insert courier: %w", err)
		}
		out, err = get(ctx, tx, id)
		return err
	})
	return out, err
}

// courierAccount checks the user account a courier record links to and
// returns its username. A career courier stands for a user who is active
// and holds the courier role as a career courier (the DM-04 stand-in until
// the personnel issue links staff records holding a courier position); an
// ad hoc courier may have an account to sign in on a phone, which must then
// be an active ad hoc courier's.
func courierAccount(ctx context.Context, tx pgx.Tx, in CourierInput) (string, error) {
	var username, kind string
	var active, courier bool
	err := tx.QueryRow(ctx, `SELECT username, active, 'courier' = ANY(roles), coalesce(courier_kind, '')
		FROM users WHERE id::text = $1`, in.UserID).Scan(&username, &active, &courier, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", valise.Invalid("no such user", valise.FieldError{Field: "user_id", Reason: "no such user"})
	}
	if err != nil {
		return "", fmt.Errorf("load courier account: %w", err)
	}
	switch {
	case in.Username != "" && in.Username != username:
		return "", valise.Invalid("user_id and username name different users", valise.FieldError{Field: "username", Reason: "is not the username of user_id"})
	case !active:
		return "", valise.Invalid("the user is suspended", valise.FieldError{Field: "user_id", Reason: "the account is not active"})
	case !courier:
		return "", valise.Invalid("the user does not hold the courier role (DM-04)", valise.FieldError{Field: "user_id", Reason: "does not hold the courier role"})
	case in.Kind == policy.CourierCareer && kind != policy.CourierCareer:
		return "", valise.Invalid("the user is not a career courier (DM-04)", valise.FieldError{Field: "user_id", Reason: "is an " + kind + " courier, not a career one"})
	case in.Kind == policy.CourierAdHoc && kind != policy.CourierAdHoc:
		return "", valise.Invalid("the account is not an ad hoc courier's", valise.FieldError{Field: "user_id", Reason: "is a " + kind + " courier"})
	}
	return username, nil
}

const courierSQL = `SELECT c.id, c.kind, coalesce(c.user_id, ''), coalesce(c.username, ''), c.full_name, coalesce(c.doc_kind, ''),
	coalesce(c.doc_number, ''), coalesce(c.doc_country, ''), coalesce(c.doc_expires::text, ''), coalesce(c.nationality, ''),
	coalesce(u.code, ''), c.position, c.created_by, c.created_at FROM couriers c LEFT JOIN units u ON u.id = c.unit_id`

func scanCourier(r pgx.Row) (*Courier, error) {
	var c Courier
	err := r.Scan(&c.ID, &c.Kind, &c.UserID, &c.Username, &c.FullName, &c.DocKind, &c.DocNumber, &c.DocCountry,
		&c.DocExpires, &c.Nationality, &c.Unit, &c.Position, &c.CreatedBy, &c.CreatedAt)
	return &c, err
}

func get(ctx context.Context, q db.Querier, id string) (*Courier, error) {
	c, err := scanCourier(q.QueryRow(ctx, courierSQL+` WHERE c.id::text = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such courier")
	}
	if err != nil {
		return nil, fmt.Errorf("load courier: %w", err)
	}
	return c, nil
}

// Get returns a courier.
func (s *Service) Get(ctx context.Context, id string) (*Courier, error) {
	c, err := get(ctx, s.pool, id)
	return c, db.Classify(err)
}

// List returns every courier, newest first.
func (s *Service) List(ctx context.Context) ([]*Courier, error) {
	rows, err := s.pool.Query(ctx, courierSQL+` ORDER BY c.created_at DESC LIMIT 500`)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list couriers: %w", err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Courier, error) { return scanCourier(r) })
}
