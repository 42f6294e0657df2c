package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"valise/internal/bench"
	"valise/internal/db"
)

// runBench is `valise bench [--duration 3s] [--clients 1,16,64]`: it creates
// a scratch database on the configured PostgreSQL server (or the private
// cluster), migrates it, measures raw single-row inserts and custody-log
// appends at 64 connections, two-party hand-offs end to end through a real
// HTTP API at each client count, the policy decision and seal verification,
// prints each figure and the ratios, and drops the database.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var dur time.Duration
	var clientsArg string
	var storageEvents int
	var cpuProfile string
	c, _, err := cli{name: "bench", synopsis: "[--duration 3s] [--clients 1,16,64] [flags]",
		about:    "Creates a scratch database on the configured server (or the private cluster), measures raw\ninserts, log appends, phone syncs (batches of 100 signed records), hand-offs through a real API,\npolicy decisions and seal checks, prints\nthe figures and ratios, and drops the scratch database.",
		settings: append([]string{"db-max-conns"}, dbSettings...),
		own: func(fs *flag.FlagSet) {
			fs.DurationVar(&dur, "duration", 3*time.Second, "how long each figure is measured")
			fs.StringVar(&clientsArg, "clients", "1,16,64", "comma-separated client counts (1..256) for the hand-off figures")
			fs.IntVar(&storageEvents, "storage-events", 100000, "events bulk-loaded for the storage figure (bytes per million events); 0 skips it")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the server and clients during each figure to FILE.raw, FILE.phones, FILE.handoffs-64, ... (go tool pprof)")
		}}.parse(args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	if dur <= 0 {
		fmt.Fprintln(stderr, "valise bench: --duration must be a positive duration like 3s")
		return 2
	}
	var clients []int
	for _, f := range strings.Split(clientsArg, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			fmt.Fprintln(stderr, "valise bench: --clients is a list of counts 1..256, like 1,16,64")
			return 2
		}
		clients = append(clients, n)
	}
	log := c.logger(stderr)
	d, err := openDatabase(ctx, c, log)
	if err != nil {
		fmt.Fprintln(stderr, "valise bench:", err)
		return 1
	}
	defer d.Close()
	base := c.DatabaseURL
	if d.Cluster != nil {
		base = d.Cluster.URL()
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "valise_bench_" + hex.EncodeToString(b[:])
	u, err := url.Parse(base)
	if err != nil {
		fmt.Fprintln(stderr, "valise bench: database url:", err)
		return 1
	}
	u.Path = "/" + name
	if _, err := d.Pool.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		fmt.Fprintln(stderr, "valise bench: create scratch database:", err)
		return 1
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := d.Pool.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(stderr, "valise bench: drop scratch database:", err)
		}
	}()
	sp, err := db.Open(ctx, u.String(), db.Options{MaxConns: 2})
	if err != nil {
		fmt.Fprintln(stderr, "valise bench:", err)
		return 1
	}
	_, err = migrateUp(ctx, sp)
	sp.Close()
	if err != nil {
		fmt.Fprintln(stderr, "valise bench: migrate scratch database:", err)
		return 1
	}
	var measure func(string) func()
	if cpuProfile != "" {
		// One profile per figure: <file>.<figure> (raw, tlog, phones, handoffs-N).
		measure = func(figure string) func() {
			f, err := os.Create(cpuProfile + "." + figure)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				fmt.Fprintln(stderr, "valise bench: cpu profile:", err)
				return func() {}
			}
			return func() { pprof.StopCPUProfile(); _ = f.Close() }
		}
	}
	fmt.Fprintf(stdout, "valise bench on %s (scratch database %s), %v per figure\n", u.Host, name, dur)
	rates, err := bench.Bench(ctx, u.String(), bench.BenchOptions{Duration: dur, Clients: clients,
		PoolSize: int32(c.DBMaxConns), Measure: measure, Logf: func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(stderr, "valise bench:", err)
		return 1
	}
	byName := map[string]bench.Rate{}
	for _, r := range rates {
		byName[r.Name] = r
	}
	raw := byName["raw single-row inserts (64 conns)"].PerSec()
	fmt.Fprintln(stdout, "ratios:")
	fmt.Fprintf(stdout, "  tlog appends / raw inserts             %.3f\n", byName["tlog appends (64 conns)"].PerSec()/raw)
	for _, n := range clients {
		h := byName[bench.HandOffName(n)]
		target := ""
		switch n {
		case 1:
			target = "; target p99 < 10ms"
		case 64:
			target = "; target >= 0.3, p99 < 50ms"
		}
		fmt.Fprintf(stdout, "  hand-off requests@%-3d / raw inserts    %.3f  (%.0f requests/s, p50 %v, p99 %v%s)\n",
			n, h.PerSec()/raw, h.PerSec(), h.P50.Round(100*time.Microsecond), h.P99.Round(100*time.Microsecond), target)
	}
	for name, r := range byName {
		if strings.HasPrefix(name, "phone sync records") {
			fmt.Fprintf(stdout, "  phone sync records / raw inserts       %.3f  (%.0f records/s; target >= 5000, p99 batch %v)\n",
				r.PerSec()/raw, r.PerSec(), r.P99.Round(100*time.Microsecond))
		}
	}
	sv, ed := byName["seal verify (VS1, trust list)"], byName["raw ed25519.Verify"]
	fmt.Fprintf(stdout, "  seal verify / raw ed25519.Verify time  %.2f\n", ed.PerSec()/sv.PerSec())
	if storageEvents > 0 {
		if err := benchStorage(ctx, d.Pool, base, storageEvents, stdout); err != nil {
			fmt.Fprintln(stderr, "valise bench: storage:", err)
			return 1
		}
	}
	return 0
}
