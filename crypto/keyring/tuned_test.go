package keyring_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestTunedSettings: an administrator's seal.lifetime and
// trust_list.stale_after (rows of pouch_settings, set through the settings
// API) replace the configured values from the next list and key change on;
// a retired key stays listed at least as long as the seal lifetime in force.
func TestTunedSettings(t *testing.T) {
	t.Parallel()
	p, kr, c := setup(t)
	ctx := context.Background()
	if _, err := p.Exec(ctx, `UPDATE pouch_settings SET value = interval '2 hours' WHERE key = 'trust_list.stale_after'`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec(ctx, `UPDATE pouch_settings SET value = interval '60 days' WHERE key = 'seal.lifetime'`); err != nil {
		t.Fatal(err)
	}
	pub, err := kr.Publish(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := pub.StaleAfter.Sub(pub.IssuedAt); got != 2*time.Hour {
		t.Fatalf("a list published with trust_list.stale_after 2h is stale after %v", got)
	}
	var rotatedOld time.Time
	err = tx(t, p, func(tx pgx.Tx) error {
		_, old, err := kr.Rotate(ctx, tx, "MFA", "test", 0)
		if err == nil && old.ListedUntil != nil {
			rotatedOld = *old.ListedUntil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The configured overlap is 30 days; seals live 60 now, so the old key stays listed 60.
	if want := c.Now().Add(60 * 24 * time.Hour); !rotatedOld.Equal(want) {
		t.Fatalf("a key retired under seal.lifetime 60d is listed until %v, want %v", rotatedOld, want)
	}
}
