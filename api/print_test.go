package api_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valise/crypto/seal"
	"valise/internal/browser"
)

// asUser is a reverse proxy to the API that signs every request in as
// user, so a browser (which cannot send a bearer token by itself) loads a
// protected page exactly as the server serves it, headers and CSP included.
func (e *mailEnv) asUser(t *testing.T, user string) string {
	t.Helper()
	return authProxy(t, e.url, e.tokens[user])
}

// authProxy is a local address that forwards to base with the bearer token
// tok, so a browser opens a signed-in page.
func authProxy(t *testing.T, base, tok string) string {
	t.Helper()
	target, _ := url.Parse(base)
	p := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+tok)
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// keepRendering copies a rendered file to $VALISE_PRINT_DIR when it is set,
// so a person can look at what the test saw.
func keepRendering(t *testing.T, path, name string) {
	if dir := os.Getenv("VALISE_PRINT_DIR"); dir != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		if err != nil {
			t.Logf("keep %s: %v", name, err)
		}
	}
}

// readQRIn reads the QR code inside rect of img: the whole rect first,
// then windows of two thirds of it, so that a neighbour's dashed cut line
// or text at the rect's edge cannot hide the code from the decoder's
// finder-pattern search.
func readQRIn(img image.Image, rect image.Rectangle) (string, error) {
	sub := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	text, err := seal.ReadQR(sub.SubImage(rect))
	if err == nil {
		return text, nil
	}
	w, h := rect.Dx()*2/3, rect.Dy()*2/3
	for _, fy := range []int{0, 1, 2} {
		for _, fx := range []int{0, 1, 2} {
			x0, y0 := rect.Min.X+fx*(rect.Dx()-w)/2, rect.Min.Y+fy*(rect.Dy()-h)/2
			if t, e := seal.ReadQR(sub.SubImage(image.Rect(x0, y0, x0+w, y0+h))); e == nil {
				return t, nil
			}
		}
	}
	return "", err
}

// darkShare is the fraction of rect's pixels that are dark: near zero for
// a region painted blank, which tells a half-painted screenshot from a
// code the decoder could not read.
func darkShare(img image.Image, rect image.Rectangle) float64 {
	dark, all := 0, 0
	for y := rect.Min.Y; y < rect.Max.Y; y += 2 {
		for x := rect.Min.X; x < rect.Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			if r+g+b < 3*0x8000 {
				dark++
			}
			all++
		}
	}
	return float64(dark) / float64(max(all, 1))
}

// screenshotQRs takes a 150 dpi A4 screenshot of page (kept as name) and
// reads one QR code from each region (fractions of the page: x0, y0, x1,
// y1). A machine under load may hand over a screenshot before the page is
// fully painted, so a screenshot whose codes do not all read is taken again
// (three times in all) before the test fails.
func screenshotQRs(t *testing.T, br *browser.Browser, page, name string, regions ...[4]float64) []string {
	t.Helper()
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		shot, err := br.Screenshot(t.Context(), page, t.TempDir(), browser.A4Width, browser.A4Height, browser.DPI150)
		if err != nil {
			t.Fatal(err)
		}
		keepRendering(t, shot, name)
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		sz := img.Bounds().Size()
		var texts []string
		lastErr = nil
		for _, r := range regions {
			rect := image.Rect(int(r[0]*float64(sz.X)), int(r[1]*float64(sz.Y)), int(r[2]*float64(sz.X)), int(r[3]*float64(sz.Y)))
			text, err := readQRIn(img, rect)
			if err != nil {
				lastErr = fmt.Errorf("region %v of the %v screenshot (%.1f%% dark): %w", r, sz, darkShare(img, rect)*100, err)
				break
			}
			texts = append(texts, text)
		}
		if lastErr == nil {
			return texts
		}
		t.Logf("attempt %d: %v", attempt, lastErr)
	}
	t.Fatalf("no QR read back at 150 dpi: %v", lastErr)
	return nil
}

