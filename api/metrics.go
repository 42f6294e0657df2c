package api

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"valise/custody"
	"valise/policy"
)

// opsCacheFor is how long the operational gauges are reused between
// scrapes: several Prometheus servers (or a fast scrape interval) cost the
// database one round of queries per period, not one per scrape.
const opsCacheFor = 15 * time.Second

// opsCollector reports what operators watch, read from the database at
// scrape time (at most once per opsCacheFor): custody log integration lag
// and checkpoint age, failed seal checks, open incidents by class, overdue
// bags, active login lockouts and the trust list's age. Counts only: no
// registry number, unit or user leaves through /metrics.
type opsCollector struct {
	pool    *pgxpool.Pool
	custody *custody.Service

	scrape scrapeCache

	up, lag, lagAge, size, cpAge, sealFail, incidents, overdue, silent, lockouts, trustAge, trustStale *prometheus.Desc
}

func newOpsCollector(pool *pgxpool.Pool) *opsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("valise_"+name, help, labels, nil)
	}
	return &opsCollector{pool: pool, custody: custody.New(pool),
		up:         d("ops_query_up", "1 when the operational gauges below could be read from the database."),
		lag:        d("tlog_unintegrated_leaves", "Custody log leaves appended but not yet in a signed checkpoint (integrator lag)."),
		lagAge:     d("tlog_oldest_unintegrated_seconds", "Age of the oldest leaf not yet in a checkpoint (0 when none)."),
		size:       d("tlog_tree_size", "Leaves in the newest signed checkpoint."),
		cpAge:      d("tlog_checkpoint_age_seconds", "Age of the newest signed checkpoint (absent before the first)."),
		sealFail:   d("seal_checks_failed_total", "Custody events (hand-offs, checkpoint scans) whose seal check failed."),
		incidents:  d("incidents_open", "Open incidents by class (breach, incident).", "class"),
		overdue:    d("bags_overdue", "Bags past their due time and not yet accepted (as GET /bags?overdue=true)."),
		silent:     d("bags_silent", "Bags in transit silent longer than their custody window (GET /security/overdue; counted up to 1000)."),
		lockouts:   d("login_lockouts_active", "Accounts whose login is locked right now."),
		trustAge:   d("trust_list_age_seconds", "Age of the newest signed seal trust list (absent before the first)."),
		trustStale: d("trust_list_stale_in_seconds", "Seconds until the newest trust list is stale (negative: stale)."),
	}
}

func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.lag, c.lagAge, c.size, c.cpAge, c.sealFail, c.incidents, c.overdue,
		c.silent, c.lockouts, c.trustAge, c.trustStale} {
		ch <- d
	}
}

func (c *opsCollector) Collect(ch chan<- prometheus.Metric) { c.scrape.collect(ch, c.up, c.read) }

// scrapeCache keeps the metrics a collector read from the database for
// opsCacheFor; a failed read reports only up = 0.
type scrapeCache struct {
	mu    sync.Mutex
	at    time.Time
	cache []prometheus.Metric
}

func (sc *scrapeCache) collect(ch chan<- prometheus.Metric, up *prometheus.Desc, read func(context.Context) ([]prometheus.Metric, error)) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.cache == nil || time.Since(sc.at) > opsCacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ms, err := read(ctx)
		cancel()
		if err != nil {
			ms = []prometheus.Metric{prometheus.MustNewConstMetric(up, prometheus.GaugeValue, 0)}
		}
		sc.cache, sc.at = ms, time.Now()
	}
	for _, m := range sc.cache {
		ch <- m
	}
}

func (c *opsCollector) read(ctx context.Context) ([]prometheus.Metric, error) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
		return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var lag, size, sealFail, lockouts, breach, incident, overdue int64
	var lagAge float64
	var cpAge, trustAge, trustStale *float64
	// The integrator finds new leaves from the newest checkpoint's xid floor
	// (custody/tlog); the same bound keeps this count on the xid index.
	err := c.pool.QueryRow(ctx, `
		WITH cp AS (SELECT size, created_at, xid_floor FROM tlog_checkpoints ORDER BY size DESC LIMIT 1),
		     pending AS (SELECT e.created_at FROM tlog_entries e
		                 WHERE e.xid >= coalesce((SELECT xid_floor FROM cp), '0'::xid8)
		                   AND NOT EXISTS (SELECT 1 FROM tlog_index i WHERE i.entry_id = e.id)),
		     tl AS (SELECT issued_at, stale_after FROM trust_lists ORDER BY sequence DESC LIMIT 1)
		SELECT (SELECT count(*) FROM pending),
		       coalesce((SELECT extract(epoch FROM now() - min(created_at)) FROM pending), 0)::float8,
		       coalesce((SELECT size FROM cp), 0),
		       (SELECT extract(epoch FROM now() - created_at)::float8 FROM cp),
		       (SELECT count(*) FROM bag_events WHERE custody->'seals'->>'ok' = 'false'),
		       (SELECT count(*) FROM login_throttle WHERE locked_until > now()),
		       (SELECT count(*) FROM incidents WHERE outcome IS NULL AND class = 'breach'),
		       (SELECT count(*) FROM incidents WHERE outcome IS NULL AND class = 'incident'),
		       (SELECT count(*) FROM bags WHERE due_at < now() AND state IN ('dispatched', 'in_transit', 'delivered', 'missing')),
		       (SELECT extract(epoch FROM now() - issued_at)::float8 FROM tl),
		       (SELECT extract(epoch FROM stale_after - now())::float8 FROM tl)`).
		Scan(&lag, &lagAge, &size, &cpAge, &sealFail, &lockouts, &breach, &incident, &overdue, &trustAge, &trustStale)
	if err != nil {
		return nil, err
	}
	silent, err := c.custody.ListOverdue(ctx, policy.Scope{All: true, MaxLevel: policy.SpecialImportance}, 1000)
	if err != nil {
		return nil, err
	}
	ms := []prometheus.Metric{
		gauge(c.up, 1), gauge(c.lag, float64(lag)), gauge(c.lagAge, lagAge), gauge(c.size, float64(size)),
		prometheus.MustNewConstMetric(c.sealFail, prometheus.CounterValue, float64(sealFail)),
		gauge(c.incidents, float64(breach), "breach"), gauge(c.incidents, float64(incident), "incident"),
		gauge(c.overdue, float64(overdue)), gauge(c.silent, float64(len(silent))), gauge(c.lockouts, float64(lockouts)),
	}
	for _, opt := range []struct {
		d *prometheus.Desc
		v *float64
	}{{c.cpAge, cpAge}, {c.trustAge, trustAge}, {c.trustStale, trustStale}} {
		if opt.v != nil {
			ms = append(ms, gauge(opt.d, *opt.v))
		}
	}
	return ms, nil
}
