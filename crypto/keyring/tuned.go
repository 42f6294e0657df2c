package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
)

// An administrator may tune the seal lifetime and the trust list's stale
// period through the API (package settings, rows seal.lifetime and
// trust_list.stale_after of pouch_settings); until one does, the keyring's
// Options (the configuration) apply. They are read in the caller's
// transaction, so a change applies from the next seal or list on.

// tuned returns the duration setting key when it is set, else def.
func tuned(ctx context.Context, q db.Querier, key string, def time.Duration) (time.Duration, error) {
	var secs *int64
	err := q.QueryRow(ctx, `SELECT extract(epoch FROM value)::bigint FROM pouch_settings WHERE key = $1`, key).Scan(&secs)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && secs == nil) {
		return def, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read setting %s: %w", key, err)
	}
	return time.Duration(*secs) * time.Second, nil
}

func (k *Keyring) sealLifetime(ctx context.Context, q db.Querier) (time.Duration, error) {
	return tuned(ctx, q, "seal.lifetime", k.o.SealLifetime)
}

func (k *Keyring) staleAfter(ctx context.Context, q db.Querier) (time.Duration, error) {
	return tuned(ctx, q, "trust_list.stale_after", k.o.StaleAfter)
}
