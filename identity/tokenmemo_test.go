package identity_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"valise"
	"valise/crypto/password"
	"valise/demo"
	"valise/identity"
	"valise/internal/dbtest"
	"valise/policy"
)

// An access token that verified once is not verified again byte by byte,
// but it answers exactly as a fresh check would: a copy with one byte of
// its signature changed is refused, it stops working at its expiry, and a
// logout ends it at once.
func TestRememberedTokenAnswersAsVerified(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if err := demo.LoadUnits(ctx, d.Pool); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	svc := identity.New(d.Pool, master, identity.Config{Password: password.Default,
		AccessTTL: 5 * time.Minute, Now: clock}, slog.New(slog.DiscardHandler))
	const pw = "correct horse battery staple"
	if _, err := svc.CreateUser(ctx, identity.UserInput{Username: "memo.user", FullName: "Memo User", Unit: demo.UnitMFA,
		Roles: []string{policy.RoleRegistryClerk}, Clearance: policy.Restricted, Password: pw}); err != nil {
		t.Fatal(err)
	}
	refused := func(what, token string) {
		t.Helper()
		_, _, err := svc.Authenticate(ctx, token)
		var ve *valise.Error
		if !errors.As(err, &ve) || ve.Code != valise.EUNAUTHORIZED {
			t.Fatalf("%s: %v, want unauthorized", what, err)
		}
	}
	tok, err := svc.Login(ctx, "memo.user", pw, "test")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		sub, _, err := svc.Authenticate(ctx, tok.AccessToken)
		if err != nil || sub.Username != "memo.user" {
			t.Fatalf("use %d of a fresh token: %v, %q", i+1, err, sub.Username)
		}
	}
	b := []byte(tok.AccessToken)
	b[len(b)-2] ^= 'A' ^ 'B'
	if b[len(b)-2] == tok.AccessToken[len(b)-2] {
		b[len(b)-2]++
	}
	refused("a remembered token with a changed signature", string(b))

	advance(5*time.Minute + time.Second)
	refused("a remembered token after its expiry", tok.AccessToken)

	tok2, err := svc.Login(ctx, "memo.user", pw, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, sid, err := svc.Authenticate(ctx, tok2.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Logout(ctx, sid); err != nil {
		t.Fatal(err)
	}
	refused("a remembered token after logout", tok2.AccessToken)
}
