package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/crypto/password"
	"valise/internal/db"
	"valise/policy"
)

type demoUser struct {
	username, fullName, unit string
	roles                    []string
	clearance                policy.Level
	courierKind              string
	scope                    []string
}

// demoUsers: one per role (an admin among them) across the ministry and the
// two embassies, with different clearances. They exist only in demo mode.
var demoUsers = []demoUser{
	{"admin", "Aigerim Admin", UnitMFA, []string{policy.RoleAdmin}, policy.Restricted, "", nil},
	{"clerk.mfa", "Marat Registry (MFA)", UnitMFA, []string{policy.RoleRegistryClerk}, policy.TopSecret, "", nil},
	{"clerk.ber", "Berik Registry (Berlin)", UnitBerlin, []string{policy.RoleRegistryClerk}, policy.Secret, "", nil},
	{"clerk.tyo", "Tomiris Registry (Tokyo)", UnitTokyo, []string{policy.RoleRegistryClerk}, policy.Restricted, "", nil},
	{"dispatcher", "Dana Dispatcher", UnitMFA, []string{policy.RoleDispatcher}, policy.Secret, "", nil},
	{"courier", "Kairat Career Courier", UnitDCS, []string{policy.RoleCourier}, policy.TopSecret, policy.CourierCareer, nil},
	{DemoLeaveCourierAcc, "Daulet Courier", UnitDCS, []string{policy.RoleCourier}, policy.TopSecret, policy.CourierCareer, nil},
	{"adhoc", "Asel Ad-hoc Courier", UnitBerlin, []string{policy.RoleCourier}, policy.Secret, policy.CourierAdHoc, nil},
	{"security", "Serik Security Officer", UnitMFA, []string{policy.RoleSecurityOfficer}, policy.SpecialImportance, "", []string{"*"}},
	{"personnel", "Perizat Personnel Officer", UnitMFA, []string{policy.RolePersonnelOfficer}, policy.Restricted, "", []string{"*"}},
	{"auditor", "Aidos Auditor", UnitTokyo, []string{policy.RoleAuditor}, policy.Secret, "", []string{"*"}},
}

// demoPositions are the official positions printed on the documents the
// demo users issue or carry.
var demoPositions = map[string]string{
	"admin": "Head of Information Systems", "clerk.mfa": "Chief Registrar, Central Registry",
	"clerk.ber": "Attaché, Registry of the Embassy", "clerk.tyo": "Attaché, Registry of the Embassy",
	"dispatcher": "Counsellor, Diplomatic Courier Service", "courier": "Senior Diplomatic Courier", DemoLeaveCourierAcc: "Diplomatic Courier",
	"adhoc": "Second Secretary", "security": "Head of Security Department", "personnel": "Head of Personnel",
	"auditor": "Inspector",
}

func init() {
	for _, u := range demoUsers {
		logins = append(logins, Login{Username: u.username, Role: u.roles[0], Unit: u.unit, Clearance: u.clearance.String()})
	}
}

// loadUsers creates the demo accounts (password Options.Password) unless
// they exist; an existing account keeps its password.
func loadUsers(ctx context.Context, tx pgx.Tx, o Options) error {
	for _, u := range demoUsers {
		var id string
		scope := u.scope
		if scope == nil {
			scope = []string{}
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO users (username, full_name, unit_id, roles, clearance, courier_kind, scope, position)
			SELECT $1, $2, id, $4, $5, nullif($6, ''), $7, $8 FROM units WHERE code = $3
			ON CONFLICT (username) DO NOTHING RETURNING id`,
			u.username, u.fullName, u.unit, u.roles, int16(u.clearance), u.courierKind, scope, demoPositions[u.username]).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // already there
		}
		if err != nil {
			return fmt.Errorf("user %s: %w", u.username, err)
		}
		h, err := password.Hash(o.Password, password.Default)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO credentials (user_id, password_hash) VALUES ($1, $2)`, id, h); err != nil {
			return fmt.Errorf("credential %s: %w", u.username, err)
		}
	}
	return nil
}

// LoadUnits loads only the demo organization tree (test helpers use it).
func LoadUnits(ctx context.Context, pool *pgxpool.Pool) error {
	return db.InTx(ctx, pool, func(tx pgx.Tx) error { return loadUnits(ctx, tx, Options{}) })
}
