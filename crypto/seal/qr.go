package seal

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
)

const (
	// qrLevel is error correction level Q (about 25% recoverable), the level
	// the EU DCC recommends for codes printed on things that get scuffed.
	// go-qrcode names the levels Low, Medium, High, Highest for L, M, Q, H,
	// so its "High" is Q.
	qrLevel = qrcode.High

	// MaxQRVersion is the largest QR version a seal needs at level Q (77×77
	// modules, 85 with the quiet zone). See the package documentation.
	MaxQRVersion = 15

	// MaxPNGSize bounds PNG output so that a request cannot make a huge image.
	MaxPNGSize = 4096
	// MaxSVGSize bounds the printed SVG size in millimetres.
	MaxSVGSize = 1000.0
)

// qrBitmap parses text as a seal (so that nothing but a well-formed seal is
// ever printed as one) and returns its QR modules, quiet zone included;
// bitmap[y][x] is true for a dark module.
func qrBitmap(text string) ([][]bool, error) {
	if _, err := Parse(text); err != nil {
		return nil, err
	}
	// The whole text is in the alphanumeric set, so go-qrcode encodes it as
	// one alphanumeric segment.
	q, err := qrcode.New(text, qrLevel)
	if err != nil {
		return nil, fmt.Errorf("seal: QR encoding: %w", err)
	}
	return q.Bitmap(), nil
}

// Modules returns the QR modules of a seal text, quiet zone included:
// m[y][x] is true for a dark module (for writers of other image formats,
// such as the labels' PDF).
func Modules(text string) ([][]bool, error) { return qrBitmap(text) }

// PrintModuleMM is the printed size of one QR module on the printable
// pages: 3 dots at 150 dpi (6 at 300, 12 at 600), so every module is a whole
// number of printer dots and none comes out narrower than its neighbours.
const PrintModuleMM = 25.4 * 3 / 150

// PrintSize is the printed width in millimetres of the seal's QR, quiet zone
// included, at PrintModuleMM per module (about 43 mm for the largest seals).
func PrintSize(text string) (float64, error) {
	bm, err := qrBitmap(text)
	if err != nil {
		return 0, err
	}
	return float64(len(bm)) * PrintModuleMM, nil
}

// PNG renders a seal text as a square black-on-white PNG of sizePx pixels,
// quiet zone included. Every module is the same whole number of pixels (the
// leftover pixels widen the quiet zone), because nearest-neighbour scaling
// to an arbitrary size makes modules of uneven width that scanners misread.
func PNG(text string, sizePx int) ([]byte, error) {
	bm, err := qrBitmap(text)
	if err != nil {
		return nil, err
	}
	n := len(bm)
	if sizePx < n || sizePx > MaxPNGSize {
		return nil, fmt.Errorf("seal: PNG size %d px not in %d..%d for this seal", sizePx, n, MaxPNGSize)
	}
	scale := sizePx / n
	off := (sizePx - scale*n) / 2
	img := image.NewPaletted(image.Rect(0, 0, sizePx, sizePx), color.Palette{color.White, color.Black})
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			for py := off + y*scale; py < off+(y+1)*scale; py++ {
				line := img.Pix[py*img.Stride:]
				for px := off + x*scale; px < off+(x+1)*scale; px++ {
					line[px] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("seal: PNG encoding: %w", err)
	}
	return buf.Bytes(), nil
}

// SVG renders a seal text as an SVG printed mm millimetres square, quiet zone
// included. The width and height are in mm; the viewBox is in modules, so
// every coordinate is a whole number and nothing is rounded when a label
// layout scales it. Dark modules are one path of horizontal runs, with
// crispEdges so renderers do not anti-alias the joins.
func SVG(text string, mm float64) ([]byte, error) {
	if !(mm > 0 && mm <= MaxSVGSize) || math.IsNaN(mm) {
		return nil, fmt.Errorf("seal: SVG size %v mm not in (0, %v]", mm, MaxSVGSize)
	}
	bm, err := qrBitmap(text)
	if err != nil {
		return nil, err
	}
	n := strconv.Itoa(len(bm))
	size := strconv.FormatFloat(mm, 'f', -1, 64) + "mm"
	var b bytes.Buffer
	b.Grow(16 * 1024)
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="` + size + `" height="` + size +
		`" viewBox="0 0 ` + n + ` ` + n + `" shape-rendering="crispEdges">` +
		`<rect width="` + n + `" height="` + n + `" fill="#fff"/><path fill="#000" d="`)
	var num []byte
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			num = append(num[:0], 'M')
			num = strconv.AppendInt(num, int64(start), 10)
			num = append(num, ' ')
			num = strconv.AppendInt(num, int64(y), 10)
			num = append(num, 'h')
			num = strconv.AppendInt(num, int64(x-start), 10)
			num = append(num, "v1h-"...)
			num = strconv.AppendInt(num, int64(x-start), 10)
			num = append(num, 'z')
			b.Write(num)
		}
	}
	b.WriteString(`"/></svg>` + "\n")
	return b.Bytes(), nil
}

// ReadQR returns the text of the QR code in img. It first reads img as a
// pure barcode (an image such as PNG draws: gozxing's finder-pattern search
// misreads about 3% of those), then searches the image harder, as a photo
// or scan needs, and last searches it again at twice its size: a code
// drawn half a pixel off the grid has grey module edges that the finder
// search misjudges at 3 pixels a module, and reads at 6
// (TestReadQRAtHalfPixel: 9 of 12 seals read only so).
func ReadQR(img image.Image) (string, error) {
	var err error
	for i, hints := range []map[gozxing.DecodeHintType]any{
		{gozxing.DecodeHintType_PURE_BARCODE: true},
		{gozxing.DecodeHintType_TRY_HARDER: true},
		{gozxing.DecodeHintType_TRY_HARDER: true},
	} {
		src := img
		if i == 2 {
			src = double(img)
		}
		var bmp *gozxing.BinaryBitmap
		if bmp, err = gozxing.NewBinaryBitmapFromImage(src); err != nil {
			return "", err
		}
		var res *gozxing.Result
		if res, err = zxqr.NewQRCodeReader().Decode(bmp, hints); err == nil {
			return res.GetText(), nil
		}
	}
	return "", err
}

// double is img in grey at twice its width and height, each pixel four.
func double(img image.Image) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, 2*b.Dx(), 2*b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			v := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			i := 2*y*out.Stride + 2*x
			out.Pix[i], out.Pix[i+1], out.Pix[i+out.Stride], out.Pix[i+out.Stride+1] = v, v, v, v
		}
	}
	return out
}
