// Package historygen bulk-loads a synthetic custody history (bags, their
// events and the custody log's leaves, tree and signed checkpoints) so the
// audit can be measured on logs of millions of events. It writes with COPY
// and multi-row inserts, bypassing the API, and is for scratch databases
// only: `valise audit generate` and the scale tests use it.
package historygen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/demo"
	"valise/pouch"
	"valise/tlog"
)

// Options size a generated history. Zero values take the defaults.
type Options struct {
	Events int // events in all (rounded up to whole bags)
	PerBag int // events per bag; default 10 (plan to storage, one hand-off)
	Chunk  int // events per transaction and integration round; default 100000
	// Key signs the checkpoints (the log's key).
	Key *tlog.Key
	// Progress, when set, is called after each chunk with the events so far.
	Progress func(events int)
	// StaleStatistics skips the ANALYZE that follows the load (tests of
	// planner-proof queries keep the statistics of a smaller log).
	StaleStatistics bool
}

// Result says what was generated.
type Result struct {
	Bags, Events int
	V2           bool // the leaves carry custodian_before/after (the schema has them)
	// Once: each event is stored once (migration 00420): the log keeps its
	// leaf hash, the bytes are its row's canonical form (pouch.Canonical).
	Once bool
}

// party is a custodian as a v2 event names it.
type party = pouch.Party

// leaf is the canonical bag event (custody/chain.go reads it back).
type leaf struct {
	V               int             `json:"v"`
	Type            string          `json:"type"`
	EventID         int64           `json:"event_id"`
	BagID           string          `json:"bag_id"`
	Kind            string          `json:"kind"`
	Stage           string          `json:"stage"`
	FromState       string          `json:"from_state,omitempty"`
	ToState         string          `json:"to_state,omitempty"`
	Actor           string          `json:"actor"`
	Unit            string          `json:"unit"`
	Place           string          `json:"place,omitempty"`
	OccurredAt      string          `json:"occurred_at"`
	RecordedAt      string          `json:"recorded_at"`
	Data            json.RawMessage `json:"data,omitempty"`
	Prev            string          `json:"prev"`
	Custody         json.RawMessage `json:"custody,omitempty"`
	CustodianBefore *party          `json:"custodian_before,omitempty"`
	CustodianAfter  *party          `json:"custodian_after,omitempty"`
}

// step is one event of a bag's synthetic life.
type step struct {
	kind, stage, to string // to: "" leaves the state
	holder          int    // who holds the bag after it: 0 origin registry, 1 courier, 2 destination registry
}

var life = []step{
	{"planned", "plan", "planned", 0},
	{"assemble", "assemble", "assembling", 0},
	{"seal", "formalise", "sealed", 0},
	{"handoff_released", "send", "", 0},
	{"dispatch", "send", "dispatched", 1},
	{"arrive_leg", "deliver", "in_transit", 1},
	{"checkpoint_scan", "deliver", "", 1},
	{"deliver", "deliver", "delivered", 1},
	{"accept", "accept", "accepted", 2},
	{"store", "store", "stored", 2},
}

// lifeOf is the n steps of a bag: the life above, with extra checkpoint
// scans in transit when n is longer, cut short when it is shorter.
func lifeOf(n int) []step {
	if n <= len(life) {
		return life[:n]
	}
	out := append([]step{}, life[:7]...)
	for range n - len(life) {
		out = append(out, life[6])
	}
	return append(out, life[7:]...)
}

// Prepare readies an empty test database for Generate: it loads the demo
// units and creates the log's key under a random master key.
func Prepare(ctx context.Context, pool *pgxpool.Pool) (*tlog.Key, error) {
	if err := demo.LoadUnits(ctx, pool); err != nil {
		return nil, err
	}
	m := make([]byte, 32)
	_, _ = rand.Read(m)
	return tlog.LoadOrCreateKey(ctx, pool, tlog.DefaultOrigin, m)
}

