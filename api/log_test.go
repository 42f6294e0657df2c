package api_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"valise/api"
	"valise/api/apitest"
	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/tlog"
)

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// TestLogEndpoints serves a log of 11 leaves and checks that what the
// endpoints return verifies with libraries Valise did not write.
func TestLogEndpoints(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	ts := httptest.NewServer(apitest.Conform(t, api.New(d.Pool, api.Config{})))
	t.Cleanup(ts.Close)

	// Before the log has a key or checkpoint: 404 problems.
	for _, p := range []string{"/log/checkpoint", "/log/key"} {
		if res, _ := get(t, ts.URL+p); res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s on an empty log = %d", p, res.StatusCode)
		}
	}

	m := make([]byte, 32)
	_, _ = rand.Read(m)
	key, err := tlog.LoadOrCreateKey(ctx, d.Pool, "valise.test/custody", m)
	if err != nil {
		t.Fatal(err)
	}
	g := tlog.NewIntegrator(d.Pool, key, tlog.IntegratorOptions{})
	leaf := func(i int) []byte { return []byte(fmt.Sprintf("event %d", i)) }
	var roots = map[uint64][]byte{}
	for round, n := range []int{4, 7} {
		for i := 0; i < n; i++ {
			err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
				_, err := tlog.Append(ctx, tx, leaf(round*100+i))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := g.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// The key as served parses with the note package; the checkpoint verifies with it.
		res, kb := get(t, ts.URL+"/log/key")
		if res.StatusCode != 200 {
			t.Fatalf("GET /log/key = %d", res.StatusCode)
		}
		v, err := note.NewVerifier(strings.TrimSpace(string(kb)))
		if err != nil {
			t.Fatal(err)
		}
		res, cb := get(t, ts.URL+"/log/checkpoint")
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET /log/checkpoint = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		n, err := note.Open(cb, note.VerifierList(v))
		if err != nil {
			t.Fatalf("checkpoint: %v\n%s", err, cb)
		}
		cp, err := tlog.ParseCheckpoint(n.Text)
		if err != nil {
			t.Fatal(err)
		}
		roots[cp.Size] = cp.Root
	}
	if len(roots) != 2 || roots[4] == nil || roots[11] == nil {
		t.Fatalf("checkpoint sizes %v, want 4 and 11", roots)
	}

	// Inclusion of leaf 105 (index 9) in the tree of 11.
	res, b := get(t, ts.URL+"/log/proof/inclusion?index=9&size=11")
	var p struct{ Hashes [][]byte }
	if res.StatusCode != 200 || json.Unmarshal(b, &p) != nil {
		t.Fatalf("inclusion = %d %s", res.StatusCode, b)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 9, 11, tlog.LeafHash(leaf(105)), p.Hashes, roots[11]); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	res, b = get(t, ts.URL+"/log/proof/consistency?from=4&to=11")
	if res.StatusCode != 200 || json.Unmarshal(b, &p) != nil {
		t.Fatalf("consistency = %d %s", res.StatusCode, b)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 4, 11, p.Hashes, roots[4], roots[11]); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}
	res, b = get(t, ts.URL+"/log/entries?start=2&end=100")
	var e struct {
		Start      uint64   `json:"start"`
		LeafHashes [][]byte `json:"leaf_hashes"`
	}
	if res.StatusCode != 200 || json.Unmarshal(b, &e) != nil || len(e.LeafHashes) != 9 ||
		string(e.LeafHashes[0]) != string(tlog.LeafHash(leaf(2))) || strings.Contains(string(b), "event") {
		t.Fatalf("entries = %d %s", res.StatusCode, b)
	}

	// Bad parameters: 422 naming the parameter (api/params.go holds them to openapi.yaml).
	for _, tc := range []struct {
		path   string
		status int
		field  string
	}{
		{"/log/proof/inclusion?size=11", 422, "index"},
		{"/log/proof/inclusion?index=x&size=11", 422, "index"},
		{"/log/proof/inclusion?index=-1&size=11", 422, "index"},
		{"/log/proof/inclusion?index=1&size=99999999999999999999", 422, "size"},
		{"/log/proof/inclusion?index=11&size=11", 422, "index"},
		{"/log/proof/inclusion?index=1&size=12", 422, "size"},
		{"/log/proof/consistency?from=5", 422, "to"},
		{"/log/proof/consistency?from=5&to=4", 422, "from"},
		{"/log/proof/consistency?from=1&to=12", 422, "to"},
		{"/log/entries?start=3&end=3", 422, "end"},
		{"/log/entries?start=0&end=5000", 422, "end"},
		{"/log/entries?start=a&end=b", 422, "start"},
	} {
		res, err := http.Get(ts.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		pr := readProblem(t, res)
		res.Body.Close()
		if res.StatusCode != tc.status || len(pr.Errors) == 0 || pr.Errors[0].Field != tc.field {
			t.Errorf("GET %s = %d %+v, want %d naming %s", tc.path, res.StatusCode, pr, tc.status, tc.field)
		}
	}
}
