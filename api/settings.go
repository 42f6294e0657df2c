package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/policy"
	"valise/pouch"
	"valise/settings"
)

// settingsAPI serves the settings people change (package settings) and the
// changes made to dispatch plans after they were made: DM-14 review and
// the custody window.
type settingsAPI struct {
	svc   *settings.Service
	bags  *pouch.Service
	authz *policy.Authorizer
	idem  *idempotency
}

func newSettingsAPI(pool *pgxpool.Pool, authz *policy.Authorizer, bags *pouch.Service, idem *idempotency) *settingsAPI {
	return &settingsAPI{svc: settings.New(pool), bags: bags, authz: authz, idem: idem}
}

func (a *settingsAPI) routes(r chi.Router) {
	r.Get("/settings", handleNoBody(a.list))
	r.Get("/settings/{key}", a.get)
	r.Put("/settings/{key}", handleVersioned(settingVersion, a.set))
	r.Get("/settings/{key}/history", handleNoBody(a.history))
	r.With(a.idem.middleware).Post("/plans/{id}/review", handleVersioned(planVersion, a.review))
	r.Put("/plans/{id}/custody_window", handleVersioned(planVersion, a.custodyWindow))
}

func (a *settingsAPI) check(s policy.Subject) settings.Check {
	return settings.Check(checkAs(a.authz, s))
}

func (a *settingsAPI) list(r *http.Request, s policy.Subject) (map[string]any, error) {
	list, err := a.svc.List(r.Context(), a.check(s))
	if err != nil {
		return nil, err
	}
	return map[string]any{"settings": list}, nil
}

func (a *settingsAPI) get(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	st, err := a.svc.Get(r.Context(), chi.URLParam(r, "key"), a.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("ETag", versionETag(st.Version))
	JSON(w, http.StatusOK, st)
}

func (a *settingsAPI) set(r *http.Request, s policy.Subject, version int, in settings.Input) (*settings.Setting, error) {
	return a.svc.Set(r.Context(), s, chi.URLParam(r, "key"), version, in, a.check(s))
}

func (a *settingsAPI) history(r *http.Request, s policy.Subject) (map[string]any, error) {
	list, err := a.svc.History(r.Context(), chi.URLParam(r, "key"), a.check(s))
	if err != nil {
		return nil, err
	}
	return map[string]any{"key": chi.URLParam(r, "key"), "changes": list}, nil
}

// handleVersioned serves a change with a JSON body and If-Match (the
// version the caller read, 0 when absent) and answers the changed row with
// its version as ETag.
func handleVersioned[In, Out any](version func(Out) int, call func(r *http.Request, s policy.Subject, version int, in In) (Out, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := subject(w, r)
		if !ok {
			return
		}
		v, err := ifMatch(r)
		if err != nil {
			Error(w, r, err)
			return
		}
		var in In
		if err := Decode(r, &in); err != nil {
			Error(w, r, err)
			return
		}
		out, err := call(r, s, v, in)
		if err != nil {
			Error(w, r, err)
			return
		}
		w.Header().Set("ETag", versionETag(version(out)))
		JSON(w, http.StatusOK, out)
	}
}

func settingVersion(st *settings.Setting) int { return st.Version }
func planVersion(p *pouch.Plan) int           { return p.Version }

func (a *settingsAPI) review(r *http.Request, s policy.Subject, version int, in pouch.ReviewInput) (*pouch.Plan, error) {
	return a.bags.ReviewPlan(r.Context(), s, chi.URLParam(r, "id"), version, in, checkAs(a.authz, s))
}

func (a *settingsAPI) custodyWindow(r *http.Request, s policy.Subject, version int, in pouch.WindowInput) (*pouch.Plan, error) {
	return a.bags.SetCustodyWindow(r.Context(), s, chi.URLParam(r, "id"), version, in, checkAs(a.authz, s))
}
