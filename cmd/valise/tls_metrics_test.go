package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key (PEM) and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "valise test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// securityHeaders are the headers every response carries.
var securityHeaders = map[string]string{
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
}

func checkSecurityHeaders(t *testing.T, res *http.Response, hsts bool) {
	t.Helper()
	for h, want := range securityHeaders {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s %s: %s = %q, want %q", res.Request.Method, res.Request.URL, h, got, want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: CSP %q", res.Request.URL, csp)
	}
	if got := res.Header.Get("Strict-Transport-Security"); (got != "") != hsts || hsts && !strings.Contains(got, "max-age=") {
		t.Errorf("%s: Strict-Transport-Security = %q, want it %v", res.Request.URL, got, hsts)
	}
}

// TestServeTLS: with VALISE_TLS_CERT/KEY the server speaks HTTPS with HSTS
// and the security headers on every answer (errors included); a plain-HTTP
// request to it gets no API answer.
func TestServeTLS(t *testing.T) {
	dir := clusterDir(t)
	certFile, keyFile, pool := selfSigned(t)
	t.Setenv("VALISE_TLS_CERT", certFile)
	t.Setenv("VALISE_TLS_KEY", keyFile)
	base, _, stop := startServe(t, "--data-dir="+dir, "--demo=false")
	defer stop()
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serve with a certificate listens on %s", base)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := client.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("https readyz never 200: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range []string{"/healthz", "/api/v1/openapi.yaml", "/log/checkpoint", "/api/v1/me", "/no/such/thing", "/metrics"} {
		res, err := client.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		checkSecurityHeaders(t, res, true)
	}
	if res, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/healthz"); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatalf("plain HTTP to the TLS port answered 200: %s", b)
		}
	}
}

// TestServeRefusesPlainHTTPOffLoopback: no certificate and an address other
// machines reach is refused (exit 2, saying what to set) and nothing starts;
// VALISE_ALLOW_PLAIN_HTTP=true (TLS at a proxy) allows it. On loopback,
// plain HTTP carries the security headers but no HSTS.
func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	dir := clusterDir(t)
	code, _, errs := runCmd(t, "serve", "--addr=0.0.0.0:0", "--data-dir="+dir)
	if code != 2 || !strings.Contains(errs, "VALISE_TLS_CERT") || !strings.Contains(errs, "VALISE_ALLOW_PLAIN_HTTP=true") {
		t.Fatalf("plain HTTP on 0.0.0.0 = %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
		t.Fatal("a refused serve still created a cluster")
	}
	t.Setenv("VALISE_TLS_CERT", "cert.pem")
	if code, _, errs := runCmd(t, "serve", "--data-dir="+dir); code != 2 || !strings.Contains(errs, "VALISE_TLS_KEY") {
		t.Fatalf("a certificate without its key = %d %q", code, errs)
	}
	t.Setenv("VALISE_TLS_CERT", "")
	base, _, stop := startServe(t, "--data-dir="+dir, "--demo=false", "--addr=0.0.0.0:0", "--allow-plain-http")
	port := base[strings.LastIndex(base, ":")+1:]
	local := "http://127.0.0.1:" + port
	waitStatus(t, local+"/readyz", 200)
	res, err := http.Get(local + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	checkSecurityHeaders(t, res, true) // behind its TLS proxy: HSTS for the proxy to pass on
	stop()

	base, _, stop = startServe(t, "--data-dir="+dir, "--demo=false")
	defer stop()
	waitStatus(t, base+"/readyz", 200)
	res, err = http.Get(base + "/nothing/here")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	checkSecurityHeaders(t, res, false)
}

var metricsAddrRe = regexp.MustCompile(`metrics on (http://\S+/metrics)`)

func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// metricValue returns the value of the first sample of name{labels} in text.
func metricValue(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// TestMetricsSeriesAndRestriction: /metrics carries the Go runtime and
// process series and the operational gauges over the demo data; with
// VALISE_METRICS_TOKEN it needs the token; with VALISE_METRICS_ADDR it is
// served there and not on the API's address.
func TestMetricsSeriesAndRestriction(t *testing.T) {
	dir := clusterDir(t)
	t.Setenv("VALISE_METRICS_TOKEN", "scrape-secret-0123456789")
	base, out, stop := startServeOut(t, "--data-dir="+dir, "--metrics-addr=127.0.0.1:0")
	defer stop()
	waitStatus(t, base+"/readyz", 200)
	m := metricsAddrRe.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("serve did not say where the metrics are: %s", out.String())
	}
	metrics := m[1]
	if code, _ := scrape(t, base+"/metrics", "scrape-secret-0123456789"); code != 404 {
		t.Errorf("/metrics on the API address = %d, want 404 with a metrics address of its own", code)
	}
	if code, body := scrape(t, metrics, ""); code != 401 || !strings.Contains(body, "unauthorized") {
		t.Errorf("scrape without the token = %d %s", code, body)
	}
	if code, _ := scrape(t, metrics, "wrong"); code != 401 {
		t.Errorf("scrape with a wrong token = %d", code)
	}
	want := []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"valise_ops_query_up", "valise_tlog_unintegrated_leaves", "valise_tlog_oldest_unintegrated_seconds", "valise_tlog_tree_size",
		"valise_tlog_checkpoint_age_seconds", "valise_seal_checks_failed_total", `valise_incidents_open{class="breach"}`,
		`valise_incidents_open{class="incident"}`, "valise_bags_overdue", "valise_bags_silent", "valise_login_lockouts_active",
		"valise_trust_list_age_seconds", "valise_trust_list_stale_in_seconds", "valise_http_requests_total"}
	var body string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var code int
		code, body = scrape(t, metrics, "scrape-secret-0123456789")
		if code != 200 {
			t.Fatalf("scrape with the token = %d %s", code, body)
		}
		var missing []string
		for _, s := range want {
			if !strings.Contains(body, "\n"+s) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) { // the checkpoint's age appears once the integrator has signed one
			t.Fatalf("/metrics lacks %v:\n%s", missing, body)
		}
		time.Sleep(time.Second)
	}
	if v, _ := metricValue(body, "valise_ops_query_up"); v != 1 {
		t.Errorf("valise_ops_query_up = %v", v)
	}
	// The demo holds a bag in transit past its due time and an open incident for its missing bag.
	if v, _ := metricValue(body, "valise_bags_overdue"); v < 1 {
		t.Errorf("valise_bags_overdue = %v, want the demo's overdue bag", v)
	}
	b, _ := metricValue(body, `valise_incidents_open{class="breach"}`)
	i, _ := metricValue(body, `valise_incidents_open{class="incident"}`)
	if b+i < 1 {
		t.Errorf("no open incident counted (breach %v, incident %v)", b, i)
	}
	if v, _ := metricValue(body, "valise_trust_list_stale_in_seconds"); v <= 0 {
		t.Errorf("a fresh demo's trust list is stale in %v s", v)
	}
	// Every series the example alerts use is one the server exports.
	rules, err := os.ReadFile("../../deploy/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`\b(?:valise|go|process)_[a-z_]+`).FindAllString(string(rules), -1) {
		if !strings.Contains(body, "\n"+name) && !strings.Contains(body, "# TYPE "+name+" ") {
			t.Errorf("deploy/prometheus-alerts.yml uses %s, which /metrics does not export", name)
		}
	}
	// No registry number or unit code leaves through the metrics.
	for _, leak := range []string{"DE-BER", "JP-TYO", "MFA-"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics names %q", leak)
		}
	}
}
