package pouch_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"
	"valise/personnel/personneltest"

	"valise"
	"valise/courier"
	"valise/crypto/keyring"
	"valise/demo"
	"valise/internal/dbtest"
	"valise/policy"
	"valise/pouch"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// world is a fresh database with the demo-like units, the real policy and
// a few subjects.
type world struct {
	t       *testing.T
	svc     *pouch.Service
	cour    *courier.Service
	authz   *policy.Authorizer
	clerk   policy.Subject // MFA registry clerk, TOP_SECRET
	disp    policy.Subject // MFA dispatcher
	berlin  policy.Subject // DE-BER registry clerk
	sec     policy.Subject // security officer, all units
	mod     policy.Subject // Ministry of Defence registry (a listed sender)
	carrier policy.Subject // career courier
	keys    *keyring.Keyring
}

func newWorld(t *testing.T) *world {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, u := range [][]string{{"MFA", "ministry", "KZ"}, {"DE-BER", "embassy", "DE"}, {"JP-TYO", "embassy", "JP"},
		{"MOD", "state_body", "KZ"}, {"NB", "state_body", "KZ"}, {"AIR-ASTANA", "carrier", "KZ"}} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO units (code, name, kind, country) VALUES ($1, $1, $2, $3)`, u[0], u[1], u[2]); err != nil {
			t.Fatal(err)
		}
	}
	a, err := policy.New(ctx, d.Pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each subject is a real user: hand-offs name their parties by user id.
	sub := func(name, unit, kind string, lvl policy.Level, roles ...string) policy.Subject {
		s := policy.Subject{Username: name, Roles: roles, UnitCode: unit, UnitKind: kind, Clearance: lvl}
		if err := d.Pool.QueryRow(ctx, `INSERT INTO users (username, full_name, unit_id, roles, clearance)
			SELECT $1, $1, id, $3, $4 FROM units WHERE code = $2 RETURNING id`, name, unit, roles, int16(lvl)).Scan(&s.UserID); err != nil {
			t.Fatal(name, roles, err)
		}
		return s
	}
	// Sealing a bag signs its seals, issuing a sheet signs its QR: the
	// offices get seal keys as in the demo.
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	if err := demo.LoadSealKeys(ctx, d.Pool, master); err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(master, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, svc: pouch.New(d.Pool, pouch.WithKeyring(kr)), cour: courier.New(d.Pool, courier.WithKeyring(kr)), authz: a, keys: kr,
		clerk:  sub("clerk", "MFA", "ministry", policy.TopSecret, policy.RoleRegistryClerk),
		disp:   sub("disp", "MFA", "ministry", policy.TopSecret, policy.RoleDispatcher),
		berlin: sub("berlin", "DE-BER", "embassy", policy.TopSecret, policy.RoleRegistryClerk),
		sec:    sub("sec", "MFA", "ministry", policy.SpecialImportance, policy.RoleSecurityOfficer),
		mod:    sub("modclerk", "MOD", "state_body", policy.TopSecret, policy.RoleRegistryClerk),
	}
	w.sec.Scope = []string{"*"}
	w.carrier = policy.Subject{Username: "courier1", Roles: []string{policy.RoleCourier}, UnitCode: "MFA", UnitKind: "ministry", Clearance: policy.TopSecret}
	w.carrier.CourierKind = policy.CourierCareer
	// A career courier record links to a real account holding the role (DM-04).
	if err := d.Pool.QueryRow(ctx, `INSERT INTO users (username, full_name, unit_id, roles, clearance, courier_kind)
		SELECT 'courier1', 'Arman Courier', id, '{courier}', 3, 'career' FROM units WHERE code = 'MFA' RETURNING id`).Scan(&w.carrier.UserID); err != nil {
		t.Fatal(err)
	}
	// ... and to a staff record of the courier service with a passport (issue 15).
	if _, err := personneltest.CareerCourier(ctx, d.Pool, w.carrier.UserID); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) check(s policy.Subject) pouch.Check {
	return func(ctx context.Context, action string, r policy.Resource) error {
		return w.authz.Authorize(ctx, s, action, r)
	}
}

func code(err error) string { return valise.ErrorCode(err) }

func lvl(l policy.Level) *policy.Level { return &l }

func TestLifecycleAndRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	admin := policy.Subject{UserID: "admin", Username: "admin", Roles: []string{policy.RoleAdmin}, UnitCode: "MFA", UnitKind: "ministry"}

	// The list: MOD may send up to SECRET, submitted by modclerk.
	_, err := w.svc.RecordSender(ctx, admin, pouch.SenderInput{Unit: "MOD", LegalBasis: "Government decree No. 1",
		ValidFrom: "2020-01-01", Ceiling: lvl(policy.Secret), Submitters: []string{"modclerk"}, ApprovedBy: "Deputy PM"}, w.check(admin))
	if err != nil {
		t.Fatal(err)
	}
	if list, err := pouch.SendersAsOf(ctx, w.svc.Pool(), time.Now()); err != nil || len(list) != 1 {
		t.Fatalf("senders as of now = %v, %v", list, err)
	}
	if list, _ := pouch.SendersAsOf(ctx, w.svc.Pool(), time.Now().Add(-time.Hour)); len(list) != 0 {
		t.Fatalf("the list an hour ago should be empty, got %d", len(list))
	}

	item := func(l policy.Level, reg string) []pouch.Item {
		return []pouch.Item{{Kind: "correspondence", Level: l, RegistryNumber: reg, Count: 1, Description: "letter"}}
	}
	// Unlisted organization: refused.
	nb := w.mod
	nb.UnitCode, nb.Username = "NB", "nbclerk"
	_, err = w.svc.Submit(ctx, nb, pouch.SubmissionInput{Sender: "NB", Registry: "MFA", Destination: "DE-BER",
		ResponsiblePerson: "Governor", Items: item(policy.Restricted, "NB-1")}, w.check(nb))
	if code(err) != valise.EFORBIDDEN {
		t.Fatalf("unlisted sender: %v", err)
	}
	// Over the ceiling: refused.
	_, err = w.svc.Submit(ctx, w.mod, pouch.SubmissionInput{Sender: "MOD", Registry: "MFA", Destination: "DE-BER",
		ResponsiblePerson: "Minister of Defence", Items: item(policy.TopSecret, "MOD-TS-1")}, w.check(w.mod))
	if code(err) != valise.EFORBIDDEN {
		t.Fatalf("over ceiling: %v", err)
	}
	sub, err := w.svc.Submit(ctx, w.mod, pouch.SubmissionInput{Sender: "MOD", Registry: "MFA", Destination: "DE-BER",
		ResponsiblePerson: "Minister of Defence", Items: item(policy.Secret, "MOD-S-1")}, w.check(w.mod))
	if err != nil {
		t.Fatal(err)
	}

	plan, err := w.svc.CreatePlan(ctx, w.disp, pouch.PlanInput{Origin: "MFA", Destination: "DE-BER", Conveyance: "career_courier",
		PlannedDeparture: ptr(time.Now()), PlannedArrival: ptr(time.Now().Add(48 * time.Hour)),
		Legs: []pouch.Leg{{FromCity: "Astana", ToCity: "Frankfurt", Flight: "KC921"}, {FromCity: "Frankfurt", ToCity: "Berlin"}}}, w.check(w.disp))
	if err != nil {
		t.Fatal(err)
	}
	if plan.RouteKind != pouch.RouteMFAToInstitution || plan.NeedsReview {
		t.Fatalf("route %s review %v", plan.RouteKind, plan.NeedsReview)
	}
	bag, err := w.svc.CreateBag(ctx, w.disp, pouch.CreateBagInput{PlanID: plan.ID}, w.check(w.disp))
	if err != nil {
		t.Fatal(err)
	}
	if want := "MFA-" + time.Now().Format("2006") + "-000001"; bag.RegistryNumber != want {
		t.Fatalf("registry number %s, want %s", bag.RegistryNumber, want)
	}
	m := func(v int) pouch.Mutation { return pouch.Mutation{BagID: bag.ID, IfMatch: v} }
	bag, err = w.svc.Assemble(ctx, w.clerk, m(bag.Version), []string{sub.ID}, w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}
	if bag.Level != policy.Secret {
		t.Fatalf("bag level %s", bag.Level)
	}
	// Wrong state: dispatch before sealing.
	_, err = w.dispatchAs(ctx, w.clerk, m(0))
	var ve *valise.Error
	if !errors.As(err, &ve) || ve.Code != valise.ECONFLICT || ve.Extra["current_state"] != pouch.Assembling {
		t.Fatalf("dispatch while assembling: %v", err)
	}
	bag, err = w.svc.Seal(ctx, w.clerk, m(bag.Version), pouch.SealInput{Container: "suitcase", Packages: 2, SealSerials: []string{"S-1", "S-2"}}, w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}
	// Dispatch without a sheet: refused.
	if _, err = w.dispatchAs(ctx, w.clerk, m(0)); code(err) != valise.ECONFLICT {
		t.Fatalf("dispatch without a sheet: %v", err)
	}
	c, err := w.cour.Create(ctx, w.disp, courier.CourierInput{Kind: "career", UserID: w.carrier.UserID, FullName: "Arman Courier"})
	if err != nil {
		t.Fatal(err)
	}
	sheet, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: c.ID,
		BagIDs: []string{bag.ID}, ValidUntil: ptr(time.Now().Add(72 * time.Hour))}, w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}
	if sheet.PackageCount != 2 {
		t.Fatalf("sheet packages %d", sheet.PackageCount)
	}
	// Stale If-Match.
	if _, err = w.dispatchAs(ctx, w.clerk, m(bag.Version-1)); code(err) != valise.EPRECONDITION {
		t.Fatalf("stale If-Match: %v", err)
	}
	// Two clerks dispatch at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.dispatchAs(ctx, w.clerk, m(bag.Version))
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("both or neither won: %v / %v", errs[0], errs[1])
	}
	bag, err = w.deliverAs(ctx, w.carrier, m(0))
	if err != nil {
		t.Fatal(err)
	}
	// Opening without a witness: refused.
	_, _, err = w.svc.Examine(ctx, w.sec, m(0), pouch.ExamineInput{InitiatingBody: "Customs", InitiatingOfficial: "Inspector", Grounds: "x-ray"}, w.check(w.sec))
	if code(err) != valise.EINVALID {
		t.Fatalf("examine without witness: %v", err)
	}
	bag, rc, err := w.svc.Accept(ctx, w.berlin, m(0), pouch.AcceptInput{SealScan: pouch.SealScan{PackagesCounted: ptr(1), SealsIntact: ptr(true)}}, w.check(w.berlin))
	if err != nil {
		t.Fatal(err)
	}
	if rc.IncidentID == "" {
		t.Fatal("a count mismatch must open an incident")
	}
	// The accepting registry now holds the bag.
	var holder string
	var holderUser *string
	if err := w.svc.Pool().QueryRow(ctx, `SELECT custodian_unit, custodian_user::text FROM bag_custody WHERE bag_id = $1`, bag.ID).Scan(&holder, &holderUser); err != nil {
		t.Fatal(err)
	}
	if holder != "DE-BER" || holderUser != nil {
		t.Fatalf("after acceptance the custodian is %s/%v, want the DE-BER registry", holder, holderUser)
	}
	// An ad hoc courier cannot store.
	adhoc := policy.Subject{UserID: "ah", Username: "ah", Roles: []string{policy.RoleCourier}, UnitCode: "DE-BER", UnitKind: "embassy", Clearance: policy.TopSecret, CourierKind: policy.CourierAdHoc}
	if _, err = w.svc.Store(ctx, adhoc, m(0), pouch.StoreInput{Place: "Safe 1", Custodian: "berlin"}, w.check(adhoc)); code(err) != valise.EFORBIDDEN {
		t.Fatalf("ad hoc courier storing: %v", err)
	}
	bag, err = w.svc.Store(ctx, w.berlin, m(0), pouch.StoreInput{Place: "Safe 1", Custodian: "berlin"}, w.check(w.berlin))
	if err != nil || bag.State != pouch.Stored {
		t.Fatalf("store: %v %v", bag, err)
	}
	hist, err := pouch.History(ctx, w.svc.Pool(), bag.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) < 7 {
		t.Fatalf("history has %d events", len(hist))
	}
	// Events are append-only.
	if _, err := w.svc.Pool().Exec(ctx, `UPDATE bag_events SET reason = 'x'`); err == nil {
		t.Fatal("bag_events accepted an UPDATE")
	}
	// A Secret-cleared MOD clerk cannot see the bag listed; a list never leaks it.
	low := w.berlin
	low.Clearance = policy.Restricted
	sc, err := w.authz.ListScope(ctx, low, "bag")
	if err != nil {
		t.Fatal(err)
	}
	bags, _, err := w.svc.ListBags(ctx, low, sc, pouch.BagFilter{})
	if err != nil || len(bags) != 0 {
		t.Fatalf("low clearance list: %d %v", len(bags), err)
	}
	if _, err := w.svc.Get(ctx, bag.ID, w.check(low)); code(err) != valise.ENOTFOUND {
		t.Fatalf("low clearance get: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
