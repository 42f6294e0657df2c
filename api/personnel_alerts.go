package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"valise"
	"valise/internal/db"
	"valise/personnel"
	"valise/policy"
)

// Shared personnel pieces (issue 14): the working-day calendar officers
// maintain and the personnel alerts every feature registers a source for
// (personnel/alerts.go), as a list scoped by the personnel policy and as
// Prometheus gauges (counts only: no name or record id leaves /metrics).
func (p *personnelAPI) sharedRoutes(r chi.Router) {
	r.Get("/personnel/alerts", handleNoBody(p.alerts))
	r.Get("/personnel/calendar", handleNoBody(p.calendar))
	r.Get("/personnel/calendar/{day}", handleNoBody(p.calendarDay))
	r.Put("/personnel/calendar/{day}", handle(http.StatusOK, p.setCalendarDay))
}

// alerts: ?on=YYYY-MM-DD (default today), ?kind= keeps one kind.
func (p *personnelAPI) alerts(r *http.Request, s policy.Subject) (map[string]any, error) {
	on, err := dateParam(r, "on")
	if err != nil {
		return nil, err
	}
	kind := r.URL.Query().Get("kind")
	if len(kind) > 64 {
		return nil, valise.Invalid("bad query parameter", valise.FieldError{Field: "kind", Reason: "at most 64 characters"})
	}
	as, err := p.svc.Alerts(r.Context(), s, p.check(s), on.Time)
	if err != nil {
		return nil, err
	}
	out := []personnel.Alert{}
	overdue := 0
	for _, a := range as {
		if kind == "" || a.Kind == kind {
			out = append(out, a)
			if a.Overdue(on.Time) {
				overdue++
			}
		}
	}
	return map[string]any{"on": on, "alerts": out, "overdue": overdue}, nil
}

// calendar: ?year= (default this year).
func (p *personnelAPI) calendar(r *http.Request, s policy.Subject) (map[string]any, error) {
	year := time.Now().UTC().Year()
	if v := r.URL.Query().Get("year"); v != "" {
		y, err := strconv.Atoi(v)
		if err != nil {
			return nil, valise.Invalid("bad query parameter", valise.FieldError{Field: "year", Reason: "a year, e.g. 2026"})
		}
		year = y
	}
	days, err := p.svc.CalendarDays(r.Context(), p.check(s), year)
	return map[string]any{"year": year, "days": days}, err
}

func (p *personnelAPI) calendarDay(r *http.Request, s policy.Subject) (personnel.CalendarDayHistory, error) {
	return p.svc.GetCalendarDay(r.Context(), p.check(s), chi.URLParam(r, "day"))
}

func (p *personnelAPI) setCalendarDay(r *http.Request, s policy.Subject, in personnel.CalendarDayInput) (personnel.CalendarDayHistory, error) {
	return p.svc.SetCalendarDay(r.Context(), p.check(s), s, chi.URLParam(r, "day"), in)
}

// personnelAlertCollector reports the personnel alerts as of today by kind
// and rule, and how many of each kind are overdue; read at most once per
// opsCacheFor, like the operational gauges.
type personnelAlertCollector struct {
	pool   *pgxpool.Pool
	scrape scrapeCache

	up, open, overdue *prometheus.Desc
}

func newPersonnelAlertCollector(pool *pgxpool.Pool) *personnelAlertCollector {
	return &personnelAlertCollector{pool: pool,
		up:      prometheus.NewDesc("valise_personnel_alerts_up", "1 when the personnel alerts could be computed.", nil, nil),
		open:    prometheus.NewDesc("valise_personnel_alerts", "Personnel alerts as of today (GET /personnel/alerts for an officer of every unit), by kind and rule.", []string{"kind", "rule"}, nil),
		overdue: prometheus.NewDesc("valise_personnel_alerts_overdue", "Personnel alerts whose deadline has passed, by kind.", []string{"kind"}, nil),
	}
}

func (c *personnelAlertCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.open
	ch <- c.overdue
}

func (c *personnelAlertCollector) Collect(ch chan<- prometheus.Metric) {
	c.scrape.collect(ch, c.up, c.read)
}

func (c *personnelAlertCollector) read(ctx context.Context) ([]prometheus.Metric, error) {
	now := time.Now()
	var as []personnel.Alert
	err := db.InTxOpts(ctx, c.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		as, err = personnel.AllAlerts(ctx, tx, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	type kr struct{ kind, rule string }
	open, overdue := map[kr]int{}, map[string]int{}
	for _, a := range as {
		open[kr{a.Kind, a.Rule}]++
		overdue[a.Kind] += 0
		if a.Overdue(now) {
			overdue[a.Kind]++
		}
	}
	ms := []prometheus.Metric{prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)}
	for k, n := range open {
		ms = append(ms, prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(n), k.kind, k.rule))
	}
	for kind, n := range overdue {
		ms = append(ms, prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(n), kind))
	}
	return ms, nil
}
