package pouch

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"valise"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/internal/db"
	"valise/internal/pdf"
)

// Label is what is printed for one package of a sealed bag: its signed QR
// and what a clerk or an officer reads beside it. Like the seal, it names
// only opaque facts: no contents, no classification.
type Label struct {
	Package         int       `json:"package"`
	Packages        int       `json:"packages"`
	RegistryNumber  string    `json:"registry_number"`
	PhysicalSeal    string    `json:"physical_seal,omitempty"`
	Serial          string    `json:"serial"` // the signed seal's serial
	Origin          string    `json:"origin"`
	OriginName      string    `json:"origin_name"`
	Destination     string    `json:"destination"`
	DestinationName string    `json:"destination_name"`
	ExpiresAt       time.Time `json:"expires_at"`
	Text            string    `json:"text"` // the VS1 text the QR carries
}

// Labels returns the labels of every current seal of bag b (which the
// caller has been authorized to read), package order. A bag not sealed yet
// has none: 409.
func (s *Service) Labels(ctx context.Context, b *Bag) ([]Label, error) {
	seals, err := keyring.BagSeals(ctx, s.pool, b.ID)
	if err != nil {
		return nil, err
	}
	if len(seals) == 0 {
		return nil, &valise.Error{Code: valise.ECONFLICT, Message: "the bag has no seals to label: seal it first",
			Extra: map[string]any{"current_state": b.State}}
	}
	names := map[string]string{}
	rows, err := s.pool.Query(ctx, `SELECT code, name FROM units WHERE code = ANY($1)`, []string{b.Origin, b.Destination})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("label units: %w", err))
	}
	var code, name string
	for rows.Next() {
		if err := rows.Scan(&code, &name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("label units: %w", err)
		}
		names[code] = name
	}
	rows.Close()
	out := make([]Label, 0, len(seals))
	for _, sl := range seals {
		out = append(out, Label{Package: sl.Package, Packages: sl.Packages, RegistryNumber: sl.Registry,
			PhysicalSeal: sl.PhysicalSeal, Serial: sl.Serial.String(), Origin: b.Origin, OriginName: names[b.Origin],
			Destination: b.Destination, DestinationName: names[b.Destination], ExpiresAt: sl.ExpiresAt, Text: sl.Text})
	}
	return out, nil
}

// Label geometry, in millimetres, shared by the HTML page and the PDF: two
// columns of four labels on an A4 page.
const (
	labelW, labelH   = 92.0, 64.0
	labelGapX        = 6.0
	labelGapY        = 4.5
	labelMarginX     = 10.0
	labelMarginY     = 10.0
	labelQR          = 40.0 // the PDF's; the HTML page draws it at seal.PrintSize
	labelsPerRow     = 2
	labelRowsPerPage = 4
)

// labelPage is the printable label sheet: dashed cut lines, each label its
// QR and, in Kazakh, Russian and English, package k of N, the physical seal
// serial and the route. Its one script (the Print button) is the printable
// pages' (served with courier.PrintCSP).
var labelPage = template.Must(template.New("labels").Funcs(template.FuncMap{
	"svg": func(text string) (template.HTML, error) {
		mm, err := seal.PrintSize(text)
		if err != nil {
			return "", err
		}
		b, err := seal.SVG(text, mm)
		if err != nil {
			return "", err
		}
		s := string(b)
		if i := strings.Index(s, "<svg"); i > 0 {
			s = s[i:] // no XML declaration inside HTML
		}
		return template.HTML(s), nil // seal.SVG writes only its own elements
	},
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
}).Parse(`<!doctype html>
<html lang="kk"><head><meta charset="utf-8"><title>Seal labels {{.Registry}}</title>
<style>
@page { size: A4; margin: {{.MarginY}}mm {{.MarginX}}mm; }
body { font: 8pt/1.25 "DejaVu Sans", sans-serif; color: #000; margin: 0; }
@media screen { body { padding: {{.MarginY}}mm {{.MarginX}}mm; } }
.sheet { display: grid; grid-template-columns: repeat(2, {{.W}}mm); column-gap: {{.GapX}}mm; row-gap: {{.GapY}}mm; }
.label { width: {{.W}}mm; height: {{.H}}mm; box-sizing: border-box; border: 0.3mm dashed #000; padding: 3mm;
  display: flex; gap: 3mm; align-items: center; break-inside: avoid; overflow: hidden; }
.label svg { flex: none; display: block; }
.facts { flex: 1; min-width: 0; }
.reg { font: bold 11pt/1.2 "DejaVu Sans Mono", monospace; margin-bottom: 1.5mm; }
.k { font-size: 13pt; font-weight: bold; }
.l { color: #333; font-size: 6.5pt; }
.v { margin-bottom: 1.2mm; overflow-wrap: anywhere; }
.mark { font-size: 6.5pt; border-top: 0.2mm solid #000; padding-top: 1mm; }
.serial { font-size: 6pt; color: #333; }
{{if .PageBreaks}}.label:nth-child(8n) { break-after: page; }{{end}}
@media print { .noprint { display: none; } }
</style></head><body>
<p class="noprint"><button id="print" type="button" disabled>Басып шығару · Печать · Print</button> {{.Registry}} · {{len .Labels}}</p>
<div class="sheet">
{{range .Labels}}<div class="label" data-package="{{.Package}}">{{svg .Text}}<div class="facts">
<div class="reg">{{.RegistryNumber}}</div>
<div class="l">Орын · Место · Package</div><div class="v"><span class="k">{{.Package}} / {{.Packages}}</span></div>
<div class="l">Пломба · Пломба · Seal</div><div class="v">{{if .PhysicalSeal}}{{.PhysicalSeal}}{{else}}—{{end}}</div>
<div class="l">Бағыты · Маршрут · Route</div><div class="v"><strong>{{.Origin}} → {{.Destination}}</strong><br>{{.OriginName}} → {{.DestinationName}}</div>
<div class="mark">Дипломатиялық вализа · Дипломатическая вализа · Diplomatic bag<br><span class="serial">VS1 {{.Serial}} · {{date .ExpiresAt}}</span></div>
</div></div>
{{end}}</div>
<script src="{{.Script}}"></script>
</body></html>
`))

