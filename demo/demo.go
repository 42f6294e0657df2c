// Package demo loads the demonstration data `make run` shows: a ministry,
// two foreign institutions and, as the domain grows, the people and bags
// that bring them to life. Loading twice changes nothing: every step is
// written to be idempotent.
package demo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/internal/db"
)

// Options tune the demo data.
type Options struct {
	// Password is given to every demo account (VALISE_DEMO_PASSWORD).
	Password string
	// MasterKey (crypto/secret, from the data directory) encrypts the demo
	// seal keys, which sign the demo bags' seals and courier sheets; nil
	// skips the seal keys and makes the bag step fail.
	MasterKey []byte
}

// Login is one demo account, printed at start so a person can try it.
type Login struct {
	Username  string
	Role      string
	Unit      string
	Clearance string
}

// step is one idempotent part of the demo data, in dependency order.
type step struct {
	name string
	run  func(ctx context.Context, tx pgx.Tx, o Options) error
}

var steps = []step{
	{"units", loadUnits},
	{"users", loadUsers},
	{"seal keys", loadSealKeys},
}

// poolSteps run after steps, one after another, each idempotent on its own:
// they drive domain services that open their own transactions (the bag
// lifecycle), so their events and custody log leaves are the real ones.
var poolSteps = []struct {
	name string
	run  func(ctx context.Context, pool *pgxpool.Pool, o Options) error
}{
	{"bags", loadBags},                            // after users: the demo users act
	{"personnel", loadPersonnel},                  // staff records, ranks, discipline, family (demo/personnel.go)
	{"personnel rotation", loadPersonnelRotation}, // calendar, postings, rotation plan (demo/personnel_rotation.go)
	{"secondments", loadSecondments},              // one secondment under each rule set of Decree 755 (demo/personnel_secondment.go)
}

// Load writes the demo data in one transaction, then runs the pool steps,
// and returns the demo logins.
func Load(ctx context.Context, pool *pgxpool.Pool, o Options) ([]Login, error) {
	if o.Password == "" {
		o.Password = "valise-demo"
	}
	err := db.InTx(ctx, pool, func(tx pgx.Tx) error {
		for _, s := range steps {
			if err := s.run(ctx, tx, o); err != nil {
				return fmt.Errorf("demo %s: %w", s.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range poolSteps {
		if err := s.run(ctx, pool, o); err != nil {
			return nil, fmt.Errorf("demo %s: %w", s.name, err)
		}
	}
	return Logins(), nil
}

// logins is filled by the steps that create accounts.
var logins []Login

// Logins lists the demo accounts.
func Logins() []Login { return logins }
