package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/personnel"
	"valise/policy"
)

// personnelAPI serves the personnel core (issue 13): staff records, ranks,
// discipline, termination, family, reserve, study and the by-law reference
// data. The rules live in package personnel; the personal-data policy in
// policy/personnel.rego.
type personnelAPI struct {
	svc   *personnel.Service
	authz *policy.Authorizer
	idem  *idempotency
}

func newPersonnelAPI(pool *pgxpool.Pool, authz *policy.Authorizer, idem *idempotency) *personnelAPI {
	return &personnelAPI{svc: personnel.New(pool), authz: authz, idem: idem}
}

func (p *personnelAPI) check(s policy.Subject) personnel.Check {
	return personnel.Check(checkAs(p.authz, s))
}

func (p *personnelAPI) routes(r chi.Router) {
	post := r.With(p.idem.middleware).Post
	r.Get("/personnel/ranks", handleNoBody(func(*http.Request, policy.Subject) (map[string]any, error) {
		return map[string]any{"ranks": personnel.Ranks, "penalties": personnel.Penalties,
			"termination_grounds": personnel.TerminationGrounds, "counted_period_types": personnel.CountedPeriodTypes}, nil
	}))
	r.Get("/personnel/reference", handleNoBody(p.listReference))
	r.Put("/personnel/reference/{kind}/{code}", handle(http.StatusOK, p.setReference))
	r.Get("/personnel/reference/{kind}/{code}/history", handleNoBody(p.referenceHistory))
	r.Get("/personnel/eligible", handleNoBody(p.eligible))
	r.Get("/personnel/reserve", handleNoBody(p.reserve))
	r.Get("/staff", handleNoBody(p.list))
	post("/staff", handle(http.StatusCreated, p.admit))
	r.Get("/staff/{id}", handleNoBody(p.get))
	r.Get("/staff/{id}/events", handleNoBody(p.events))
	post("/staff/{id}/corrections", handle(http.StatusOK, p.correct))
	r.Put("/staff/{id}/account", handle(http.StatusOK, p.linkAccount))
	post("/staff/{id}/appointments", handle(http.StatusOK, p.appoint))
	post("/staff/{id}/service-periods", handle(http.StatusCreated, p.addPeriod))
	r.Get("/staff/{id}/time-in-rank", handleNoBody(p.timeInRank))
	post("/staff/{id}/ranks", handle(http.StatusCreated, p.changeRank))
	r.Get("/staff/{id}/service-record", p.serviceRecordPage)
	post("/staff/{id}/cases", handle(http.StatusCreated, p.openCase))
	post("/staff/{id}/cases/{case}/close", handle(http.StatusOK, p.closeCase))
	post("/staff/{id}/penalties", handle(http.StatusCreated, p.impose))
	post("/staff/{id}/termination", handle(http.StatusCreated, p.terminate))
	r.Get("/staff/{id}/family", handleNoBody(p.family))
	post("/staff/{id}/family", handle(http.StatusCreated, p.addFamily))
	post("/staff/{id}/studies", handle(http.StatusCreated, p.study))
	post("/staff/{id}/studies/{study}/complete", handle(http.StatusOK, p.completeStudy))
}

// dateParam reads an optional ?name=YYYY-MM-DD (default today).
func dateParam(r *http.Request, name string) (personnel.Date, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return personnel.Today(time.Now()), nil
	}
	d, err := personnel.ParseDate(v)
	if err != nil {
		return d, valise.Invalid("bad query parameter", valise.FieldError{Field: name, Reason: err.Error()})
	}
	return d, nil
}

func (p *personnelAPI) listReference(r *http.Request, s policy.Subject) (map[string]any, error) {
	refs, err := p.svc.ListReference(r.Context(), p.check(s), r.URL.Query().Get("kind"))
	return map[string]any{"reference": refs}, err
}

func (p *personnelAPI) setReference(r *http.Request, s policy.Subject, in personnel.ReferenceInput) (personnel.Reference, error) {
	return p.svc.SetReference(r.Context(), p.check(s), s, chi.URLParam(r, "kind"), chi.URLParam(r, "code"), in)
}

func (p *personnelAPI) referenceHistory(r *http.Request, s policy.Subject) (map[string]any, error) {
	h, err := p.svc.ReferenceHistory(r.Context(), p.check(s), chi.URLParam(r, "kind"), chi.URLParam(r, "code"))
	return map[string]any{"versions": h}, err
}

func (p *personnelAPI) eligible(r *http.Request, s policy.Subject) (map[string]any, error) {
	on, err := dateParam(r, "on")
	if err != nil {
		return nil, err
	}
	sc, err := p.authz.ListScope(r.Context(), s, "staff")
	if err != nil {
		return nil, err
	}
	el, err := p.svc.EligibleOn(r.Context(), sc, s, on)
	return map[string]any{"on": on, "eligible": el}, err
}

func (p *personnelAPI) reserve(r *http.Request, s policy.Subject) (map[string]any, error) {
	sc, err := p.authz.ListScope(r.Context(), s, "personnel_reserve")
	if err != nil {
		return nil, err
	}
	res, err := p.svc.Reserve(r.Context(), sc, s)
	return map[string]any{"reserve": res}, err
}