// Generate appends a synthetic history of o.Events events to the database:
// bags from the first two units (origin, destination), each with o.PerBag
// events interleaved across the bags of a chunk, their leaves with valid
// per-bag hash chains, and the log's tree and checkpoints (the real
// integrator, one round per chunk). bags.state and bag_custody are the
// projection of each bag's last event.
func Generate(ctx context.Context, pool *pgxpool.Pool, o Options) (Result, error) {
	if o.PerBag <= 0 {
		o.PerBag = len(life)
	}
	if o.Chunk <= 0 {
		o.Chunk = 100000
	}
	if o.Chunk < o.PerBag {
		o.Chunk = o.PerBag
	}
	var r Result
	if o.Key == nil {
		return r, errors.New("historygen: no log key")
	}
	var unitIDs, unitCodes [2]string
	rows, err := pool.Query(ctx, `SELECT id::text, code FROM units ORDER BY (code = 'MFA') DESC, (code = 'DE-BER') DESC, code LIMIT 2`)
	if err != nil {
		return r, err
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(&unitIDs[n], &unitCodes[n]); err != nil {
			rows.Close()
			return r, err
		}
		n++
	}
	rows.Close()
	if n < 2 {
		return r, errors.New("historygen: the database needs two units (load them first)")
	}
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'bag_events' AND column_name = 'custodian_before')`).Scan(&r.V2); err != nil {
		return r, err
	}
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'tlog_entries' AND column_name = 'leaf' AND is_nullable = 'YES')`).Scan(&r.Once); err != nil {
		return r, err
	}
	g := tlog.NewIntegrator(pool, o.Key, tlog.IntegratorOptions{Batch: o.Chunk + 1})
	var tag [2]byte
	_, _ = rand.Read(tag[:])
	c := &chunker{o: o, units: unitCodes, unitIDs: unitIDs, v2: r.V2, once: r.Once, tag: fmt.Sprintf("G%X", tag),
		courier: party{Kind: "person", Unit: unitCodes[0], User: uuid(), Username: "gen.courier"},
		clerk:   uuid()}
	for chunk := 0; r.Events < o.Events; chunk++ {
		bags := min(o.Chunk/o.PerBag, (o.Events-r.Events+o.PerBag-1)/o.PerBag)
		if err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return c.load(ctx, tx, chunk, bags) }); err != nil {
			return r, fmt.Errorf("historygen: chunk %d: %w", chunk, err)
		}
		for {
			n, err := g.IntegrateOnce(ctx)
			if err != nil {
				return r, fmt.Errorf("historygen: integrate chunk %d: %w", chunk, err)
			}
			if n == 0 {
				break
			}
		}
		r.Bags += bags
		r.Events += bags * o.PerBag
		if o.Progress != nil {
			o.Progress(r.Events)
		}
	}
	// A bulk load is followed by fresh statistics: the project never
	// depends on autovacuum having run.
	if !o.StaleStatistics {
		if _, err := pool.Exec(ctx, `ANALYZE bags, bag_custody, bag_events, tlog_entries, tlog_index, tlog_nodes, tlog_checkpoints`); err != nil {
			return r, fmt.Errorf("historygen: analyze: %w", err)
		}
	}
	return r, nil
}

type chunker struct {
	o       Options
	units   [2]string
	unitIDs [2]string
	v2      bool
	once    bool
	tag     string
	courier party
	clerk   string
}

