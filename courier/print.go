package courier

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"valise/crypto/seal"
)

// PrintScript is the one script of the printable pages, served from the
// binary at PrintScriptPath: the pages' CSP allows scripts from the server
// only (script-src 'self'), never inline handlers. It wires the Print
// button and marks the page ready, so a test can tell it ran.
const PrintScript = `// Valise printable pages: the Print button (no inline handler, so the page's CSP allows it).
document.addEventListener("DOMContentLoaded", function () {
  var b = document.getElementById("print");
  if (!b) { return; }
  b.addEventListener("click", function () { window.print(); });
  b.disabled = false;
  document.documentElement.setAttribute("data-print", "ready");
});
`

// PrintScriptPath is where the server serves PrintScript.
const PrintScriptPath = "/assets/print.js"

// PrintCSP is the Content-Security-Policy of the printable pages: nothing
// external, styles inline, the one script from the server.
const PrintCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"

// labels are the printed sheet's words in Kazakh, Russian and English
// (the order of languages).
var labels = map[string][3]string{
	"title":          {"КУРЬЕРЛІК ПАРАҚ", "КУРЬЕРСКИЙ ЛИСТ", "COURIER SHEET"},
	"revoked":        {"КҮШІ ЖОЙЫЛДЫ", "ОТОЗВАН", "REVOKED"},
	"bearer":         {"Алып жүруші", "Предъявитель", "Bearer"},
	"position":       {"Лауазымы", "Должность", "Position"},
	"document":       {"Құжаты", "Документ", "Document"},
	"status":         {"Мәртебесі", "Статус", "Status of bearer"},
	"route":          {"Бағыты", "Маршрут", "Route"},
	"packages":       {"Орын саны", "Количество мест", "Number of packages"},
	"valid_from":     {"Жарамды (бастап)", "Действителен с", "Valid from"},
	"valid_until":    {"Жарамды (дейін)", "Действителен до", "Valid until"},
	"replaces":       {"Орнына", "Взамен", "Replaces"},
	"bag":            {"Вализа (тіркеу нөмірі)", "Вализа (регистрационный номер)", "Bag (registry number)"},
	"seals":          {"Пломба нөмірлері", "Номера пломб", "Seal serials"},
	"issued_by":      {"Берген", "Выдал", "Issued by"},
	"issued_at":      {"Берілген күні", "Дата выдачи", "Issued on"},
	"signature":      {"Қолы және мөрі", "Подпись и печать", "Signature and seal"},
	"print":          {"Басып шығару", "Печать", "Print"},
	"signed_qr":      {"Қол қойылған QR", "Подписанный QR", "Signed QR"},
	"expires":        {"дейін жарамды", "действителен до", "valid until"},
	"career":         {"Дипломатиялық курьер", "Дипломатический курьер", "Diplomatic courier"},
	"ad_hoc":         {"«Ад хок» дипломатиялық курьері", "Дипломатический курьер ad hoc", "Diplomatic courier ad hoc"},
	"captain":        {"Коммерциялық әуе кемесінің командирі (дипломатиялық курьер емес)", "Командир коммерческого воздушного судна (не является дипломатическим курьером)", "Captain of a commercial aircraft (not a diplomatic courier)"},
	"carrier":        {"Тартылған тасымалдаушы (ілесіп жүрусіз вализа)", "Привлечённый перевозчик (несопровождаемая вализа)", "Engaged carrier (unaccompanied bag)"},
	"notice_bag":     {"Жоғарыда көрсетілген орындар Қазақстан Республикасының дипломатиялық вализасы болып табылады. Олардың сипатын көрсететін көзге көрінетін сыртқы белгілері бар, оларды ашуға да, ұстап қалуға да болмайды (1961 жылғы Дипломатиялық қатынастар туралы Вена конвенциясы, 27-бап, 3 және 4-тармақтар).", "Перечисленные выше места составляют дипломатическую вализу Республики Казахстан. Они имеют видимые внешние знаки, указывающие на их характер, и не подлежат ни вскрытию, ни задержанию (Венская конвенция о дипломатических сношениях 1961 года, статья 27, пункты 3 и 4).", "The packages listed above constitute the diplomatic bag of the Republic of Kazakhstan. They bear visible external marks of their character and shall not be opened or detained (Vienna Convention on Diplomatic Relations, 1961, Article 27, paragraphs 3 and 4)."},
	"notice_courier": {"Дипломатиялық курьер өз функцияларын орындау кезінде болу мемлекетінің қорғауында болады, жеке басына қол сұғылмаушылықты пайдаланады және қандай да бір нысанда қамауға алынуға немесе ұсталуға жатпайды (27-бап, 5-тармақ).", "Дипломатический курьер при выполнении своих функций пользуется защитой государства пребывания, личной неприкосновенностью и не подлежит аресту или задержанию в какой бы то ни было форме (статья 27, пункт 5).", "The diplomatic courier is protected by the receiving State in the performance of his functions, enjoys personal inviolability and is not liable to any form of arrest or detention (Article 27, paragraph 5)."},
	"notice_ad_hoc":  {"«Ад хок» дипломатиялық курьері бұл иммунитеттерді өзіне сеніп тапсырылған вализаны алушыға жеткізгенге дейін пайдаланады (27-бап, 6-тармақ).", "Дипломатический курьер ad hoc пользуется этими иммунитетами до момента передачи вверенной ему вализы получателю (статья 27, пункт 6).", "The diplomatic courier ad hoc enjoys these immunities until he has delivered to the consignee the diplomatic bag in his charge (Article 27, paragraph 6)."},
	"notice_captain": {"Командир дипломатиялық курьер болып саналмайды; өкілдік мүшесі вализаны одан тікелей және еркін алуға құқылы (27-бап, 7-тармақ).", "Командир не считается дипломатическим курьером; член представительства вправе непосредственно и беспрепятственно получить у него вализу (статья 27, пункт 7).", "The captain is not considered to be a diplomatic courier; a member of the mission may take possession of the bag directly and freely from him (Article 27, paragraph 7)."},
}

