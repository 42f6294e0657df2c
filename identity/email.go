package identity

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
)

// MaxEmailLen is the longest address accepted (RFC 5321's path limit).
const MaxEmailLen = 254

// ValidEmail checks a bare address (no display name, no angle brackets, no
// line breaks: it goes into an SMTP envelope and a header). "" is valid and
// means no address.
func ValidEmail(email string) *valise.FieldError {
	if email == "" {
		return nil
	}
	bad := &valise.FieldError{Field: "email", Reason: "must be a plain address such as name@example.org, at most 254 characters"}
	if len(email) > MaxEmailLen || strings.ContainsAny(email, "\r\n\t <>\"(),;:\\[]") {
		return bad
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		return bad
	}
	return nil
}

// Email returns the user's e-mail address ("" when none is set).
func (s *Service) Email(ctx context.Context, id string) (string, error) {
	if !db.ValidUUID(id) {
		return "", valise.Errorf(valise.ENOTFOUND, "no such user")
	}
	var email string
	err := s.pool.QueryRow(ctx, `SELECT coalesce(email, '') FROM users WHERE id = $1`, id).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", valise.Errorf(valise.ENOTFOUND, "no such user")
	}
	if err != nil {
		return "", db.Classify(fmt.Errorf("read e-mail address: %w", err))
	}
	return email, nil
}

// SetEmail sets (or with "" clears) the user's e-mail address in q (a pool
// or the caller's transaction).
func SetEmail(ctx context.Context, q db.Querier, id, email string) error {
	if f := ValidEmail(email); f != nil {
		return valise.Invalid("the e-mail address is not valid", *f)
	}
	if !db.ValidUUID(id) {
		return valise.Errorf(valise.ENOTFOUND, "no such user")
	}
	tag, err := q.Exec(ctx, `UPDATE users SET email = nullif($2, ''), updated_at = now(), version = version + 1
		WHERE id = $1`, id, email)
	if err != nil {
		return db.Classify(fmt.Errorf("set e-mail address: %w", err))
	}
	if tag.RowsAffected() == 0 {
		return valise.Errorf(valise.ENOTFOUND, "no such user")
	}
	return nil
}
