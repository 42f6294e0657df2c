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
	"valise/internal/db"
	"valise/policy"
)

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) for POSTs a
// phone may retry over a bad connection. The first request with a key runs
// and its response (status, ETag/Location/Content-Type, body) is stored per
// user and key; a retry with the same key and the same request (method,
// path, If-Match, body) gets that stored response back, marked
// Idempotent-Replayed: true, and changes nothing. The same key with another
// request is 422. Keys live idemTTL.
//
// The key's record and the work are one transaction. The middleware puts a
// db.Scope in the request's context: the domain's first transaction (InTx,
// InTxOpts, InTxBatch) becomes the scope's, begins by claiming the key, and
// none of them commits; the middleware stores the response in the same
// transaction and commits, and only then sends the answer. So a key is
// stored exactly when its work is: after a 5xx, a 503 while the database
// is down, a crash or a lost connection, either the work committed with
// its answer (the retry gets that answer) or neither did (the retry runs
// afresh) — never a key held "still being processed". A second request
// with a key whose first is still running waits for it, then replays its
// answer (or runs, if the first failed). A request that ran no transaction
// wrote nothing; its answer (below 500) is stored on its own. A
// serialization failure inside the scope runs the whole request again, as
// db.InTx would.

const (
	idemHeader = "Idempotency-Key"
	idemTTL    = 24 * time.Hour
	idemStale  = 2 * time.Minute // a claim left running by a version before the scope
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
		h := sha256.New()
		fmt.Fprintf(h, "%s\n%s\n%s\n", r.Method, r.URL.Path, r.Header.Get("If-Match"))
		h.Write(body)
		c := &claim{ik: ik, user: s.UserID, key: key, hash: h.Sum(nil)}

		// The work runs to its end even if the client goes away (so its
		// answer is stored for the retry), within the request's deadline.
		ctx := context.WithoutCancel(r.Context())
		if dl, ok := r.Context().Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl)
			defer cancel()
		}
		if replay, err := c.stored(ctx); err != nil || replay != nil {
			c.answer(w, r, replay, err)
			return
		}
		for attempt := 1; ; attempt++ {
			c.replay, c.err = nil, nil
			buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
			sc := db.NewScope(ik.pool, c.begin)
			req := r.WithContext(db.WithScope(ctx, sc))
			req.Body = io.NopCloser(bytes.NewReader(body))
			func() {
				defer func() {
					if v := recover(); v != nil {
						sc.Rollback(ctx)
						panic(v)
					}
				}()
				next.ServeHTTP(buf, req)
			}()
			if c.replay != nil || c.err != nil { // the key was taken meanwhile, or by another request
				sc.Rollback(ctx)
				c.answer(w, r, c.replay, c.err)
				return
			}
			if sc.Retry() && attempt < db.MaxAttempts { // a serialization failure: run it all again
				sc.Rollback(ctx)
				time.Sleep(db.Backoff(attempt))
				continue
			}
			if buf.status >= 500 || sc.Failed() != nil { // nothing of it stays: the retry runs afresh
				sc.Rollback(ctx)
				buf.sendTo(w)
				return
			}
			err := c.store(ctx, sc.Tx(), buf)
			if err == nil {
				err = sc.Commit(ctx)
			}
			if err != nil {
				sc.Rollback(ctx)
				if (db.Retryable(err) || sc.Retry()) && attempt < db.MaxAttempts {
					time.Sleep(db.Backoff(attempt))
					continue
				}
				Error(w, r, err) // a failed commit's outcome is unknown: the retry replays the answer, or runs afresh
				return
			}
			buf.sendTo(w)
			ik.forgetExpired(ctx, c.user)
			return
		}
	})
}

// claim is one request's hold on its key.
type claim struct {
	ik        *idempotency
	user, key string
	hash      []byte
	replay    *storedResponse // set by begin: an identical request finished first
	err       error           // set by begin: the key belongs to another request, or is busy
}

// errTaken stops the handler when begin found the key taken: the
// middleware answers with c.replay or c.err instead of what the handler wrote.
var errTaken = valise.Errorf(valise.ECONFLICT, "the Idempotency-Key was taken meanwhile")