func (p *personnelAPI) list(r *http.Request, s policy.Subject) (map[string]any, error) {
	sc, err := p.authz.ListScope(r.Context(), s, "staff")
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	kind := q.Get("kind")
	if kind != "" && kind != personnel.KindDiplomatic && kind != personnel.KindAdminTechnical {
		return nil, valise.Invalid("bad query parameter", valise.FieldError{Field: "kind", Reason: "diplomatic or admin_technical"})
	}
	st, err := p.svc.List(r.Context(), sc, s, q.Get("unit"), kind)
	return map[string]any{"staff": st}, err
}

func (p *personnelAPI) admit(r *http.Request, s policy.Subject, in personnel.AdmissionInput) (personnel.Staff, error) {
	return p.svc.Admit(r.Context(), p.check(s), s, in)
}

func (p *personnelAPI) get(r *http.Request, s policy.Subject) (personnel.Staff, error) {
	return p.svc.Get(r.Context(), p.check(s), chi.URLParam(r, "id"))
}

func (p *personnelAPI) events(r *http.Request, s policy.Subject) (map[string]any, error) {
	ev, err := p.svc.Events(r.Context(), p.check(s), chi.URLParam(r, "id"))
	return map[string]any{"events": ev}, err
}

func (p *personnelAPI) correct(r *http.Request, s policy.Subject, in personnel.CorrectionInput) (personnel.Staff, error) {
	return p.svc.Correct(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) linkAccount(r *http.Request, s policy.Subject, in personnel.LinkInput) (personnel.Staff, error) {
	return p.svc.LinkAccount(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) appoint(r *http.Request, s policy.Subject, in personnel.AppointInput) (personnel.Staff, error) {
	return p.svc.Appoint(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) addPeriod(r *http.Request, s policy.Subject, in personnel.PeriodInput) (personnel.ServicePeriod, error) {
	return p.svc.AddPeriod(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) timeInRank(r *http.Request, s policy.Subject) (personnel.TimeInRank, error) {
	on, err := dateParam(r, "on")
	if err != nil {
		return personnel.TimeInRank{}, err
	}
	return p.svc.TimeInRank(r.Context(), p.check(s), chi.URLParam(r, "id"), on)
}

func (p *personnelAPI) changeRank(r *http.Request, s policy.Subject, in personnel.RankInput) (personnel.RankChange, error) {
	return p.svc.ChangeRank(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

// serviceRecordPage answers the service record as JSON, or with
// ?format=text as a plain-text page to print (HR-09).
func (p *personnelAPI) serviceRecordPage(w http.ResponseWriter, r *http.Request) {
	jsonOrText(w, r, func(s policy.Subject) (any, func() string, error) {
		sr, err := p.svc.ServiceRecord(r.Context(), p.check(s), chi.URLParam(r, "id"))
		return sr, func() string {
			var b strings.Builder
			fmt.Fprintf(&b, "SERVICE RECORD (diplomatic ranks)\n%s  %s  %s  %s\n\n", sr.Staff.PersonnelNumber, sr.Staff.FullName, sr.Staff.Unit, sr.Staff.StaffKind)
			for _, e := range sr.Entries {
				fmt.Fprintln(&b, e.Entry)
			}
			return b.String()
		}, err
	})
}

func (p *personnelAPI) openCase(r *http.Request, s policy.Subject, in personnel.CaseInput) (personnel.Case, error) {
	return p.svc.OpenCase(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) closeCase(r *http.Request, s policy.Subject, in personnel.CloseInput) (personnel.Case, error) {
	return p.svc.CloseCase(r.Context(), p.check(s), s, chi.URLParam(r, "id"), chi.URLParam(r, "case"), in)
}

func (p *personnelAPI) impose(r *http.Request, s policy.Subject, in personnel.PenaltyInput) (personnel.Penalty, error) {
	return p.svc.Impose(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) terminate(r *http.Request, s policy.Subject, in personnel.TerminationInput) (personnel.Termination, error) {
	return p.svc.Terminate(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) family(r *http.Request, s policy.Subject) (map[string]any, error) {
	on, err := dateParam(r, "on")
	if err != nil {
		return nil, err
	}
	f, err := p.svc.Family(r.Context(), p.check(s), chi.URLParam(r, "id"), on)
	return map[string]any{"on": on, "family": f}, err
}

func (p *personnelAPI) addFamily(r *http.Request, s policy.Subject, in personnel.FamilyInput) (personnel.FamilyMember, error) {
	return p.svc.AddFamily(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) study(r *http.Request, s policy.Subject, in personnel.StudyInput) (personnel.Study, error) {
	return p.svc.SendToStudy(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) completeStudy(r *http.Request, s policy.Subject, in personnel.CompleteInput) (personnel.Study, error) {
	return p.svc.CompleteStudy(r.Context(), p.check(s), s, chi.URLParam(r, "id"), chi.URLParam(r, "study"), in)
}
