package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"valise"
	"valise/personnel"
	"valise/policy"
)

// Entitlements and payments (issue 15, HR-40 ... HR-46): the reference
// values from other law (valid from a date), duty incidents abroad, the
// calculator (a preview changes nothing) and recorded decisions. The rules
// live in personnel/entitlement*.go; who may see what is policy/personnel.rego
// (a preview and a decision need staff.manage, reading decisions staff.read).
func (p *personnelAPI) entitlementRoutes(r chi.Router) {
	post := r.With(p.idem.middleware).Post
	r.Get("/personnel/entitlement-reference", handleNoBody(p.listEntitlementReference))
	post("/personnel/entitlement-reference/{kind}/{refcode}", handle(http.StatusCreated, p.addEntitlementReference))
	r.Get("/personnel/entitlement-reference/{kind}/{refcode}/history", handleNoBody(p.entitlementReferenceHistory))
	r.Get("/staff/{id}/duty-incidents", handleNoBody(p.incidents))
	post("/staff/{id}/duty-incidents", handle(http.StatusCreated, p.recordIncident))
	post("/staff/{id}/entitlements/preview", p.previewEntitlement)
	r.Get("/staff/{id}/entitlements", handleNoBody(p.entitlements))
	post("/staff/{id}/entitlements", handle(http.StatusCreated, p.recordEntitlement))
	r.Get("/staff/{id}/entitlements/{decision}", p.entitlementPage)
	post("/staff/{id}/entitlements/{decision}/corrections", handle(http.StatusCreated, p.correctEntitlement))
}

func (p *personnelAPI) listEntitlementReference(r *http.Request, s policy.Subject) (map[string]any, error) {
	on, err := dateParam(r, "on")
	if err != nil {
		return nil, err
	}
	refs, err := p.svc.EntitlementReference(r.Context(), p.check(s), r.URL.Query().Get("kind"), on)
	return map[string]any{"on": on, "reference": refs}, err
}

func (p *personnelAPI) addEntitlementReference(r *http.Request, s policy.Subject, in personnel.EntRefInput) (personnel.EntRef, error) {
	return p.svc.AddEntitlementReference(r.Context(), p.check(s), s, chi.URLParam(r, "kind"), chi.URLParam(r, "refcode"), in)
}

func (p *personnelAPI) entitlementReferenceHistory(r *http.Request, s policy.Subject) (map[string]any, error) {
	h, err := p.svc.EntitlementReferenceHistory(r.Context(), p.check(s), chi.URLParam(r, "kind"), chi.URLParam(r, "refcode"))
	return map[string]any{"versions": h}, err
}

func (p *personnelAPI) incidents(r *http.Request, s policy.Subject) (map[string]any, error) {
	x, err := p.svc.Incidents(r.Context(), p.check(s), chi.URLParam(r, "id"))
	return map[string]any{"incidents": x}, err
}

func (p *personnelAPI) recordIncident(r *http.Request, s policy.Subject, in personnel.IncidentInput) (personnel.Incident, error) {
	return p.svc.RecordIncident(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) entitlements(r *http.Request, s policy.Subject) (map[string]any, error) {
	x, err := p.svc.Entitlements(r.Context(), p.check(s), chi.URLParam(r, "id"))
	return map[string]any{"decisions": x}, err
}

func (p *personnelAPI) recordEntitlement(r *http.Request, s policy.Subject, in personnel.RecordEntitlementInput) (personnel.Decision, error) {
	return p.svc.RecordEntitlement(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) correctEntitlement(r *http.Request, s policy.Subject, in personnel.RecordEntitlementInput) (personnel.Decision, error) {
	return p.svc.CorrectEntitlement(r.Context(), p.check(s), s, chi.URLParam(r, "id"), chi.URLParam(r, "decision"), in)
}

// textFormat reads ?format=json|text (default json).
func textFormat(w http.ResponseWriter, r *http.Request) (bool, bool) {
	switch r.URL.Query().Get("format") {
	case "", "json":
		return false, true
	case "text":
		return true, true
	}
	Error(w, r, valise.Invalid("bad query parameter", valise.FieldError{Field: "format", Reason: "json or text"}))
	return false, false
}

// jsonOrText answers call's result as JSON, or with ?format=text as its
// plain-text form to print.
func jsonOrText(w http.ResponseWriter, r *http.Request, call func(s policy.Subject) (any, func() string, error)) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	text, ok := textFormat(w, r)
	if !ok {
		return
	}
	v, page, err := call(s)
	if err != nil {
		Error(w, r, err)
		return
	}
	if !text {
		JSON(w, http.StatusOK, v)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(page()))
}

// previewEntitlement computes without recording.
func (p *personnelAPI) previewEntitlement(w http.ResponseWriter, r *http.Request) {
	jsonOrText(w, r, func(s policy.Subject) (any, func() string, error) {
		var in personnel.EntitlementInput
		if err := Decode(r, &in); err != nil {
			return nil, nil, err
		}
		c, err := p.svc.PreviewEntitlement(r.Context(), p.check(s), chi.URLParam(r, "id"), in)
		return c, func() string { return "PREVIEW (not recorded)\n" + c.Text() }, err
	})
}

// entitlementPage answers one recorded decision.
func (p *personnelAPI) entitlementPage(w http.ResponseWriter, r *http.Request) {
	jsonOrText(w, r, func(s policy.Subject) (any, func() string, error) {
		d, err := p.svc.Entitlement(r.Context(), p.check(s), chi.URLParam(r, "id"), chi.URLParam(r, "decision"))
		return d, func() string {
			head := ""
			if d.SupersededBy != "" {
				head += "SUPERSEDED by decision " + d.SupersededBy + " (a correction): this decision no longer applies\n"
			}
			if d.Supersedes != "" {
				head += "CORRECTION of decision " + d.Supersedes + "\n"
			}
			return head + "DECISION " + d.ID + "\nRecorded by " + d.RecordedBy + " at " + d.DecidedAt.UTC().Format("2006-01-02 15:04:05Z") +
				"; act " + d.Act.Number + " of " + d.Act.Date.String() + "; reason: " + d.Reason + "\n" + d.Computation.Text()
		}, err
	})
}
