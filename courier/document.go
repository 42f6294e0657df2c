package courier

import (
	"fmt"
	"time"
	_ "time/tzdata" // the sheet prints the issuing unit's local time on any machine
)

// sealSerialsSQL selects a bag b's physical seal serials in package order.
const sealSerialsSQL = `array(SELECT coalesce(p.seal_serial, '') FROM bag_packages p WHERE p.bag_id = b.id ORDER BY p.k)`

// Document is a bearer's identity document.
type Document struct {
	Kind    string `json:"kind"` // diplomatic_passport, service_passport, passport, id_card
	Number  string `json:"number"`
	Country string `json:"country"` // issuing state, ISO 3166 alpha-2
	Expires string `json:"expires,omitempty"`
}

// Languages of the printed sheet, in the order it prints them: Kazakh (the
// state language), Russian, English.
var languages = []string{"kk", "ru", "en"}

var docNames = map[string]map[string]string{
	"diplomatic_passport": {"kk": "Дипломатиялық төлқұжат", "ru": "Дипломатический паспорт", "en": "Diplomatic passport"},
	"service_passport":    {"kk": "Қызметтік төлқұжат", "ru": "Служебный паспорт", "en": "Service passport"},
	"passport":            {"kk": "Төлқұжат", "ru": "Паспорт", "en": "Passport"},
	"id_card":             {"kk": "Жеке куәлік", "ru": "Удостоверение личности", "en": "Identity card"},
}

// Text names the document as a person reads it, in lang (kk, ru, en):
// "Service passport No. N1234567 (KZ)".
func (d Document) Text(lang string) string {
	name := docNames[d.Kind][lang]
	if name == "" {
		name = d.Kind
	}
	no := "№"
	if lang == "en" {
		no = "No."
	}
	return fmt.Sprintf("%s %s %s (%s)", name, no, d.Number, d.Country)
}

// stamp is a time as the sheet prints it: in the issuing unit's zone, and in UTC.
type stamp struct{ Local, UTC string }

// stampIn formats t in zone (an IANA name; "" or unknown: UTC only).
func stampIn(t time.Time, zone string) stamp {
	s := stamp{UTC: t.UTC().Format("2006-01-02 15:04") + " UTC"}
	if zone == "" {
		return s
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return s
	}
	l := t.In(loc)
	s.Local = l.Format("2006-01-02 15:04") + " " + zone + " (UTC" + l.Format("-07:00") + ")"
	return s
}
