// Package pdf writes small PDF 1.4 documents with the standard library:
// A4 pages of lines, rectangles, text in the standard Helvetica fonts
// (WinAnsi: Latin characters only) and 1-bit images (QR codes), enough for
// printed labels. Nothing is embedded but the images, so files stay small
// and every viewer opens them.
package pdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A4 page size in points (1/72 inch).
const (
	A4Width  = 595.28
	A4Height = 841.89
	MM       = 72 / 25.4 // points per millimetre
)

// Fonts: the two standard fonts a page may use.
const (
	Regular = "F1" // Helvetica
	Bold    = "F2" // Helvetica-Bold
)

// Doc is a document being built; Write serialises it.
type Doc struct {
	pages  []*Page
	images [][]byte // XObject streams, already compressed
	dims   [][2]int
}

// Page is one A4 page; its drawing operators accumulate in order.
type Page struct {
	content bytes.Buffer
	images  []int // indexes into Doc.images used on this page
}

// NewPage adds a page.
func (d *Doc) NewPage() *Page {
	p := &Page{}
	d.pages = append(d.pages, p)
	return p
}

// Bitmap adds a 1-bit image (dark[y][x] true = black), each pixel drawn as
// a scale × scale block so viewers that smooth scaled images keep it sharp,
// and returns its index for Page.Image.
func (d *Doc) Bitmap(dark [][]bool, scale int) int {
	n := len(dark)
	w := n * scale
	rowBytes := (w + 7) / 8
	var raw bytes.Buffer
	for y := 0; y < n; y++ {
		row := make([]byte, rowBytes)
		for i := range row {
			row[i] = 0xFF // white
		}
		for x := 0; x < w; x++ {
			if dark[y][x/scale] {
				row[x/8] &^= 0x80 >> (x % 8)
			}
		}
		for range scale {
			raw.Write(row)
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	d.images = append(d.images, z.Bytes())
	d.dims = append(d.dims, [2]int{w, n * scale})
	return len(d.images) - 1
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// Rect strokes a rectangle (x, y from the bottom left, in points).
func (p *Page) Rect(x, y, w, h, lineWidth float64) {
	fmt.Fprintf(&p.content, "%s w %s %s %s %s re S\n", num(lineWidth), num(x), num(y), num(w), num(h))
}

// Image draws image img (from Doc.Bitmap) as a size × size square at x, y.
func (p *Page) Image(img int, x, y, size float64) {
	p.images = append(p.images, img)
	fmt.Fprintf(&p.content, "q %s 0 0 %s %s %s cm /Im%d Do Q\n", num(size), num(size), num(x), num(y), img)
}

// Text writes s in font at size points with its baseline starting at x, y.
func (p *Page) Text(font string, size, x, y float64, s string) {
	fmt.Fprintf(&p.content, "BT /%s %s Tf %s %s Td (%s) Tj ET\n", font, num(size), num(x), num(y), escape(s))
}

// escape makes s a PDF literal string in WinAnsi: characters outside
// Latin-1 become "?" (the standard fonts have no Cyrillic).
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 32:
			b.WriteByte(' ')
		case r < 128:
			b.WriteRune(r)
		case r < 256:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// Write serialises the document: catalog, page tree, the two fonts, the
// images, then each page and its content stream, and the cross-reference
// table that lets a reader find every object.
func (d *Doc) Write(w io.Writer) error {
	var out bytes.Buffer
	var offsets []int
	obj := func(body string) int {
		offsets = append(offsets, out.Len())
		n := len(offsets)
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", n, body)
		return n
	}
	stream := func(dict string, data []byte) int {
		offsets = append(offsets, out.Len())
		n := len(offsets)
		fmt.Fprintf(&out, "%d 0 obj\n<< %s /Length %d >>\nstream\n", n, dict, len(data))
		out.Write(data)
		out.WriteString("\nendstream\nendobj\n")
		return n
	}
	out.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	// Objects 1 (catalog) and 2 (page tree) first; the tree's kids are
	// numbered after the fonts, images and pages' content.
	first := 3 + 2 + len(d.images)
	kids := make([]string, len(d.pages))
	for i := range d.pages {
		kids[i] = fmt.Sprintf("%d 0 R", first+2*i+1)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(d.pages)))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	for i, img := range d.images {
		stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1 /Interpolate false /Filter /FlateDecode",
			d.dims[i][0], d.dims[i][1]), img)
	}
	for _, p := range d.pages {
		contents := stream("", p.content.Bytes())
		var xo []string
		seen := map[int]bool{}
		for _, img := range p.images {
			if !seen[img] {
				seen[img] = true
				xo = append(xo, fmt.Sprintf("/Im%d %d 0 R", img, 5+img))
			}
		}
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> /XObject << %s >> >> /Contents %d 0 R >>",
			num(A4Width), num(A4Height), strings.Join(xo, " "), contents))
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	_, err := w.Write(out.Bytes())
	return err
}
