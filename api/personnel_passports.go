package api

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"valise"
	"valise/courier"
	"valise/personnel"
	"valise/policy"
)

// passportRoutes: diplomatic and service passports (issue 15, Decree 722):
// a record's passports and their lifecycle, the registers (R§13, R§18) and
// destruction acts (R§21, App.2), printable. The rules are in
// personnel/passport*.go; who may see them is the staff record's policy.
func (p *personnelAPI) passportRoutes(r chi.Router) {
	post := r.With(p.idem.middleware).Post
	// The same lifecycle under a staff record and under a holder record
	// outside the service (personnel/passport_holder.go).
	for _, owner := range []string{"/staff/{id}", "/personnel/passport-holders/{id}"} {
		r.Get(owner+"/passports", handleNoBody(p.passports))
		post(owner+"/passports", handle(http.StatusCreated, p.applyPassport))
		r.Get(owner+"/passports/{passport}", handleNoBody(p.passport))
		post(owner+"/passports/{passport}/issue", handle(http.StatusOK, passportAction(p, p.svc.Issue)))
		post(owner+"/passports/{passport}/return", handle(http.StatusOK, passportAction(p, p.svc.RecordReturn)))
		post(owner+"/passports/{passport}/demand", handle(http.StatusOK, passportAction(p, p.svc.Demand)))
		post(owner+"/passports/{passport}/surrender", handle(http.StatusOK, passportAction(p, p.svc.Surrender)))
		post(owner+"/passports/{passport}/border-notice", handle(http.StatusOK, passportAction(p, p.svc.NotifyBorder)))
		post(owner+"/passports/{passport}/withdrawal", handle(http.StatusOK, passportAction(p, p.svc.Withdraw)))
		post(owner+"/passports/{passport}/loss", handle(http.StatusOK, passportAction(p, p.svc.ReportLoss)))
		post(owner+"/passports/{passport}/archive-issue", handle(http.StatusOK, passportAction(p, p.svc.IssueFromArchive)))
	}
	post("/personnel/passport-holders", handle(http.StatusCreated, p.registerHolder))
	r.Get("/personnel/passport-holders/{id}", handleNoBody(p.holder))
	r.Get("/personnel/passport-holders/{id}/events", handleNoBody(p.holderEvents))
	r.Get("/personnel/passports", handleNoBody(p.passportRegister))
	r.Get("/personnel/passports/print", p.printRegister)
	r.Get("/personnel/passports/journal", handleNoBody(p.passportJournal))
	r.Get("/personnel/passports/journal/print", p.printJournal)
	r.Get("/personnel/passport-blanks", handleNoBody(p.blanks))
	post("/personnel/passport-blanks", handle(http.StatusCreated, p.receiveBlanks))
	r.Get("/personnel/passport-blanks/print", p.printBlanks)
	r.Get("/personnel/passport-blanks/{number}", handleNoBody(p.blank))
	post("/personnel/passport-blanks/{number}/spoilage", handle(http.StatusOK, p.spoilBlank))
	post("/personnel/passport-destructions", handle(http.StatusCreated, p.destroyPassports))
	r.Get("/personnel/passport-destructions/{id}", handleNoBody(p.destructionAct))
	r.Get("/personnel/passport-destructions/{id}/print", p.printAct)
}

// passportAction adapts one passport lifecycle call to a handler.
func passportAction[In any](p *personnelAPI, call func(ctx context.Context, check personnel.Check, by policy.Subject, staffID, id string, in In) (personnel.PassportAction, error)) func(*http.Request, policy.Subject, In) (personnel.PassportAction, error) {
	return func(r *http.Request, s policy.Subject, in In) (personnel.PassportAction, error) {
		return call(r.Context(), p.check(s), s, passportOwner(r), chi.URLParam(r, "passport"), in)
	}
}

// passportOwner is the owner id of the passport routes: a staff record's
// under /staff/{id}, a holder record's under /personnel/passport-holders/{id}.
func passportOwner(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/api/v1/personnel/passport-holders/") {
		return personnel.HolderOwner(chi.URLParam(r, "id"))
	}
	return chi.URLParam(r, "id")
}

