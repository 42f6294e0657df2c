package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// getJSON requests base+path (with a bearer token when given) and decodes
// the JSON answer into v.
func getJSON(t *testing.T, method, url, token, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s = %d %s", method, url, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, b)
	}
}

// TestDemoPinsTheSealRootForOfflineVerification is `make run` followed by
// the README's offline check: serve with demo data writes the root key
// where `valise seal verify` looks by default, so a seal verifies offline
// with only the saved trust list.
func TestDemoPinsTheSealRootForOfflineVerification(t *testing.T) {
	dir := clusterDir(t)
	base, _, stop := startServe(t, "--data-dir="+dir)
	defer stop()
	waitStatus(t, base+"/readyz", 200)
	if _, err := os.Stat(filepath.Join(dir, RootKeyFile)); err != nil {
		t.Fatalf("demo mode pinned no root key: %v", err)
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	getJSON(t, "POST", base+"/api/v1/auth/login", "", `{"username":"clerk.mfa","password":"valise-demo"}`, &login)
	var bags struct {
		Bags []struct {
			ID string `json:"id"`
		} `json:"bags"`
	}
	getJSON(t, "GET", base+"/api/v1/bags?state=stored", login.AccessToken, "", &bags)
	if len(bags.Bags) == 0 {
		t.Fatal("the demo has no stored bag")
	}
	var seals struct {
		Seals []struct {
			Text string `json:"text"`
		} `json:"seals"`
	}
	getJSON(t, "GET", base+"/api/v1/bags/"+bags.Bags[0].ID+"/seals", login.AccessToken, "", &seals)
	res, err := http.Get(base + "/api/v1/trust-list")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(res.Body)
	res.Body.Close()
	trustFile := filepath.Join(t.TempDir(), "trust.json")
	if err := os.WriteFile(trustFile, doc, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Setenv("VALISE_DATA_DIR", dir)
	code, out, errs := runCmd(t, "seal", "verify", seals.Seals[0].Text, "--trust", trustFile)
	if code != 0 || !strings.Contains(out, "VALID") {
		t.Fatalf("offline verify with the default pin = %d\n%s\n%s", code, out, errs)
	}
	// The pin is the demo's root: another data directory's (none) is refused.
	t.Setenv("VALISE_DATA_DIR", t.TempDir())
	if code, _, errs := runCmd(t, "seal", "verify", seals.Seals[0].Text, "--trust", trustFile); code != 2 || !strings.Contains(errs, RootKeyFile) {
		t.Fatalf("without a pin = %d %s", code, errs)
	}
}
