package keyring_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/crypto/trust"
	"valise/internal/db"
	"valise/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is a movable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time      { return c.t }
func (c *clock) Add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)} }
func master(b byte) []byte           { return bytes.Repeat([]byte{b}, 32) }
func code(err error) string          { return valise.ErrorCode(err) }
func tx(t *testing.T, p *pgxpool.Pool, fn func(pgx.Tx) error) error {
	t.Helper()
	return db.InTx(context.Background(), p, fn)
}

// setup gives a database with three offices, a root key and one key per
// office, and the keyring that made them.
func setup(t *testing.T) (*pgxpool.Pool, *keyring.Keyring, *clock) {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, u := range []string{"MFA", "DE-BER", "JP-TYO"} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO units (code, name, kind) VALUES ($1, $1, 'embassy')`, u); err != nil {
			t.Fatal(err)
		}
	}
	c := newClock()
	kr, err := keyring.New(master(7), keyring.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	err = tx(t, d.Pool, func(tx pgx.Tx) error {
		if _, _, err := kr.InitRoot(ctx, tx); err != nil {
			return err
		}
		for _, u := range []string{"MFA", "DE-BER", "JP-TYO"} {
			if _, err := kr.IssueKey(ctx, tx, u, "test", time.Time{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d.Pool, kr, c
}

// list returns the current trust list, parsed with the stored root.
func list(t *testing.T, p *pgxpool.Pool, kr *keyring.Keyring) *trust.List {
	t.Helper()
	ctx := context.Background()
	pub, err := keyring.Latest(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	l, err := kr.Parsed(ctx, p, pub)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func facts(bagID string, n int) keyring.BagFacts {
	f := keyring.BagFacts{BagID: bagID, Registry: "MFA-2026-000123", Origin: "MFA", Destination: "DE-BER",
		Packages: n, ManifestHash: seal.HashManifest([]byte("manifest " + bagID))}
	for k := 1; k <= n; k++ {
		f.PhysicalSerials = append(f.PhysicalSerials, "ASTM-"+bagID[:4]+"-"+string(rune('0'+k)))
	}
	return f
}

func issue(t *testing.T, p *pgxpool.Pool, kr *keyring.Keyring, f keyring.BagFacts) []*keyring.Seal {
	t.Helper()
	var out []*keyring.Seal
	err := tx(t, p, func(tx pgx.Tx) (err error) {
		out, err = kr.IssueSeals(context.Background(), tx, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRootAndOfficeKeys(t *testing.T) {
	p, kr, _ := setup(t)
	ctx := context.Background()
	if _, _, err := kr.InitRoot(ctx, p); code(err) != valise.ECONFLICT {
		t.Errorf("second root: %v, want conflict", err)
	}
	if _, err := kr.IssueKey(ctx, p, "MFA", "test", time.Time{}); code(err) != valise.ECONFLICT {
		t.Errorf("second active MFA key: %v, want conflict", err)
	}
	if _, err := kr.IssueKey(ctx, p, "NOWHERE", "test", time.Time{}); code(err) != valise.ENOTFOUND {
		t.Errorf("unknown office: %v, want not found", err)
	}
	l := list(t, p, kr)
	if len(l.Keys) != 3 || l.Sequence != 3 {
		t.Errorf("trust list has %d keys at sequence %d, want 3 at 3 (one list per key change)", len(l.Keys), l.Sequence)
	}

	// Private keys are stored encrypted: the seed never appears, and another
	// master key cannot open them.
	signer, ki, err := kr.Signer(ctx, p, "MFA")
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := p.QueryRow(ctx, `SELECT private_key FROM seal_keys WHERE kid = $1`, ki.KID.String()).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, signer.Key.Seed()) {
		t.Error("the private key is stored in clear")
	}
	other, _ := keyring.New(master(8), keyring.Options{})
	if _, _, err := other.Signer(ctx, p, "MFA"); err == nil {
		t.Error("a different master key opened the seal key")
	}
	// A ciphertext moved to another key's row does not open (associated data = kid).
	if _, err := p.Exec(ctx, `ALTER TABLE seal_keys DISABLE TRIGGER seal_keys_guard`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec(ctx, `UPDATE seal_keys SET private_key = $1 WHERE office_id = (SELECT id FROM units WHERE code = 'JP-TYO')`, stored); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Signer(ctx, p, "JP-TYO"); err == nil {
		t.Error("a key ciphertext copied to another row opened")
	}
}

func TestKeysAndListsAreAppendOnly(t *testing.T) {
	p, _, _ := setup(t)
	ctx := context.Background()
	for _, sql := range []string{
		`DELETE FROM trust_lists`,
		`UPDATE trust_lists SET document = 'x'`,
		`DELETE FROM seal_keys`,
		`UPDATE seal_keys SET public_key = decode(repeat('00', 32), 'hex')`,
		`UPDATE seal_keys SET not_after = not_after + interval '1 day'`,
		`DELETE FROM seal_root_keys`,
	} {
		if _, err := p.Exec(ctx, sql); err == nil {
			t.Errorf("%s: allowed", sql)
		}
	}
	if _, err := p.Exec(ctx, `UPDATE seal_keys SET status = 'revoked', revoked_at = now() WHERE kid IN (SELECT kid FROM seal_keys LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec(ctx, `UPDATE seal_keys SET status = 'active', revoked_at = NULL WHERE status = 'revoked'`); err == nil {
		t.Error("a revoked key was made active again")
	}
}

func TestRotationOverlap(t *testing.T) {
	p, kr, c := setup(t)
	ctx := context.Background()
	old := issue(t, p, kr, facts("0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", 2))

	c.Add(24 * time.Hour)
	var newKey, oldKey *keyring.KeyInfo
	err := tx(t, p, func(tx pgx.Tx) (err error) {
		newKey, oldKey, err = kr.Rotate(ctx, tx, "MFA", "test", 40*24*time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if oldKey.Status != trust.StatusRetired || newKey.Status != trust.StatusActive || !oldKey.NotAfter.Equal(c.t) {
		t.Fatalf("after rotation: old %s until %v, new %s", oldKey.Status, oldKey.NotAfter, newKey.Status)
	}
	// A seal the old key signed before the rotation still verifies.
	l := list(t, p, kr)
	if _, err := seal.Verify(old[0].Text, l, c.t); err != nil {
		t.Errorf("old seal after rotation: %v", err)
	}
	// New seals are signed by the new key.
	fresh := issue(t, p, kr, facts("1192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", 1))
	if fresh[0].KID != newKey.KID {
		t.Errorf("new seal signed by %s, want %s", fresh[0].KID, newKey.KID)
	}
	if _, err := seal.Verify(fresh[0].Text, l, c.t); err != nil {
		t.Errorf("new seal: %v", err)
	}
	// After the overlap the old key leaves the list and its seals are unknown.
	c.Add(41 * 24 * time.Hour)
	if _, err := kr.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	l = list(t, p, kr)
	if _, ok := l.Key(oldKey.KID); ok {
		t.Error("the retired key is still listed after its overlap")
	}
}

func TestRevokeKey(t *testing.T) {
	p, kr, c := setup(t)
	ctx := context.Background()
	s := issue(t, p, kr, facts("0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", 1))
	if _, err := kr.Revoke(ctx, p, s[0].KID, "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Revoke(ctx, p, s[0].KID, "again"); code(err) != valise.ECONFLICT {
		t.Errorf("second revoke: %v, want conflict", err)
	}
	if _, err := seal.Verify(s[0].Text, list(t, p, kr), c.t); !errors.Is(err, seal.ErrKeyRevoked) {
		t.Errorf("seal of a revoked key: %v, want key revoked", err)
	}
	// The office cannot seal until it has a new key.
	_, err := kr.IssueSeals(ctx, p, facts("1192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", 1))
	if code(err) != valise.ECONFLICT || !strings.Contains(err.Error(), "keys issue") {
		t.Errorf("sealing without a key: %v", err)
	}
}

func TestIssueAndReseal(t *testing.T) {
	p, kr, c := setup(t)
	ctx := context.Background()
	f := facts("0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e", 3)
	seals := issue(t, p, kr, f)
	l := list(t, p, kr)
	for i, s := range seals {
		cl, err := seal.Verify(s.Text, l, c.t)
		if err != nil {
			t.Fatalf("seal %d: %v", i+1, err)
		}
		if cl.Package != i+1 || cl.Packages != 3 || cl.PhysicalSeal != f.PhysicalSerials[i] || cl.Registry != f.Registry {
			t.Errorf("seal %d claims %+v", i+1, cl)
		}
	}
	if _, err := kr.IssueSeals(ctx, p, f); code(err) != valise.ECONFLICT {
		t.Errorf("sealing twice: %v, want conflict", err)
	}
	stored, err := keyring.BagSeals(ctx, p, f.BagID)
	if err != nil || len(stored) != 3 || stored[2].Text != seals[2].Text {
		t.Fatalf("stored seals: %v %v", stored, err)
	}

	c.Add(time.Hour)
	f.PhysicalSerials = []string{"NEW-1", "NEW-2", "NEW-3"}
	var fresh []*keyring.Seal
	err = tx(t, p, func(tx pgx.Tx) (err error) {
		fresh, err = kr.Reseal(ctx, tx, f, "witness", "opened under supervision")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	l = list(t, p, kr)
	if _, err := seal.Verify(seals[0].Text, l, c.t); !errors.Is(err, seal.ErrSealRevoked) || seal.Code(err) != "seal_revoked" {
		t.Errorf("old seal after re-sealing: %v, want seal_revoked", err)
	}
	if cl, err := seal.Verify(fresh[0].Text, l, c.t); err != nil || cl.PhysicalSeal != "NEW-1" {
		t.Errorf("new seal: %v %v", cl, err)
	}
	stored, _ = keyring.BagSeals(ctx, p, f.BagID)
	if len(stored) != 3 || stored[0].Text != fresh[0].Text {
		t.Error("the bag's current seals are not the new ones")
	}
	// Revoked serials leave the list once their seals have expired.
	c.Add(31 * 24 * time.Hour)
	if _, err := kr.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	if l = list(t, p, kr); len(l.RevokedSerials) != 0 {
		t.Errorf("%d expired revoked serials still listed", len(l.RevokedSerials))
	}
}

func TestIssueRefusesWhatASealCannotCarry(t *testing.T) {
	p, kr, _ := setup(t)
	ctx := context.Background()
	bag := "0192f3a1-7c4e-7b1a-9d2e-5f6a7b8c9d0e"
	tests := []struct {
		name  string
		edit  func(*keyring.BagFacts)
		field string
	}{
		{"100 packages", func(f *keyring.BagFacts) { f.Packages = 100; f.PhysicalSerials = nil }, "packages"},
		{"serials count", func(f *keyring.BagFacts) { f.PhysicalSerials = f.PhysicalSerials[:1] }, "seal_serials"},
		{"lower-case serial", func(f *keyring.BagFacts) { f.PhysicalSerials[0] = "astm 1" }, "seal"},
		{"long serial", func(f *keyring.BagFacts) { f.PhysicalSerials[0] = strings.Repeat("A", 25) }, "seal"},
		{"bad bag id", func(f *keyring.BagFacts) { f.BagID = "bag-1" }, "bag_id"},
		{"same origin and destination", func(f *keyring.BagFacts) { f.Destination = "MFA" }, "seal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := facts(bag, 2)
			tt.edit(&f)
			_, err := kr.IssueSeals(ctx, p, f)
			var ve *valise.Error
			if !errors.As(err, &ve) || ve.Code != valise.EINVALID || len(ve.Fields) != 1 || ve.Fields[0].Field != tt.field {
				t.Fatalf("got %v, want invalid %s", err, tt.field)
			}
		})
	}
	var n int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM seals`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d seals stored after refusals (%v)", n, err)
	}
}

func TestCurrentRefreshesBeforeStale(t *testing.T) {
	p, kr, c := setup(t)
	ctx := context.Background()
	a, err := kr.Current(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := kr.Current(ctx, p)
	if a.Sequence != b.Sequence || a.ETag != b.ETag {
		t.Error("Current republished a fresh list")
	}
	c.Add(4 * 24 * time.Hour) // past half of the 7-day stale period
	b, _ = kr.Current(ctx, p)
	if b.Sequence != a.Sequence+1 || b.ETag == a.ETag {
		t.Errorf("Current did not refresh a half-stale list: %d -> %d", a.Sequence, b.Sequence)
	}
	_, root, _ := keyring.Root(ctx, p)
	if _, err := trust.ParseAt(b.Document, ed25519.PublicKey(root), c.t); err != nil {
		t.Errorf("served list does not verify: %v", err)
	}
}
