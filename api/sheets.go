package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"valise"
	"valise/courier"
	"valise/policy"
)

// sheetRoutes: the list of courier sheets (GET /sheets).
func (p *pouchAPI) sheetRoutes(r chi.Router) {
	r.Get("/sheets", handleNoBody(p.listSheets))
}

// listSheets lists the sheets in the caller's scope, filtered in SQL:
// courier (courier id), bag (bag id), issuer, status, valid (true/false:
// valid now), after (cursor), limit.
func (p *pouchAPI) listSheets(r *http.Request, s policy.Subject) (map[string]any, error) {
	q := r.URL.Query()
	f := courier.SheetFilter{CourierID: q.Get("courier"), BagID: q.Get("bag"), Issuer: q.Get("issuer"),
		Status: q.Get("status"), After: q.Get("after")}
	if v := q.Get("valid"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, valise.Invalid("bad list parameters", valise.FieldError{Field: "valid", Reason: "true or false"})
		}
		f.Valid = &b
	}
	var err error
	if f.Limit, err = limitParam(q.Get("limit")); err != nil {
		return nil, err
	}
	sc, err := p.authz.ListScope(r.Context(), s, "sheet")
	if err != nil {
		return nil, err
	}
	list, next, err := p.couriers.ListSheets(r.Context(), s, sc, f)
	if err != nil {
		return nil, err
	}
	return map[string]any{"sheets": list, "next": next}, nil
}

// limitParam reads a list's limit parameter: 1..200, 0 when absent (the
// list's default).
func limitParam(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		return 0, valise.Invalid("bad list parameters", valise.FieldError{Field: "limit", Reason: "1..200"})
	}
	return n, nil
}

// printScript serves the printable pages' script (public: it holds nothing
// but the Print button's wiring).
func printScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(courier.PrintScript))
}
