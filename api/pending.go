package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"valise/custody"
	"valise/policy"
)

// pendingRoutes: GET /custody/handoffs?pending=mine lists the hand-offs
// waiting for the caller, so a receiver finds the id to accept without
// being told it out of band.
func (c *custodyAPI) pendingRoutes(r chi.Router) {
	r.Get("/custody/handoffs", handleNoBody(c.pending))
}

func (c *custodyAPI) pending(r *http.Request, s policy.Subject) (map[string]any, error) {
	q := r.URL.Query()
	if err := custody.PendingFilter(q.Get("pending")); err != nil {
		return nil, err
	}
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return nil, err
	}
	list, next, err := c.svc.Pending(r.Context(), s, q.Get("after"), limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"handoffs": list, "next": next}, nil
}
