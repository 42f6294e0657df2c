package scanner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/skip2/go-qrcode"

	"valise/api/apitest"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/internal/bench"
	"valise/internal/browser"
	"valise/policy"
)

// server is the whole API (the app mounted at /app/) over a test database
// with a courier pair (the courier "second" holds a bag in transit; both
// are on sheets for it), a security officer, and the custody log
// integrating in the background so receipts come.
type server struct {
	*apitest.Env
	pair *bench.Pair
	sec  string
}

func newServer(t *testing.T) *server {
	t.Helper()
	ctx := context.Background()
	e := apitest.New(t)
	e.CustodyLog(t)
	pairs, err := bench.Setup(ctx, e.Pool, e.Server.Identity(), e.MasterKey, "app", 1)
	if err != nil {
		t.Fatal(err)
	}
	return &server{Env: e, pair: pairs[0],
		sec: e.User(t, "sec", []string{policy.RoleSecurityOfficer}, "MFA", policy.SpecialImportance, "")}
}

// code has the security officer create an enrolment code for username.
func (s *server) code(t *testing.T, username string) string {
	t.Helper()
	res := s.Do(t, "POST", "/api/v1/devices/enrolments", s.sec, map[string]any{"username": username, "valid_minutes": 10})
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("create an enrolment code: %d %s", res.StatusCode, raw)
	}
	return out["qr_text"].(string)
}

// revoke revokes a seal's serial and publishes a trust list carrying it
// (as a supervised opening's re-seal does).
func (s *server) revoke(t *testing.T, text string) {
	t.Helper()
	ctx := context.Background()
	sl, err := seal.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `INSERT INTO seal_revocations (serial, reason, revoked_by, revoked_at) VALUES ($1, 'test', 'sec', now())`,
		sl.Claims.Serial[:]); err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(s.MasterKey, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Publish(ctx, s.Pool); err != nil {
		t.Fatal(err)
	}
}

func offline(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		t := true
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &t,
			MatchedNetworkConditions:    []*network.Conditions{{Offline: on, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: on, DownloadThroughput: -1, UploadThroughput: -1})
		return err
	})
}

// qrPNG draws text as a QR code with whole-pixel modules (scaling to an
// arbitrary size makes uneven modules that decoders misread).
func qrPNG(t *testing.T, text string, module int) []byte {
	t.Helper()
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bm := q.Bitmap()
	img := image.NewGray(image.Rect(0, 0, len(bm)*module, len(bm)*module))
	for y, row := range bm {
		for x, dark := range row {
			c := color.Gray{Y: 255}
			if dark {
				c.Y = 0
			}
			for dy := range module {
				for dx := range module {
					img.SetGray(x*module+dx, y*module+dy, c)
				}
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitJS waits until a JavaScript expression is true.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(45*time.Second))(ctx, target)
		if err != nil {
			dump, _ := chromedp.Evaluate[string](`import("/app/store.js").then(async (s) => JSON.stringify((await s.records()).map((r) => [r.counter, r.kind, r.status, r.reason]))).catch(String)`,
				chromedp.EvalAwaitPromise)(ctx, target)
			view, _ := chromedp.Evaluate[string](`document.body.dataset.view + " " + navigator.onLine`)(ctx, target)
			return fmt.Errorf("waiting for %s: %w (records %s, view %s)", expr, err, dump, view)
		}
		return nil
	})
}

