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
// exist. Without the dummy hash an unknown user answers ~100× faster; the
// test allows a factor of 2 between the medians, which machine noise does
// not reach.
func TestUnknownUserCostsAsMuchAsWrongPassword(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if err := demo.LoadUnits(ctx, d.Pool); err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	svc := identity.New(d.Pool, master, identity.Config{Password: password.Default}, slog.New(slog.DiscardHandler))
	const n = 5 // one attempt per name keeps every account below the lockout threshold
	for i := range n {
		_, err := svc.CreateUser(ctx, identity.UserInput{Username: fmt.Sprintf("real.user%d", i), FullName: "Real User",
			Unit: demo.UnitMFA, Roles: []string{policy.RoleRegistryClerk}, Clearance: policy.Restricted,
			Password: "correct horse battery staple"})
		if err != nil {
			t.Fatal(err)
		}
	}
	median := func(name string) time.Duration {
		var ds []time.Duration
		for i := range n {
			start := time.Now()
			_, err := svc.Login(ctx, fmt.Sprintf(name, i), "wrong password entirely", "test")
			ds = append(ds, time.Since(start))
			var ve *valise.Error
			if !errors.As(err, &ve) || ve.Code != valise.EUNAUTHORIZED {
				t.Fatalf("login %s: %v, want unauthorized", fmt.Sprintf(name, i), err)
			}
		}
		slices.Sort(ds)
		return ds[n/2]
	}
	wrong := median("real.user%d")
	unknown := median("no.such.user%d")
	if unknown < wrong/2 || unknown > wrong*2 {
		t.Fatalf("unknown user took %v, wrong password %v: the difference tells which usernames exist", unknown, wrong)
	}
	t.Logf("median login: wrong password %v, unknown user %v", wrong, unknown)
}
