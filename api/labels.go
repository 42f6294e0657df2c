package api

import (
	"bytes"
	"net/http"

	"github.com/go-chi/chi/v5"

	"valise/courier"
	"valise/pouch"
)

// labelRoutes: every seal of a bag as a printable label, HTML and PDF. The
// static file names take precedence over /bags/{id}/seals/{file}.
func (a *sealAPI) labelRoutes(r chi.Router) {
	r.Get("/bags/{id}/seals/labels.html", a.labels(false))
	r.Get("/bags/{id}/seals/labels.pdf", a.labels(true))
}

// labels serves the label page of a bag the caller may read.
func (a *sealAPI) labels(asPDF bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, ok := a.readBag(w, r)
		if !ok {
			return
		}
		labels, err := a.bags.Labels(r.Context(), b)
		if err != nil {
			Error(w, r, err)
			return
		}
		var out bytes.Buffer
		if asPDF {
			err = pouch.WriteLabelsPDF(&out, labels)
			w.Header().Set("Content-Type", "application/pdf")
			w.Header().Set("Content-Disposition", `inline; filename="`+b.RegistryNumber+`-seal-labels.pdf"`)
		} else {
			err = pouch.WriteLabelsHTML(&out, b.RegistryNumber, labels, courier.PrintScriptPath)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", courier.PrintCSP)
		}
		if err != nil {
			Error(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(out.Bytes())
	}
}
