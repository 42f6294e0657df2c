package identity

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"valise"
	"valise/crypto/password"
	"valise/internal/db"
	"valise/policy"
)

// User is an account. It never carries the password hash.
type User struct {
	ID          string       `json:"id"`
	Username    string       `json:"username"`
	FullName    string       `json:"full_name"`
	Position    string       `json:"position,omitempty"` // official position, printed on documents they issue
	Unit        string       `json:"unit"`               // unit code
	UnitKind    string       `json:"unit_kind"`
	ParentUnit  string       `json:"parent_unit,omitempty"`
	Roles       []string     `json:"roles"`
	Clearance   policy.Level `json:"clearance"`
	CourierKind string       `json:"courier_kind,omitempty"`
	Scope       []string     `json:"scope"`
	Active      bool         `json:"active"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	Version     int          `json:"version"`
}

// Subject is the user as the policy sees it.
func (u User) Subject() policy.Subject {
	return policy.Subject{UserID: u.ID, Username: u.Username, Roles: u.Roles, UnitCode: u.Unit, UnitKind: u.UnitKind,
		ParentUnit: u.ParentUnit, Clearance: u.Clearance, CourierKind: u.CourierKind, Scope: u.Scope}
}

// UserInput creates a user, or (without Username and Password) replaces an
// existing user's profile.
type UserInput struct {
	Username    string       `json:"username,omitempty"`
	FullName    string       `json:"full_name"`
	Position    string       `json:"position,omitempty"`
	Unit        string       `json:"unit"`
	Roles       []string     `json:"roles"`
	Clearance   policy.Level `json:"clearance"`
	CourierKind string       `json:"courier_kind,omitempty"`
	Scope       []string     `json:"scope,omitempty"`
	Password    string       `json:"password,omitempty"`
}

var usernameRe = regexp.MustCompile(`^[a-z][a-z0-9._-]{2,63}$`)

// Password length bounds: long enough to resist guessing, short enough that
// hashing cannot be used to burn CPU.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

func validPassword(pw string) *valise.FieldError {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen || n > MaxPasswordLen {
		return &valise.FieldError{Field: "password", Reason: fmt.Sprintf("must be %d-%d characters", MinPasswordLen, MaxPasswordLen)}
	}
	return nil
}

func (in UserInput) validate(creating bool) error {
	var fs []valise.FieldError
	if creating && !usernameRe.MatchString(in.Username) {
		fs = append(fs, valise.FieldError{Field: "username", Reason: "must be 3-64 lower-case letters, digits, dots, dashes or underscores, starting with a letter"})
	}
	if creating {
		if f := validPassword(in.Password); f != nil {
			fs = append(fs, *f)
		}
	}
	if n := utf8.RuneCountInString(in.FullName); n < 1 || n > 200 {
		fs = append(fs, valise.FieldError{Field: "full_name", Reason: "must be 1-200 characters"})
	}
	if utf8.RuneCountInString(in.Position) > 200 {
		fs = append(fs, valise.FieldError{Field: "position", Reason: "up to 200 characters"})
	}
	if in.Unit == "" {
		fs = append(fs, valise.FieldError{Field: "unit", Reason: "is required"})
	}
	if len(in.Roles) == 0 {
		fs = append(fs, valise.FieldError{Field: "roles", Reason: "at least one role is required"})
	}
	for _, r := range in.Roles {
		if !slices.Contains(policy.Roles(), r) {
			fs = append(fs, valise.FieldError{Field: "roles", Reason: fmt.Sprintf("unknown role %q", r)})
		}
	}
	if !in.Clearance.Valid() {
		fs = append(fs, valise.FieldError{Field: "clearance", Reason: "unknown level"})
	}
	isCourier := slices.Contains(in.Roles, policy.RoleCourier)
	switch {
	case isCourier && in.CourierKind != policy.CourierCareer && in.CourierKind != policy.CourierAdHoc:
		fs = append(fs, valise.FieldError{Field: "courier_kind", Reason: "a courier is career or ad_hoc"})
	case !isCourier && in.CourierKind != "":
		fs = append(fs, valise.FieldError{Field: "courier_kind", Reason: "only couriers have a courier kind"})
	}
	// A personnel officer's scope lists the units whose staff records they keep (policy/personnel.rego).
	if len(in.Scope) > 0 && !slices.Contains(in.Roles, policy.RoleSecurityOfficer) && !slices.Contains(in.Roles, policy.RoleAuditor) &&
		!slices.Contains(in.Roles, policy.RolePersonnelOfficer) {
		fs = append(fs, valise.FieldError{Field: "scope", Reason: "only security officers, auditors and personnel officers have a scope"})
	}
	for _, u := range in.Scope {
		if u != "*" && !unitCodeRe.MatchString(u) {
			fs = append(fs, valise.FieldError{Field: "scope", Reason: fmt.Sprintf("%q is not a unit code or *", u)})
		}
	}
	if len(fs) > 0 {
		return valise.Invalid("the user is not valid", fs...)
	}
	return nil
}

const userCols = `u.id, u.username, u.full_name, n.code, n.kind, u.roles, u.clearance, coalesce(u.courier_kind, ''),
	u.scope, u.active, u.created_at, u.updated_at, u.version,
	coalesce((SELECT p.code FROM units p WHERE p.id = n.parent_id), ''), u.position`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var clearance int16
	err := row.Scan(&u.ID, &u.Username, &u.FullName, &u.Unit, &u.UnitKind, &u.Roles, &clearance, &u.CourierKind,
		&u.Scope, &u.Active, &u.CreatedAt, &u.UpdatedAt, &u.Version, &u.ParentUnit, &u.Position)
	u.Clearance = policy.Level(clearance)
	return u, err
}

// ListUsers returns every user, by username.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+` FROM users u JOIN units n ON n.id = u.unit_id ORDER BY u.username`)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list users: %w", err))
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list users: %w", err))
	}
	return users, nil
}

// GetUser returns the user with id.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users u JOIN units n ON n.id = u.unit_id WHERE u.id::text = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, valise.Errorf(valise.ENOTFOUND, "no such user")
	}
	if err != nil {
		return User{}, db.Classify(fmt.Errorf("get user: %w", err))
	}
	return u, nil
}

// CreateUser adds an active user with a password.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (User, error) {
	if err := in.validate(true); err != nil {
		return User{}, err
	}
	hash, err := password.Hash(in.Password, s.cfg.Password)
	if err != nil {
		return User{}, err
	}
	var id string
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO users (username, full_name, unit_id, roles, clearance, courier_kind, scope, position)
			SELECT $1, $2, id, $4, $5, nullif($6, ''), $7, $8 FROM units WHERE code = $3
			RETURNING id`, in.Username, in.FullName, in.Unit, in.Roles, int16(in.Clearance), in.CourierKind, nonNil(in.Scope),
			in.Position).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Invalid("the user is not valid", valise.FieldError{Field: "unit", Reason: "no such unit"})
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO credentials (user_id, password_hash) VALUES ($1, $2)`, id, hash)
		return err
	})
	if err != nil {
		return User{}, userError(err, in.Username)
	}
	s.log.InfoContext(ctx, "user created", "username", in.Username, "roles", in.Roles, "unit", in.Unit)
	return s.GetUser(ctx, id)
}

// UpdateUser replaces the profile (name, unit, roles, courier kind, scope)
// of the user with id. Changes apply to the user's next request. The
// clearance is not changed here (GrantClearance): a different one is a 422.
// A change of roles, courier kind, scope or unit (need-to-know follows the
// unit) is a change of privileges, which authorize must allow
// (users.privileges on the account: never one's own).
func (s *Service) UpdateUser(ctx context.Context, id string, in UserInput, authorize Authorize) (User, error) {
	if in.Username != "" || in.Password != "" {
		return User{}, valise.Invalid("the user is not valid", valise.FieldError{Field: "username", Reason: "username and password are not changed here"})
	}
	if err := in.validate(false); err != nil {
		return User{}, err
	}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var roles, scope []string
		var clearance int16
		var kind, unit string
		err := tx.QueryRow(ctx, `SELECT u.roles, u.clearance, coalesce(u.courier_kind, ''), u.scope, n.code
			FROM users u JOIN units n ON n.id = u.unit_id WHERE u.id::text = $1 FOR UPDATE OF u`, id).
			Scan(&roles, &clearance, &kind, &scope, &unit)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Errorf(valise.ENOTFOUND, "no such user")
		}
		if err != nil {
			return err
		}
		if policy.Level(clearance) != in.Clearance {
			return valise.Invalid("the clearance is granted, not edited", valise.FieldError{Field: "clearance",
				Reason: "a security officer grants clearance: POST /api/v1/users/{id}/clearance"})
		}
		if !sameSet(roles, in.Roles) || !sameSet(scope, in.Scope) || kind != in.CourierKind || unit != in.Unit {
			if err := authorize(ctx, policy.ActUsersPrivs, UserResource(id)); err != nil {
				return err
			}
		}
		var unitID string
		err = tx.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, in.Unit).Scan(&unitID)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Invalid("the user is not valid", valise.FieldError{Field: "unit", Reason: "no such unit"})
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE users SET full_name = $2, unit_id = $3, roles = $4, clearance = $5,
			courier_kind = nullif($6, ''), scope = $7, position = $8, updated_at = now(), version = version + 1 WHERE id::text = $1`,
			id, in.FullName, unitID, in.Roles, int16(in.Clearance), in.CourierKind, nonNil(in.Scope), in.Position)
		if err == nil && tag.RowsAffected() == 0 {
			return valise.Errorf(valise.ENOTFOUND, "no such user")
		}
		return err
	})
	if err != nil {
		return User{}, userError(err, "")
	}
	return s.GetUser(ctx, id)
}

