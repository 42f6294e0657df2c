package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"valise"
	"valise/policy"
)

// accessLog writes one structured line per request and feeds the metrics.
// It logs the path, never the query string or headers, which may carry
// credentials.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		r = r.WithContext(context.WithValue(r.Context(), loggerKey{}, s.log))
		next.ServeHTTP(ww, r)
		elapsed := time.Since(start)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(r.Method, route, strconv.Itoa(status)).Inc()
		s.metrics.latency.WithLabelValues(r.Method, route).Observe(elapsed.Seconds())
		s.log.LogAttrs(r.Context(), levelFor(status), "http request",
			slog.String("request_id", middleware.GetReqID(r.Context())),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
			slog.Int("status", status), slog.Int("bytes", ww.BytesWritten()),
			slog.Duration("duration", elapsed), slog.String("remote", r.RemoteAddr))
	})
}

// APICSP is the Content-Security-Policy of every response that does not
// set its own (the API answers JSON, YAML and images: nothing may run,
// load or frame them). HTML pages set a policy of their own.
const APICSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders sets the headers every response carries: no MIME
// sniffing, no referrer, no framing, a CSP (handlers may replace it), and
// HSTS on TLS connections (or when the server sits behind a TLS proxy).
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", APICSP)
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.TLS != nil || s.cfg.HSTS {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// metricsAuth lets a scrape through only with the bearer token, when one
// is configured (compared in constant time); otherwise 401 like any API.
func (s *Server) metricsAuth(next http.Handler) http.Handler {
	if s.cfg.MetricsToken == "" {
		return next
	}
	want := []byte("Bearer " + s.cfg.MetricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			s.log.WarnContext(r.Context(), "metrics scrape refused: missing or wrong bearer token", "remote", r.RemoteAddr)
			Error(w, r, valise.Errorf(valise.EUNAUTHORIZED, "the metrics need the bearer token (VALISE_METRICS_TOKEN)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a logged 500 problem body.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "request_id", middleware.GetReqID(r.Context()),
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				Error(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limits bounds each request's time and body size.
func (s *Server) limits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		if r.ContentLength > s.cfg.MaxBodyBytes {
			Error(w, r, valise.Errorf(valise.ETOOLARGE, "the request body is larger than %d bytes", s.cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "valise_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "valise_http_request_duration_seconds", Help: "HTTP request latency by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// poolCollector reports the pgx pool's figures at scrape time.
type poolCollector struct {
	pool                                        *pgxpool.Pool
	total, idle, acquired, maxConns, acquireCnt *prometheus.Desc
	waitDur                                     *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("valise_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{pool: pool,
		total:      d("connections", "Open connections."),
		idle:       d("idle_connections", "Idle connections."),
		acquired:   d("acquired_connections", "Connections in use."),
		maxConns:   d("max_connections", "Pool size limit."),
		acquireCnt: d("acquires_total", "Connections acquired from the pool."),
		waitDur:    d("acquire_wait_seconds_total", "Time spent waiting for a connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.maxConns, c.acquireCnt, c.waitDur} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(st.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(st.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(st.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.maxConns, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquireCnt, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitDur, prometheus.CounterValue, st.AcquireDuration().Seconds())
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// decisionLogCollector reports the decision-log writer's counts: a row
// dropped (only in the server log) is something to alert on.
type decisionLogCollector struct {
	authz                     *policy.Authorizer
	written, dropped, pending *prometheus.Desc
}

func newDecisionLogCollector(a *policy.Authorizer) *decisionLogCollector {
	return &decisionLogCollector{authz: a,
		written: prometheus.NewDesc("valise_decision_log_written_total", "Denies written to the decision log table.", nil, nil),
		dropped: prometheus.NewDesc("valise_decision_log_dropped_total", "Denies the decision log table does not hold (queue full or database refused them); each is logged at error level.", nil, nil),
		pending: prometheus.NewDesc("valise_decision_log_pending", "Denies queued for the decision log table.", nil, nil),
	}
}

func (c *decisionLogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.written
	ch <- c.dropped
	ch <- c.pending
}

func (c *decisionLogCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.authz.DecisionLogStats()
	ch <- prometheus.MustNewConstMetric(c.written, prometheus.CounterValue, float64(st.Written))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
}
