// Package valise holds the application-wide vocabulary every other package
// shares: error codes (mapped once to HTTP statuses by the api package) and
// the build identity. It imports nothing of the project, so domain packages
// can depend on it without cycles (the WTF Dial layout).
package valise

import (
	"errors"
	"fmt"
)

// Application error codes. Each maps to exactly one HTTP status in package api.
const (
	EINVALID      = "invalid"             // 422: the request is well-formed but its values break a rule
	EBADREQUEST   = "bad_request"         // 400: malformed syntax (bad JSON, wrong types, unknown fields)
	ENOTFOUND     = "not_found"           // 404: absent, or above the caller's clearance
	ECONFLICT     = "conflict"            // 409: the state does not allow the action
	EPRECONDITION = "precondition_failed" // 412: stale If-Match
	EUNAUTHORIZED = "unauthorized"        // 401: no valid credentials
	EFORBIDDEN    = "forbidden"           // 403: the policy said no
	ETOOLARGE     = "too_large"           // 413: body over the limit
	EUNSUPPORTED  = "unsupported_media"   // 415: not JSON
	ETOOMANY      = "too_many_requests"   // 429: rate limited
	EUNAVAILABLE  = "unavailable"         // 503: the database or another dependency is down
	EINTERNAL     = "internal"            // 500: a bug; details are logged, never returned
)

// FieldError names one invalid input field and what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is an application error: a code, a message safe to show the caller,
// and for validation failures the fields at fault. Anything that is not an
// *Error reaching the HTTP layer is treated as internal and not shown.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Extra carries machine-readable members added to the problem body
	// (for example the current state and the allowed next steps).
	Extra map[string]any
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("valise %s: %s (%d invalid fields)", e.Code, e.Message, len(e.Fields))
	}
	return fmt.Sprintf("valise %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error listing the fields at fault.
func Invalid(message string, fields ...FieldError) *Error {
	return &Error{Code: EINVALID, Message: message, Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the message of an
// *Error, or a generic text for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "an internal error occurred"
}

// Build identity, set with -ldflags "-X valise.Version=... -X valise.Commit=...".
var (
	Version = "dev"
	Commit  = "unknown"
)
