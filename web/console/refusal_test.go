package console

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"valise"
)

// TestRefusalsTranslated: a domain's refusal reads in Kazakh and Russian
// from its code, reason, missing step, state and fields, and always keeps
// the domain's English words; one the catalog does not know still shows them.
func TestRefusalsTranslated(t *testing.T) {
	for _, c := range []struct {
		err    error
		kk, ru string
	}{
		{&valise.Error{Code: valise.ECONFLICT, Message: "only the bag's current custodian may release it; it is held by x",
			Extra: map[string]any{"reason": "not_custodian"}}, "Вализа сізде емес", "Вализа не у вас"},
		{&valise.Error{Code: valise.ECONFLICT, Message: "no sheet", Extra: map[string]any{"current_state": "sealed", "missing": "courier_sheet"}},
			"курьер парағы жоқ", "нет действующего курьерского листа"},
		{&valise.Error{Code: valise.ECONFLICT, Message: "cannot store a sealed bag",
			Extra: map[string]any{"current_state": "sealed", "allowed_next": []string{"dispatched"}}}, "«Мөрленген» күйінде", "в состоянии «Опечатана»"},
		{valise.Invalid("the bag cannot be sealed as described", valise.FieldError{Field: "seal_serials", Reason: "give one serial per package, or none"}),
			"Пломба нөмірлері: әр орамға бір нөмір", "Номера пломб: укажите по одному номеру на место"},
		{valise.Invalid("the receipt is incomplete", valise.FieldError{Field: "seals[1]", Reason: "not a seal text"}),
			"Мөрлерді сканерлеу 2: мөр мәтіні емес", "Сканирование печатей 2: не текст печати"},
		{valise.Errorf(valise.EPRECONDITION, "the bag changed"), "деректер өзгерді", "Данные изменились"},
		{valise.Errorf(valise.EFORBIDDEN, "you are not allowed to do this"), "рұқсатыңыз жоқ", "нет права"},
	} {
		for lang, want := range map[string]string{"kk": c.kk, "ru": c.ru} {
			r := explain(lang, c.err)
			shown := r.Message + " " + func() string {
				var b strings.Builder
				for _, f := range r.Fields {
					b.WriteString(f.Field + ": " + f.Reason + "; ")
				}
				return b.String()
			}()
			if !strings.Contains(shown, want) {
				t.Errorf("%s %v: %q, want %q", lang, c.err, shown, want)
			}
			if r.Detail != valise.ErrorMessage(c.err) {
				t.Errorf("%s %v: the domain's words are lost: %q", lang, c.err, r.Detail)
			}
		}
	}
	// A reason the catalog does not know falls back to its code's message,
	// and the English detail and field stay as the API gives them.
	r := explain("ru", &valise.Error{Code: valise.ECONFLICT, Message: "something new", Extra: map[string]any{"reason": "brand_new"},
		Fields: []valise.FieldError{{Field: "widget", Reason: "too blue"}}})
	if r.Message != catalog["ru"]["refuse.code.conflict"] || r.Detail != "something new" || r.Raw != "widget: too blue" ||
		r.Fields[0] != (fieldReason{"widget", "too blue"}) {
		t.Errorf("an unknown refusal: %+v", r)
	}
}

// TestRefusalReasonsInCatalog: every reason and missing step the domain
// packages name in a refusal has its message in the three languages.
func TestRefusalReasonsInCatalog(t *testing.T) {
	re := regexp.MustCompile(`"(reason|missing)": "([a-z_]+)"`)
	found := 0
	for _, dir := range []string{"pouch", "courier", "custody"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, _ := os.ReadFile(f)
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				if strings.HasSuffix(m[2], "_") {
					continue // a prefix completed at run time ("handoff_" + status): its names are in the catalog
				}
				found++
				for _, lang := range langs {
					if catalog[lang]["refuse."+m[1]+"."+m[2]] == "" {
						t.Errorf("%s: the %s %q has no %s message (refuse.%s.%s)", f, m[1], m[2], lang, m[1], m[2])
					}
				}
			}
		}
	}
	if found < 10 {
		t.Fatalf("found only %d refusal reasons in the domain's sources", found)
	}
	for k := range catalog["en"] {
		if strings.HasPrefix(k, "refuse.") || strings.HasPrefix(k, "why:") {
			for _, lang := range langs {
				if catalog[lang][k] == "" {
					t.Errorf("%s: no %s message", k, lang)
				}
			}
		}
	}
}
