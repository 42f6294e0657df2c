package identity_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"valise"
	"valise/crypto/password"
	"valise/demo"
	"valise/identity"
	"valise/internal/dbtest"
	"valise/policy"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestUnknownUserCostsAsMuchAsWrongPassword checks that a login for a user
// who does not exist does the same argon2id work as a wrong password for one
// who does, so response time does not tell an attacker which usernames
// exist: each does exactly one derivation (password.Derivations), and
// password's own test proves the dummy hash has the Default parameters. The
// medians are logged, not compared: a busy machine must not fail the test.
func TestUnknownUserCostsAsMuchAsWrongPassword(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if err := demo.LoadUnits(ctx, d.Pool); err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	svc := identity.New(d.Pool, master, identity.Config{Password: password.Default}, slog.New(slog.DiscardHandler))
	const n = 7 // one attempt per name keeps every account below the lockout threshold
	for i := range n {
		_, err := svc.CreateUser(ctx, identity.UserInput{Username: fmt.Sprintf("real.user%d", i), FullName: "Real User",
			Unit: demo.UnitMFA, Roles: []string{policy.RoleRegistryClerk}, Clearance: policy.Restricted,
			Password: "correct horse battery staple"})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Alternate the two kinds of attempt so both see the same machine load.
	attempt := func(name string) time.Duration {
		start, before := time.Now(), password.Derivations()
		_, err := svc.Login(ctx, name, "wrong password entirely", "test")
		d := time.Since(start)
		if n := password.Derivations() - before; n != 1 {
			t.Fatalf("login %s did %d argon2id derivations, want 1 like every other failed login", name, n)
		}
		var ve *valise.Error
		if !errors.As(err, &ve) || ve.Code != valise.EUNAUTHORIZED {
			t.Fatalf("login %s: %v, want unauthorized", name, err)
		}
		return d
	}
	var wrongs, unknowns []time.Duration
	for i := range n {
		wrongs = append(wrongs, attempt(fmt.Sprintf("real.user%d", i)))
		unknowns = append(unknowns, attempt(fmt.Sprintf("no.such.user%d", i)))
	}
	slices.Sort(wrongs)
	slices.Sort(unknowns)
	wrong, unknown := wrongs[n/2], unknowns[n/2]
	t.Logf("median login: wrong password %v, unknown user %v", wrong, unknown)
}