// load writes one chunk of bags and their events in tx.
func (c *chunker) load(ctx context.Context, tx pgx.Tx, chunk, nbags int) error {
	// Bulk rows: the custody row trigger and foreign keys stay out of the way.
	if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		return err
	}
	steps := lifeOf(c.o.PerBag)
	nev := nbags * len(steps)
	var firstEvent, firstEntry int64
	if err := tx.QueryRow(ctx, `
		SELECT setval(pg_get_serial_sequence('bag_events', 'id'), nextval(pg_get_serial_sequence('bag_events', 'id')) + $1 - 1) - $1 + 1,
		       setval(pg_get_serial_sequence('tlog_entries', 'id'), nextval(pg_get_serial_sequence('tlog_entries', 'id')) + $1 - 1) - $1 + 1`,
		nev).Scan(&firstEvent, &firstEntry); err != nil {
		return fmt.Errorf("reserve ids: %w", err)
	}
	holders := []party{{Kind: "registry", Unit: c.units[0]}, c.courier, {Kind: "registry", Unit: c.units[1]}}
	type bag struct {
		id   string
		prev []byte
	}
	bs := make([]bag, nbags)
	bagRows := make([][]any, nbags)
	custodyRows := make([][]any, nbags)
	final := steps[len(steps)-1]
	state := ""
	for _, s := range steps {
		if s.to != "" {
			state = s.to
		}
	}
	last := holders[final.holder]
	for i := range bs {
		bs[i] = bag{id: uuid(), prev: make([]byte, 32)}
		bagRows[i] = []any{bs[i].id, fmt.Sprintf("%s-%05d-2026-%06d", c.tag, chunk, i), c.unitIDs[0], c.unitIDs[1],
			[]string{c.units[0], c.units[1]}, state}
		// The bag's last event is its i-th in the last round of the chunk.
		lastEvent := firstEvent + int64((len(steps)-1)*nbags+i)
		custodyRows[i] = []any{bs[i].id, last.Unit, nilIfEmpty(last.User), nilIfEmpty(last.Username), lastEvent}
		if c.v2 {
			custodyRows[i] = append(custodyRows[i], last.Kind)
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bags"}, []string{"id", "registry_number", "origin_id", "destination_id",
		"route_codes", "state"}, pgx.CopyFromRows(bagRows)); err != nil {
		return fmt.Errorf("copy bags: %w", err)
	}
	custodyCols := []string{"bag_id", "custodian_unit", "custodian_user", "custodian_username", "since_event"}
	if c.v2 {
		custodyCols = append(custodyCols, "custodian_kind")
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bag_custody"}, custodyCols, pgx.CopyFromRows(custodyRows)); err != nil {
		return fmt.Errorf("copy bag_custody: %w", err)
	}

	// Events round by round: every bag's first step, then every bag's
	// second, ... so a bag's events are spread over the chunk's leaves.
	const sub = 10000
	var (
		entryIDs []int64
		leaves   [][]byte
		hashes   [][]byte
		events   [][]any
	)
	flush := func() error {
		if len(entryIDs) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tlog_entries (id, leaf, leaf_hash) OVERRIDING SYSTEM VALUE
			SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])`, entryIDs, leaves, hashes); err != nil {
			return fmt.Errorf("insert leaves: %w", err)
		}
		cols := []string{"id", "bag_id", "kind", "stage", "from_state", "to_state", "actor_id", "actor_username", "actor_unit",
			"place", "data", "occurred_at", "recorded_at", "log_entry", "prev_hash", "leaf_hash", "custody"}
		if c.v2 {
			cols = append(cols, "custodian_before", "custodian_after")
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bag_events"}, cols, pgx.CopyFromRows(events)); err != nil {
			return fmt.Errorf("copy bag_events: %w", err)
		}
		entryIDs, leaves, hashes, events = entryIDs[:0], leaves[:0], hashes[:0], events[:0]
		return nil
	}
	at := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Duration(len(steps)) * time.Hour)
	n := int64(0)
	stateAt := make([]string, len(steps)+1) // the state after each step ("" before the first)
	for j, s := range steps {
		stateAt[j+1] = stateAt[j]
		if s.to != "" {
			stateAt[j+1] = s.to
		}
	}
	for j, s := range steps {
		before, after := holders[0], holders[s.holder]
		if j > 0 {
			before = holders[steps[j-1].holder]
		}
		actorUnit := before.Unit
		if actorUnit == "" {
			actorUnit = c.units[0]
		}
		actor, actorName := c.clerk, "gen.clerk"
		if before.Kind == "person" {
			actor, actorName = before.User, before.Username
		}
		from, to := stateAt[j], s.to
		if c.v2 {
			to = stateAt[j+1]
			if from == "" {
				from = to
			}
		}
		when := at.Add(time.Duration(j) * time.Hour)
		cust, _ := json.Marshal(map[string]party{"custodian": after})
		for i := range bs {
			b := &bs[i]
			id, entry := firstEvent+n, firstEntry+n
			n++
			l := leaf{V: 1, Type: "valise.bag_event", EventID: id, BagID: b.id, Kind: s.kind, Stage: s.stage,
				FromState: from, ToState: to, Actor: actor, Unit: actorUnit, Place: "generated",
				OccurredAt: when.Format(time.RFC3339Nano), RecordedAt: when.Format(time.RFC3339Nano),
				Data: json.RawMessage(`{}`), Prev: hex.EncodeToString(b.prev), Custody: cust}
			var cb, ca any
			if c.v2 {
				l.V, l.CustodianBefore, l.CustodianAfter = 2, &before, &after
				cb, ca = &before, &after
			}
			var raw []byte
			var err error
			if c.once {
				// The event as pouch records it: its row regenerates the leaf.
				ev := pouch.Event{ID: id, BagID: b.id, Kind: s.kind, Stage: s.stage, FromState: pouch.State(from),
					ToState: pouch.State(to), ActorID: actor, ActorUnit: actorUnit, Place: "generated", OccurredAt: when,
					RecordedAt: when, Data: json.RawMessage(`{}`), PrevHash: b.prev, Custody: cust,
					CustodianBefore: &before, CustodianAfter: &after}
				raw, err = ev.Canonical()
			} else {
				raw, err = json.Marshal(l) // the leaf the schema before 00420 kept
			}
			if err != nil {
				return err
			}
			h := tlog.LeafHash(raw)
			if c.once {
				raw = nil // the log keeps the hash only
			}
			row := []any{id, b.id, s.kind, s.stage, nilIfEmpty(from), nilIfEmpty(to), actor, actorName, actorUnit,
				"generated", json.RawMessage(`{}`), when, when, entry, b.prev, h, json.RawMessage(cust)}
			if c.v2 {
				row = append(row, cb, ca)
			}
			entryIDs, leaves, hashes, events = append(entryIDs, entry), append(leaves, raw), append(hashes, h), append(events, row)
			b.prev = h
			if len(entryIDs) == sub {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// uuid returns a random (version 4) UUID.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Event is one event AppendEvent records, as a buggy or malicious writer
// could: whatever its from_state and custodians say.
type Event struct {
	BagID, Kind, Stage string
	From, To           string
	Before, After      pouch.Party
}

// AppendEvent appends e to its bag's history with a valid hash chain and
// log leaf (v2 when the schema has the custodian columns), in one
// transaction, and returns its id. It is for tests of the audit.
func AppendEvent(ctx context.Context, pool *pgxpool.Pool, e Event) (int64, error) {
	var v2 bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'bag_events' AND column_name = 'custodian_before')`).Scan(&v2); err != nil {
		return 0, err
	}
	var id int64
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var prev []byte
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('bag_events', 'id')),
			coalesce((SELECT leaf_hash FROM bag_events WHERE bag_id = $1 ORDER BY bag_id DESC, id DESC LIMIT 1), decode(repeat('00', 32), 'hex'))`,
			e.BagID).Scan(&id, &prev); err != nil {
			return err
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		cust, _ := json.Marshal(map[string]party{"custodian": e.After})
		l := leaf{V: 1, Type: "valise.bag_event", EventID: id, BagID: e.BagID, Kind: e.Kind, Stage: e.Stage,
			FromState: e.From, ToState: e.To, Actor: "test", Unit: e.Before.Unit, Place: "test",
			OccurredAt: at.Format(time.RFC3339Nano), RecordedAt: at.Format(time.RFC3339Nano),
			Data: json.RawMessage(`{}`), Prev: hex.EncodeToString(prev), Custody: cust}
		var cb, ca any
		if v2 {
			l.V, l.CustodianBefore, l.CustodianAfter = 2, &e.Before, &e.After
			cb, ca = &e.Before, &e.After
		}
		raw, err := json.Marshal(l)
		if err != nil {
			return err
		}
		cols, vals := "", ""
		args := []any{raw, tlog.LeafHash(raw), id, e.BagID, e.Kind, e.Stage, nilIfEmpty(e.From), nilIfEmpty(e.To),
			l.Unit, at, prev, json.RawMessage(cust)}
		if v2 {
			cols, vals = ", custodian_before, custodian_after", ", $13, $14"
			args = append(args, cb, ca)
		}
		sql, args, err := tlog.AppendWith(raw, `INSERT INTO bag_events (id, bag_id, kind, stage, from_state, to_state,
			actor_id, actor_username, actor_unit, place, occurred_at, recorded_at, log_entry, prev_hash, leaf_hash, custody`+cols+`)
			SELECT $3, $4, $5, $6, $7, $8, 'test', 'test', $9, 'test', $10, $10, entry.id, $11, $2, $12`+vals+` FROM entry`, args[2:]...)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sql, args...)
		return err
	})
	return id, err
}
