package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/policy"
)

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) for POSTs a
// phone may retry over a bad connection. The first request with a key runs
// and its response (status, ETag/Location/Content-Type, body) is stored per
// user and key; a retry with the same key and the same request (method,
// path, If-Match, body) gets that stored response back, marked
// Idempotent-Replayed: true, and changes nothing. The same key with another
// request is 422; a retry while the first is still running is 409 with
// Retry-After. 5xx answers are not stored, so they can be retried. Keys
// live idemTTL.
//
// The stored response is written after the action's own transaction. If
// the process dies in between, the key stays "running" until idemStale,
// then the retry runs again: the bag's state machine and If-Match refuse a
// second transition, so nothing is applied twice; the caller sees that
// refusal instead of the original answer.

const (
	idemHeader = "Idempotency-Key"
	idemTTL    = 24 * time.Hour
	idemStale  = 2 * time.Minute
	idemMaxKey = 255
)

// idempotency stores keys and responses in idempotency_keys (migration 00303).
type idempotency struct {
	pool *pgxpool.Pool
}

// storedHeaders are the response headers a replay repeats.
var storedHeaders = []string{"Content-Type", "ETag", "Location"}

// middleware applies Idempotency-Key to the wrapped (authenticated) routes.
// Requests without the header pass through untouched.
func (ik *idempotency) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(idemHeader)
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > idemMaxKey || !printable(key) {
			Error(w, r, valise.Errorf(valise.EBADREQUEST, "Idempotency-Key must be 1..%d printable ASCII characters", idemMaxKey))
			return
		}
		s, ok := policy.SubjectFrom(r.Context())
		if !ok {
			Error(w, r, valise.Errorf(valise.EUNAUTHORIZED, "sign in first"))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				Error(w, r, valise.Errorf(valise.ETOOLARGE, "the request body is larger than %d bytes", mbe.Limit))
				return
			}
			Error(w, r, valise.Errorf(valise.EBADREQUEST, "could not read the request body"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		fmt.Fprintf(h, "%s\n%s\n%s\n", r.Method, r.URL.Path, r.Header.Get("If-Match"))
		h.Write(body)
		hash := h.Sum(nil)

		ctx := r.Context()
		replay, err := ik.claim(ctx, s.UserID, key, hash)
		if err != nil {
			if valise.ErrorCode(err) == valise.ECONFLICT {
				w.Header().Set("Retry-After", "1")
			}
			Error(w, r, err)
			return
		}
		if replay != nil {
			for k, v := range replay.headers {
				w.Header().Set(k, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(replay.status)
			_, _ = w.Write(replay.body)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		completed := false
		defer func() {
			if !completed { // a panic: free the key so the retry runs
				ik.release(s.UserID, key)
			}
		}()
		next.ServeHTTP(rec, r)
		completed = true
		if rec.status >= 500 {
			ik.release(s.UserID, key)
			return
		}
		hdr := map[string]string{}
		for _, k := range storedHeaders {
			if v := rec.Header().Get(k); v != "" {
				hdr[k] = v
			}
		}
		if err := ik.store(s.UserID, key, rec.status, hdr, rec.body.Bytes()); err != nil {
			loggerFrom(ctx).ErrorContext(ctx, "store idempotent response", "err", err)
		}
	})
}

type storedResponse struct {
	status  int
	headers map[string]string
	body    []byte
}

// claim records key as running for user, or returns the stored response of
// an earlier identical request; a different request under the same key is
// EINVALID, one still running is ECONFLICT.
func (ik *idempotency) claim(ctx context.Context, userID, key string, hash []byte) (*storedResponse, error) {
	for attempt := 0; attempt < 3; attempt++ {
		tag, err := ik.pool.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, key) DO NOTHING`, userID, key, hash)
		if err != nil {
			return nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		var stored []byte
		var status *int
		var headers map[string]string
		var body []byte
		var expired bool
		err = ik.pool.QueryRow(ctx, `SELECT request_hash, status, headers, body,
			created_at < now() - $3::interval OR (status IS NULL AND created_at < now() - $4::interval)
			FROM idempotency_keys WHERE user_id = $1 AND key = $2`, userID, key, idemTTL.String(), idemStale.String()).
			Scan(&stored, &status, &headers, &body, &expired)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return nil, fmt.Errorf("read idempotency key: %w", err)
		}
		if expired {
			// Past its lifetime, or abandoned by a process that died: start afresh.
			if _, err := ik.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2
				AND (created_at < now() - $3::interval OR (status IS NULL AND created_at < now() - $4::interval))`,
				userID, key, idemTTL.String(), idemStale.String()); err != nil {
				return nil, fmt.Errorf("expire idempotency key: %w", err)
			}
			continue
		}
		if !bytes.Equal(stored, hash) {
			return nil, &valise.Error{Code: valise.EINVALID,
				Message: "this Idempotency-Key was already used for a different request; use a new key for a new request",
				Fields:  []valise.FieldError{{Field: idemHeader, Reason: "reused with a different method, path, If-Match or body"}}}
		}
		if status == nil {
			return nil, &valise.Error{Code: valise.ECONFLICT,
				Message: "a request with this Idempotency-Key is still being processed; retry shortly",
				Extra:   map[string]any{"retry_after_seconds": 1}}
		}
		return &storedResponse{status: *status, headers: headers, body: body}, nil
	}
	return nil, valise.Errorf(valise.ECONFLICT, "the Idempotency-Key is contended; retry shortly")
}

// store saves the response of a finished request. It runs even if the
// client went away, so a retry finds the answer.
func (ik *idempotency) store(userID, key string, status int, headers map[string]string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, _ := json.Marshal(headers)
	_, err := ik.pool.Exec(ctx, `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE user_id = $1 AND key = $2`,
		userID, key, status, h, body)
	if err == nil {
		// Forget this user's keys past their lifetime (a primary-key prefix scan).
		_, err = ik.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND created_at < now() - $2::interval`,
			userID, idemTTL.String())
	}
	return err
}

// release forgets a key whose request failed on the server's side.
func (ik *idempotency) release(userID, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = ik.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status IS NULL`, userID, key)
}

// recorder passes the response through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Idempotent is the Idempotency-Key middleware for other authenticated
// POST routes (hand-offs, scans): wrap them with r.With(s.Idempotent).
func (s *Server) Idempotent(next http.Handler) http.Handler { return s.pouch.idem.middleware(next) }
