package seal

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
)

// decodeQR reads a QR code from an image with gozxing, an independent
// decoder, and checks it used error correction level Q and no byte-mode
// segment (Base45 text must travel in alphanumeric mode).
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// A pure barcode, as PNG draws it: without the hint gozxing's finder
	// search misreads about 3% of codes (ReadQR does the same).
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("gozxing: %v", err)
	}
	md := res.GetResultMetadata()
	if ec := md[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; ec != "Q" {
		t.Errorf("error correction level %v, want Q", ec)
	}
	if _, ok := md[gozxing.ResultMetadataType_BYTE_SEGMENTS]; ok {
		t.Error("the QR code uses byte mode; seal text should be alphanumeric")
	}
	return res.GetText()
}

// TestQRVersion proves the largest seal fits MaxQRVersion at level Q and
// records what typical and minimal seals need.
func TestQRVersion(t *testing.T) {
	s := testSigner(t, 1)
	small := typicalClaims(t)
	small.Registry, small.Origin, small.Destination, small.PhysicalSeal = "1", "MF", "DE", ""
	tests := []struct {
		name   string
		claims Claims
		max    int
	}{
		{"largest", maxClaims(t), MaxQRVersion},
		{"typical", typicalClaims(t), 13},
		{"smallest", small, 12}, // even the smallest seal cannot fit version 11
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := mustSign(t, tt.claims, s)
			q, err := qrcode.New(text, qrLevel)
			if err != nil {
				t.Fatal(err)
			}
			if q.VersionNumber > tt.max {
				t.Fatalf("%d characters need QR version %d at level Q, want <= %d", len(text), q.VersionNumber, tt.max)
			}
			bm, err := qrBitmap(text)
			if err != nil {
				t.Fatal(err)
			}
			modules := 17 + 4*q.VersionNumber
			if len(bm) != modules+8 {
				t.Fatalf("bitmap is %d modules, want %d plus a 4-module quiet zone", len(bm), modules)
			}
			t.Logf("%s: %d characters, version %d, %d modules, %.2f mm per module at 40 mm",
				tt.name, len(text), q.VersionNumber, modules, 40/float64(len(bm)))
		})
	}
	// go-qrcode's High is level Q; decodeQR checks that on a real symbol.
	if qrLevel != qrcode.High {
		t.Fatal("level is not go-qrcode's High (= Q)")
	}
}

func TestPNGDecodes(t *testing.T) {
	s := testSigner(t, 1)
	for name, c := range map[string]Claims{"typical": typicalClaims(t), "max": maxClaims(t)} {
		text := mustSign(t, c, s)
		for _, size := range []int{85, 170, 256, 300, 1000} {
			t.Run(name+"/"+strconv.Itoa(size), func(t *testing.T) {
				b, err := PNG(text, size)
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if img.Bounds().Dx() != size || img.Bounds().Dy() != size {
					t.Fatalf("image is %v, want %d px square", img.Bounds(), size)
				}
				if got := decodeQR(t, img); got != text {
					t.Fatalf("decoded %q, want %q", got, text)
				}
			})
		}
	}
}

// TestPNGModulesEven checks every module is the same whole number of pixels.
func TestPNGModulesEven(t *testing.T) {
	text := mustSign(t, typicalClaims(t), testSigner(t, 1))
	bm, _ := qrBitmap(text)
	const size = 300
	b, err := PNG(text, size)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := png.Decode(bytes.NewReader(b))
	scale, off := size/len(bm), size%len(bm)/2
	for y := range size {
		for x := range size {
			r, _, _, _ := img.At(x, y).RGBA()
			dark := r == 0
			mx, my := (x-off)/scale, (y-off)/scale
			want := x >= off && y >= off && mx < len(bm) && my < len(bm) && bm[my][mx]
			if dark != want {
				t.Fatalf("pixel (%d,%d) dark=%v, want %v", x, y, dark, want)
			}
		}
	}
}

func TestPNGErrors(t *testing.T) {
	text := mustSign(t, maxClaims(t), testSigner(t, 1))
	tests := []struct {
		name, text string
		size       int
		want       error
	}{
		{"smaller than the modules", text, 84, nil},
		{"zero", text, 0, nil},
		{"negative", text, -5, nil},
		{"too big", text, MaxPNGSize + 1, nil},
		{"not a seal", "HELLO", 256, ErrBadPrefix},
		{"broken seal", text[:len(Prefix)+(len(text)-len(Prefix))/3*3-3], 256, ErrCBOR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := PNG(tt.text, tt.size)
			if err == nil || b != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("PNG = %d bytes, %v; want error %v", len(b), err, tt.want)
			}
		})
	}
}

// svgDoc is the part of our SVG the tests read back.
type svgDoc struct {
	Width   string `xml:"width,attr"`
	Height  string `xml:"height,attr"`
	ViewBox string `xml:"viewBox,attr"`
	Rect    struct {
		Width string `xml:"width,attr"`
		Fill  string `xml:"fill,attr"`
	} `xml:"rect"`
	Path struct {
		D    string `xml:"d,attr"`
		Fill string `xml:"fill,attr"`
	} `xml:"path"`
}

