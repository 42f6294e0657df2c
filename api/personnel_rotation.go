package api

import (
	"bytes"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"valise/personnel"
	"valise/policy"
)

// Rotation and postings abroad (issue 14): the annual external rotation
// plan, individual rotation cases, postings abroad and in international
// organisations, recall and attestation after return. The rules live in
// package personnel (rotation*.go, postings.go, recall.go, attestation.go).
func (p *personnelAPI) rotationRoutes(r chi.Router) {
	post := r.With(p.idem.middleware).Post
	r.Get("/personnel/due", handleNoBody(p.due))
	post("/personnel/rotation-plans", handle(http.StatusCreated, p.createPlan))
	r.Get("/personnel/rotation-plans/{plan}", handleNoBody(p.getPlan))
	r.Get("/personnel/rotation-plans/{plan}/annex1", p.annex1)
	post("/personnel/rotation-plans/{plan}/transitions", handle(http.StatusOK, p.planTransition))
	post("/personnel/rotation-plans/{plan}/units", handle(http.StatusOK, p.planUnit))
	post("/personnel/rotation-plans/{plan}/entries", handle(http.StatusCreated, p.planEntry))
	r.Get("/staff/{id}/postings", handleNoBody(p.postings))
	post("/staff/{id}/postings", handle(http.StatusCreated, p.startPosting))
	post("/staff/{id}/postings/{posting}/extensions", handle(http.StatusOK, p.extend))
	post("/staff/{id}/postings/{posting}/moves", handle(http.StatusOK, p.move))
	post("/staff/{id}/postings/{posting}/return", handle(http.StatusOK, p.returnHome))
	post("/staff/{id}/postings/{posting}/return-notice", handle(http.StatusOK, p.notice))
	post("/staff/{id}/postings/{posting}/notice-extension", handle(http.StatusOK, p.noticeExtension))
	post("/staff/{id}/postings/{posting}/home-appointment", handle(http.StatusOK, p.homeAppointment))
	post("/staff/{id}/postings/{posting}/recalls", handle(http.StatusCreated, p.recall))
	post("/staff/{id}/postings/{posting}/spouse-retention", handle(http.StatusCreated, p.spouseRetention))
	post("/staff/{id}/postings/{posting}/pregnancy", handle(http.StatusCreated, p.pregnancy))
	r.Get("/staff/{id}/postings/{posting}/annex2", p.annex2)
	r.Get("/staff/{id}/leaves", handleNoBody(p.leaves))
	post("/staff/{id}/leaves", handle(http.StatusCreated, p.grantLeave))
	post("/staff/{id}/posting-refusals", handle(http.StatusCreated, p.refusePosting))
	post("/staff/{id}/equations", handle(http.StatusCreated, p.equate))
	r.Get("/staff/{id}/attestations", handleNoBody(p.attestations))
	post("/staff/{id}/attestations/{attestation}/result", handle(http.StatusOK, p.attestationResult))
	post("/staff/{id}/rotation-cases", handle(http.StatusCreated, p.openRotationCase))
	r.Get("/staff/{id}/rotation-cases/{case}", handleNoBody(p.getCase))
	post("/staff/{id}/rotation-cases/{case}/transitions", handle(http.StatusOK, p.caseTransition))
	post("/staff/{id}/rotation-cases/{case}/documents", handle(http.StatusOK, p.caseDocument))
	post("/staff/{id}/rotation-cases/{case}/family", handle(http.StatusOK, p.caseFamily))
	r.Put("/staff/{id}/rotation-cases/{case}/training", handle(http.StatusOK, p.caseTraining))
}

func (p *personnelAPI) due(r *http.Request, s policy.Subject) (personnel.Due, error) {
	on, err := dateParam(r, "on")
	if err != nil {
		return personnel.Due{}, err
	}
	sc, err := p.authz.ListScope(r.Context(), s, "staff")
	if err != nil {
		return personnel.Due{}, err
	}
	return p.svc.DueOn(r.Context(), sc, s, on)
}

func (p *personnelAPI) createPlan(r *http.Request, s policy.Subject, in personnel.PlanInput) (personnel.Plan, error) {
	return p.svc.CreatePlan(r.Context(), p.check(s), s, in)
}

func (p *personnelAPI) getPlan(r *http.Request, s policy.Subject) (personnel.Plan, error) {
	return p.svc.GetPlan(r.Context(), p.check(s), chi.URLParam(r, "plan"), time.Now())
}

// annex1 answers the plan in the Annex 1 layout, as HTML to print.
func (p *personnelAPI) annex1(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	printPage(w, r, func(b *bytes.Buffer) error {
		return p.svc.WriteAnnex1(r.Context(), p.check(s), chi.URLParam(r, "plan"), b)
	})
}

// annex2 answers a posting's notice of return in the Annex 2 layout, as HTML to print.
func (p *personnelAPI) annex2(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	id, x := ids(r, "posting")
	printPage(w, r, func(b *bytes.Buffer) error {
		return p.svc.WriteAnnex2(r.Context(), p.check(s), id, x, b)
	})
}

