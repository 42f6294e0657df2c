package api

import (
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"valise"
	"valise/personnel"
	"valise/policy"
)

// Secondment under Government Decree No. 755 (issue 14): the three rule
// sets as separate workflows. The rules live in personnel/secondment*.go;
// a secondment file is personal data under policy/personnel.rego (kind
// staff, origin = the unit that keeps the file).
func (p *personnelAPI) secondmentRoutes(r chi.Router) {
	post := r.With(p.idem.middleware).Post
	r.Get("/personnel/secondment-rules", handleNoBody(func(*http.Request, policy.Subject) (map[string]any, error) {
		return map[string]any{"legal_basis": personnel.LegalBasis, "rule_sets": []personnel.RuleSet{
			personnel.RuleSets[personnel.RuleR1], personnel.RuleSets[personnel.RuleR2], personnel.RuleSets[personnel.RuleR3]}}, nil
	}))
	r.Get("/personnel/secondments", handleNoBody(p.listSecondments))
	post("/personnel/secondments", handle(http.StatusCreated, p.propose))
	r.Get("/personnel/secondments/{id}", handleNoBody(p.getSecondment))
	r.Get("/personnel/secondments/{id}/events", handleNoBody(p.secondmentEvents))
	post("/personnel/secondments/{id}/steps/{step}", handle(http.StatusOK, p.recordStep))
}

func (p *personnelAPI) listSecondments(r *http.Request, s policy.Subject) (map[string]any, error) {
	q := r.URL.Query()
	rs := q.Get("rule_set")
	if rs != "" && !slices.Contains([]string{personnel.RuleR1, personnel.RuleR2, personnel.RuleR3}, rs) {
		return nil, valise.Invalid("bad query parameter", valise.FieldError{Field: "rule_set", Reason: "r1, r2 or r3"})
	}
	if st := q.Get("state"); st != "" && !slices.Contains(personnel.SecondmentStates, st) {
		return nil, valise.Invalid("bad query parameter", valise.FieldError{Field: "state", Reason: "one of the workflow states"})
	}
	sc, err := p.authz.ListScope(r.Context(), s, "staff")
	if err != nil {
		return nil, err
	}
	list, err := p.svc.ListSecondments(r.Context(), sc, s, rs, q.Get("state"))
	return map[string]any{"secondments": list}, err
}

func (p *personnelAPI) propose(r *http.Request, s policy.Subject, in personnel.SecondmentInput) (personnel.Secondment, error) {
	return p.svc.Propose(r.Context(), p.check(s), s, in)
}

func (p *personnelAPI) getSecondment(r *http.Request, s policy.Subject) (personnel.Secondment, error) {
	return p.svc.GetSecondment(r.Context(), p.check(s), chi.URLParam(r, "id"))
}

func (p *personnelAPI) secondmentEvents(r *http.Request, s policy.Subject) (map[string]any, error) {
	ev, err := p.svc.SecondmentEvents(r.Context(), p.check(s), chi.URLParam(r, "id"))
	return map[string]any{"events": ev}, err
}

func (p *personnelAPI) recordStep(r *http.Request, s policy.Subject, in personnel.StepInput) (personnel.Secondment, error) {
	return p.svc.RecordStep(r.Context(), p.check(s), s, chi.URLParam(r, "id"), chi.URLParam(r, "step"), in)
}