// WriteLabelsHTML writes the labels as a printable A4 page (two columns of
// four), each with its QR as inline SVG at seal.PrintSize (whole printer
// dots per module). script is the path of
// the page's one script (the Print button).
func WriteLabelsHTML(w io.Writer, registry string, labels []Label, script string) error {
	return labelPage.Execute(w, map[string]any{"Registry": registry, "Labels": labels, "Script": script,
		"W": labelW, "H": labelH, "GapX": labelGapX, "GapY": labelGapY, "MarginX": labelMarginX,
		"MarginY": labelMarginY, "QR": labelQR, "PageBreaks": len(labels) > labelsPerRow*labelRowsPerPage})
}

// WriteLabelsPDF writes the same labels as a PDF (the standard fonts carry
// no Cyrillic, so its words are English; codes and serials are the same).
func WriteLabelsPDF(w io.Writer, labels []Label) error {
	var d pdf.Doc
	var page *pdf.Page
	for i, l := range labels {
		slot := i % (labelsPerRow * labelRowsPerPage)
		if slot == 0 {
			page = d.NewPage()
		}
		modules, err := seal.Modules(l.Text)
		if err != nil {
			return fmt.Errorf("label %d: %w", l.Package, err)
		}
		img := d.Bitmap(modules, 4)
		col, row := slot%labelsPerRow, slot/labelsPerRow
		x := (labelMarginX + float64(col)*(labelW+labelGapX)) * pdf.MM
		top := pdf.A4Height - (labelMarginY+float64(row)*(labelH+labelGapY))*pdf.MM
		y := top - labelH*pdf.MM
		page.Rect(x, y, labelW*pdf.MM, labelH*pdf.MM, 0.4)
		page.Image(img, x+3*pdf.MM, y+(labelH-labelQR)/2*pdf.MM, labelQR*pdf.MM)
		tx := x + (3+labelQR+3)*pdf.MM
		line := func(mm float64) float64 { return top - mm*pdf.MM }
		page.Text(pdf.Bold, 10.5, tx, line(9), l.RegistryNumber)
		page.Text(pdf.Regular, 6.5, tx, line(14), "PACKAGE")
		page.Text(pdf.Bold, 13, tx, line(19.5), fmt.Sprintf("%d of %d", l.Package, l.Packages))
		page.Text(pdf.Regular, 6.5, tx, line(24.5), "SEAL")
		physical := l.PhysicalSeal
		if physical == "" {
			physical = "-"
		}
		page.Text(pdf.Regular, 9, tx, line(28.5), physical)
		page.Text(pdf.Regular, 6.5, tx, line(33.5), "ROUTE")
		page.Text(pdf.Bold, 9, tx, line(37.5), l.Origin+" to "+l.Destination)
		page.Text(pdf.Regular, 6.5, tx, line(41.5), "from "+fit(l.OriginName, 34))
		page.Text(pdf.Regular, 6.5, tx, line(44.8), "to "+fit(l.DestinationName, 36))
		page.Text(pdf.Bold, 7, tx, line(52), "DIPLOMATIC BAG")
		page.Text(pdf.Regular, 5.5, tx, line(55.5), "VS1 "+l.Serial)
		page.Text(pdf.Regular, 5.5, tx, line(58.5), "valid until "+l.ExpiresAt.UTC().Format("2006-01-02"))
	}
	return d.Write(w)
}

// fit shortens s to n characters with an ellipsis.
func fit(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
