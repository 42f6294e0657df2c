package custody_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"valise/internal/bench"
	"valise/internal/dbtest"
)

// BenchmarkHandoffs measures, in one run on one fresh database, hand-off
// requests end to end through the API (authentication, policy, VS1 seal
// check, the grouped write path, log append) at 1, 16 and 64 clients with p50
// and p99, and the raw single-row insert rate with 64 connections, so the
// ratio can be quoted. It ignores b.N (each figure is a timed run):
//
//	go test ./custody -run '^$' -bench Handoffs -benchtime 1x
//	VALISE_BENCH_SECONDS=10 go test ./custody -run '^$' -bench Handoffs -benchtime 1x
func BenchmarkHandoffs(b *testing.B) {
	d := dbtest.New(b)
	dur := 3 * time.Second
	if s := benchSeconds(); s > 0 {
		dur = s
	}
	rates, err := bench.Bench(context.Background(), d.URL, bench.BenchOptions{Duration: dur, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	var raw float64
	for _, r := range rates {
		switch {
		case strings.HasPrefix(r.Name, "raw single-row"):
			raw = r.PerSec()
		case strings.HasPrefix(r.Name, "hand-off requests"):
			n := strings.TrimSuffix(strings.TrimPrefix(r.Name, "hand-off requests via API ("), " clients)")
			b.ReportMetric(r.PerSec(), "requests/s@"+n)
			b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99ms@"+n)
			if n == "64" && raw > 0 {
				b.ReportMetric(r.PerSec()/raw, "ratio@64")
			}
		}
	}
	b.ReportMetric(raw, "rawinserts/s")
}