// TestCourierFlow: a courier enrols the phone with the officer's code,
// scans a real seal through Chromium's fake camera (a video made from the
// seal's QR), goes offline, records the release to the next courier (and a
// checkpoint that the test then tampers with), comes back online and
// syncs: the release is accepted with a receipt that verifies offline, the
// tampered record is refused by the server and shown so. A revoked seal is
// shown INVALID.
func TestCourierFlow(t *testing.T) {
	s := newServer(t)
	p := s.pair
	sealPNG, err := seal.PNG(p.Seals[0], 440)
	if err != nil {
		t.Fatal(err)
	}
	enrolPNG := qrPNG(t, s.code(t, p.Second), 8)
	// The fake camera sees the officer's enrolment QR, then the seal, in a loop.
	ctx := chrome(t, browser.FakeCamera(t, 640, 480, enrolPNG, sealPNG))
	app := s.URL + "/app/"

	// Enrolment: the officer's QR read through the camera.
	run(t, ctx, "open the app", chromedp.Navigate(app), chromedp.WaitReady(chromedp.CSS(`body[data-ready][data-view=enrol]`)))
	shot(t, ctx, "enrol")
	run(t, ctx, "enrol by scanning the officer's QR", chromedp.Click(chromedp.CSS(`#enrol-scan`)),
		chromedp.WaitVisible(chromedp.CSS(`#bundle-info[data-state=ok]`)))
	var devices int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM devices d JOIN users u ON u.id = d.user_id
		WHERE u.username = $1 AND d.status = 'active'`, p.Second).Scan(&devices); err != nil || devices != 1 {
		t.Fatalf("enrolled devices of %s: %d (%v)", p.Second, devices, err)
	}
	if ext := eval[bool](t, ctx, `import("/app/store.js").then(async (s) => (await s.get("keys")).privateKey.extractable)`); ext {
		t.Error("the device's private key is extractable")
	}
	shot(t, ctx, "home")

	// A seal through the camera: VALID, registry number, package 1 of 2,
	// a bag the courier carries.
	run(t, ctx, "scan the seal with the camera", chromedp.Click(chromedp.CSS(`#go-scan`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict[data-ok=true][data-carried=true]`)))
	verdict := eval[string](t, ctx, `document.getElementById("verdict").innerText`)
	for _, want := range []string{"VALID", p.Registry, "1 of 2", "On your sheets", "You hold this bag"} {
		if !strings.Contains(verdict, want) {
			t.Errorf("verdict %q lacks %q", verdict, want)
		}
	}
	t.Logf("decoder: %s", eval[string](t, ctx, `document.body.dataset.decoder`))
	shot(t, ctx, "valid")

	// Offline: the app itself opens from the service worker's cache, and
	// the seal checks again with no network.
	run(t, ctx, "the service worker controls the app", waitJS(`navigator.serviceWorker.controller !== null`))
	// Chromium's own verdict: the manifest, icons, service worker and
	// secure origin make an installable app.
	if inst, err := chromedp.Call(ctx, page.GetInstallabilityErrors, cdp.Empty{}); err != nil {
		t.Errorf("installability: %v", err)
	} else {
		for _, e := range inst.InstallabilityErrors {
			t.Errorf("Chromium says the app is not installable: %s %v", e.ErrorID, e.ErrorArguments)
		}
	}
	run(t, ctx, "go offline and reopen the app", offline(true), waitJS(`!navigator.onLine`),
		chromedp.Navigate(app), chromedp.WaitReady(chromedp.CSS(`body[data-ready][data-view=home]`)))
	if state := eval[string](t, ctx, `document.getElementById("net").dataset.state`); state != "offline" {
		t.Errorf("the network badge says %q offline", state)
	}
	run(t, ctx, "scan the seal offline", chromedp.Click(chromedp.CSS(`#go-scan`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict[data-ok=true][data-carried=true]`)))

	// Offline: a checkpoint and the release to the next courier.
	run(t, ctx, "record a checkpoint offline", chromedp.SetValue(chromedp.CSS(`#place`), "Frankfurt, gate B22"),
		chromedp.Click(chromedp.CSS(`#do-checkpoint`)))
	run(t, ctx, "release offline", chromedp.SendKeys(chromedp.CSS(`#release-to`), p.Courier),
		chromedp.Click(chromedp.CSS(`#do-release`)), chromedp.WaitVisible(chromedp.CSS(`#release-qr-svg`)))
	shot(t, ctx, "release")
	releaseQR := eval[string](t, ctx, `import("/app/device.js").then(async (d) => d.recordQR((await d.records()).find((r) => r.kind === "release").signed))`)
	run(t, ctx, "the queue shows two unsent records", chromedp.Click(chromedp.CSS(`#view-scan button.back`)),
		chromedp.Click(chromedp.CSS(`#go-queue`)),
		waitJS(`document.querySelectorAll("#records li[data-status=unsent]").length === 2`))
	shot(t, ctx, "queue-offline")

	// Tamper with the checkpoint's signed payload in storage (the packages
	// counted), keeping its signature.
	tampered := eval[bool](t, ctx, `import("/app/store.js").then(async (s) => {
		const r = (await s.records()).find((r) => r.kind === "scan");
		const p = JSON.parse(atob(r.signed.payload));
		p.packages_counted = 1;
		r.signed.payload = btoa(JSON.stringify(p));
		await s.putRecord(r);
		return true;
	})`)
	if !tampered {
		t.Fatal("could not tamper with the record")
	}

	// Online again: the app syncs by itself.
	run(t, ctx, "back online, synced", offline(false),
		waitJS(`document.querySelector("#records li[data-kind=release][data-status=accepted]") !== null`),
		waitJS(`document.querySelector("#records li[data-kind=scan][data-status=refused][data-reason=bad_signature]") !== null`))
	var state, custodian string
	if err := s.Pool.QueryRow(context.Background(), `SELECT h.status, h.to_username FROM handoffs h WHERE h.bag_id = $1
		ORDER BY h.released_at DESC LIMIT 1`, p.BagID).Scan(&state, &custodian); err != nil || state != "released" || custodian != p.Courier {
		t.Errorf("the bag's newest hand-off: %s to %s (%v), want released to %s", state, custodian, err, p.Courier)
	}
	// The receipt comes with the sync (or the next one) and verifies offline.
	run(t, ctx, "the receipt verifies offline", chromedp.Click(chromedp.CSS(`#sync-now`)),
		chromedp.WaitVisible(chromedp.CSS(`#records li[data-kind=release] button.verify-receipt`)),
		offline(true), chromedp.Click(chromedp.CSS(`#records li[data-kind=release] button.verify-receipt`)),
		chromedp.WaitVisible(chromedp.CSS(`#records li[data-kind=release] .receipt[data-ok=true]`)), offline(false))
	shot(t, ctx, "queue-synced")
	refusal := eval[string](t, ctx, `document.querySelector("#records li[data-kind=scan]").innerText`)
	if !strings.Contains(strings.ToLower(refusal), "refused") || !strings.Contains(refusal, "bad_signature") {
		t.Errorf("the tampered record shows %q", refusal)
	}

	// A revoked seal: INVALID once the new trust list is downloaded.
	s.revoke(t, p.Seals[1])
	run(t, ctx, "download the new bundle", chromedp.Click(chromedp.CSS(`#view-queue button.back`)),
		chromedp.Click(chromedp.CSS(`#bundle-refresh`)), chromedp.Sleep(500*time.Millisecond),
		chromedp.Click(chromedp.CSS(`#go-scan`)), chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
		chromedp.SetValue(chromedp.CSS(`#seal-text`), p.Seals[1]), chromedp.Click(chromedp.CSS(`#seal-check`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict[data-ok=false][data-code=seal_revoked]`)))
	verdict = eval[string](t, ctx, `document.getElementById("verdict").innerText`)
	for _, want := range []string{"INVALID", "revoked", p.Registry, "2 of 2"} {
		if !strings.Contains(verdict, want) {
			t.Errorf("revoked verdict %q lacks %q", verdict, want)
		}
	}
	shot(t, ctx, "revoked")

	// The receiving courier's phone reads the release QR off the first
	// phone's screen and confirms; the confirmation carries both signatures.
	ctx2 := chrome(t, browser.FakeCamera(t, 1280, 720, qrPNG(t, releaseQR, 6)))
	run(t, ctx2, "enrol the receiving phone", chromedp.Navigate(app), chromedp.WaitReady(chromedp.CSS(`body[data-ready][data-view=enrol]`)),
		chromedp.SendKeys(chromedp.CSS(`#enrol-code`), s.code(t, p.Courier)), chromedp.Click(chromedp.CSS(`#enrol-go`)),
		chromedp.WaitVisible(chromedp.CSS(`#bundle-info[data-state=ok]`)))
	run(t, ctx2, "read the release QR", chromedp.Click(chromedp.CSS(`#go-confirm`)), chromedp.WaitVisible(chromedp.CSS(`#confirm-what`)))
	if what := eval[string](t, ctx2, `document.getElementById("confirm-what").innerText`); !strings.Contains(what, p.Registry) || !strings.Contains(what, p.Courier) {
		t.Errorf("the confirmation screen shows %q", what)
	}
	shot(t, ctx2, "confirm")
	run(t, ctx2, "confirm and sync", chromedp.Click(chromedp.CSS(`#do-confirm`)),
		waitJS(`document.querySelector("#records li[data-kind=confirm][data-status=accepted]") !== null`))
	// Kazakh, high contrast.
	run(t, ctx2, "Kazakh and high contrast", chromedp.Click(chromedp.CSS(`#view-queue button.back`)),
		chromedp.Click(chromedp.CSS(`#go-settings`)), chromedp.SetValue(chromedp.CSS(`#lang`), "kk"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("lang").dispatchEvent(new Event("change"))`),
		chromedp.Click(chromedp.CSS(`#contrast`)), waitJS(`document.documentElement.classList.contains("contrast") && document.documentElement.lang === "kk"`),
		chromedp.Click(chromedp.CSS(`#view-settings button.back`)), chromedp.WaitVisible(chromedp.CSS(`#bundle-info`)))
	if h := eval[string](t, ctx2, `document.querySelector("#go-scan").innerText`); h != "Мөрді сканерлеу" {
		t.Errorf("the scan button in Kazakh reads %q", h)
	}
	shot(t, ctx2, "home-kk-contrast")
	holder := func() string {
		var h string
		if err := s.Pool.QueryRow(context.Background(), `SELECT coalesce(custodian_username, '') FROM bag_custody WHERE bag_id = $1`, p.BagID).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := holder(); h != p.Courier {
		t.Errorf("the bag's custodian after the confirmation: %q, want %s", h, p.Courier)
	}

	// Back the other way, online: the second phone releases to the first,
	// whose bundle then shows the open release; the first phone confirms it
	// by scanning a seal of the bag.
	run(t, ctx2, "release back online", chromedp.Click(chromedp.CSS(`#go-scan`)),
		chromedp.SetValue(chromedp.CSS(`#seal-text`), p.Seals[0]), chromedp.Click(chromedp.CSS(`#seal-check`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict[data-ok=true]`)), chromedp.WaitVisible(chromedp.CSS(`#do-release`)),
		chromedp.SendKeys(chromedp.CSS(`#release-to`), p.Second), chromedp.Click(chromedp.CSS(`#do-release`)),
		chromedp.Click(chromedp.CSS(`#view-scan button.back`)), chromedp.Click(chromedp.CSS(`#go-queue`)),
		waitJS(`document.querySelector("#records li[data-kind=release][data-status=accepted]") !== null`))
	run(t, ctx, "confirm by a seal", chromedp.Click(chromedp.CSS(`#view-scan button.back`)),
		chromedp.Click(chromedp.CSS(`#bundle-refresh`)), chromedp.Sleep(500*time.Millisecond),
		chromedp.Click(chromedp.CSS(`#go-confirm`)), chromedp.WaitVisible(chromedp.CSS(`#confirm-what`)),
		chromedp.Click(chromedp.CSS(`#do-confirm`)),
		waitJS(`document.querySelector("#records li[data-kind=confirm][data-status=accepted]") !== null`))
	if h := holder(); h != p.Second {
		t.Errorf("the bag's custodian after the second confirmation: %q, want %s", h, p.Second)
	}

	// A release withdrawn before anyone confirms it.
	run(t, ctx, "release, then withdraw", chromedp.Click(chromedp.CSS(`#view-queue button.back`)), chromedp.Click(chromedp.CSS(`#go-scan`)),
		chromedp.SetValue(chromedp.CSS(`#seal-text`), p.Seals[0]), chromedp.Click(chromedp.CSS(`#seal-check`)),
		chromedp.WaitVisible(chromedp.CSS(`#do-release`)), chromedp.SetValue(chromedp.CSS(`#release-to`), p.Courier),
		chromedp.Click(chromedp.CSS(`#do-release`)),
		waitJS(`import("/app/device.js").then(async (d) => (await d.records()).filter((r) => r.kind === "release" && r.status === "accepted").length === 2)`),
		chromedp.Click(chromedp.CSS(`#view-scan button.back`)), chromedp.Click(chromedp.CSS(`#bundle-refresh`)), chromedp.Sleep(500*time.Millisecond),
		chromedp.Click(chromedp.CSS(`#go-scan`)), chromedp.SetValue(chromedp.CSS(`#seal-text`), p.Seals[0]), chromedp.Click(chromedp.CSS(`#seal-check`)),
		chromedp.WaitVisible(chromedp.CSS(`#do-cancel`)), chromedp.Click(chromedp.CSS(`#do-cancel`)),
		waitJS(`import("/app/device.js").then(async (d) => (await d.records()).some((r) => r.kind === "cancel" && r.status === "accepted"))`))
	var open int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM handoffs WHERE bag_id = $1 AND status = 'released'`, p.BagID).Scan(&open); err != nil || open != 0 {
		t.Errorf("open releases after the withdrawal: %d (%v)", open, err)
	}
}