func (p *personnelAPI) registerHolder(r *http.Request, s policy.Subject, in personnel.HolderInput) (personnel.Holder, error) {
	return p.svc.RegisterHolder(r.Context(), p.check(s), s, in)
}

func (p *personnelAPI) holder(r *http.Request, s policy.Subject) (personnel.Holder, error) {
	return p.svc.GetHolder(r.Context(), p.check(s), chi.URLParam(r, "id"))
}

func (p *personnelAPI) holderEvents(r *http.Request, s policy.Subject) (map[string]any, error) {
	evs, err := p.svc.HolderEvents(r.Context(), p.check(s), chi.URLParam(r, "id"))
	return map[string]any{"events": evs}, err
}

func (p *personnelAPI) passports(r *http.Request, s policy.Subject) (map[string]any, error) {
	ps, err := p.svc.Passports(r.Context(), p.check(s), passportOwner(r))
	return map[string]any{"passports": ps}, err
}

func (p *personnelAPI) applyPassport(r *http.Request, s policy.Subject, in personnel.PassportApplication) (personnel.Passport, error) {
	return p.svc.Apply(r.Context(), p.check(s), s, passportOwner(r), in)
}

func (p *personnelAPI) passport(r *http.Request, s policy.Subject) (personnel.Passport, error) {
	return p.svc.GetPassport(r.Context(), p.check(s), passportOwner(r), chi.URLParam(r, "passport"))
}

func (p *personnelAPI) register(r *http.Request, s policy.Subject) ([]personnel.RegisterRow, error) {
	q := r.URL.Query()
	f := personnel.RegisterFilter{Status: q.Get("status"), Type: q.Get("type")}
	if f.Type != "" && f.Type != personnel.PassportDiplomatic && f.Type != personnel.PassportService {
		return nil, valise.Invalid("bad query parameter", valise.FieldError{Field: "type", Reason: "diplomatic or service"})
	}
	sc, err := p.authz.ListScope(r.Context(), s, "staff")
	if err != nil {
		return nil, err
	}
	return p.svc.PassportRegister(r.Context(), sc, s, f)
}

func (p *personnelAPI) passportRegister(r *http.Request, s policy.Subject) (map[string]any, error) {
	rows, err := p.register(r, s)
	return map[string]any{"passports": rows}, err
}

func (p *personnelAPI) journal(r *http.Request, s policy.Subject) ([]personnel.JournalRow, error) {
	sc, err := p.authz.ListScope(r.Context(), s, "staff")
	if err != nil {
		return nil, err
	}
	return p.svc.PassportJournal(r.Context(), sc, s)
}

func (p *personnelAPI) passportJournal(r *http.Request, s policy.Subject) (map[string]any, error) {
	rows, err := p.journal(r, s)
	return map[string]any{"journal": rows}, err
}

func (p *personnelAPI) ledger(r *http.Request, s policy.Subject) (personnel.BlankLedger, error) {
	q := r.URL.Query()
	st, typ := q.Get("status"), q.Get("type")
	var fs []valise.FieldError
	if typ != "" && typ != personnel.PassportDiplomatic && typ != personnel.PassportService {
		fs = append(fs, valise.FieldError{Field: "type", Reason: "diplomatic or service"})
	}
	if st != "" && !slices.Contains([]string{personnel.BlankInStock, personnel.BlankIssued, personnel.BlankSpoiled, personnel.BlankDestroyed}, st) {
		fs = append(fs, valise.FieldError{Field: "status", Reason: "in_stock, issued, spoiled or destroyed"})
	}
	if fs != nil {
		return personnel.BlankLedger{}, valise.Invalid("bad query parameter", fs...)
	}
	return p.svc.Blanks(r.Context(), p.check(s), st, typ)
}

func (p *personnelAPI) blanks(r *http.Request, s policy.Subject) (personnel.BlankLedger, error) {
	return p.ledger(r, s)
}

