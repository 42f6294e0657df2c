package pouch

import (
	"github.com/jackc/pgx/v5"

	"valise/policy"
)

// A read of something guarded by its bag (an incident, a loss report)
// fetches the bag's policy fields in the same query as the row, so a
// resource the caller may not see costs the same round trips as a missing
// one: the answer's time does not tell them apart (issue 10).

// bagResourceJoin joins, to a row exposing bag_id as <alias>.bag_id, the
// bag b and its origin o and destination d.
func bagResourceJoin(alias string) string {
	return ` JOIN bags b ON b.id = ` + alias + `.bag_id JOIN units o ON o.id = b.origin_id JOIN units d ON d.id = b.destination_id`
}

// bagResourceCols are the bag's policy fields (as Bag.Resource has them),
// from bagResourceJoin.
const bagResourceCols = `b.id, b.level, o.code, d.code, b.route_codes,
	ARRAY(SELECT DISTINCT c.user_id FROM courier_sheet_bags sb
	      JOIN courier_sheets cs ON cs.id = sb.sheet_id AND cs.status = 'issued'
	      JOIN couriers c ON c.id = cs.courier_id WHERE sb.bag_id = b.id AND c.user_id IS NOT NULL)`

// bagResourceDest returns scan destinations for bagResourceCols into r.
func bagResourceDest(r *policy.Resource, level *int16) []any {
	r.Kind = "bag"
	return []any{&r.ID, level, &r.Origin, &r.Destination, &r.Route, &r.Couriers}
}

// extraRow scans a row whose leading columns one scanner reads and whose
// trailing columns go to extra.
type extraRow struct {
	pgx.Row
	extra []any
}

func (r extraRow) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }
