package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"valise/custody"
	"valise/internal/dbtest"
	"valise/migrations"
	"valise/policy"
	"valise/pouch"
	"valise/tlog"
)

// The schema before one history per bag (issue 9): 00403_one_history
// migrates what it left.
const previousSchema = 402

// v1Leaf is the custody-log leaf the previous code wrote for a bag event
// (pouch.Event.Canonical before one history): no custodian before and after,
// the custodian in the custody block.
type v1Leaf struct {
	V          int             `json:"v"`
	Type       string          `json:"type"`
	EventID    int64           `json:"event_id"`
	BagID      string          `json:"bag_id"`
	Kind       string          `json:"kind"`
	Stage      string          `json:"stage"`
	FromState  string          `json:"from_state,omitempty"`
	ToState    string          `json:"to_state,omitempty"`
	Actor      string          `json:"actor"`
	Unit       string          `json:"unit"`
	Place      string          `json:"place,omitempty"`
	OccurredAt string          `json:"occurred_at"`
	RecordedAt string          `json:"recorded_at"`
	Data       json.RawMessage `json:"data,omitempty"`
	Prev       string          `json:"prev"`
	Custody    json.RawMessage `json:"custody,omitempty"`
}

// v1Party is a custodian as the previous code wrote it: a unit, and the
// user when one person held the bag.
type v1Party struct {
	Unit     string `json:"unit"`
	User     string `json:"user,omitempty"`
	Username string `json:"username,omitempty"`
}

// oldDB writes rows the way the previous code did, on a database at the
// previous schema.
type oldDB struct {
	t     *testing.T
	d     *dbtest.Database
	units map[string]string // code → id
	users map[string]v1Party
	prev  map[string][]byte // bag → leaf hash of its last event
	now   time.Time
}

func (o *oldDB) exec(sql string, args ...any) {
	o.t.Helper()
	if _, err := o.d.Pool.Exec(context.Background(), sql, args...); err != nil {
		o.t.Fatalf("%s: %v", strings.Fields(sql)[0:3], err)
	}
}

func (o *oldDB) user(name, unit string, roles ...string) v1Party {
	o.t.Helper()
	var id string
	if err := o.d.Pool.QueryRow(context.Background(), `INSERT INTO users (username, full_name, unit_id, roles, clearance, courier_kind)
		VALUES ($1, $1, $2, $3, 3, CASE WHEN 'courier' = ANY ($3) THEN 'career' END) RETURNING id`, name, o.units[unit], roles).Scan(&id); err != nil {
		o.t.Fatal(err)
	}
	p := v1Party{Unit: unit, User: id, Username: name}
	o.users[name] = p
	return p
}

// bag inserts a bag row (its custody row is the origin registry's, by the
// previous schema's trigger) and returns its id.
func (o *oldDB) bag(seq int, state string) string {
	o.t.Helper()
	var id string
	if err := o.d.Pool.QueryRow(context.Background(), `INSERT INTO bags (registry_number, origin_id, destination_id, route_codes,
		state, level, container, package_count) VALUES ($1, $2, $3, '{MFA,DE-BER}', $4, 2, 'envelope', 1) RETURNING id`,
		fmt.Sprintf("MFA-2026-%06d", seq), o.units["MFA"], o.units["DE-BER"], state).Scan(&id); err != nil {
		o.t.Fatal(err)
	}
	o.prev[id] = make([]byte, 32)
	return id
}