// SetActive suspends (active=false) or reinstates a user. Suspension revokes
// every session of the user in the same transaction, so their access and
// refresh tokens stop working at once.
func (s *Service) SetActive(ctx context.Context, id string, active bool) (User, error) {
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET active = $2, updated_at = now(), version = version + 1 WHERE id::text = $1`, id, active)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return valise.Errorf(valise.ENOTFOUND, "no such user")
		}
		if !active {
			_, err = tx.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoked_reason = 'suspended'
				WHERE user_id::text = $1 AND revoked_at IS NULL`, id)
		}
		return err
	})
	if err != nil {
		return User{}, userError(err, "")
	}
	s.log.InfoContext(ctx, "user active flag set", "user_id", id, "active", active)
	return s.GetUser(ctx, id)
}

// SetPassword replaces a user's password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, id, pw string) error {
	if f := validPassword(pw); f != nil {
		return valise.Invalid("the password is not valid", *f)
	}
	hash, err := password.Hash(pw, s.cfg.Password)
	if err != nil {
		return err
	}
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO credentials (user_id, password_hash) SELECT id, $2 FROM users WHERE id::text = $1
			ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, changed_at = now()`, id, hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return valise.Errorf(valise.ENOTFOUND, "no such user")
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoked_reason = 'password changed'
			WHERE user_id::text = $1 AND revoked_at IS NULL`, id)
		return err
	})
	return userError(err, "")
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func userError(err error, username string) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return valise.Errorf(valise.ECONFLICT, "the username %s is taken", username)
	}
	var ve *valise.Error
	if errors.As(err, &ve) {
		return err
	}
	return db.Classify(fmt.Errorf("user: %w", err))
}
