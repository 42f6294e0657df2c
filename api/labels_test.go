package api_test

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"valise/crypto/seal"
	"valise/internal/browser"
)

// pdfObjects checks a PDF's structure as a reader does (the cross-reference
// table points at every object, the trailer names the catalog) and returns
// its objects by number.
func pdfObjects(t *testing.T, b []byte) map[int][]byte {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("%PDF-1.")) || !bytes.HasSuffix(b, []byte("%%EOF\n")) {
		t.Fatalf("not a PDF: %q…", b[:min(16, len(b))])
	}
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no startxref")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	lines := strings.Split(string(b[xref:]), "\n")
	if lines[0] != "xref" {
		t.Fatalf("startxref %d does not point at the xref table", xref)
	}
	var first, n int
	fmt.Sscanf(lines[1], "%d %d", &first, &n)
	objs := map[int][]byte{}
	for i := 1; i < n; i++ {
		off, _ := strconv.Atoi(lines[2+i][:10])
		head := fmt.Sprintf("%d 0 obj\n", i)
		if !bytes.HasPrefix(b[off:], []byte(head)) {
			t.Fatalf("xref entry %d points at %q, not at object %d", i, b[off:min(off+12, len(b))], i)
		}
		end := bytes.Index(b[off:], []byte("\nendobj\n"))
		objs[i] = b[off+len(head) : off+end]
	}
	if !strings.Contains(string(b[xref:]), "/Root 1 0 R") || !bytes.Contains(objs[1], []byte("/Type /Catalog")) {
		t.Fatal("the trailer does not name the catalog")
	}
	return objs
}

// pdfImage decodes a 1-bit DeviceGray image XObject.
func pdfImage(t *testing.T, obj []byte) image.Image {
	t.Helper()
	var w, h, length int
	fmt.Sscanf(string(regexp.MustCompile(`/Width \d+`).Find(obj)), "/Width %d", &w)
	fmt.Sscanf(string(regexp.MustCompile(`/Height \d+`).Find(obj)), "/Height %d", &h)
	fmt.Sscanf(string(regexp.MustCompile(`/Length \d+`).Find(obj)), "/Length %d", &length)
	i := bytes.Index(obj, []byte("stream\n")) + len("stream\n")
	zr, err := zlib.NewReader(bytes.NewReader(obj[i : i+length]))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// A quiet white border, as on paper, then the pixels.
	img := image.NewGray(image.Rect(0, 0, w+40, h+40))
	for p := range img.Pix {
		img.Pix[p] = 255
	}
	row := (w + 7) / 8
	for y := range h {
		for x := range w {
			if raw[y*row+x/8]&(0x80>>(x%8)) == 0 {
				img.SetGray(x+20, y+20, color.Gray{})
			}
		}
	}
	return img
}

