package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"valise"
	"valise/alerts"
	"valise/identity"
	"valise/policy"
)

// alertRoutes: every caller sees their own alerts and chooses what they
// receive; security officers (alerts.manage) register webhooks and read
// delivery records; an admin (users.manage) sets a user's e-mail address.
func (s *Server) alertRoutes(r chi.Router) {
	r.Get("/me/alert-subscriptions", handleNoBody(s.alertSubscriptions))
	r.Put("/me/alert-subscriptions", handle(http.StatusOK, s.setAlertSubscriptions))
	r.Put("/users/{id}/email", handle(http.StatusOK, s.setUserEmail))
	r.Get("/alerts", handleNoBody(s.listAlerts))
	r.Post("/alerts/webhooks", handle(http.StatusCreated, s.createWebhook))
	r.Get("/alerts/webhooks", handleNoBody(s.listWebhooks))
	r.Delete("/alerts/webhooks/{id}", s.deleteWebhook)
	r.Get("/alerts/{id}", handleNoBody(s.getAlert))
	r.Get("/alerts/{id}/deliveries", handleNoBody(s.alertDeliveries))
}

// webhookResource is what alerts.manage is decided on.
var webhookResource = policy.Resource{Kind: "alert_webhook"}

func (s *Server) alertSubscriptions(r *http.Request, sub policy.Subject) (*alerts.Subscriptions, error) {
	return s.alerts.Subscriptions(r.Context(), sub.UserID)
}

func (s *Server) setAlertSubscriptions(r *http.Request, sub policy.Subject, in alerts.SubscriptionsInput) (*alerts.Subscriptions, error) {
	return s.alerts.SetSubscriptions(r.Context(), sub.UserID, in)
}

type emailInput struct {
	Email string `json:"email"`
}

func (s *Server) setUserEmail(r *http.Request, sub policy.Subject, in emailInput) (map[string]string, error) {
	id := chi.URLParam(r, "id")
	if err := s.authz.Authorize(r.Context(), sub, policy.ActUsersManage, policy.Resource{Kind: "user", ID: id}); err != nil {
		return nil, err
	}
	if err := identity.SetEmail(r.Context(), s.pool, id, in.Email); err != nil {
		return nil, err
	}
	return map[string]string{"user_id": id, "email": in.Email}, nil
}

// listAlerts: the caller's visible alerts, newest first; after (cursor), limit.
func (s *Server) listAlerts(r *http.Request, sub policy.Subject) (map[string]any, error) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return nil, valise.Invalid("bad list parameters", valise.FieldError{Field: "limit", Reason: "1..200"})
		}
		limit = n
	}
	// The cursor is sealed (api/cursor.go): a bare alert id let a caller
	// page from an alert they may not see, which told it exists.
	_, after, _, err := s.pouch.cursors.open("alerts", sub.UserID, "after", q.Get("after"))
	if err != nil {
		return nil, err
	}
	list, next, err := s.alerts.List(r.Context(), sub, after, limit)
	if err != nil {
		return nil, err
	}
	if next != "" {
		if next, err = s.pouch.cursors.seal("alerts", sub.UserID, 0, next); err != nil {
			return nil, err
		}
	}
	return map[string]any{"alerts": list, "next": next}, nil
}

func (s *Server) getAlert(r *http.Request, sub policy.Subject) (*alerts.Alert, error) {
	return s.alerts.Get(r.Context(), sub, chi.URLParam(r, "id"))
}

func (s *Server) alertDeliveries(r *http.Request, sub policy.Subject) (map[string]any, error) {
	if err := s.authz.Authorize(r.Context(), sub, policy.ActAlertsManage, webhookResource); err != nil {
		return nil, err
	}
	list, err := s.alerts.Deliveries(r.Context(), sub, chi.URLParam(r, "id"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"deliveries": list}, nil
}

func (s *Server) createWebhook(r *http.Request, sub policy.Subject, in alerts.WebhookInput) (*alerts.Webhook, error) {
	if err := s.authz.Authorize(r.Context(), sub, policy.ActAlertsManage, webhookResource); err != nil {
		return nil, err
	}
	return s.alerts.CreateWebhook(r.Context(), sub, in)
}

func (s *Server) listWebhooks(r *http.Request, sub policy.Subject) (map[string]any, error) {
	if err := s.authz.Authorize(r.Context(), sub, policy.ActAlertsManage, webhookResource); err != nil {
		return nil, err
	}
	list, err := s.alerts.Webhooks(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"webhooks": list}, nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	sub, ok := subject(w, r)
	if !ok {
		return
	}
	err := s.authz.Authorize(r.Context(), sub, policy.ActAlertsManage, webhookResource)
	if err == nil {
		err = s.alerts.DeleteWebhook(r.Context(), sub, chi.URLParam(r, "id"))
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
