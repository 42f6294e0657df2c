package pouch

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
	"valise/policy"
	"valise/tlog"
)

// scopeWhere turns a policy list scope into SQL on bags b: the bag's level
// is within the caller's clearance and one of its units is in scope (or the
// scope is all, or the caller is a courier named on a sheet covering it).
// Arguments are numbered from n.
func scopeWhere(sc policy.Scope, userID string, n int) (string, []any) {
	if sc.None() {
		return "false", nil
	}
	if sc.All {
		return fmt.Sprintf("b.level <= $%d", n), []any{int16(sc.MaxLevel)}
	}
	units := sc.Units
	if units == nil {
		units = []string{}
	}
	cond := fmt.Sprintf("b.route_codes && $%d::text[]", n+1)
	args := []any{int16(sc.MaxLevel), units}
	if sc.Courier && userID != "" {
		cond = fmt.Sprintf(`(%s OR EXISTS (SELECT 1 FROM courier_sheet_bags sb
			JOIN courier_sheets cs ON cs.id = sb.sheet_id AND cs.status = 'issued'
			JOIN couriers c ON c.id = cs.courier_id WHERE sb.bag_id = b.id AND c.user_id = $%d))`, cond, n+2)
		args = append(args, userID)
	}
	return fmt.Sprintf("b.level <= $%d AND %s", n, cond), args
}

// ScopeWhere is scopeWhere for other packages' queries over bags b (alerts
// are visible exactly as their bags are listed).
func ScopeWhere(sc policy.Scope, userID string, n int) (string, []any) {
	return scopeWhere(sc, userID, n)
}

// BagFilter narrows a bag list. Zero values do not filter.
type BagFilter struct {
	States      []State
	Origin      string
	Destination string
	Unit        string // on the route
	MinLevel    *policy.Level
	MaxLevel    *policy.Level
	OlderThan   time.Duration // last changed longer ago than this
	// DueTo lists bags on their way to this unit (dispatched, in transit, delivered).
	DueTo   string
	Overdue bool       // only bags past their due time and not yet accepted
	After   *BagCursor // the page after this position (from the previous page's next)
	Limit   int
}

// BagCursor is a position in a bag list (its sort key and the bag id). It
// holds the bag's place in the global registry sequence, so it must never
// reach a caller as it is: the API seals it (api/cursor.go).
type BagCursor struct {
	Seq int64
	ID  string
}

// ListBags returns bags in scope matching f, newest change first, with a
// cursor for the next page. The scope comes from the policy, so a bag above
// the caller's clearance or outside their need-to-know is never selected.
func (s *Service) ListBags(ctx context.Context, actor policy.Subject, sc policy.Scope, f BagFilter) ([]*Bag, *BagCursor, error) {
	where, args := scopeWhere(sc, actor.UserID, 1)
	add := func(cond string, v any) {
		args = append(args, v)
		where += " AND " + fmt.Sprintf(cond, len(args))
	}
	if len(f.States) > 0 {
		ss := make([]string, len(f.States))
		for i, st := range f.States {
			ss[i] = string(st)
		}
		add("b.state = ANY($%d::text[])", ss)
	}
	if f.Origin != "" {
		add("o.code = $%d", f.Origin)
	}
	if f.Destination != "" {
		add("d.code = $%d", f.Destination)
	}
	if f.Unit != "" {
		add("$%d = ANY(b.route_codes)", f.Unit)
	}
	if f.MinLevel != nil {
		add("b.level >= $%d", int16(*f.MinLevel))
	}
	if f.MaxLevel != nil {
		add("b.level <= $%d", int16(*f.MaxLevel))
	}
	if f.OlderThan > 0 {
		add("b.updated_at < now() - $%d::interval", f.OlderThan.String())
	}
	if f.DueTo != "" {
		add("d.code = $%d AND b.state IN ('dispatched', 'in_transit', 'delivered')", f.DueTo)
	}
	if f.Overdue {
		where += " AND b.due_at < now() AND b.state IN ('dispatched', 'in_transit', 'delivered', 'missing')"
	}
	if f.After != nil {
		add("b.registry_seq < $%d", f.After.Seq)
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	sql := `SELECT ` + bagColumns + `, b.registry_seq` + bagFrom + ` WHERE ` + where +
		fmt.Sprintf(` ORDER BY b.registry_seq DESC LIMIT %d`, f.Limit+1)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, db.Classify(fmt.Errorf("list bags: %w", err))
	}
	var seqs []int64
	bags, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Bag, error) {
		var seq int64
		b, err := scanBag(extraRow{r, []any{&seq}})
		seqs = append(seqs, seq)
		return b, err
	})
	if err != nil {
		return nil, nil, db.Classify(fmt.Errorf("list bags: %w", err))
	}
	var next *BagCursor
	if len(bags) > f.Limit {
		bags = bags[:f.Limit]
		next = &BagCursor{Seq: seqs[f.Limit-1], ID: bags[f.Limit-1].ID}
	}
	return bags, next, nil
}