var svgRun = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// rasterizeSVG turns our SVG back into module bitmap by replaying the path.
func rasterizeSVG(t *testing.T, b []byte) (svgDoc, [][]bool) {
	t.Helper()
	var doc svgDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("SVG is not XML: %v", err)
	}
	n, err := parseViewBox(doc.ViewBox)
	if err != nil {
		t.Fatalf("viewBox %q: %v", doc.ViewBox, err)
	}
	bm := make([][]bool, n)
	for i := range bm {
		bm[i] = make([]bool, n)
	}
	rest := svgRun.ReplaceAllStringFunc(doc.Path.D, func(run string) string {
		m := svgRun.FindStringSubmatch(run)
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		if m[3] != m[4] || y >= n || x+w > n {
			t.Fatalf("bad run %q", run)
		}
		for i := x; i < x+w; i++ {
			if bm[y][i] {
				t.Fatalf("run %q overlaps another", run)
			}
			bm[y][i] = true
		}
		return ""
	})
	if rest != "" {
		t.Fatalf("path has unexpected commands: %.40q", rest)
	}
	return doc, bm
}

var viewBox = regexp.MustCompile(`^0 0 (\d+) (\d+)$`)

// parseViewBox returns N from "0 0 N N".
func parseViewBox(s string) (int, error) {
	m := viewBox.FindStringSubmatch(s)
	if m == nil || m[1] != m[2] {
		return 0, errors.New("not a square viewBox from the origin")
	}
	return strconv.Atoi(m[1])
}

func TestSVG(t *testing.T) {
	s := testSigner(t, 1)
	for name, c := range map[string]Claims{"typical": typicalClaims(t), "max": maxClaims(t)} {
		t.Run(name, func(t *testing.T) {
			text := mustSign(t, c, s)
			b, err := SVG(text, 40)
			if err != nil {
				t.Fatal(err)
			}
			doc, got := rasterizeSVG(t, b)
			if doc.Width != "40mm" || doc.Height != "40mm" {
				t.Errorf("size %s × %s, want 40mm", doc.Width, doc.Height)
			}
			if doc.Rect.Fill != "#fff" || doc.Path.Fill != "#000" {
				t.Errorf("colours %q on %q", doc.Path.Fill, doc.Rect.Fill)
			}
			want, _ := qrBitmap(text)
			if len(got) != len(want) || doc.Rect.Width != strconv.Itoa(len(want)) {
				t.Fatalf("viewBox %q, want %d modules", doc.ViewBox, len(want))
			}
			for y := range want {
				for x := range want {
					if got[y][x] != want[y][x] {
						t.Fatalf("module (%d,%d) = %v, want %v", x, y, got[y][x], want[y][x])
					}
				}
			}
			// Draw the replayed modules and let gozxing read them.
			const scale = 4
			img := image.NewGray(image.Rect(0, 0, len(got)*scale, len(got)*scale))
			for i := range img.Pix {
				img.Pix[i] = 0xff
			}
			for y, row := range got {
				for x, dark := range row {
					if dark {
						for dy := range scale {
							for dx := range scale {
								img.SetGray(x*scale+dx, y*scale+dy, color.Gray{})
							}
						}
					}
				}
			}
			if dec := decodeQR(t, img); dec != text {
				t.Fatalf("decoded %q, want %q", dec, text)
			}
			t.Logf("%s: %d bytes of SVG, module %.3f mm", name, len(b), 40/float64(len(want)))
		})
	}
}

func TestSVGErrors(t *testing.T) {
	text := mustSign(t, typicalClaims(t), testSigner(t, 1))
	for _, mm := range []float64{0, -40, math.NaN(), math.Inf(1), MaxSVGSize + 1} {
		if b, err := SVG(text, mm); err == nil || b != nil {
			t.Errorf("SVG(%v mm) = %d bytes, %v", mm, len(b), err)
		}
	}
	if _, err := SVG("VS1:<script>", 40); !errors.Is(err, ErrBase45) {
		t.Errorf("SVG of a non-seal: %v", err)
	}
	if b, err := SVG(text, 25.4); err != nil || !bytes.Contains(b, []byte(`width="25.4mm"`)) {
		t.Errorf("SVG(25.4 mm): %v", err)
	}
}

// TestReadQRAtHalfPixel: a seal's QR drawn as a browser draws it at 150 dpi
// (3 pixels a module) half a pixel off the grid, every module edge a grey
// anti-aliased column, beside a label's dashed cut line, still reads.
// Before the search at twice the size, 9 of these 12 did not.
func TestReadQRAtHalfPixel(t *testing.T) {
	t.Parallel()
	for i := range 12 {
		c := typicalClaims(t)
		c.Serial = Serial{9, 9, 9, 9, 9, 9, 9, byte(i)}
		text := mustSign(t, c, testSigner(t, 1))
		bm, err := qrBitmap(text)
		if err != nil {
			t.Fatal(err)
		}
		img := halfPixel(bm, 3, 620, 585, 60, 140)
		for x := 20; x < 600; x++ { // the cut line above and below
			if x/6%2 == 0 {
				img.SetGray(x, 90, color.Gray{})
				img.SetGray(x, 500, color.Gray{})
			}
		}
		got, err := ReadQR(img)
		if err != nil || got != text {
			t.Errorf("seal %d at a half-pixel offset: %v", i, err)
		}
	}
}

// halfPixel rasterises bm at scale pixels a module, offset by (ox, oy) and
// half a pixel, each pixel as grey as the share of it the dark modules
// cover (4×4 samples).
func halfPixel(bm [][]bool, scale float64, w, h, ox, oy int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	n := len(bm)
	for py := range h {
		for px := range w {
			dark := 0
			for sy := range 4 {
				for sx := range 4 {
					x := (float64(px-ox) + (float64(sx)+0.5)/4 - 0.5) / scale
					y := (float64(py-oy) + (float64(sy)+0.5)/4 - 0.5) / scale
					mx, my := int(math.Floor(x)), int(math.Floor(y))
					if mx >= 0 && my >= 0 && mx < n && my < n && bm[my][mx] {
						dark++
					}
				}
			}
			img.Pix[py*img.Stride+px] = uint8(255 - dark*255/16)
		}
	}
	return img
}
