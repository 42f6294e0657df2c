package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"valise/crypto/password"
	"valise/demo"
	"valise/identity"
	"valise/internal/bench"
	"valise/internal/dbtest"
	"valise/policy"
	"valise/pouch"
	"valise/tlog"
)

// TestAuditVerifyNamesBrokenChain: `valise audit verify` passes on an honest
// custody history and, after an administrator edits one hand-off event
// behind the append-only trigger (the log itself untouched), exits 1 naming
// that event, its bag and its log entry.
func TestAuditVerifyNamesBrokenChain(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if err := demo.LoadUnits(ctx, d.Pool); err != nil {
		t.Fatal(err)
	}
	m := make([]byte, 32)
	_, _ = rand.Read(m)
	quiet := slog.New(slog.DiscardHandler)
	ident := identity.New(d.Pool, m, identity.Config{Password: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}, quiet)
	pairs, err := bench.Setup(ctx, d.Pool, ident, m, "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	p := pairs[0]
	allow := func(context.Context, string, policy.Resource) error { return nil }
	svc := pouch.New(d.Pool)
	second := policy.Subject{UserID: p.SecondID, Username: p.Second, UnitCode: "MFA", Roles: []string{policy.RoleCourier}, Clearance: policy.TopSecret}
	courier := policy.Subject{UserID: p.CourierID, Username: p.Courier, UnitCode: "MFA", Roles: []string{policy.RoleCourier}, Clearance: policy.TopSecret}
	h, err := svc.Release(ctx, second, pouch.ReleaseInput{BagID: p.BagID, To: p.Courier, Where: pouch.Where{Place: "FRA"}}, allow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Confirm(ctx, courier, h.ID, pouch.ConfirmInput{SealScan: pouch.SealScan{Seals: p.Seals}}, allow); err != nil {
		t.Fatal(err)
	}
	key, err := tlog.LoadOrCreateKey(ctx, d.Pool, tlog.DefaultOrigin, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlog.NewIntegrator(d.Pool, key, tlog.IntegratorOptions{Logger: quiet}).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	args := []string{"audit", "verify", "--database-url=" + d.URL, "--key", key.VerifierKey}
	if code, out, errs := runCmd(t, args...); code != 0 || !strings.Contains(out, "1 bag chains, 4 events linked") {
		t.Fatalf("honest history = %d %q %q", code, out, errs)
	}
	_, err = d.Pool.Exec(ctx, `ALTER TABLE bag_events DISABLE TRIGGER bag_events_append_only;
		UPDATE bag_events SET place = 'somewhere else' WHERE id = `+fmt.Sprint(h.ReleaseEvent))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, args...)
	want := fmt.Sprintf("first entry at fault: event %d of bag %s", h.ReleaseEvent, p.BagID)
	// The row is the event's only copy: the audit names the event and its
	// bag, not the field that changed.
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "row was altered") {
		t.Fatalf("tampered history = %d %q, want %q", code, out, want)
	}
}
