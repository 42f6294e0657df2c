package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/crypto/keyring"
	"valise/internal/db"
)

// sealOffices are the demo offices that issue seals.
var sealOffices = []string{UnitMFA, UnitBerlin, UnitTokyo}

// loadSealKeys creates the seal root key and one key per demo office, each
// only if missing, encrypted under the data directory's master key. Without
// a master key (Options.MasterKey nil) the step does nothing.
func loadSealKeys(ctx context.Context, tx pgx.Tx, o Options) error {
	if o.MasterKey == nil {
		return nil
	}
	kr, err := keyring.New(o.MasterKey, keyring.Options{})
	if err != nil {
		return err
	}
	if _, _, err := keyring.Root(ctx, tx); err != nil {
		if _, _, err := kr.InitRoot(ctx, tx); err != nil {
			return fmt.Errorf("root key: %w", err)
		}
		if _, err := kr.Publish(ctx, tx); err != nil {
			return err
		}
	}
	for _, office := range sealOffices {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM seal_keys k JOIN units u ON u.id = k.office_id
			WHERE u.code = $1 AND k.status = 'active'`, office).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if _, err := kr.IssueKey(ctx, tx, office, "demo", time.Time{}); err != nil {
			return fmt.Errorf("seal key of %s: %w", office, err)
		}
	}
	return nil
}

// LoadSealKeys creates the seal root key and the demo offices' seal keys
// (each only if missing) under master, for tests that seal bags or issue
// courier sheets over the demo units.
func LoadSealKeys(ctx context.Context, pool *pgxpool.Pool, master []byte) error {
	return db.InTx(ctx, pool, func(tx pgx.Tx) error { return loadSealKeys(ctx, tx, Options{MasterKey: master}) })
}