// TestPrintedSheetInChromium renders the courier sheet as a border officer
// gets it, in headless Chromium under the page's own CSP: the bearer's name,
// position and passport in words, every bag's seal serials, the issuing
// officer's name and position, local time beside UTC, Kazakh, Russian and
// English with the Art. 27 notice; the Print button's script runs; the QR
// reads back from a 150 dpi screenshot; the printed PDF is a PDF.
func TestPrintedSheetInChromium(t *testing.T) {
	t.Parallel()
	br := browser.Need(t)
	e := newMailEnv(t)
	ctx := t.Context()
	if _, err := e.pool.Exec(ctx, `UPDATE users SET full_name = 'Marat Registrar', position = 'Chief Registrar, Central Registry'
		WHERE username = 'clerk'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE users SET position = 'Senior Diplomatic Courier' WHERE username = 'courier1'`); err != nil {
		t.Fatal(err)
	}
	// The sheet prints the passport the eligibility check used (issue 15),
	// not the document typed on the courier record.
	if _, err := e.pool.Exec(ctx, `UPDATE passports SET passport_type = 'service', number = 'N1234567', expires_on = '2031-05-01'
		WHERE staff_id = (SELECT id FROM staff WHERE user_id = $1)`, e.ids["courier1"]); err != nil {
		t.Fatal(err)
	}
	c := e.must(201, "disp", "POST", "/api/v1/couriers", map[string]any{"kind": "career", "user_id": e.ids["courier1"],
		"full_name": "Arman Courier", "doc_kind": "passport", "doc_number": "N0000000", "doc_country": "KZ", "doc_expires": "2031-01-01"})
	bag1, _ := e.setupSealedBag()
	bag2, _ := e.setupSealedBag()
	sheet := e.must(201, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "career_courier",
		"courier_id": c["id"], "bag_ids": []string{bag1, bag2}, "valid_until": time.Now().Add(72 * time.Hour)})
	if sheet["bearer_document"] != "Service passport No. N1234567 (KZ)" || sheet["bearer_position"] != "Senior Diplomatic Courier" ||
		sheet["issued_by_name"] != "Marat Registrar" || sheet["time_zone"] != "Asia/Almaty" {
		t.Fatalf("sheet: %v", sheet)
	}
	page := e.asUser(t, "courier1") + "/api/v1/sheets/" + sheet["id"].(string) + "/print"

	dom, err := br.DOM(ctx, page)
	if err != nil {
		t.Fatal(err)
	}
	serials := func(bag string) string {
		u := strings.ToUpper(bag[:8])
		return "S-" + u + "-1, S-" + u + "-2"
	}
	for _, want := range []string{
		`data-print="ready"`, // the Print button's script ran under the page's CSP
		"Arman Courier", "Senior Diplomatic Courier",
		"Service passport No. N1234567 (KZ)", "Служебный паспорт № N1234567 (KZ)", "Қызметтік төлқұжат № N1234567 (KZ)",
		"valid until 2031-05-01", "действителен до 2031-05-01", "2031-05-01 дейін жарамды",
		serials(bag1), serials(bag2),
		"Marat Registrar", "Chief Registrar, Central Registry",
		"Asia/Almaty (UTC+05:00)", " UTC",
		"COURIER SHEET", "КУРЬЕРСКИЙ ЛИСТ", "КУРЬЕРЛІК ПАРАҚ",
		"Article 27", "статья 27", "27-бап", "personal inviolability", "личной неприкосновенностью",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered sheet lacks %q", want)
		}
	}
	for _, bad := range []string{"service_passport", "N0000000", "onclick", `id="print" type="button" disabled`} {
		if strings.Contains(dom, bad) {
			t.Errorf("the rendered sheet contains %q", bad)
		}
	}

	// The sheet's QR stands in the top right corner, above the table: read
	// it there (a whole page of text gives the decoder's finder search
	// false candidates that, for some codes, hide the real one).
	if got := screenshotQRs(t, br, page, "courier-sheet-150dpi.png", [4]float64{0.6, 0, 1, 0.2}); got[0] != sheet["qr"] {
		t.Fatalf("the QR on the printed sheet reads %q, want the sheet's signed QR", got[0])
	}
	pdf, err := br.PDF(ctx, page, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keepRendering(t, pdf, "courier-sheet.pdf")
	if b, _ := os.ReadFile(pdf); !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b, []byte("/Type /Page")) {
		t.Fatalf("chromium's print of the sheet is not a PDF with a page (%d bytes)", len(b))
	}
}

// TestUnitTimeZone: the zone a unit's printed documents give local time in
// defaults to its country's, can be set, and must be a real zone.
func TestUnitTimeZone(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	u := e.must(201, "admin", "POST", "/api/v1/units", map[string]any{"code": "AT-VIE", "name": "Embassy in Austria",
		"kind": "embassy", "country": "AT", "parent": "MFA"})
	if u["time_zone"] != "Europe/Vienna" {
		t.Fatalf("a new embassy in Austria: %v", u)
	}
	e.refused(422, "admin", "PUT", "/api/v1/units/AT-VIE", map[string]any{"name": "Embassy in Austria", "kind": "embassy",
		"country": "AT", "parent": "MFA", "time_zone": "Mars/Olympus"})
	u = e.must(200, "admin", "PUT", "/api/v1/units/AT-VIE", map[string]any{"name": "Embassy in Austria", "kind": "embassy",
		"country": "AT", "parent": "MFA", "time_zone": "Europe/Berlin"})
	if u["time_zone"] != "Europe/Berlin" {
		t.Fatalf("set time zone: %v", u)
	}
	u = e.must(200, "admin", "PUT", "/api/v1/units/AT-VIE", map[string]any{"name": "Embassy in Austria", "kind": "embassy",
		"country": "AT", "parent": "MFA"})
	if u["time_zone"] != "Europe/Vienna" {
		t.Fatalf("an empty time zone takes the country's again: %v", u)
	}
}