// tr renders a label in the three languages, one line each.
func tr(key string) template.HTML {
	l, ok := labels[key]
	if !ok {
		panic("courier: no label " + key) // a template bug, caught by the print tests
	}
	var b strings.Builder
	for i, lang := range languages {
		fmt.Fprintf(&b, `<span lang="%s">%s</span>`, lang, template.HTMLEscapeString(l[i]))
	}
	return template.HTML(b.String())
}

// printPage is the printable courier sheet, A4, as a border officer reads
// it: every label in Kazakh, Russian and English; the bearer's full name,
// position and identity document; the bags by registry number with their
// package counts and physical seal serials; the route and validity in the
// issuing unit's local time beside UTC; the issuing officer's name and
// position; the VCDR Art. 27 notice fitting the conveyance. Never contents
// or levels. The signed QR (inline SVG at seal.PrintSize, about 40 mm)
// verifies like a bag seal.
var printPage = template.Must(template.New("sheet").Funcs(template.FuncMap{
	"join": strings.Join,
	"tr":   tr,
	"doc":  func(d *Document, lang string) string { return d.Text(lang) },
}).Parse(`<!doctype html>
<html lang="kk"><head><meta charset="utf-8"><title>Courier sheet {{.Number}}</title>
<style>
@page { size: A4; margin: 10mm 12mm; }
body { font: 9pt/1.25 "DejaVu Serif", serif; color: #000; margin: 0; }
@media screen { body { padding: 10mm 12mm; max-width: 210mm; box-sizing: border-box; } }
h1 { font-size: 12pt; text-align: center; margin: 0 0 1mm; }
h1 span, .l span { display: block; }
h1 span + span { font-size: 10.5pt; }
.l span + span { color: #333; }
.sub { text-align: center; margin-bottom: 3mm; font-size: 10.5pt; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; }
th, td { border: 1px solid #000; padding: 0.8mm 2mm; text-align: left; vertical-align: top; }
th { width: 30%; font-weight: normal; font-size: 8pt; }
td { font-size: 10pt; }
.bags th { width: auto; }
.revoked { border: 3px solid #000; padding: 2mm; font-weight: bold; text-align: center; margin-bottom: 3mm; }
.qr { float: right; width: 44mm; margin: 0 0 2mm 4mm; text-align: center; font-size: 7pt; }
.qr svg { display: block; margin: 0 auto; }
.notice p { margin: 1.2mm 0; font-size: 8pt; text-align: justify; }
.sign { margin-top: 5mm; display: flex; justify-content: space-between; }
.sign > div { width: 48%; }
.utc { color: #333; }
@media print { .noprint { display: none; } }
</style></head><body>
{{if eq .Status "revoked"}}<div class="revoked l">{{tr "revoked"}}{{if .RevokedAt}} {{.Revoked.UTC}}{{end}}: {{.RevokedReason}}</div>{{end}}
{{if .QRSVG}}<div class="qr">{{.QRSVG}}{{index .QRLabel 2}} · serial {{.QRSerial}}<br>valise seal verify</div>{{end}}
<h1>{{tr "title"}}</h1>
<div class="sub">№ {{.Number}}<br>{{.IssuerName}} ({{.Issuer}})</div>
<table>
<tr><th class="l">{{tr "bearer"}}</th><td><strong>{{.BearerName}}</strong></td></tr>
{{if .BearerPosition}}<tr><th class="l">{{tr "position"}}</th><td>{{.BearerPosition}}</td></tr>{{end}}
{{if .Doc}}<tr><th class="l">{{tr "document"}}</th><td class="l"><span lang="kk">{{doc .Doc "kk"}}</span><span lang="ru">{{doc .Doc "ru"}}</span><span lang="en">{{doc .Doc "en"}}</span>{{if .Doc.Expires}}<span lang="kk">{{.Doc.Expires}} {{index .ExpiresLabel 0}}</span><span lang="ru">{{index .ExpiresLabel 1}} {{.Doc.Expires}}</span><span lang="en">{{index .ExpiresLabel 2}} {{.Doc.Expires}}</span>{{end}}</td></tr>{{end}}
<tr><th class="l">{{tr "status"}}</th><td class="l">{{tr .StatusKey}}</td></tr>
<tr><th class="l">{{tr "route"}}</th><td>{{join .Route " → "}}</td></tr>
<tr><th class="l">{{tr "packages"}}</th><td>{{.PackageCount}}</td></tr>
<tr><th class="l">{{tr "valid_from"}}</th><td>{{with .From}}{{if .Local}}{{.Local}}<br>{{end}}<span class="utc">{{.UTC}}</span>{{end}}</td></tr>
<tr><th class="l">{{tr "valid_until"}}</th><td>{{with .Until}}{{if .Local}}{{.Local}}<br>{{end}}<span class="utc">{{.UTC}}</span>{{end}}</td></tr>
{{if .Replaces}}<tr><th class="l">{{tr "replaces"}}</th><td>{{.Replaces}}</td></tr>{{end}}
</table>
<table class="bags"><tr><th class="l">{{tr "bag"}}</th><th class="l">{{tr "packages"}}</th><th class="l">{{tr "seals"}}</th></tr>
{{range .Bags}}<tr><td>{{.RegistryNumber}}</td><td>{{.Packages}}</td><td>{{join .SealSerials ", "}}</td></tr>{{end}}
</table>
<div class="notice">{{range .Notice}}<p lang="{{.Lang}}">{{.Text}}</p>{{end}}</div>
<div class="sign"><div><span class="l">{{tr "issued_by"}}</span><strong>{{if .IssuedByName}}{{.IssuedByName}}{{else}}{{.IssuedBy}}{{end}}</strong>{{if .IssuedByPosition}}<br>{{.IssuedByPosition}}{{end}}<br>{{with .Issued}}{{if .Local}}{{.Local}}<br>{{end}}<span class="utc">{{.UTC}}</span>{{end}}</div>
<div><span class="l">{{tr "signature"}}</span><br><br>______________________________</div></div>
<p class="noprint"><button id="print" type="button" disabled>{{index .PrintLabel 0}} · {{index .PrintLabel 1}} · {{index .PrintLabel 2}}</button></p>
<script src="` + PrintScriptPath + `"></script>
</body></html>
`))

