package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5/middleware"

	"valise"
	"valise/internal/db"
)

// ProblemTypeBase prefixes every problem "type": stable, one per error code.
const ProblemTypeBase = "urn:valise:problem:"

// NotFoundDetail is the detail of every 404 problem body.
const NotFoundDetail = "not found"

// statusOf maps each application error code to its HTTP status, once.
var statusOf = map[string]int{
	valise.EBADREQUEST:   http.StatusBadRequest,
	valise.EINVALID:      http.StatusUnprocessableEntity,
	valise.ENOTFOUND:     http.StatusNotFound,
	valise.ECONFLICT:     http.StatusConflict,
	valise.EPRECONDITION: http.StatusPreconditionFailed,
	valise.EUNAUTHORIZED: http.StatusUnauthorized,
	valise.EFORBIDDEN:    http.StatusForbidden,
	valise.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	valise.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	valise.ETOOMANY:      http.StatusTooManyRequests,
	valise.EUNAVAILABLE:  http.StatusServiceUnavailable,
	valise.EINTERNAL:     http.StatusInternalServerError,
	"method_not_allowed": http.StatusMethodNotAllowed,
}

// StatusOf is the HTTP status Error answers err with (the web console
// answers its pages with the same statuses).
func StatusOf(err error) int {
	if status, ok := statusOf[valise.ErrorCode(db.Classify(err))]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Instance  string              `json:"instance,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []valise.FieldError `json:"errors,omitempty"`
	Extra     map[string]any      `json:"-"`
}

// MarshalJSON flattens Extra members into the body, as RFC 9457 extensions.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Error writes err as a problem body. Errors that are not *valise.Error are
// logged with the request id and answered with a generic 500: internals
// never reach the caller.
//
// Database failures are classified here, once for every handler
// (db.Classify): an outage, a restart or contention that outlived its
// retries is a 503 with Retry-After, never a 500, and its cause is logged.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	if c := db.Classify(err); c != err {
		loggerFrom(r.Context()).WarnContext(r.Context(), "database unavailable", "request_id", middleware.GetReqID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "err", err)
		err = c
	}
	code, status := valise.ErrorCode(err), StatusOf(err)
	p := Problem{
		Type:      ProblemTypeBase + code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    valise.ErrorMessage(err),
		Instance:  r.URL.Path,
		RequestID: middleware.GetReqID(r.Context()),
	}
	var ve *valise.Error
	if errors.As(err, &ve) {
		p.Errors = ve.Fields
		p.Extra = ve.Extra
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(db.RetryAfter))
	}
	if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		// Every 429 says when to come back: the error's retry_after, else a minute.
		secs := 60
		if v, ok := p.Extra["retry_after"].(int); ok && v > 0 {
			secs = v
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if status == http.StatusNotFound {
		// Every 404 reads the same: a resource the caller may not see
		// ("hidden" by the policy) and one that does not exist must be
		// indistinguishable, so no domain's "no such bag" wording (or any
		// member naming what was looked for) reaches the caller.
		p.Detail, p.Errors, p.Extra = NotFoundDetail, nil, nil
	}
	if status == http.StatusInternalServerError {
		loggerFrom(r.Context()).ErrorContext(r.Context(), "request failed", "request_id", p.RequestID,
			"method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteProblem(w, p)
}

// WriteProblem writes p with the problem+json media type.
func WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// JSON writes v as a JSON response with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Decode reads a JSON request body into v strictly: the media type must be
// JSON, the body must fit the server's limit and pass checkJSON (UTF-8, no
// NUL, no duplicate keys, bounded depth, strings and numbers), unknown
// fields and trailing data are refused, and wrong types name the field at
// fault.
func Decode(r *http.Request, v any) error {
	body, err := ReadJSON(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// ReadJSON reads a request body as Decode does (the media type, the byte
// limit, the strict JSON checks) and returns it unparsed, for a handler
// that splits a large body itself (a phone's batch of signed records).
func ReadJSON(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, valise.Errorf(valise.EUNSUPPORTED, "the request body must be application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, decodeError(err)
		}
		return nil, valise.Errorf(valise.EBADREQUEST, "could not read the request body")
	}
	if err := checkJSON(body); err != nil {
		return nil, err
	}
	return body, nil
}

func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return valise.Errorf(valise.ETOOLARGE, "the request body is larger than %d bytes", mbe.Limit)
	case errors.As(err, &syn):
		return valise.Errorf(valise.EBADREQUEST, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return &valise.Error{Code: valise.EBADREQUEST, Message: "a field has the wrong type",
			Fields: []valise.FieldError{{Field: field, Reason: fmt.Sprintf("must be %s, not %s", typ.Type.String(), typ.Value)}}}
	case errors.Is(err, io.EOF):
		return valise.Errorf(valise.EBADREQUEST, "the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return valise.Errorf(valise.EBADREQUEST, "malformed JSON: the body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &valise.Error{Code: valise.EBADREQUEST, Message: "the body has an unknown field",
			Fields: []valise.FieldError{{Field: f, Reason: "unknown field"}}}
	default:
		return valise.Errorf(valise.EBADREQUEST, "malformed JSON")
	}
}

type loggerKey struct{}

// loggerFrom returns the server's logger put in ctx by the access log.
func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