type storedResponse struct {
	status  int
	headers map[string]string
	body    []byte
}

// stored returns the stored response of an earlier identical request, or
// an error if the key was used for another request; nil, nil if the key is
// free (or expired).
func (c *claim) stored(ctx context.Context) (*storedResponse, error) {
	var hash []byte
	var status *int
	var headers map[string]string
	var body []byte
	var expired, stale bool
	err := c.ik.pool.QueryRow(ctx, `SELECT request_hash, status, headers, body, created_at < now() - $3::interval,
		created_at < now() - $4::interval FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
		c.user, c.key, idemTTL.String(), idemStale.String()).Scan(&hash, &status, &headers, &body, &expired, &stale)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	switch {
	case expired:
		return nil, nil
	case !bytes.Equal(hash, c.hash):
		return nil, &valise.Error{Code: valise.EINVALID,
			Message: "this Idempotency-Key was already used for a different request; use a new key for a new request",
			Fields:  []valise.FieldError{{Field: idemHeader, Reason: "reused with a different method, path, If-Match or body"}}}
	case status == nil && !stale:
		return nil, &valise.Error{Code: valise.ECONFLICT,
			Message: "a request with this Idempotency-Key is still being processed; retry shortly",
			Extra:   map[string]any{"retry_after_seconds": 1}}
	case status == nil:
		return nil, nil // abandoned by an older version; begin takes it over
	}
	return &storedResponse{status: *status, headers: headers, body: body}, nil
}

// begin claims the key as the first statement of the request's
// transaction. A request with the same key still running holds the key's
// row: this waits for it to commit (then replays its answer) or roll back
// (then runs).
func (c *claim) begin(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2
		AND (created_at < now() - $3::interval OR (status IS NULL AND created_at < now() - $4::interval))`,
		c.user, c.key, idemTTL.String(), idemStale.String()); err != nil {
		return fmt.Errorf("expire idempotency key: %w", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, key) DO NOTHING`, c.user, c.key, c.hash)
	if err != nil {
		return fmt.Errorf("claim idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	c.replay, c.err = c.stored(ctx)
	if c.replay == nil && c.err == nil {
		c.err = valise.Errorf(valise.ECONFLICT, "the Idempotency-Key is contended; retry shortly")
	}
	return errTaken
}

// store records the finished request's response: in its transaction, or on
// its own when it ran none (it wrote nothing, so there is nothing to tie
// the answer to).
func (c *claim) store(ctx context.Context, tx pgx.Tx, buf *bufferedResponse) error {
	hdr := map[string]string{}
	for _, k := range storedHeaders {
		if v := buf.header.Get(k); v != "" {
			hdr[k] = v
		}
	}
	h, _ := json.Marshal(hdr)
	body := buf.body.Bytes()
	if tx == nil {
		_, err := c.ik.pool.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, request_hash, status, headers, body)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, key) DO NOTHING`, c.user, c.key, c.hash, buf.status, h, body)
		if err != nil {
			return fmt.Errorf("store idempotent response: %w", err)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE user_id = $1 AND key = $2`,
		c.user, c.key, buf.status, h, body); err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// forgetExpired deletes the user's keys past their lifetime (a primary-key
// prefix scan), after the request's commit and outside its transaction: in
// a serializable one that range read would conflict with every concurrent
// request of the same user.
func (ik *idempotency) forgetExpired(ctx context.Context, user string) {
	_, _ = ik.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND created_at < now() - $2::interval`,
		user, idemTTL.String())
}

// answer writes a stored response (marked as a replay) or err.
func (c *claim) answer(w http.ResponseWriter, r *http.Request, replay *storedResponse, err error) {
	if err != nil {
		if valise.ErrorCode(err) == valise.ECONFLICT {
			w.Header().Set("Retry-After", "1")
		}
		Error(w, r, err)
		return
	}
	for k, v := range replay.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(replay.status)
	_, _ = w.Write(replay.body)
}

// bufferedResponse holds a response until its transaction has committed.
type bufferedResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}

// sendTo writes the held response to w.
func (b *bufferedResponse) sendTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
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
