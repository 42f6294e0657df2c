package courier

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"valise/crypto/seal"
)

// printPage is the printable courier sheet: A4, one print button, no external
// resources. It names the bearer, the bags by registry number and their
// package counts, the route and validity; never contents or levels. The
// signed QR (inline SVG, 40 mm) verifies like a bag seal.
var printPage = template.Must(template.New("sheet").Funcs(template.FuncMap{
	"join": strings.Join,
	"date": func(t interface{ Format(string) string }) string { return t.Format("2006-01-02 15:04 MST") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Courier sheet {{.Number}}</title>
<style>
@page { size: A4; margin: 18mm; }
body { font: 11pt/1.4 serif; color: #000; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 2mm; }
.sub { text-align: center; margin-bottom: 8mm; }
table { border-collapse: collapse; width: 100%; margin: 4mm 0; }
th, td { border: 1px solid #000; padding: 2mm; text-align: left; vertical-align: top; }
th { width: 35%; }
.revoked { border: 3px solid #000; padding: 3mm; font-weight: bold; text-align: center; margin-bottom: 6mm; }
.sign { margin-top: 18mm; display: flex; justify-content: space-between; }
.qr { float: right; width: 40mm; margin: 0 0 4mm 4mm; text-align: center; font-size: 7pt; }
.qr svg { width: 40mm; height: 40mm; }
@media print { .noprint { display: none; } }
</style></head><body>
{{if eq .Status "revoked"}}<div class="revoked">REVOKED {{if .RevokedAt}}{{date .RevokedAt}}{{end}}: {{.RevokedReason}}</div>{{end}}
{{if .QRSVG}}<div class="qr">{{.QRSVG}}<br>Signed QR · serial {{.QRSerial}}<br>verify: valise seal verify</div>{{end}}
<h1>COURIER SHEET</h1>
<div class="sub">No. {{.Number}} · {{.IssuerName}} ({{.Issuer}})</div>
<table>
<tr><th>Bearer</th><td>{{.BearerName}}{{if .BearerDoc}}<br>{{.BearerDoc}}{{end}}</td></tr>
<tr><th>Status of bearer</th><td>{{if eq .Conveyance "career_courier"}}Diplomatic courier{{else if eq .Conveyance "ad_hoc_courier"}}Diplomatic courier ad hoc{{else if eq .Conveyance "aircraft_captain"}}Captain of a commercial aircraft (not a diplomatic courier){{else}}Engaged carrier (unaccompanied bag){{end}}</td></tr>
<tr><th>Route</th><td>{{join .Route " → "}}</td></tr>
<tr><th>Number of packages</th><td>{{.PackageCount}}</td></tr>
<tr><th>Valid</th><td>from {{date .ValidFrom}} until {{date .ValidUntil}}</td></tr>
{{if .Replaces}}<tr><th>Replaces</th><td>{{.Replaces}}</td></tr>{{end}}
</table>
<table><tr><th>Bag (registry number)</th><th>Packages</th></tr>
{{range .Bags}}<tr><td>{{.RegistryNumber}}</td><td>{{.Packages}}</td></tr>{{end}}
</table>
<p>The packages listed above constitute diplomatic mail. They bear visible external marks of their character and
may not be opened or detained (Vienna Convention on Diplomatic Relations, Art. 27).</p>
<div class="sign"><div>Issued by: {{.IssuedBy}}<br>{{date .IssuedAt}}</div><div>Signature and seal: ____________________</div></div>
<p class="noprint"><button onclick="window.print()">Print</button></p>
</body></html>
`))

// Print writes the sheet as an HTML page ready to print, with its signed QR
// drawn inline (no external resource, so the page prints offline).
func (sh *Sheet) Print(w io.Writer) error {
	page := struct {
		*Sheet
		QRSVG template.HTML
	}{Sheet: sh}
	if sh.QR != "" {
		svg, err := seal.SVG(sh.QR, 40)
		if err != nil {
			return fmt.Errorf("draw the sheet's QR: %w", err)
		}
		// seal.SVG writes only its own elements and attributes.
		page.QRSVG = template.HTML(stripXMLDecl(svg))
	}
	return printPage.Execute(w, page)
}

// stripXMLDecl drops an XML declaration, which has no place inside HTML.
func stripXMLDecl(svg []byte) string {
	s := string(svg)
	if strings.HasPrefix(s, "<?xml") {
		if i := strings.Index(s, "?>"); i >= 0 {
			s = strings.TrimLeft(s[i+2:], "\r\n")
		}
	}
	return s
}