// event appends a v1 event of bag to the log and bag_events, chained to the
// bag's previous event, as pouch.QueueEvent did; custody is the event's
// custody block (nil: the bag's current custodian, as PrepareEvent read it).
// It moves the bag's state and, for hand-off acceptance, its custodian, as
// the previous code's UPDATEs did.
func (o *oldDB) event(bag, kind, stage, from, to string, actor v1Party, custody any) int64 {
	o.t.Helper()
	ctx := context.Background()
	var id int64
	if err := o.d.Pool.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('bag_events', 'id'))`).Scan(&id); err != nil {
		o.t.Fatal(err)
	}
	if custody == nil {
		var cur []byte
		if err := o.d.Pool.QueryRow(ctx, `SELECT json_build_object('custodian', json_strip_nulls(json_build_object('unit', c.custodian_unit,
			'user', c.custodian_user, 'username', c.custodian_username))) FROM bag_custody c WHERE c.bag_id = $1`, bag).Scan(&cur); err != nil {
			o.t.Fatal(err)
		}
		custody = json.RawMessage(cur)
	}
	block, err := json.Marshal(custody)
	if err != nil {
		o.t.Fatal(err)
	}
	o.now = o.now.Add(time.Minute)
	at := o.now.UTC().Format(time.RFC3339Nano)
	leaf, err := json.Marshal(v1Leaf{V: 1, Type: "valise.bag_event", EventID: id, BagID: bag, Kind: kind, Stage: stage,
		FromState: from, ToState: to, Actor: actor.User, Unit: actor.Unit, OccurredAt: at, RecordedAt: at,
		Data: json.RawMessage(`{}`), Prev: hex.EncodeToString(o.prev[bag]), Custody: block})
	if err != nil {
		o.t.Fatal(err)
	}
	hash := tlog.LeafHash(leaf)
	var entry int64
	if err := o.d.Pool.QueryRow(ctx, `INSERT INTO tlog_entries (leaf, leaf_hash) VALUES ($1, $2) RETURNING id`, leaf, hash).Scan(&entry); err != nil {
		o.t.Fatal(err)
	}
	o.exec(`INSERT INTO bag_events (id, bag_id, kind, stage, from_state, to_state, actor_id, actor_username, actor_unit,
		data, occurred_at, recorded_at, log_entry, prev_hash, leaf_hash, custody)
		VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, ''), $7, $8, $9, '{}', $10, $10, $11, $12, $13, $14)`,
		id, bag, kind, stage, from, to, actor.User, actor.Username, actor.Unit, o.now, entry, o.prev[bag], hash, block)
	o.prev[bag] = hash
	if to != "" {
		o.exec(`UPDATE bags SET state = $2, version = version + 1, updated_at = $3 WHERE id = $1`, bag, to, o.now)
	}
	return id
}

// lifecycle records bag's v1 events from planned to the last of states.
func (o *oldDB) lifecycle(bag string, states ...string) {
	o.t.Helper()
	clerk := o.users["clerk"]
	steps := map[string][2]string{"planned": {"created", "plan"}, "assembling": {"assembled", "assemble"},
		"sealed": {"sealed", "formalise"}, "dispatched": {"dispatched", "send"}, "delivered": {"delivered", "deliver"},
		"accepted": {"accepted", "accept"}, "stored": {"stored", "store"}}
	from := ""
	for _, s := range states {
		o.event(bag, steps[s][0], steps[s][1], from, s, clerk, nil)
		from = s
	}
}

// TestOneHistoryMigratesExistingData builds a database at the schema before
// one history (00402) and fills it as the previous code did: bags planned,
// sealed, dispatched and stored, their v1 events and log leaves, a bag held
// by a courier with an open hand-off to another, a bag held by the
// destination registry. Migrating to the latest schema gives every bag one
// history_migrated event, last, stating its state and custodian; the state
// and custody rows stay as they were; the audits pass; the projection's
// guards then hold; and the migration goes down and up again.
func TestOneHistoryMigratesExistingData(t *testing.T) {
	t.Setenv("VALISE_DATA_DIR", t.TempDir())
	ctx := context.Background()
	d := dbtest.Empty(t)
	m, err := migrations.New(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpTo(ctx, previousSchema); err != nil {
		t.Fatal(err)
	}
	if pending, err := m.Pending(ctx); err != nil || !pending {
		t.Fatalf("after UpTo(%d) nothing is pending: %v", previousSchema, err)
	}
	m.Close()

	o := &oldDB{t: t, d: d, units: map[string]string{}, users: map[string]v1Party{}, prev: map[string][]byte{},
		now: time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Microsecond)}
	for _, u := range [][]string{{"MFA", "ministry", "KZ"}, {"DE-BER", "embassy", "DE"}} {
		var id string
		if err := d.Pool.QueryRow(ctx, `INSERT INTO units (code, name, kind, country) VALUES ($1, $1, $2, $3) RETURNING id`,
			u[0], u[1], u[2]).Scan(&id); err != nil {
			t.Fatal(err)
		}
		o.units[u[0]] = id
	}
	clerk := o.user("clerk", "MFA", "registry_clerk")
	berlin := o.user("berlin", "DE-BER", "registry_clerk")
	arman := o.user("arman", "MFA", "courier")
	dana := o.user("dana", "MFA", "courier")

	planned := o.bag(1, "planned")
	o.lifecycle(planned, "planned")
	sealed := o.bag(2, "planned")
	o.lifecycle(sealed, "planned", "assembling", "sealed")
	// Dispatched, then handed from the clerk to arman (custody moved to
	// him), then released by arman to dana: the hand-off still open.
	carried := o.bag(3, "planned")
	o.lifecycle(carried, "planned", "assembling", "sealed", "dispatched")
	mfa := v1Party{Unit: "MFA"}
	first := "11111111-1111-4111-8111-111111111111"
	rel := o.event(carried, "handoff_released", "send", "", "", clerk,
		map[string]any{"handoff_id": first, "from": clerk, "to": arman, "custodian": mfa, "packages": 1})
	acc := o.event(carried, "handoff_accepted", "send", "", "", arman,
		map[string]any{"handoff_id": first, "from": clerk, "to": arman, "custodian": arman, "packages": 1})
	o.exec(`UPDATE bag_custody SET custodian_unit = 'MFA', custodian_user = $2, custodian_username = 'arman', since_event = $3,
		updated_at = now() WHERE bag_id = $1`, carried, arman.User, acc)
	o.exec(`INSERT INTO handoffs (id, bag_id, from_unit, from_user, from_username, to_unit, to_user, to_username, status,
		release_event, accept_event, seals_ok, completed_at) VALUES ($1, $2, 'MFA', $3, 'clerk', 'MFA', $4, 'arman', 'completed', $5, $6, true, now())`,
		first, carried, clerk.User, arman.User, rel, acc)
	open := "22222222-2222-4222-8222-222222222222"
	rel2 := o.event(carried, "handoff_released", "send", "", "", arman,
		map[string]any{"handoff_id": open, "from": arman, "to": dana, "custodian": arman, "packages": 1})
	o.exec(`INSERT INTO handoffs (id, bag_id, from_unit, from_user, from_username, to_unit, to_user, to_username, status,
		release_event) VALUES ($1, $2, 'MFA', $3, 'arman', 'MFA', $4, 'dana', 'released', $5)`, open, carried, arman.User, dana.User, rel2)
	// Stored at the destination: its registry took custody at acceptance.
	stored := o.bag(4, "planned")
	o.lifecycle(stored, "planned", "assembling", "sealed", "dispatched", "delivered")
	accepted := o.event(stored, "accepted", "accept", "delivered", "accepted", berlin, nil)
	o.exec(`UPDATE bag_custody SET custodian_unit = 'DE-BER', since_event = $2 WHERE bag_id = $1`, stored, accepted)
	o.event(stored, "stored", "store", "accepted", "stored", berlin, nil)

	bags := []string{planned, sealed, carried, stored}
	type row struct{ state, unit, user, username, since string }
	read := func() map[string]row {
		out := map[string]row{}
		for _, id := range bags {
			var r row
			if err := d.Pool.QueryRow(ctx, `SELECT b.state, c.custodian_unit, coalesce(c.custodian_user::text, ''),
				coalesce(c.custodian_username, ''), coalesce(c.since_event::text, '') FROM bags b JOIN bag_custody c ON c.bag_id = b.id
				WHERE b.id = $1`, id).Scan(&r.state, &r.unit, &r.user, &r.username, &r.since); err != nil {
				t.Fatal(err)
			}
			out[id] = r
		}
		return out
	}
	before := read()
	if before[carried].user != arman.User || before[stored].unit != "DE-BER" || before[sealed].state != "sealed" {
		t.Fatalf("the previous schema's rows: %+v", before)
	}
	var events int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM bag_events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	// The previous code's history passes the previous audit.
	if r, err := custody.AuditChains(ctx, d.Pool); err != nil || !r.OK() || r.Events != events {
		t.Fatalf("the v1 history before migrating: %+v %v", r, err)
	}

	url := "--database-url=" + d.URL
	if code, out, errs := runCmd(t, "migrate", "up", url); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("migrate up over existing data = %d %q %q", code, out, errs)
	}
	checkMigrated := func(when string) {
		t.Helper()
		if after := read(); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s: bags.state or bag_custody changed:\nbefore %+v\nafter  %+v", when, before, after)
		}
		for _, id := range bags {
			var kind, stage, from, to string
			var cb, ca []byte
			if err := d.Pool.QueryRow(ctx, `SELECT kind, stage, from_state, to_state, custodian_before, custodian_after
				FROM bag_events WHERE bag_id = $1 ORDER BY id DESC LIMIT 1`, id).Scan(&kind, &stage, &from, &to, &cb, &ca); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"kind": "registry", "unit": before[id].unit}
			if before[id].user != "" {
				want = map[string]any{"kind": "person", "unit": before[id].unit, "user": before[id].user, "username": before[id].username}
			}
			var gotBefore, gotAfter map[string]any
			_ = json.Unmarshal(cb, &gotBefore)
			_ = json.Unmarshal(ca, &gotAfter)
			if kind != "history_migrated" || stage != "migration" || from != before[id].state || to != before[id].state ||
				!reflect.DeepEqual(gotBefore, want) || !reflect.DeepEqual(gotAfter, want) {
				t.Errorf("%s: bag %s's last event is %s/%s %s→%s, custodian %s → %s; want history_migrated %s, custodian %v",
					when, id, kind, stage, from, to, cb, ca, before[id].state, want)
			}
		}
	}
	checkMigrated("after migrating")
	var migrated, perBag int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT bag_id) FROM bag_events WHERE kind = 'history_migrated'`).Scan(&migrated, &perBag); err != nil {
		t.Fatal(err)
	}
	if migrated != len(bags) || perBag != len(bags) {
		t.Fatalf("%d history_migrated events over %d bags, want exactly one for each of %d", migrated, perBag, len(bags))
	}
	// The open hand-off is still open, to dana, and kept its release.
	var status, toUser, purpose string
	if err := d.Pool.QueryRow(ctx, `SELECT status, to_user::text, purpose FROM handoffs WHERE id = $1`, open).Scan(&status, &toUser, &purpose); err != nil {
		t.Fatal(err)
	}
	if status != "released" || toUser != dana.User || purpose != "transit" {
		t.Errorf("the open hand-off after migrating: %s to %s (%s)", status, toUser, purpose)
	}

	// The audits pass on the migrated database: every chain, v1 then v2.
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	audit := func(when string, wantEvents int) {
		t.Helper()
		r, err := custody.AuditChains(ctx, d.Pool)
		if err != nil || !r.OK() || r.Bags != len(bags) || r.Events != wantEvents {
			t.Fatalf("%s: chain audit %+v %v (problem %+v), want %d bags, %d events", when, r, err, r.Problem, len(bags), wantEvents)
		}
		key, err := tlog.LoadOrCreateKey(ctx, d.Pool, tlog.DefaultOrigin, master)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tlog.NewIntegrator(d.Pool, key, tlog.IntegratorOptions{Logger: slog.New(slog.DiscardHandler)}).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runCmd(t, "audit", "verify", url, "--key", key.VerifierKey)
		if want := fmt.Sprintf("%d bag chains, %d events linked", len(bags), wantEvents); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("%s: valise audit verify = %d %q %q, want %q", when, code, out, errs, want)
		}
	}
	audit("after migrating", events+len(bags))

	// Now nothing but an event moves a bag's state or custodian.
	for _, sql := range []string{
		`UPDATE bags SET state = 'delivered' WHERE id = $1`,
		`UPDATE bag_custody SET custodian_unit = 'DE-BER', custodian_user = NULL, custodian_username = NULL WHERE bag_id = $1`,
	} {
		_, err := d.Pool.Exec(ctx, sql, carried)
		if err == nil || !strings.Contains(err.Error(), "derived from its history") {
			t.Errorf("%s on the migrated database: %v, want refused", strings.Fields(sql)[1], err)
		}
	}
	checkMigrated("after the refused updates")

	// Down to the previous schema (every later migration with it) and up again.
	mig, err := migrations.New(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := mig.DownTo(ctx, 402); err != nil {
		t.Fatalf("migrate down to 00402: %v", err)
	}
	mig.Close()
	if _, err := d.Pool.Exec(ctx, `SELECT custodian_after FROM bag_events LIMIT 1`); err == nil {
		t.Fatal("after migrate down the one-history columns are still there")
	}
	if code, _, errs := runCmd(t, "migrate", "up", url); code != 0 {
		t.Fatalf("migrate up again = %d %s", code, errs)
	}
	checkMigrated("after down and up")
	// Every v2 event row still says what its leaf says, the first
	// history_migrated events included: down drops the columns, up restores them.
	var lost int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM bag_events e JOIN tlog_entries t ON t.id = e.log_entry
		WHERE t.leaf LIKE '{"v":2,%' AND (e.custodian_before IS DISTINCT FROM (convert_from(t.leaf, 'UTF8')::jsonb)->'custodian_before'
		   OR e.custodian_after IS DISTINCT FROM (convert_from(t.leaf, 'UTF8')::jsonb)->'custodian_after')`).Scan(&lost); err != nil {
		t.Fatal(err)
	}
	if lost != 0 {
		t.Errorf("after down and up, %d v2 event rows lost their custodian before or after", lost)
	}
	audit("after down and up", events+2*len(bags))
	// The one-history code carries on from the migrated history: the
	// courier holding the bag withdraws the release that was left open.
	allow := func(context.Context, string, policy.Resource) error { return nil }
	holder := policy.Subject{UserID: arman.User, Username: "arman", UnitCode: "MFA", UnitKind: "ministry",
		Roles: []string{policy.RoleCourier}, CourierKind: policy.CourierCareer, Clearance: policy.TopSecret}
	h, err := pouch.New(d.Pool).Cancel(ctx, holder, open, pouch.Where{Place: "FRA"}, allow)
	if err != nil || h.Status != "cancelled" {
		t.Fatalf("cancelling the hand-off left open by the previous code: %+v %v", h, err)
	}
	var last string
	var lastAfter []byte
	if err := d.Pool.QueryRow(ctx, `SELECT kind, custodian_after FROM bag_events WHERE bag_id = $1 ORDER BY id DESC LIMIT 1`,
		carried).Scan(&last, &lastAfter); err != nil {
		t.Fatal(err)
	}
	var p pouch.Party
	if err := json.Unmarshal(lastAfter, &p); err != nil || last != "handoff_cancelled" || p.Kind != "person" || p.User != arman.User {
		t.Fatalf("the cancellation: %s, custodian after %s (%v)", last, lastAfter, err)
	}
	if after := read(); after[carried].state != before[carried].state || after[carried].user != arman.User {
		t.Fatalf("the cancellation moved the bag: %+v", after[carried])
	}
	events++
	audit("after a one-history event on a migrated bag", events+2*len(bags))

	// That event is stored once (the log keeps its hash, its row the
	// facts): going below 00420 is now refused, and changes nothing.
	mig, err = migrations.New(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := mig.DownTo(ctx, 402); err == nil || !strings.Contains(err.Error(), "00420 down refused") {
		t.Fatalf("migrate down below 00420 with events stored once = %v", err)
	}
	mig.Close()
	audit("after the refused down", events+2*len(bags))
}
