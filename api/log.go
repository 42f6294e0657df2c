package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"valise"
	"valise/policy"
	"valise/pouch"
	"valise/tlog"
)

// logRoutes serves the custody transparency log. Everything here is public
// (checkpoints, keys and proofs reveal hashes only); /log/entries adds the
// leaves themselves when the caller sends a bearer token of a user cleared to
// read custody events (log.read over every unit: security officers and
// auditors with scope *), each leaf only if their clearance covers its bag.
func (s *Server) logRoutes(r chi.Router) {
	r.Route("/log", func(r chi.Router) {
		r.Get("/checkpoint", s.logCheckpoint)
		r.Get("/key", s.logKey)
		r.Get("/proof/inclusion", s.logInclusion)
		r.Get("/proof/consistency", s.logConsistency)
		r.Get("/entries", s.logEntries)
	})
}

func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := tlog.LatestCheckpoint(r.Context(), s.pool)
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache") // it changes every second while the log grows
	_, _ = w.Write(cp.Note)
}

func (s *Server) logKey(w http.ResponseWriter, r *http.Request) {
	k, err := tlog.VerifierKey(r.Context(), s.pool)
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(k + "\n"))
}

// proofBody is the JSON form of an RFC 6962 proof: hashes are base64.
type proofBody struct {
	Index  *uint64  `json:"index,omitempty"`
	Size   *uint64  `json:"size,omitempty"`
	From   *uint64  `json:"from,omitempty"`
	To     *uint64  `json:"to,omitempty"`
	Hashes [][]byte `json:"hashes"`
}

func (s *Server) logInclusion(w http.ResponseWriter, r *http.Request) {
	index, size, err := uintParams(r, "index", "size")
	if err != nil {
		Error(w, r, err)
		return
	}
	p, err := tlog.InclusionProof(r.Context(), s.pool, index, size)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, proofBody{Index: &index, Size: &size, Hashes: p})
}

func (s *Server) logConsistency(w http.ResponseWriter, r *http.Request) {
	from, to, err := uintParams(r, "from", "to")
	if err != nil {
		Error(w, r, err)
		return
	}
	p, err := tlog.ConsistencyProof(r.Context(), s.pool, from, to)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, proofBody{From: &from, To: &to, Hashes: p})
}

func (s *Server) logEntries(w http.ResponseWriter, r *http.Request) {
	start, end, err := uintParams(r, "start", "end")
	if err != nil {
		Error(w, r, err)
		return
	}
	hs, err := tlog.LeafHashes(r.Context(), s.pool, start, end)
	if err != nil {
		Error(w, r, err)
		return
	}
	if hs == nil {
		hs = [][]byte{}
	}
	out := map[string]any{"start": start, "leaf_hashes": hs}
	if h := r.Header.Get("Authorization"); h != "" {
		token, _ := strings.CutPrefix(h, "Bearer ")
		sub, _, err := s.ident.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="valise", error="invalid_token"`)
			Error(w, r, err)
			return
		}
		d, err := s.authz.Decide(r.Context(), sub, policy.ActLogRead, policy.Resource{Kind: "log_entry"})
		if err != nil {
			Error(w, r, err)
			return
		}
		if d.Allow {
			leaves, err := s.clearedLeaves(r.Context(), sub, start, end)
			if err != nil {
				Error(w, r, err)
				return
			}
			out["leaves"] = leaves
		}
	}
	JSON(w, http.StatusOK, out)
}

// clearedLeaves returns the leaves of [start, end) in index order, each
// only when sub may read its bag (clearance and need-to-know, oversight
// included); null otherwise: the leaf hash beside it is all they get. Each
// bag withheld is one logged deny.
func (s *Server) clearedLeaves(ctx context.Context, sub policy.Subject, start, end uint64) ([][]byte, error) {
	leaves, err := pouch.LogLeaves(ctx, s.pool, start, end)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(leaves))
	seen := map[string]bool{}
	for i, l := range leaves {
		if !l.Known {
			continue // not a bag's event: nobody is cleared for it by a bag
		}
		allowed, ok := seen[l.Resource.ID]
		if !ok {
			err := s.authz.Authorize(ctx, sub, policy.ActLogRead, l.Resource)
			if c := valise.ErrorCode(err); err != nil && c != valise.ENOTFOUND && c != valise.EFORBIDDEN {
				return nil, err
			}
			allowed = err == nil
			seen[l.Resource.ID] = allowed
		}
		if allowed {
			out[i] = l.Leaf
		}
	}
	return out, nil
}

// uintParams reads two required non-negative integer query parameters;
// a missing or malformed one is a 400 naming it.
func uintParams(r *http.Request, a, b string) (uint64, uint64, error) {
	var out [2]uint64
	var fields []valise.FieldError
	for i, name := range []string{a, b} {
		v := r.URL.Query().Get(name)
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			reason := "must be a non-negative integer"
			if v == "" {
				reason = "is required"
			}
			fields = append(fields, valise.FieldError{Field: name, Reason: reason})
		}
		out[i] = n
	}
	if len(fields) > 0 {
		return 0, 0, &valise.Error{Code: valise.EBADREQUEST, Message: "bad query parameters", Fields: fields}
	}
	return out[0], out[1], nil
}