func (p *personnelAPI) receiveBlanks(r *http.Request, s policy.Subject, in personnel.BlankReceipt) (map[string]any, error) {
	nums, err := p.svc.ReceiveBlanks(r.Context(), p.check(s), s, in)
	return map[string]any{"received": nums}, err
}

func (p *personnelAPI) blank(r *http.Request, s policy.Subject) (personnel.Blank, error) {
	return p.svc.GetBlank(r.Context(), p.check(s), chi.URLParam(r, "number"))
}

func (p *personnelAPI) spoilBlank(r *http.Request, s policy.Subject, in personnel.BlankSpoilage) (personnel.Blank, error) {
	return p.svc.SpoilBlank(r.Context(), p.check(s), s, chi.URLParam(r, "number"), in)
}

func (p *personnelAPI) printBlanks(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	printPage(w, r, func(b *bytes.Buffer) error {
		l, err := p.ledger(r, s)
		if err != nil {
			return err
		}
		return personnel.PrintBlanks(b, l, personnel.Today(time.Now()))
	})
}

func (p *personnelAPI) destroyPassports(r *http.Request, s policy.Subject, in personnel.DestructionInput) (personnel.DestructionAct, error) {
	return p.svc.Destroy(r.Context(), p.check(s), s, in)
}

func (p *personnelAPI) destructionAct(r *http.Request, s policy.Subject) (personnel.DestructionAct, error) {
	return p.svc.GetDestructionAct(r.Context(), p.check(s), chi.URLParam(r, "id"))
}

// printPage renders a printable page with the print pages' CSP, or the problem.
func printPage(w http.ResponseWriter, r *http.Request, render func(*bytes.Buffer) error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", courier.PrintCSP)
	_, _ = w.Write(b.Bytes())
}

func (p *personnelAPI) printRegister(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	printPage(w, r, func(b *bytes.Buffer) error {
		rows, err := p.register(r, s)
		if err != nil {
			return err
		}
		return personnel.PrintRegister(b, rows, personnel.Today(time.Now()))
	})
}

func (p *personnelAPI) printJournal(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	printPage(w, r, func(b *bytes.Buffer) error {
		rows, err := p.journal(r, s)
		if err != nil {
			return err
		}
		return personnel.PrintJournal(b, rows)
	})
}

func (p *personnelAPI) printAct(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	printPage(w, r, func(b *bytes.Buffer) error {
		a, err := p.destructionAct(r, s)
		if err != nil {
			return err
		}
		return personnel.PrintAct(b, a)
	})
}

// eligibilityRoutes: who may carry the mail (Art. 1(3), DM-04, DM-05): the
// check a sheet runs, asked before issuing one.
func (p *pouchAPI) eligibilityRoutes(r chi.Router) {
	r.Get("/couriers/{id}/eligibility", handleNoBody(p.courierEligibility))
}

// courierEligibility: ?valid_until (RFC 3339, default three days on), valid_from
// (default now), level (default UNCLASSIFIED: the highest bag's level).
func (p *pouchAPI) courierEligibility(r *http.Request, s policy.Subject) (courier.Eligibility, error) {
	if err := p.courierCheck(r, s); err != nil {
		return courier.Eligibility{}, err
	}
	q := r.URL.Query()
	var fs []valise.FieldError
	from := time.Now()
	if v := q.Get("valid_from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			fs = append(fs, valise.FieldError{Field: "valid_from", Reason: "RFC 3339 date-time"})
		}
		from = t
	}
	until := from.Add(72 * time.Hour)
	if v := q.Get("valid_until"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || !t.After(from) {
			fs = append(fs, valise.FieldError{Field: "valid_until", Reason: "RFC 3339 date-time after valid_from"})
		}
		until = t
	}
	var err error
	level := policy.Unclassified
	if v := q.Get("level"); v != "" {
		if level, err = policy.ParseLevel(v); err != nil {
			fs = append(fs, valise.FieldError{Field: "level", Reason: "a classification level"})
		}
	}
	if fs != nil {
		return courier.Eligibility{}, valise.Invalid("bad query parameters", fs...)
	}
	return p.couriers.CheckEligibility(r.Context(), chi.URLParam(r, "id"), from, until, level, p.check(s))
}
