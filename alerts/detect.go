package alerts

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/keyring"
	"valise/custody"
	"valise/policy"
)

// scanLock is the advisory lock key held by the scanning round.
const scanLock = 0x76616c616c // "valal"

// everything is the scope of the scan: every bag at every level. What a
// person sees of the result is decided per person (visibleWhere).
var everything = policy.Scope{All: true, MaxLevel: policy.SpecialImportance}

// raised is a condition found by the scan.
type raised struct {
	key, kind, resource, bagID, incidentID, subject string
	dueAt                                           *time.Time
}

// Scan runs one detection round, unless another process is running one (an
// advisory lock; that process's round counts): it records each condition
// not yet recorded and plans the deliveries of every new alert, in one
// transaction. It returns how many alerts it raised.
func (s *Service) Scan(ctx context.Context) (int, error) {
	n := 0
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var leader bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, scanLock).Scan(&leader); err != nil {
			return err
		}
		if !leader {
			return nil
		}
		found, err := s.detect(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range found {
			var id string
			err := tx.QueryRow(ctx, `INSERT INTO alerts (key, kind, resource, bag_id, incident_id, subject, due_at)
				VALUES ($1, $2, $3, nullif($4, '')::uuid, nullif($5, '')::uuid, $6, $7)
				ON CONFLICT (key) DO NOTHING RETURNING id`,
				c.key, c.kind, c.resource, c.bagID, c.incidentID, c.subject, c.dueAt).Scan(&id)
			if err == pgx.ErrNoRows {
				continue // recorded before
			}
			if err != nil {
				return fmt.Errorf("record alert %s: %w", c.kind, err)
			}
			if err := s.plan(ctx, tx, id, c.kind); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("alert scan: %w", err)
	}
	if n > 0 {
		s.log.Info("alerts raised", "count", n)
	}
	return n, nil
}

// detect lists every current condition, new or already recorded.
func (s *Service) detect(ctx context.Context, tx pgx.Tx) ([]raised, error) {
	var out []raised
	overdue, err := custody.New(s.pool).ListOverdue(ctx, everything, 1000)
	if err != nil {
		return nil, err
	}
	for _, o := range overdue {
		// Once per silence: a custody event ends it, a later silence is new.
		out = append(out, raised{key: fmt.Sprintf("%s:%s:%d", KindBagOverdue, o.BagID, o.LastEventID),
			kind: KindBagOverdue, resource: "bag", bagID: o.BagID, dueAt: o.DueAt})
	}
	lookback, deadline := s.o.Lookback.String(), s.o.DeadlineWarning.String()
	rows, err := tx.Query(ctx, `
		SELECT 'bag_past_due:' || b.id || ':' || extract(epoch FROM b.due_at)::bigint, 'bag_past_due', 'bag',
		       b.id::text, '', b.due_at
		FROM bags b WHERE b.state IN ('dispatched', 'in_transit') AND b.due_at < now()
		UNION ALL
		SELECT 'incident_opened:' || i.id, CASE i.class WHEN 'breach' THEN 'breach_opened' ELSE 'incident_opened' END,
		       'incident', i.bag_id::text, i.id::text, i.notify_due
		FROM incidents i WHERE i.outcome IS NULL AND i.opened_at > now() - $1::interval
		UNION ALL
		SELECT 'incident_deadline:notify:' || i.id, 'incident_deadline', 'incident', i.bag_id::text, i.id::text, i.notify_due
		FROM incidents i WHERE i.outcome IS NULL AND i.notified_at IS NULL AND i.notify_due < now() + $2::interval
		UNION ALL
		SELECT 'incident_deadline:close:' || i.id, 'incident_deadline', 'incident', i.bag_id::text, i.id::text, i.close_due
		FROM incidents i WHERE i.outcome IS NULL AND i.close_due < now() + $2::interval
		UNION
		-- A failed check is one event: a delivery hand-off's and its receipt's are the same.
		SELECT 'seal_check_failed:' || h.accept_event, 'seal_check_failed', 'bag', h.bag_id::text, '', NULL::timestamptz
		FROM handoffs h WHERE h.seals_ok = false AND h.completed_at > now() - $1::interval
		UNION
		SELECT 'seal_check_failed:' || r.event_id, 'seal_check_failed', 'bag', r.bag_id::text, '', NULL::timestamptz
		FROM bag_receipts r WHERE NOT r.seals_intact AND r.accepted_at > now() - $1::interval`,
		lookback, deadline)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (raised, error) {
		var c raised
		err := r.Scan(&c.key, &c.kind, &c.resource, &c.bagID, &c.incidentID, &c.dueAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	out = append(out, found...)
	// Seal keys about to stop signing, and the trust list about to go stale.
	var now time.Time
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return nil, err
	}
	keys, err := keyring.Keys(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.Status == "active" && k.NotAfter.Before(now.Add(s.o.ExpiryWarning)) {
			out = append(out, raised{key: KindSealKeyExpiring + ":" + k.KID.String(), kind: KindSealKeyExpiring,
				resource: "keys", subject: k.KID.String(), dueAt: &k.NotAfter})
		}
	}
	tl, err := keyring.Latest(ctx, tx)
	if err != nil && valise.ErrorCode(err) != valise.ENOTFOUND {
		return nil, err
	}
	if tl != nil && tl.StaleAfter.Before(now.Add(s.o.ExpiryWarning)) {
		seq := strconv.FormatUint(tl.Sequence, 10)
		out = append(out, raised{key: KindTrustListStale + ":" + seq, kind: KindTrustListStale, resource: "keys",
			subject: seq, dueAt: &tl.StaleAfter})
	}
	return out, nil
}
