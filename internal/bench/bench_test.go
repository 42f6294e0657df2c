package bench

import (
	"context"
	"testing"

	"valise/internal/dbtest"
	"valise/mobile-api/client"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// BenchmarkPhoneSync syncs batches of 100 signed checkpoint scans from one
// phone per parallel goroutine (b.N batches in all), through the real API.
// The figures that matter are `valise bench`'s; this is for profiles:
//
//	go test ./internal/bench -run '^$' -bench PhoneSync -cpuprofile /tmp/cpu.out
func BenchmarkPhoneSync(b *testing.B) {
	ctx := context.Background()
	const phones = 8
	env, next := benchServer(b, phones)
	ps, err := EnrolPhones(ctx, env.client, env.url, env.ident, env.pairs[:phones])
	if err != nil {
		b.Fatal(err)
	}
	t0, s0 := env.trips.read()
	b.ResetTimer()
	b.SetParallelism(1)
	b.RunParallel(func(pb *testing.PB) {
		w := <-next
		for pb.Next() {
			recs := make([]client.Record, 100)
			for i := range recs {
				recs[i] = ps[w].Sign(client.Payload{Kind: client.KindScan, BagID: env.pairs[w].BagID, Seals: env.pairs[w].Seals, Place: "bench"})
			}
			res, err := ps[w].Sync(ctx, recs)
			if err != nil {
				b.Error(err)
				return
			}
			for _, x := range res {
				if x.Status != "accepted" {
					b.Errorf("record %d refused: %s %s", x.Index, x.Reason, x.Detail)
					return
				}
			}
		}
	})
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
	t1, s1 := env.trips.read()
	b.ReportMetric(float64(t1-t0)/float64(b.N), "roundtrips/batch")
	b.ReportMetric(float64(s1-s0)/float64(b.N), "statements/batch")
}

// BenchmarkHandOffs sends hand-off requests (releases and confirmations in
// turn, Pair.Step) through the real API from 16 clients, for profiles.
func BenchmarkHandOffs(b *testing.B) {
	ctx := context.Background()
	const clients = 16
	env, next := benchServer(b, clients)
	b.ResetTimer()
	b.SetParallelism((clients + 1) / 2)
	b.RunParallel(func(pb *testing.PB) {
		w := <-next
		for pb.Next() {
			if err := env.pairs[w].Step(ctx, env.client, env.url); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// benchServer starts the bench's API server on a fresh database with n
// fixture pairs until b ends, and hands out the pairs' numbers to the
// parallel goroutines.
func benchServer(b *testing.B, n int) (*benchEnv, chan int) {
	d := dbtest.New(b)
	env, err := startBenchServer(context.Background(), d.URL, 16, n)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(env.close)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	return env, next
}
