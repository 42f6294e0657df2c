package api

import (
	"context"
	"net/http"

	"valise"
	"valise/policy"
	"valise/pouch"
)

// Most handlers have one shape: find the caller (401 without one), decode a
// strict JSON body if there is one, make one call, and answer with its
// result as JSON or with its error as a problem. These adapters write that
// shape once, so such a handler is just the call. Handlers that set
// headers from their result (Location, ETag), read If-Match or write
// something other than JSON stay plain http.HandlerFuncs.

// handle serves a request with a JSON body: the body is decoded into In
// (after the caller is known) and call's result is answered with status.
func handle[In, Out any](status int, call func(r *http.Request, s policy.Subject, in In) (Out, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := subject(w, r)
		if !ok {
			return
		}
		var in In
		if err := Decode(r, &in); err != nil {
			Error(w, r, err)
			return
		}
		out, err := call(r, s, in)
		if err != nil {
			Error(w, r, err)
			return
		}
		JSON(w, status, out)
	}
}

// handleNoBody serves a request without a body (a GET, or an action named
// by its path) and answers call's result with 200.
func handleNoBody[Out any](call func(r *http.Request, s policy.Subject) (Out, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := subject(w, r)
		if !ok {
			return
		}
		out, err := call(r, s)
		if err != nil {
			Error(w, r, err)
			return
		}
		JSON(w, http.StatusOK, out)
	}
}

// subject returns the authenticated caller, or writes 401.
func subject(w http.ResponseWriter, r *http.Request) (policy.Subject, bool) {
	s, ok := policy.SubjectFrom(r.Context())
	if !ok {
		Error(w, r, valise.Errorf(valise.EUNAUTHORIZED, "sign in first"))
	}
	return s, ok
}

// decodeOptional is Decode for an optional body: a request that sends no
// body (no length and no Content-Type) leaves v as it is.
func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	return Decode(r, v)
}

// checkAs is the domain's authorization callback for the caller s.
func checkAs(authz *policy.Authorizer, s policy.Subject) pouch.Check {
	return func(ctx context.Context, action string, res policy.Resource) error {
		return authz.Authorize(ctx, s, action, res)
	}
}