func (p *personnelAPI) pregnancy(r *http.Request, s policy.Subject, in personnel.PregnancyInput) (personnel.Pregnancy, error) {
	id, x := ids(r, "posting")
	return p.svc.RecordPregnancy(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) leaves(r *http.Request, s policy.Subject) (map[string]any, error) {
	ls, err := p.svc.Leaves(r.Context(), p.check(s), chi.URLParam(r, "id"))
	return map[string]any{"leaves": ls}, err
}

func (p *personnelAPI) grantLeave(r *http.Request, s policy.Subject, in personnel.LeaveInput) (personnel.Leave, error) {
	return p.svc.GrantLeave(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) planTransition(r *http.Request, s policy.Subject, in personnel.PlanTransitionInput) (personnel.Plan, error) {
	return p.svc.TransitionPlan(r.Context(), p.check(s), s, chi.URLParam(r, "plan"), in)
}

func (p *personnelAPI) planUnit(r *http.Request, s policy.Subject, in personnel.PlanUnitInput) (personnel.Plan, error) {
	return p.svc.SetPlanUnit(r.Context(), p.check(s), s, chi.URLParam(r, "plan"), in)
}

func (p *personnelAPI) planEntry(r *http.Request, s policy.Subject, in personnel.PlanEntryInput) (personnel.Plan, error) {
	return p.svc.AddPlanEntry(r.Context(), p.check(s), s, chi.URLParam(r, "plan"), in)
}

func (p *personnelAPI) postings(r *http.Request, s policy.Subject) (map[string]any, error) {
	ps, err := p.svc.Postings(r.Context(), p.check(s), chi.URLParam(r, "id"))
	return map[string]any{"postings": ps}, err
}

func (p *personnelAPI) startPosting(r *http.Request, s policy.Subject, in personnel.PostingInput) (personnel.Posting, error) {
	return p.svc.StartPosting(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func ids(r *http.Request, second string) (string, string) {
	return chi.URLParam(r, "id"), chi.URLParam(r, second)
}

func (p *personnelAPI) extend(r *http.Request, s policy.Subject, in personnel.ExtensionInput) (personnel.Posting, error) {
	id, x := ids(r, "posting")
	return p.svc.Extend(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) move(r *http.Request, s policy.Subject, in personnel.MoveInput) (personnel.Posting, error) {
	id, x := ids(r, "posting")
	return p.svc.Move(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) returnHome(r *http.Request, s policy.Subject, in personnel.PostingReturnInput) (personnel.Posting, error) {
	id, x := ids(r, "posting")
	return p.svc.Return(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) notice(r *http.Request, s policy.Subject, in personnel.NoticeInput) (personnel.Posting, error) {
	id, x := ids(r, "posting")
	return p.svc.SubmitNotice(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) noticeExtension(r *http.Request, s policy.Subject, in personnel.NoticeExtensionInput) (personnel.Posting, error) {
	id, x := ids(r, "posting")
	return p.svc.ExtendNotice(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) homeAppointment(r *http.Request, s policy.Subject, in personnel.HomeAppointInput) (personnel.Posting, error) {
	id, x := ids(r, "posting")
	return p.svc.AppointAfterReturn(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) recall(r *http.Request, s policy.Subject, in personnel.RecallInput) (personnel.Recall, error) {
	id, x := ids(r, "posting")
	return p.svc.RecallFromPosting(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) spouseRetention(r *http.Request, s policy.Subject, in personnel.SpouseRetentionInput) (personnel.SpouseRetention, error) {
	id, x := ids(r, "posting")
	return p.svc.RetainSpousePosition(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) refusePosting(r *http.Request, s policy.Subject, in personnel.RefusalInput) (personnel.Refusal, error) {
	return p.svc.RefusePosting(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) equate(r *http.Request, s policy.Subject, in personnel.EquationInput) (personnel.Equation, error) {
	return p.svc.Equate(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) attestations(r *http.Request, s policy.Subject) (map[string]any, error) {
	as, err := p.svc.Attestations(r.Context(), p.check(s), chi.URLParam(r, "id"))
	return map[string]any{"attestations": as}, err
}

func (p *personnelAPI) attestationResult(r *http.Request, s policy.Subject, in personnel.AttestationResultInput) (personnel.AttestationResult, error) {
	id, x := ids(r, "attestation")
	return p.svc.RecordAttestation(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) openRotationCase(r *http.Request, s policy.Subject, in personnel.CaseOpenInput) (personnel.RotationCase, error) {
	return p.svc.OpenRotationCase(r.Context(), p.check(s), s, chi.URLParam(r, "id"), in)
}

func (p *personnelAPI) getCase(r *http.Request, s policy.Subject) (personnel.RotationCase, error) {
	id, x := ids(r, "case")
	return p.svc.GetRotationCase(r.Context(), p.check(s), id, x)
}

func (p *personnelAPI) caseTransition(r *http.Request, s policy.Subject, in personnel.CaseTransitionInput) (personnel.RotationCase, error) {
	id, x := ids(r, "case")
	return p.svc.TransitionCase(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) caseDocument(r *http.Request, s policy.Subject, in personnel.DocumentInput) (personnel.RotationCase, error) {
	id, x := ids(r, "case")
	return p.svc.RecordDocument(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) caseFamily(r *http.Request, s policy.Subject, in personnel.CaseFamilyInput) (personnel.RotationCase, error) {
	id, x := ids(r, "case")
	return p.svc.SetCaseFamily(r.Context(), p.check(s), s, id, x, in)
}

func (p *personnelAPI) caseTraining(r *http.Request, s policy.Subject, in personnel.TrainingInput) (personnel.RotationCase, error) {
	id, x := ids(r, "case")
	return p.svc.SetTraining(r.Context(), p.check(s), s, id, x, in)
}