// TestSealLabels: every seal of a bag printed as a label, HTML (rendered in
// headless Chromium, each QR read back from a 150 dpi screenshot) and PDF
// (a well-formed PDF whose labels carry the same facts and QR codes).
func TestSealLabels(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	bag, _ := e.setupSealedBag()
	seals := e.must(200, "clerk", "GET", "/api/v1/bags/"+bag+"/seals", nil)["seals"].([]any)
	var texts []string
	for _, s := range seals {
		texts = append(texts, s.(map[string]any)["text"].(string))
	}
	var reg string
	if err := e.pool.QueryRow(t.Context(), `SELECT registry_number FROM bags WHERE id = $1`, bag).Scan(&reg); err != nil {
		t.Fatal(err)
	}
	serial := func(k int) string { return fmt.Sprintf("S-%s-%d", strings.ToUpper(bag[:8]), k) }

	// Refusals: a bag without seals, a bag the caller may not see, no login.
	planned := e.must(201, "disp", "POST", "/api/v1/bags", map[string]any{"origin": "MFA", "destination": "DE-BER"})["id"].(string)
	e.refused(409, "clerk", "GET", "/api/v1/bags/"+planned+"/seals/labels.html", nil)
	e.refused(409, "clerk", "GET", "/api/v1/bags/"+planned+"/seals/labels.pdf", nil)
	e.refused(404, "lowber", "GET", "/api/v1/bags/"+bag+"/seals/labels.html", nil)
	e.refused(404, "modclerk", "GET", "/api/v1/bags/"+bag+"/seals/labels.pdf", nil)
	e.refused(401, "nobody", "GET", "/api/v1/bags/"+bag+"/seals/labels.pdf", nil)

	// The PDF: well formed, one page, both labels' facts and QR codes.
	status, body := e.raw("clerk", "/api/v1/bags/"+bag+"/seals/labels.pdf")
	if status != 200 {
		t.Fatalf("labels.pdf: %d", status)
	}
	if dir := os.Getenv("VALISE_PRINT_DIR"); dir != "" {
		_ = os.WriteFile(dir+"/seal-labels.pdf", body, 0o644)
	}
	objs := pdfObjects(t, body)
	if !bytes.Contains(objs[2], []byte("/Count 1")) {
		t.Fatalf("page tree: %s", objs[2])
	}
	var content []byte
	var qrs []string
	for _, o := range objs {
		if bytes.Contains(o, []byte("/Subtype /Image")) {
			text, err := seal.ReadQR(pdfImage(t, o))
			if err != nil {
				t.Fatalf("a QR image in the PDF does not read: %v", err)
			}
			qrs = append(qrs, text)
		} else if bytes.Contains(o, []byte(" Tj ET")) {
			content = append(content, o...)
		}
	}
	if len(qrs) != 2 || !(qrs[0] == texts[0] && qrs[1] == texts[1] || qrs[0] == texts[1] && qrs[1] == texts[0]) {
		t.Fatalf("the PDF's QR codes are not the bag's two seals")
	}
	for _, want := range []string{"(" + reg + ")", "(1 of 2)", "(2 of 2)", "(" + serial(1) + ")", "(" + serial(2) + ")",
		"(MFA to DE-BER)", "(DIPLOMATIC BAG)"} {
		if !bytes.Contains(content, []byte(want)) {
			t.Errorf("the PDF's labels lack %s", want)
		}
	}

	// A bag of nine packages: its labels take two pages (eight to a page).
	sub := e.must(201, "modclerk", "POST", "/api/v1/submissions", map[string]any{"sender": "MOD", "registry": "MFA",
		"destination": "DE-BER", "responsible_person": "Minister of Defence",
		"items": []map[string]any{{"kind": "equipment", "level": "SECRET", "registry_number": "MOD-NINE-" + bag[:8], "count": 9}}})
	big := e.must(201, "disp", "POST", "/api/v1/bags", map[string]any{"origin": "MFA", "destination": "DE-BER"})["id"].(string)
	e.must(200, "clerk", "POST", "/api/v1/bags/"+big+"/assemble", map[string]any{"submission_ids": []any{sub["id"]}})
	e.must(200, "clerk", "POST", "/api/v1/bags/"+big+"/seal", map[string]any{"container": "package", "packages": 9})
	if status, body = e.raw("clerk", "/api/v1/bags/"+big+"/seals/labels.pdf"); status != 200 {
		t.Fatalf("labels.pdf of nine: %d", status)
	}
	objs = pdfObjects(t, body)
	if !bytes.Contains(objs[2], []byte("/Count 2")) {
		t.Fatalf("nine labels: page tree %s, want two pages", objs[2])
	}
	images := 0
	for _, o := range objs {
		if bytes.Contains(o, []byte("/Subtype /Image")) {
			images++
		}
	}
	if images != 9 {
		t.Fatalf("nine labels: %d QR images", images)
	}

	// The HTML page in a real browser.
	br := browser.Need(t)
	page := e.asUser(t, "clerk") + "/api/v1/bags/" + bag + "/seals/labels.html"
	dom, err := br.DOM(t.Context(), page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-print="ready"`, reg, "1 / 2", "2 / 2", serial(1), serial(2), "MFA → DE-BER",
		"Дипломатиялық вализа", "Дипломатическая вализа", "Diplomatic bag"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered label page lacks %q", want)
		}
	}
	// Printed from the browser, the nine labels take two A4 pages too.
	printed, err := br.PDF(t.Context(), e.asUser(t, "clerk")+"/api/v1/bags/"+big+"/seals/labels.html", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keepRendering(t, printed, "seal-labels-nine-printed.pdf")
	pb, _ := os.ReadFile(printed)
	if n := len(regexp.MustCompile(`/Type\s*/Page\b[^s]`).FindAll(pb, -1)); n != 2 {
		t.Errorf("nine labels printed from the browser take %d pages, want 2", n)
	}
	// The two labels share the first row: package 1 on the left, 2 on the right.
	got := screenshotQRs(t, br, page, "seal-labels-150dpi.png", [4]float64{0, 0, 0.5, 1.0 / 3}, [4]float64{0.5, 0, 1, 1.0 / 3})
	for k := range got {
		if got[k] != texts[k] {
			t.Fatalf("label %d: the QR read back at 150 dpi is not seal %d", k+1, k+1)
		}
	}
}