// LogLeaf is one integrated custody log entry with the bag it records, as
// the policy sees it (Kind "log_entry"). Known is false for an entry that is
// no bag's event: nobody is cleared for it by a bag.
type LogLeaf struct {
	Leaf     []byte
	Resource policy.Resource
	Known    bool
}

// LogLeaves returns the leaves of indices [start, end) that the newest
// checkpoint covers, in index order, each with its bag's level and units.
// The range must already be checked (tlog.LeafHashes checks it). A leaf the
// log keeps by hash only is regenerated from its event's row (LeafSource,
// one more query for the page). Every row is looked up on an index
// (LATERAL ... LIMIT 1), so a page costs the same with or without planner
// statistics.
func LogLeaves(ctx context.Context, q db.Querier, start, end uint64) ([]LogLeaf, error) {
	rows, err := q.Query(ctx, `
		SELECT i.entry_id, t.leaf, coalesce(b.id::text, ''), coalesce(b.level, 0), coalesce(o.code, ''), coalesce(d.code, ''),
		       coalesce(b.route_codes, '{}')
		FROM (SELECT idx, entry_id FROM tlog_index
		      WHERE idx >= $1 AND idx < $2 AND idx < (SELECT coalesce(max(size), 0) FROM tlog_checkpoints) ORDER BY idx
		      LIMIT `+strconv.Itoa(tlog.MaxEntries)+`) i
		CROSS JOIN LATERAL (SELECT leaf FROM tlog_entries t WHERE t.id = i.entry_id LIMIT 1) t
		LEFT JOIN LATERAL (SELECT bag_id FROM bag_events e WHERE e.log_entry = i.entry_id ORDER BY e.id LIMIT 1) x ON true
		LEFT JOIN LATERAL (SELECT * FROM bags b WHERE b.id = x.bag_id LIMIT 1) b ON true
		LEFT JOIN units o ON o.id = b.origin_id LEFT JOIN units d ON d.id = b.destination_id
		ORDER BY i.idx`, int64(start), int64(end))
	if err != nil {
		return nil, db.Classify(fmt.Errorf("read leaves: %w", err))
	}
	var ids []tlog.EntryID
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LogLeaf, error) {
		var l LogLeaf
		var level int16
		var id int64
		err := r.Scan(&id, &l.Leaf, &l.Resource.ID, &level, &l.Resource.Origin, &l.Resource.Destination, &l.Resource.Route)
		l.Resource.Kind, l.Resource.Level, l.Known = "log_entry", policy.Level(level), l.Resource.ID != ""
		ids = append(ids, tlog.EntryID(id))
		return l, err
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("read leaves: %w", err))
	}
	var want []tlog.EntryID
	for i, l := range out {
		if l.Leaf == nil {
			want = append(want, ids[i])
		}
	}
	if len(want) > 0 {
		got, err := LeafSource.LeafBytes(ctx, q, want)
		if err != nil {
			return nil, db.Classify(err)
		}
		for i := range out {
			if out[i].Leaf == nil {
				out[i].Leaf, got = got[0], got[1:]
			}
		}
	}
	return out, nil
}
