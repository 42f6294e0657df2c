package custody_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/custody"
	"valise/internal/dbtest"
	"valise/internal/historygen"
	"valise/pouch"
)

// genBag is a generated bag: its id, registry number and last event.
type genBag struct {
	id, registry string
	last         int64
}

// genHistory loads n synthetic events (ten per bag: plan to storage at
// DE-BER) and returns the bags in id order.
func genHistory(t *testing.T, n int) (*dbtest.Database, []genBag) {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	key, err := historygen.Prepare(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := historygen.Generate(ctx, d.Pool, historygen.Options{Events: n, Key: key}); err != nil {
		t.Fatal(err)
	}
	rows, err := d.Pool.Query(ctx, `SELECT b.id, b.registry_number, max(e.id) FROM bags b JOIN bag_events e ON e.bag_id = b.id
		GROUP BY b.id ORDER BY b.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var bags []genBag
	for rows.Next() {
		var b genBag
		if err := rows.Scan(&b.id, &b.registry, &b.last); err != nil {
			t.Fatal(err)
		}
		bags = append(bags, b)
	}
	if rows.Err() != nil || len(bags) != n/10 {
		t.Fatalf("%d bags, %v", len(bags), rows.Err())
	}
	return d, bags
}

// byHand runs statements as an administrator would to edit the
// current-state tables: with triggers (the guards, the foreign keys) off.
func byHand(t *testing.T, pool *pgxpool.Pool, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range append(append([]string{`SET session_replication_role = replica`}, stmts...), `RESET session_replication_role`) {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func audit(t *testing.T, pool *pgxpool.Pool) custody.ChainReport {
	t.Helper()
	r, err := custody.AuditChains(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if r.Problem != nil {
		t.Fatalf("chain problem: %s", r.Problem.Message)
	}
	return r
}

// TestAuditReplayNamesEveryHandEdit: the audit replays each bag's history
// and names every row of bags and bag_custody an administrator edited with
// the triggers off: a state, a custodian's unit, a custodian turned into
// someone else, a deleted custody row, a custody row of no bag and a bag
// with no history, each with the bag's id and registry number, the column,
// the stored value, the history's value and the bag's last event.
func TestAuditReplayNamesEveryHandEdit(t *testing.T) {
	d, bags := genHistory(t, 60)
	if r := audit(t, d.Pool); !r.OK() || r.Bags != 6 || r.Events != 60 {
		t.Fatalf("honest history: %+v", r)
	}
	a, b, c, dl := bags[0], bags[1], bags[2], bags[3]
	const stray = "ffffffff-0000-4000-8000-000000000001" // a user, and a bag that does not exist
	byHand(t, d.Pool,
		`UPDATE bags SET state = 'delivered' WHERE id = '`+a.id+`'`,
		`UPDATE bag_custody SET custodian_unit = 'MFA' WHERE bag_id = '`+b.id+`'`,
		`UPDATE bag_custody SET custodian_kind = 'person', custodian_user = '`+stray+`', custodian_username = 'mallory'
		 WHERE bag_id = '`+c.id+`'`,
		`DELETE FROM bag_custody WHERE bag_id = '`+dl.id+`'`,
		`INSERT INTO bag_custody (bag_id, custodian_unit) VALUES ('`+stray+`', 'MFA')`,
		`INSERT INTO bags (id, registry_number, origin_id, destination_id, route_codes, state)
		 SELECT '00000000-0000-4000-8000-000000000009', 'HAND-2026-000001', origin_id, destination_id, route_codes, 'stored'
		 FROM bags WHERE id = '`+a.id+`'`)
	r := audit(t, d.Pool)
	want := []string{
		fmt.Sprintf(`bag %s (%s): bags.state is "delivered", the history gives "stored" (last event %d)`, a.id, a.registry, a.last),
		fmt.Sprintf(`bag %s (%s): bag_custody.custodian_unit is "MFA", the history gives "DE-BER" (last event %d)`, b.id, b.registry, b.last),
		fmt.Sprintf(`bag %s (%s): bag_custody.custodian_kind is "person", the history gives "registry" (last event %d)`, c.id, c.registry, c.last),
		fmt.Sprintf(`bag %s (%s): bag_custody.custodian_user is "%s", the history gives "" (last event %d)`, c.id, c.registry, stray, c.last),
		fmt.Sprintf(`bag %s (%s): bag_custody.custodian_username is "mallory", the history gives "" (last event %d)`, c.id, c.registry, c.last),
		fmt.Sprintf(`bag %s (%s): the bag has no bag_custody row; the history gives {"kind":"registry","unit":"DE-BER"}`, dl.id, dl.registry),
		fmt.Sprintf(`bag %s (no registry number): a bag_custody row names a bag that has no bags row and no history`, stray),
		`bag 00000000-0000-4000-8000-000000000009 (HAND-2026-000001): the bags row (state "stored") has no events in its history`,
		`bag 00000000-0000-4000-8000-000000000009 (HAND-2026-000001): the bag has no bag_custody row`,
	}
	var got []string
	for _, dg := range r.Disagreements {
		got = append(got, dg.Message)
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("the audit does not say\n  %s\nit says\n  %s", w, strings.Join(got, "\n  "))
		}
	}
	if r.Disagreed != len(want) || len(r.Disagreements) != len(want) {
		t.Errorf("%d disagreements, want %d:\n  %s", r.Disagreed, len(want), strings.Join(got, "\n  "))
	}
	for _, dg := range r.Disagreements {
		if dg.BagID == a.id && (dg.Column != "bags.state" || dg.Stored != "delivered" || dg.History != "stored" ||
			dg.EventID != a.last || dg.RegistryNumber != a.registry) {
			t.Errorf("bag A's disagreement = %+v", dg)
		}
	}
}

// TestAuditReplayNamesBrokenContinuity: an event whose from_state or
// custodian_before is not what the events before it left is named, with
// its id, even though its hash chain and log leaf are valid.
func TestAuditReplayNamesBrokenContinuity(t *testing.T) {
	d, bags := genHistory(t, 20)
	ctx := context.Background()
	dest := pouch.Party{Kind: "registry", Unit: "DE-BER"}
	jump, err := historygen.AppendEvent(ctx, d.Pool, historygen.Event{BagID: bags[0].id, Kind: "store", Stage: "store",
		From: "sealed", To: "stored", Before: dest, After: dest})
	if err != nil {
		t.Fatal(err)
	}
	mfa := pouch.Party{Kind: "registry", Unit: "MFA"}
	teleport, err := historygen.AppendEvent(ctx, d.Pool, historygen.Event{BagID: bags[1].id, Kind: "store", Stage: "store",
		From: "stored", To: "stored", Before: mfa, After: dest})
	if err != nil {
		t.Fatal(err)
	}
	r := audit(t, d.Pool)
	var got []string
	for _, dg := range r.Disagreements {
		got = append(got, dg.Message)
	}
	want := []string{
		fmt.Sprintf(`bag %s (%s): event %d (store) has from_state "sealed", but the events before it leave the bag "stored"`, bags[0].id, bags[0].registry, jump),
		fmt.Sprintf(`bag %s (%s): event %d (store) has custodian_before {"kind":"registry","unit":"MFA"}, but the events before it leave the bag with {"kind":"registry","unit":"DE-BER"}`,
			bags[1].id, bags[1].registry, teleport),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") && strings.Join(got, "\n") != want[1]+"\n"+want[0] {
		t.Fatalf("the audit says\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestAuditNamesHandEditsOfARealHistory: on a history written by the real
// hand-off path (API, two couriers), a custodian moved by hand to the other
// courier and a state changed by hand, with the guard triggers off, are each
// named by the audit, column by column.
func TestAuditNamesHandEditsOfARealHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.pair
	if _, err := p.HandOff(ctx, e.HTTP.Client(), e.URL, 0); err != nil { // second -> courier
		t.Fatal(err)
	}
	if r := audit(t, e.Pool); !r.OK() {
		t.Fatalf("honest history: %+v", r.Disagreements)
	}
	var reg, state string
	var last int64
	if err := e.Pool.QueryRow(ctx, `SELECT b.registry_number, b.state, (SELECT max(id) FROM bag_events WHERE bag_id = b.id)
		FROM bags b WHERE b.id = $1`, p.BagID).Scan(&reg, &state, &last); err != nil {
		t.Fatal(err)
	}
	byHand(t, e.Pool,
		`UPDATE bag_custody SET custodian_user = '`+p.SecondID+`', custodian_username = '`+p.Second+`' WHERE bag_id = '`+p.BagID+`'`,
		`UPDATE bags SET state = 'stored' WHERE id = '`+p.BagID+`'`)
	r := audit(t, e.Pool)
	want := []string{
		fmt.Sprintf(`bag %s (%s): bags.state is "stored", the history gives %q (last event %d)`, p.BagID, reg, state, last),
		fmt.Sprintf(`bag %s (%s): bag_custody.custodian_user is %q, the history gives %q (last event %d)`, p.BagID, reg, p.SecondID, p.CourierID, last),
		fmt.Sprintf(`bag %s (%s): bag_custody.custodian_username is %q, the history gives %q (last event %d)`, p.BagID, reg, p.Second, p.Courier, last),
	}
	var got []string
	for _, dg := range r.Disagreements {
		got = append(got, dg.Message)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || r.Disagreed != 3 {
		t.Fatalf("the audit says\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