type noticePara struct{ Lang, Text string }

// Print writes the sheet as an HTML page ready to print, with its signed QR
// drawn inline (no external resource but the print script, so the page
// prints offline). Serve it with PrintCSP.
func (sh *Sheet) Print(w io.Writer) error {
	page := struct {
		*Sheet
		QRSVG                             template.HTML
		StatusKey                         string
		From, Until, Issued, Revoked      stamp
		Notice                            []noticePara
		QRLabel, PrintLabel, ExpiresLabel [3]string
	}{Sheet: sh, From: stampIn(sh.ValidFrom, sh.TimeZone), Until: stampIn(sh.ValidUntil, sh.TimeZone),
		Issued: stampIn(sh.IssuedAt, sh.TimeZone), QRLabel: labels["signed_qr"], PrintLabel: labels["print"],
		ExpiresLabel: labels["expires"]}
	if sh.RevokedAt != nil {
		page.Revoked = stampIn(*sh.RevokedAt, sh.TimeZone)
	}
	notices := []string{"notice_bag"}
	switch sh.Conveyance {
	case "career_courier":
		page.StatusKey = "career"
		notices = append(notices, "notice_courier")
	case "ad_hoc_courier":
		page.StatusKey = "ad_hoc"
		notices = append(notices, "notice_courier", "notice_ad_hoc")
	case "aircraft_captain":
		page.StatusKey = "captain"
		notices = append(notices, "notice_captain")
	default:
		page.StatusKey = "carrier"
	}
	for i, lang := range languages {
		var parts []string
		for _, n := range notices {
			parts = append(parts, labels[n][i])
		}
		page.Notice = append(page.Notice, noticePara{Lang: lang, Text: strings.Join(parts, " ")})
	}
	if sh.QR != "" {
		mm, err := seal.PrintSize(sh.QR)
		if err != nil {
			return fmt.Errorf("draw the sheet's QR: %w", err)
		}
		svg, err := seal.SVG(sh.QR, mm)
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
