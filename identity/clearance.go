package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Grant is one change of a user's clearance: who, to what, by whom, why.
type Grant struct {
	ID                int64        `json:"id"`
	At                time.Time    `json:"at"`
	UserID            string       `json:"user_id"`
	Username          string       `json:"username"`
	From              policy.Level `json:"from"`
	To                policy.Level `json:"to"`
	GrantedBy         string       `json:"granted_by"`
	GrantedByUsername string       `json:"granted_by_username"`
	Reason            string       `json:"reason"`
}

// GrantInput is a clearance grant's request.
type GrantInput struct {
	Clearance *policy.Level `json:"clearance"`
	Reason    string        `json:"reason"`
}

// Authorize is the caller's authorization of one action on a user
// resource (the API passes the policy's).
type Authorize func(ctx context.Context, action string, r policy.Resource) error

// UserResource is the account id as the policy sees it: its own account
// marks the resource, so nobody changes their own clearance or roles.
func UserResource(id string) policy.Resource {
	return policy.Resource{Kind: "user", ID: id, Account: id}
}

// GrantClearance sets the clearance of user id and records the grant, in one
// transaction, after authorize allows clearance.grant on the account at the
// new level (a security officer, not the subject, up to their own
// clearance: the policy decides).
func (s *Service) GrantClearance(ctx context.Context, actor policy.Subject, id string, in GrantInput, authorize Authorize) (Grant, error) {
	var fe []valise.FieldError
	if in.Clearance == nil || !in.Clearance.Valid() {
		fe = append(fe, valise.FieldError{Field: "clearance", Reason: "is required: a level name"})
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(in.Reason)); n < 1 || n > 1000 {
		fe = append(fe, valise.FieldError{Field: "reason", Reason: "say why: 1-1000 characters"})
	}
	if fe != nil {
		return Grant{}, valise.Invalid("the grant is not valid", fe...)
	}
	to := *in.Clearance
	r := UserResource(id)
	r.Level = to
	if err := authorize(ctx, policy.ActClearance, r); err != nil {
		return Grant{}, err
	}
	var g Grant
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var from int16
		err := tx.QueryRow(ctx, `SELECT username, clearance FROM users WHERE id::text = $1 FOR UPDATE`, id).Scan(&g.Username, &from)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Errorf(valise.ENOTFOUND, "no such user")
		}
		if err != nil {
			return err
		}
		if policy.Level(from) == to {
			return valise.Invalid("the user already holds this clearance", valise.FieldError{Field: "clearance", Reason: "unchanged"})
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET clearance = $2, updated_at = now(), version = version + 1 WHERE id = $1`, id, int16(to)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO clearance_grants (user_id, username, from_level, to_level, granted_by, granted_by_username, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, at, user_id, from_level, to_level, granted_by, granted_by_username, reason`,
			id, g.Username, from, int16(to), actor.UserID, actor.Username, strings.TrimSpace(in.Reason)).
			Scan(&g.ID, &g.At, &g.UserID, (*levelScan)(&g.From), (*levelScan)(&g.To), &g.GrantedBy, &g.GrantedByUsername, &g.Reason)
	})
	if err != nil {
		return Grant{}, userError(err, "")
	}
	s.log.InfoContext(ctx, "clearance granted", "user_id", g.UserID, "username", g.Username, "from", g.From.String(),
		"to", g.To.String(), "granted_by", g.GrantedByUsername)
	return g, nil
}

// ListGrants returns clearance grants, newest first, of one user or (id "")
// of everyone; at most 500.
func (s *Service) ListGrants(ctx context.Context, userID string) ([]Grant, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, user_id, username, from_level, to_level, granted_by, granted_by_username, reason
		FROM clearance_grants WHERE $1 = '' OR user_id::text = $1 ORDER BY id DESC LIMIT 500`, userID)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list grants: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Grant, error) {
		var g Grant
		err := r.Scan(&g.ID, &g.At, &g.UserID, &g.Username, (*levelScan)(&g.From), (*levelScan)(&g.To), &g.GrantedBy, &g.GrantedByUsername, &g.Reason)
		return g, err
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list grants: %w", err))
	}
	return out, nil
}

// levelScan scans a smallint level column.
type levelScan policy.Level

func (l *levelScan) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("level: unexpected %T", src)
	}
	*l = levelScan(v)
	return nil
}
