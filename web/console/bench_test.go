package console_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"valise/api/apitest"
	"valise/demo"
	"valise/internal/historygen"
	"valise/tlog"
)

// BenchmarkConsoleRender measures the render time (request to last byte,
// over HTTP on loopback) of the registry clerk's desk and of a bag's page
// (its ten events with their inclusion proofs verified) with 100,000 bags
// in the database (VALISE_BENCH_BAGS changes the number), and reports the
// median and 99th percentile. Measured, never asserted.
//
//	go test -run '^$' -bench ConsoleRender -benchtime 200x ./web/console
func BenchmarkConsoleRender(b *testing.B) {
	bags := 100000
	if v, err := strconv.Atoi(os.Getenv("VALISE_BENCH_BAGS")); err == nil && v > 0 {
		bags = v
	}
	e := apitest.New(b)
	ctx := context.Background()
	key, err := tlog.LoadOrCreateKey(ctx, e.Pool, tlog.DefaultOrigin, e.MasterKey)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := historygen.Generate(ctx, e.Pool, historygen.Options{Events: bags * 10, PerBag: 10, Key: key}); err != nil {
		b.Fatal(err)
	}
	if _, err := demo.Load(ctx, e.Pool, demo.Options{MasterKey: e.MasterKey}); err != nil {
		b.Fatal(err)
	}
	if _, err := tlog.NewIntegrator(e.Pool, key, tlog.IntegratorOptions{}).Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d bags in %s", bags, time.Since(start).Round(time.Second))
	var bagID string
	if err := e.Pool.QueryRow(ctx, `SELECT id FROM bags ORDER BY registry_seq LIMIT 1 OFFSET $1`, bags/2).Scan(&bagID); err != nil {
		b.Fatal(err)
	}
	c := signedIn(b, e.URL, "clerk.mfa")
	for _, page := range []struct{ name, path string }{
		{"clerk_desk", "/console/clerk"},
		{"bag_page", "/console/bags/" + bagID},
	} {
		b.Run(page.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				res, err := c.Get(e.URL + page.path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("%s: %s", page.path, res.Status)
				}
				took = append(took, time.Since(t0))
			}
			slices.Sort(took)
			pct := func(p float64) float64 {
				return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
