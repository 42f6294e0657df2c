package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"valise/policy"
)

type pageTemplate = template.Template

// page is what every template gets: the user, their language and time
// zone, the form token, and the page's own data.
type page struct {
	Lang  string
	Title string
	Path  string
	CSRF  string
	User  *policy.Subject
	Desks []desk
	Langs []string
	Data  any
	tz    *time.Location
}

// T translates key into the page's language (fmt verbs take args).
func (p *page) T(key string, args ...any) string { return translate(p.Lang, key, args...) }

// Date shows a time in the user's time zone with UTC beside it, in a
// <time> element a screen reader and a script can read.
func (p *page) Date(v any) template.HTML {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return "—"
		}
		t = *x
	default:
		return ""
	}
	if t.IsZero() {
		return "—"
	}
	utc := t.UTC()
	local := t.In(p.tz)
	iso := template.HTMLEscapeString(utc.Format(time.RFC3339))
	if p.tz == time.UTC {
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s UTC</time>`, iso, utc.Format("2006-01-02 15:04")))
	}
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s %s</time> <span class="utc">(%s UTC)</span>`, iso,
		local.Format("2006-01-02 15:04"), template.HTMLEscapeString(local.Format("MST")), utc.Format("2006-01-02 15:04")))
}

// Age is how long ago t was, in whole days.
func (p *page) Age(t time.Time) string { return p.T("age.days", int(time.Since(t).Hours()/24)) }

// TZ is the user's time zone name.
func (p *page) TZ() string { return p.tz.String() }

// Level names a classification level in the page's language.
func (p *page) Level(l policy.Level) string { return p.T("level." + l.String()) }

// State names a bag state in the page's language.
func (p *page) State(s any) string { return p.T("state." + fmt.Sprint(s)) }

var funcs = template.FuncMap{
	"join": strings.Join,
	"pair": func(a, b any) []any { return []any{a, b} },
	"add":  func(a, b int) int { return a + b },
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
}

func mustParse() map[string]*pageTemplate {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*pageTemplate{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html", n))
	}
	return out
}

// render writes page name (with the layout) in the user's language.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	pr := prefsOf(r)
	p := &page{Lang: pr.Lang, tz: pr.TZ, Title: title, Path: r.URL.Path, Data: data, Langs: langs}
	p.CSRF, _ = r.Context().Value(csrfKey).(string)
	if s, ok := policy.SubjectFrom(r.Context()); ok {
		p.User = &s
		for _, d := range desks {
			if d.open(s) {
				p.Desks = append(p.Desks, d)
			}
		}
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.d.Log.ErrorContext(r.Context(), "console page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers with the error page: a heading and a message key.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	c.render(w, r, status, "error", "title.error", map[string]any{"Key": key, "Status": status})
}

// failErr answers err as the API would (the same status): a missing or
// hidden resource reads exactly "not found"; a refused action says why
// in the user's language, with the domain's own words beneath (refusal.go);
// anything else is logged and not shown.
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status := c.d.Status(err)
	data := map[string]any{"Status": status}
	switch {
	case status == http.StatusNotFound:
		data["Key"] = "error.notfound"
	case status >= 500:
		c.d.Log.ErrorContext(r.Context(), "console request failed", "path", r.URL.Path, "err", err)
		data["Key"] = "error.internal"
	default:
		data["Key"] = "error.refused"
		data["Refusal"] = explain(prefsOf(r).Lang, err)
	}
	c.render(w, r, status, "error", "title.error", data)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, http.StatusNotFound, "error.notfound")
}
