package bench

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"
)

// StorageTables are the tables that hold the custody events: the history
// rows and the log (entries, leaf indices, Merkle nodes, checkpoints).
var StorageTables = []string{"bag_events", "tlog_entries", "tlog_index", "tlog_nodes", "tlog_checkpoints"}

// StorageSQL is the documented measure of what an event costs on disk:
// pg_total_relation_size (heap, TOAST and every index) of each table of
// StorageTables, with the count of bag events. docs/operations.md quotes it.
const StorageSQL = `SELECT c.relname::text, pg_total_relation_size(c.oid), (SELECT count(*) FROM bag_events)
	FROM pg_class c WHERE c.relname = ANY($1) AND c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
	ORDER BY c.relname`

// Storage is the disk taken by the custody events of a database.
type Storage struct {
	Events int64
	Tables map[string]int64 // bytes per table, indexes and TOAST included
	Total  int64
}

// PerMillion is the bytes per million events.
func (s Storage) PerMillion() float64 {
	if s.Events == 0 {
		return 0
	}
	return float64(s.Total) * 1e6 / float64(s.Events)
}

// Print writes the measure, a line per table and the total per million events.
func (s Storage) Print(w io.Writer) {
	for _, t := range StorageTables {
		fmt.Fprintf(w, "  %-18s %10.1f MB  %6.0f bytes/event\n", t, float64(s.Tables[t])/1e6, float64(s.Tables[t])/float64(max(s.Events, 1)))
	}
	fmt.Fprintf(w, "  %-18s %10.1f MB  %6.0f bytes/event = %.2f GB per million events (target <= 1 GB)\n", "total",
		float64(s.Total)/1e6, float64(s.Total)/float64(max(s.Events, 1)), s.PerMillion()/1e9)
}

// MeasureStorage measures the custody events' disk use in pool's database
// (StorageSQL). Run ANALYZE or VACUUM first if the sizes must exclude dead
// rows; a bulk load has none.
func MeasureStorage(ctx context.Context, pool *pgxpool.Pool) (Storage, error) {
	s := Storage{Tables: map[string]int64{}}
	rows, err := pool.Query(ctx, StorageSQL, StorageTables)
	if err != nil {
		return s, fmt.Errorf("measure storage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n, &s.Events); err != nil {
			return s, fmt.Errorf("measure storage: %w", err)
		}
		s.Tables[name] = n
		s.Total += n
	}
	return s, rows.Err()
}
