package tlog_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"valise"
	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/tlog"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testLog is a fresh database with a log key and an integrator.
type testLog struct {
	pool   *pgxpool.Pool
	d      *dbtest.Database
	key    *tlog.Key
	master []byte
	g      *tlog.Integrator
}

func master(t testing.TB) []byte {
	t.Helper()
	m := make([]byte, 32)
	if _, err := rand.Read(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func newLog(t testing.TB) *testLog {
	t.Helper()
	d := dbtest.New(t)
	m := master(t)
	key, err := tlog.LoadOrCreateKey(context.Background(), d.Pool, tlog.DefaultOrigin, m)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{pool: d.Pool, d: d, key: key, master: m, g: tlog.NewIntegrator(d.Pool, key, tlog.IntegratorOptions{})}
}

func leafOf(i int) []byte { return []byte(fmt.Sprintf(`{"event":"handoff","n":%d}`, i)) }

// appendN appends leaves first..first+n-1, each in its own transaction.
func (l *testLog) appendN(t testing.TB, first, n int) {
	t.Helper()
	ctx := context.Background()
	for i := first; i < first+n; i++ {
		err := db.InTx(ctx, l.pool, func(tx pgx.Tx) error {
			_, err := tlog.Append(ctx, tx, leafOf(i))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (l *testLog) integrate(t testing.TB) int {
	t.Helper()
	n, err := l.g.IntegrateOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (l *testLog) latest(t testing.TB) tlog.Checkpoint {
	t.Helper()
	s, err := tlog.LatestCheckpoint(context.Background(), l.pool)
	if err != nil {
		t.Fatal(err)
	}
	// The served note must verify with the published key using the note
	// package directly.
	v, err := note.NewVerifier(l.key.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(s.Note, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v\n%s", err, s.Note)
	}
	cp, err := tlog.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestProofsVerifyWithTheMerkleLibrary(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	ctx := context.Background()
	// An empty log still publishes a checkpoint (size 0, RFC 6962 empty root).
	l.integrate(t)
	if cp := l.latest(t); cp.Size != 0 || !bytes.Equal(cp.Root, rfc6962.DefaultHasher.EmptyRoot()) || cp.Origin != tlog.DefaultOrigin {
		t.Fatalf("empty checkpoint = %+v", cp)
	}
	// Grow the tree in uneven rounds so there are checkpoints at many sizes.
	var cps []tlog.Checkpoint
	next := 0
	for _, n := range []int{1, 1, 2, 3, 8, 13, 31, 64, 7} {
		l.appendN(t, next, n)
		next += n
		if got := l.integrate(t); got != n {
			t.Fatalf("integrated %d leaves, want %d", got, n)
		}
		cp := l.latest(t)
		if cp.Size != uint64(next) {
			t.Fatalf("checkpoint size %d, want %d", cp.Size, next)
		}
		cps = append(cps, cp)
	}
	if n := l.integrate(t); n != 0 {
		t.Fatalf("a round with nothing new integrated %d", n)
	}
	for _, cp := range cps {
		for i := uint64(0); i < cp.Size; i++ {
			p, err := tlog.InclusionProof(ctx, l.pool, i, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, tlog.LeafHash(leafOf(int(i))), p, cp.Root); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, cp.Size, err)
			}
		}
	}
	for i, a := range cps {
		for _, b := range cps[i:] {
			p, err := tlog.ConsistencyProof(ctx, l.pool, a.Size, b.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, p, a.Root, b.Root); err != nil {
				t.Fatalf("consistency %d -> %d: %v", a.Size, b.Size, err)
			}
		}
	}
	// Leaf hashes and leaves by range.
	hs, err := tlog.LeafHashes(ctx, l.pool, 5, 9)
	if err != nil || len(hs) != 4 || !bytes.Equal(hs[0], tlog.LeafHash(leafOf(5))) {
		t.Fatalf("LeafHashes = %d, %v", len(hs), err)
	}
	ls, err := tlog.Leaves(ctx, l.pool, 128, 1000, nil)
	if err != nil || len(ls) != next-128 || !bytes.Equal(ls[0], leafOf(128)) {
		t.Fatalf("Leaves = %d, %v", len(ls), err)
	}
	// Requests beyond the tree are refused, naming the field.
	for _, tc := range []struct{ index, size uint64 }{{0, 0}, {5, 5}, {0, uint64(next) + 1}} {
		if _, err := tlog.InclusionProof(ctx, l.pool, tc.index, tc.size); valise.ErrorCode(err) != valise.EINVALID {
			t.Errorf("inclusion(%d, %d): %v, want invalid", tc.index, tc.size, err)
		}
	}
	if _, err := tlog.ConsistencyProof(ctx, l.pool, 5, 4); valise.ErrorCode(err) != valise.EINVALID {
		t.Errorf("consistency(5, 4): %v", err)
	}
	r, err := tlog.Audit(ctx, l.pool, l.key.Verifier)
	if err != nil || !r.OK() || r.Leaves != uint64(next) || r.Checkpoints != len(cps)+1 {
		t.Fatalf("audit of an honest log: %+v %v %v", r, r.Problem, err)
	}
	// In pages of 3 rows it checks the same leaves, checkpoints and nodes.
	var phases []string
	small, err := tlog.AuditWith(ctx, l.pool, l.key.Verifier, tlog.AuditOptions{PageSize: 3, Progress: func(p tlog.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}})
	if err != nil || !small.OK() || small.Leaves != r.Leaves || small.Checkpoints != r.Checkpoints || small.Nodes != r.Nodes ||
		!bytes.Equal(small.Root, r.Root) {
		t.Fatalf("audit in pages of 3 = %+v, want %+v (%v)", small, r, err)
	}
	if strings.Join(phases, ",") != "log leaves,tree nodes,unindexed entries" {
		t.Fatalf("progress phases %v", phases)
	}
}

func TestRolledBackAppendLeavesNoLeaf(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	ctx := context.Background()
	l.appendN(t, 0, 2)
	boom := fmt.Errorf("the state change failed")
	err := db.InTx(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tlog.Append(ctx, tx, []byte("never happened")); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatal(err)
	}
	var id tlog.EntryID
	err = db.InTx(ctx, l.pool, func(tx pgx.Tx) (err error) {
		id, err = tlog.Append(ctx, tx, leafOf(2))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlog.IndexOf(ctx, l.pool, id); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Fatalf("index before integration: %v", err)
	}
	if _, _, err := tlog.EntryReceipt(ctx, l.pool, id, nil); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Fatalf("receipt before integration: %v", err)
	}
	l.integrate(t)
	if cp := l.latest(t); cp.Size != 3 {
		t.Fatalf("size %d, want 3 (the rolled-back leaf must not count)", cp.Size)
	}
	if idx, err := tlog.IndexOf(ctx, l.pool, id); err != nil || idx != 2 {
		t.Fatalf("IndexOf = %d, %v", idx, err)
	}
	rec, idx, err := tlog.EntryReceipt(ctx, l.pool, id, nil)
	if err != nil || idx != 2 {
		t.Fatalf("EntryReceipt = %d, %v", idx, err)
	}
	if v, err := tlog.VerifyReceipt(rec, nil, l.key.Verifier); err != nil || !bytes.Equal(v.Extra, leafOf(2)) {
		t.Fatalf("entry receipt does not verify: %v", err)
	}
	for _, bad := range [][]byte{nil, make([]byte, tlog.MaxLeafBytes+1)} {
		err := db.InTx(ctx, l.pool, func(tx pgx.Tx) error { _, err := tlog.Append(ctx, tx, bad); return err })
		if err == nil {
			t.Errorf("append of %d bytes accepted", len(bad))
		}
	}
}

func TestTablesRefuseUpdateAndDelete(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	ctx := context.Background()
	l.appendN(t, 0, 3)
	l.integrate(t)
	for _, stmt := range []string{
		`UPDATE tlog_entries SET leaf = 'x'`,
		`DELETE FROM tlog_entries`,
		`UPDATE tlog_index SET entry_id = entry_id`,
		`DELETE FROM tlog_index`,
		`UPDATE tlog_nodes SET hash = hash`,
		`DELETE FROM tlog_nodes`,
		`UPDATE tlog_checkpoints SET note = ''`,
		`DELETE FROM tlog_checkpoints`,
		`DELETE FROM tlog_keys`,
		`TRUNCATE tlog_entries CASCADE`,
		`TRUNCATE tlog_nodes`,
	} {
		if _, err := l.pool.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", stmt, err)
		}
	}
	if r, err := tlog.Audit(ctx, l.pool, l.key.Verifier); err != nil || !r.OK() || r.Leaves != 3 {
		t.Fatalf("audit after refused changes: %+v %v", r.Problem, err)
	}
}

func TestKeyIsGeneratedOnceAndSealed(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	m := master(t)
	k1, err := tlog.LoadOrCreateKey(ctx, d.Pool, "valise.test/log", m)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := tlog.LoadOrCreateKey(ctx, d.Pool, "valise.test/log", m)
	if err != nil || k2.VerifierKey != k1.VerifierKey {
		t.Fatalf("second start got another key: %v", err)
	}
	if vk, err := tlog.VerifierKey(ctx, d.Pool); err != nil || vk != k1.VerifierKey || !strings.HasPrefix(vk, "valise.test/log+") {
		t.Fatalf("VerifierKey = %q, %v", vk, err)
	}
	// The private key is not stored in the clear.
	var sealed []byte
	if err := d.Pool.QueryRow(ctx, `SELECT skey_sealed FROM tlog_keys`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("PRIVATE+KEY")) {
		t.Fatal("the log's private key is stored in the clear")
	}
	if _, err := tlog.LoadOrCreateKey(ctx, d.Pool, "valise.test/log", master(t)); err == nil {
		t.Fatal("a wrong master key opened the log key")
	}
}

func TestReceiptVerifiesOfflineWithWitness(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	ctx := context.Background()
	l.appendN(t, 0, 21)
	l.integrate(t)
	cp := l.latest(t)

	// A witness (the security directorate) cosigns the checkpoint.
	wskey, wvkey, err := note.GenerateKey(rand.Reader, "security.valise.example")
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := note.NewSigner(wskey)
	wv, _ := note.NewVerifier(wvkey)
	if err := tlog.AddWitness(ctx, l.pool, wvkey); err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(&note.Note{Text: cp.Body()}, ws)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.AddCosignature(ctx, l.pool, cp.Size, cosigned); err != nil {
		t.Fatal(err)
	}
	// A cosignature over another body is refused.
	other, _ := note.Sign(&note.Note{Text: "valise.example/custody\n1\n" + strings.Repeat("A", 43) + "=\n"}, ws)
	if err := tlog.AddCosignature(ctx, l.pool, cp.Size, other); valise.ErrorCode(err) != valise.EINVALID {
		t.Fatalf("foreign cosignature: %v", err)
	}

	rec, err := tlog.Receipt(ctx, l.pool, 13, leafOf(13))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(rec), "c2sp.org/tlog-proof@v1\nextra ") || !strings.Contains(string(rec), "\nindex 13\n") {
		t.Fatalf("receipt:\n%s", rec)
	}
	v, err := tlog.VerifyReceipt(rec, nil, l.key.Verifier, wv)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, rec)
	}
	if v.Index != 13 || v.Checkpoint.Size != 21 || len(v.Witnesses) != 1 || !bytes.Equal(v.Extra, leafOf(13)) {
		t.Fatalf("verified %+v", v)
	}
	if _, err := tlog.VerifyReceipt(rec, leafOf(13), l.key.Verifier); err != nil {
		t.Fatalf("verify with the leaf given: %v", err)
	}

	otherKey, _ := tlog.NewKey(mustKey(t, tlog.DefaultOrigin))
	for name, tc := range map[string]struct {
		rec  string
		leaf []byte
		key  note.Verifier
	}{
		"other leaf":        {string(rec), leafOf(12), l.key.Verifier},
		"other index":       {strings.Replace(string(rec), "index 13", "index 12", 1), leafOf(13), l.key.Verifier},
		"other log key":     {string(rec), leafOf(13), otherKey.Verifier},
		"proof altered":     {alterFirstHash(string(rec)), leafOf(13), l.key.Verifier},
		"size altered":      {strings.Replace(string(rec), "\n21\n", "\n22\n", 1), leafOf(13), l.key.Verifier},
		"not a receipt":     {"hello\n\nworld", leafOf(13), l.key.Verifier},
		"no leaf, no extra": {strings.Replace(string(rec), "extra ", "x", 1), nil, l.key.Verifier},
	} {
		if _, err := tlog.VerifyReceipt([]byte(tc.rec), tc.leaf, tc.key); err == nil {
			t.Errorf("%s: receipt accepted", name)
		}
	}
	// A witness the receipt lacks makes it fail.
	_, w2 := mustKey(t, "inspector.valise.example")
	w2v, _ := note.NewVerifier(w2)
	if _, err := tlog.VerifyReceipt(rec, nil, l.key.Verifier, w2v); err == nil {
		t.Error("receipt accepted without the required witness")
	}
}

func mustKey(t *testing.T, name string) (string, string) {
	t.Helper()
	s, v, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func alterFirstHash(rec string) string {
	lines := strings.Split(rec, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "index ") {
			b := []byte(lines[i+1])
			if b[0] == 'A' {
				b[0] = 'B'
			} else {
				b[0] = 'A'
			}
			lines[i+1] = string(b)
			break
		}
	}
	return strings.Join(lines, "\n")
}

// tamper runs statements with the append-only triggers disabled, as an
// administrator with direct database access could.
func tamper(t *testing.T, pool *pgxpool.Pool, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range append(append([]string{`SET session_replication_role = replica`}, stmts...), `RESET session_replication_role`) {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestAuditNamesTheFirstTamperedEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		stmts     []string
		wantIndex int64
		wantText  string
	}{
		{"entry bytes changed", []string{
			`UPDATE tlog_entries SET leaf = 'forged' FROM tlog_index i WHERE i.entry_id = tlog_entries.id AND i.idx = 17`},
			17, "altered"},
		{"entry bytes and leaf hash changed", []string{
			`UPDATE tlog_entries SET leaf = 'forged', leaf_hash = sha256('\x00'::bytea || 'forged'::bytea)
			 FROM tlog_index i WHERE i.entry_id = tlog_entries.id AND i.idx = 23`},
			22, "altered"}, // leaf nodes are the entries' hashes: the pair (22, 23) no longer gives its node
		{"entry, leaf hash and tree rewritten", []string{
			`UPDATE tlog_entries SET leaf = 'forged', leaf_hash = sha256('\x00'::bytea || 'forged'::bytea)
			 FROM tlog_index i WHERE i.entry_id = tlog_entries.id AND i.idx = 30`,
			`UPDATE tlog_nodes SET hash = sha256('\x01'::bytea || (SELECT leaf_hash FROM tlog_entries e JOIN tlog_index i ON i.entry_id = e.id AND i.idx = 30)
			 || (SELECT leaf_hash FROM tlog_entries e JOIN tlog_index i ON i.entry_id = e.id AND i.idx = 31)) WHERE level = 1 AND idx = 15`},
			20, "differs from what was signed"}, // the checkpoint covering [20, 40) no longer matches
		{"row deleted", []string{
			`DELETE FROM tlog_index WHERE idx = 9`},
			9, "missing"},
		{"two leaves swapped", []string{
			`UPDATE tlog_index SET entry_id = -entry_id WHERE idx IN (4, 5)`,
			`UPDATE tlog_index a SET entry_id = -b.entry_id FROM tlog_index b WHERE a.idx IN (4, 5) AND b.idx = 9 - a.idx`},
			4, "reordered"},
		{"checkpoint root replaced", []string{
			`UPDATE tlog_checkpoints SET note = replace(note, '` + "\n40\n" + `', '` + "\n41\n" + `') WHERE size = 40`},
			-1, "checkpoint 40"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLog(t)
			l.appendN(t, 0, 20)
			l.integrate(t)
			l.appendN(t, 20, 20)
			l.integrate(t)
			l.appendN(t, 40, 5)
			l.integrate(t)
			tamper(t, l.pool, tc.stmts...)
			// One page, and pages of 4 rows: the answer does not depend on where pages end.
			for _, page := range []int{0, 4} {
				r, err := tlog.AuditWith(context.Background(), l.pool, l.key.Verifier, tlog.AuditOptions{PageSize: page})
				if err != nil {
					t.Fatal(err)
				}
				if r.OK() {
					t.Fatalf("audit (page %d) found nothing", page)
				}
				if r.Problem.Index != tc.wantIndex || !strings.Contains(r.Problem.Message, tc.wantText) {
					t.Fatalf("page %d: problem = %+v, want index %d and %q", page, r.Problem, tc.wantIndex, tc.wantText)
				}
			}
		})
	}
}

// Two pools stand in for two API processes: each runs writers and an
// integrator at once. The result is one log with contiguous indices, every
// committed leaf exactly once, and an audit that passes.
func TestConcurrentWritersAndIntegrators(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool2, err := db.Open(ctx, l.d.URL, db.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer pool2.Close()
	// The second process loads the same key the first one created.
	key2, err := tlog.LoadOrCreateKey(ctx, pool2, tlog.DefaultOrigin, l.master)
	if err != nil || key2.VerifierKey != l.key.VerifierKey {
		t.Fatalf("second process key: %v", err)
	}
	var igWG sync.WaitGroup
	for _, p := range []*pgxpool.Pool{l.pool, pool2} {
		g := tlog.NewIntegrator(p, key2, tlog.IntegratorOptions{Interval: 5 * time.Millisecond, Batch: 97})
		igWG.Add(1)
		go func() { defer igWG.Done(); g.Run(ctx) }()
	}
	const writers, each = 8, 60
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		p := l.pool
		if w%2 == 1 {
			p = pool2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := db.InTx(ctx, p, func(tx pgx.Tx) error {
					_, err := tlog.Append(ctx, tx, leafOf(w*1000+i))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Let the integrators catch up, then stop them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cp, err := tlog.LatestCheckpoint(ctx, l.pool)
		if err == nil && cp.Size == writers*each {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("integrators did not catch up: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	igWG.Wait()
	bg := context.Background()
	var n, distinct, maxIdx int64
	if err := l.pool.QueryRow(bg, `SELECT count(*), count(DISTINCT entry_id), max(idx) FROM tlog_index`).Scan(&n, &distinct, &maxIdx); err != nil {
		t.Fatal(err)
	}
	if n != writers*each || distinct != n || maxIdx != n-1 {
		t.Fatalf("index rows %d, distinct entries %d, max index %d; want %d contiguous", n, distinct, maxIdx, writers*each)
	}
	r, err := tlog.Audit(bg, l.pool, l.key.Verifier)
	if err != nil || !r.OK() || r.Leaves != writers*each {
		t.Fatalf("audit: %+v %v %v", r, r.Problem, err)
	}
}

// TestIntegratorKeepsStatisticsFresh: a log growing from nothing gets its
// tables analyzed as it doubles (from 1,024 leaves), so the foreign-key
// checks of integration do not keep the sequential-scan plans they were
// given while the tables looked empty.
func TestIntegratorKeepsStatisticsFresh(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	ctx := context.Background()
	reltuples := func() float64 {
		var n float64
		if err := l.pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'tlog_entries'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	l.appendN(t, 0, 1100)
	l.integrate(t)
	if n := reltuples(); n < 1000 {
		t.Fatalf("after 1,100 leaves the planner thinks tlog_entries holds %v rows", n)
	}
}
