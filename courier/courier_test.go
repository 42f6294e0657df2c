package courier_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"valise/personnel/personneltest"

	"valise"
	"valise/courier"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/demo"
	"valise/internal/dbtest"
	"valise/policy"
	"valise/pouch"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// world is a fresh database with units, seal keys, the real policy and the
// users who keep couriers and sheets.
type world struct {
	t     *testing.T
	db    *dbtest.Database
	svc   *pouch.Service
	cour  *courier.Service
	authz *policy.Authorizer
	keys  *keyring.Keyring
	clerk policy.Subject // MFA registry clerk, TOP_SECRET
	disp  policy.Subject // MFA dispatcher
	users map[string]string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, u := range [][]string{{"MFA", "ministry", "KZ"}, {"DE-BER", "embassy", "DE"}, {"JP-TYO", "embassy", "JP"},
		{"MOD", "state_body", "KZ"}, {"NB", "state_body", "KZ"}, {"AIR-ASTANA", "carrier", "KZ"}} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO units (code, name, kind, country) VALUES ($1, $1 || ' office', $2, $3)`, u[0], u[1], u[2]); err != nil {
			t.Fatal(err)
		}
	}
	a, err := policy.New(ctx, d.Pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	if err := demo.LoadSealKeys(ctx, d.Pool, master); err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(master, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, db: d, svc: pouch.New(d.Pool, pouch.WithKeyring(kr)), cour: courier.New(d.Pool, courier.WithKeyring(kr)),
		authz: a, keys: kr, users: map[string]string{}}
	w.clerk = w.subject("clerk", "MFA", "ministry", policy.TopSecret, "", policy.RoleRegistryClerk)
	w.disp = w.subject("disp", "MFA", "ministry", policy.TopSecret, "", policy.RoleDispatcher)
	return w
}

// subject creates a real user and returns them as the policy sees them.
func (w *world) subject(name, unit, kind string, lvl policy.Level, courierKind string, roles ...string) policy.Subject {
	w.t.Helper()
	s := policy.Subject{Username: name, Roles: roles, UnitCode: unit, UnitKind: kind, Clearance: lvl, CourierKind: courierKind}
	if err := w.db.Pool.QueryRow(context.Background(), `INSERT INTO users (username, full_name, unit_id, roles, clearance, courier_kind)
		SELECT $1, initcap($1), id, $3, $4, nullif($5, '') FROM units WHERE code = $2 RETURNING id`,
		name, unit, roles, int16(lvl), courierKind).Scan(&s.UserID); err != nil {
		w.t.Fatal(name, err)
	}
	w.users[name] = s.UserID
	if courierKind == policy.CourierCareer { // a staff record of the courier service with a passport (issue 15)
		if _, err := personneltest.CareerCourier(context.Background(), w.db.Pool, s.UserID); err != nil {
			w.t.Fatal(err)
		}
	}
	return s
}

func (w *world) check(s policy.Subject) pouch.Check {
	return func(ctx context.Context, action string, r policy.Resource) error {
		return w.authz.Authorize(ctx, s, action, r)
	}
}

// snapshot fingerprints every table recording couriers or sheets touches.
func (w *world) snapshot() string {
	w.t.Helper()
	var b strings.Builder
	for _, tbl := range []string{"couriers", "courier_sheets", "courier_sheet_bags", "seals", "seal_revocations",
		"trust_lists", "registry_counters", "bags", "bag_events", "tlog_entries"} {
		var n int
		var sum string
		err := w.db.Pool.QueryRow(context.Background(), `SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM `+tbl+` t`).Scan(&n, &sum)
		if err != nil {
			w.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %s\n", tbl, n, sum)
	}
	return b.String()
}

// refused asserts that run fails with code, naming field (when not empty),
// and leaves every row as it was.
func (w *world) refused(what, code, field string, run func() error) *valise.Error {
	w.t.Helper()
	before := w.snapshot()
	err := run()
	var ve *valise.Error
	if !errors.As(err, &ve) || ve.Code != code {
		w.t.Fatalf("%s: got %v, want %s", what, err, code)
	}
	if field != "" && !names(ve, field) {
		w.t.Fatalf("%s: the refusal names %+v, want the field %s", what, ve.Fields, field)
	}
	if after := w.snapshot(); after != before {
		w.t.Fatalf("%s: refused but changed the database:\n%s\n---\n%s", what, before, after)
	}
	return ve
}

func names(ve *valise.Error, field string) bool {
	for _, f := range ve.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// bag drives a bag of MFA's own mail at level lvl to destination with the
// given number of packages: sealed when packages > 0, else left assembling.
func (w *world) bag(tag, destination string, lvl policy.Level, packages int) *pouch.Bag {
	w.t.Helper()
	ctx := context.Background()
	sub, err := w.svc.Submit(ctx, w.clerk, pouch.SubmissionInput{Sender: "MFA", Registry: "MFA", Destination: destination,
		ResponsiblePerson: "Head of Department", Items: []pouch.Item{{Kind: "correspondence", Level: lvl,
			RegistryNumber: "REG-" + tag, Count: 1, Description: "cipher telegram " + tag}}}, w.check(w.clerk))
	if err != nil {
		w.t.Fatal(err)
	}
	b, err := w.svc.CreateBag(ctx, w.disp, pouch.CreateBagInput{Origin: "MFA", Destination: destination}, w.check(w.disp))
	if err != nil {
		w.t.Fatal(err)
	}
	if b, err = w.svc.Assemble(ctx, w.clerk, pouch.Mutation{BagID: b.ID}, []string{sub.ID}, w.check(w.clerk)); err != nil {
		w.t.Fatal(err)
	}
	if packages == 0 {
		return b
	}
	var serials []string
	for i := range packages {
		serials = append(serials, fmt.Sprintf("SEAL-%s-%d", strings.ToUpper(tag), i+1))
	}
	b, err = w.svc.Seal(ctx, w.clerk, pouch.Mutation{BagID: b.ID}, pouch.SealInput{Container: "envelope", Packages: packages,
		SealSerials: serials}, w.check(w.clerk))
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// adHoc records an ad hoc courier without an account, by a KZ document
// valid for a year.
func (w *world) adHoc(name, docKind, docNumber string) *courier.Courier {
	w.t.Helper()
	c, err := w.cour.Create(context.Background(), w.disp, courier.CourierInput{Kind: "ad_hoc", FullName: name, DocKind: docKind,
		DocNumber: docNumber, DocCountry: "KZ", DocExpires: time.Now().AddDate(1, 0, 0).Format(time.DateOnly)})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// trust is the newest published trust list, verified against the root key.
func (w *world) trust() seal.KeyResolver {
	w.t.Helper()
	ctx := context.Background()
	pub, err := keyring.Latest(ctx, w.db.Pool)
	if err != nil {
		w.t.Fatal(err)
	}
	l, err := w.keys.Parsed(ctx, w.db.Pool, pub)
	if err != nil {
		w.t.Fatal(err)
	}
	return l
}

func ptr[T any](v T) *T { return &v }

func after(d time.Duration) *time.Time { return ptr(time.Now().Add(d)) }

func TestCourierRecords(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	career := w.subject("arman", "MFA", "ministry", policy.TopSecret, policy.CourierCareer, policy.RoleCourier)
	suspended := w.subject("dormant", "MFA", "ministry", policy.TopSecret, policy.CourierCareer, policy.RoleCourier)
	if _, err := w.db.Pool.Exec(ctx, `UPDATE users SET active = false WHERE id = $1`, suspended.UserID); err != nil {
		t.Fatal(err)
	}
	adhocUser := w.subject("aigerim", "DE-BER", "embassy", policy.Secret, policy.CourierAdHoc, policy.RoleCourier)
	spare := w.subject("second", "MFA", "ministry", policy.TopSecret, policy.CourierCareer, policy.RoleCourier)
	doc := func(in courier.CourierInput) courier.CourierInput {
		in.DocKind, in.DocNumber, in.DocCountry = "service_passport", "N1234567", "KZ"
		in.DocExpires = time.Now().AddDate(2, 0, 0).Format(time.DateOnly)
		return in
	}

	// Career: the username comes from the account, whatever the input says.
	c, err := w.cour.Create(ctx, w.disp, courier.CourierInput{Kind: "career", UserID: career.UserID, FullName: "Arman Courier", Unit: "MFA", Nationality: "KZ"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != "career" || c.Username != "arman" || c.UserID != career.UserID || c.Unit != "MFA" || c.CreatedBy != "disp" {
		t.Fatalf("career courier %+v", c)
	}
	if got, err := w.cour.Get(ctx, c.ID); err != nil || got.Username != "arman" || got.FullName != "Arman Courier" {
		t.Fatalf("get %+v %v", got, err)
	}
	if _, err := w.cour.Get(ctx, "00000000-0000-0000-0000-000000000000"); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Fatalf("get of no courier: %v", err)
	}
	// Ad hoc: the identity document is the record (DM-05); an account is optional.
	ah, err := w.cour.Create(ctx, w.disp, doc(courier.CourierInput{Kind: "ad_hoc", FullName: "Dana Bearer"}))
	if err != nil {
		t.Fatal(err)
	}
	if ah.Kind != "ad_hoc" || ah.UserID != "" || ah.DocNumber != "N1234567" || ah.DocCountry != "KZ" {
		t.Fatalf("ad hoc courier %+v", ah)
	}
	ahAcct, err := w.cour.Create(ctx, w.disp, doc(courier.CourierInput{Kind: "ad_hoc", UserID: adhocUser.UserID, FullName: "Aigerim Bearer"}))
	if err != nil || ahAcct.Username != "aigerim" {
		t.Fatalf("ad hoc courier with an account: %+v %v", ahAcct, err)
	}

	noUser := "00000000-0000-0000-0000-000000000001"
	for _, tc := range []struct {
		name   string
		in     courier.CourierInput
		fields []string
	}{
		{"no kind", courier.CourierInput{FullName: "X"}, []string{"kind"}},
		{"unknown kind", courier.CourierInput{Kind: "diplomat", FullName: "X"}, []string{"kind"}},
		{"no name", courier.CourierInput{Kind: "career", UserID: spare.UserID, FullName: " "}, []string{"full_name"}},
		{"career without a user", courier.CourierInput{Kind: "career", FullName: "X"}, []string{"user_id"}},
		{"career, no such user", courier.CourierInput{Kind: "career", UserID: noUser, FullName: "X"}, []string{"user_id"}},
		{"career, not a user id", courier.CourierInput{Kind: "career", UserID: "arman", FullName: "X"}, []string{"user_id"}},
		{"career, suspended account", courier.CourierInput{Kind: "career", UserID: suspended.UserID, FullName: "X"}, []string{"user_id"}},
		{"career, not a courier", courier.CourierInput{Kind: "career", UserID: w.clerk.UserID, FullName: "Clerk"}, []string{"user_id"}},
		{"career, an ad hoc courier's account", courier.CourierInput{Kind: "career", UserID: adhocUser.UserID, FullName: "X"}, []string{"user_id"}},
		{"career, username of someone else", courier.CourierInput{Kind: "career", UserID: spare.UserID, Username: "arman", FullName: "X"}, []string{"username"}},
		{"career, already recorded", courier.CourierInput{Kind: "career", UserID: career.UserID, FullName: "Arman Again"}, []string{"user_id"}},
		{"career, unknown unit", courier.CourierInput{Kind: "career", UserID: spare.UserID, FullName: "X", Unit: "XX-NOPE"}, []string{"unit"}},
		{"bad nationality", courier.CourierInput{Kind: "career", UserID: spare.UserID, FullName: "X", Nationality: "Kazakh"}, []string{"nationality"}},
		{"ad hoc without a document", courier.CourierInput{Kind: "ad_hoc", FullName: "X"},
			[]string{"doc_kind", "doc_number", "doc_country", "doc_expires"}},
		{"ad hoc, unknown document kind", func() courier.CourierInput {
			in := doc(courier.CourierInput{Kind: "ad_hoc", FullName: "X"})
			in.DocKind = "library_card"
			return in
		}(), []string{"doc_kind"}},
		{"ad hoc, document number too long", func() courier.CourierInput {
			in := doc(courier.CourierInput{Kind: "ad_hoc", FullName: "X"})
			in.DocNumber = strings.Repeat("9", 41)
			return in
		}(), []string{"doc_number"}},
		{"ad hoc, issuing state not ISO", func() courier.CourierInput {
			in := doc(courier.CourierInput{Kind: "ad_hoc", FullName: "X"})
			in.DocCountry = "kz"
			return in
		}(), []string{"doc_country"}},
		{"ad hoc, expired document", func() courier.CourierInput {
			in := doc(courier.CourierInput{Kind: "ad_hoc", FullName: "X"})
			in.DocExpires = time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
			return in
		}(), []string{"doc_expires"}},
		{"ad hoc, a career courier's account", doc(courier.CourierInput{Kind: "ad_hoc", UserID: spare.UserID, FullName: "X"}), []string{"user_id"}},
	} {
		ve := w.refused(tc.name, valise.EINVALID, tc.fields[0], func() error {
			_, err := w.cour.Create(ctx, w.disp, tc.in)
			return err
		})
		for _, f := range tc.fields[1:] {
			if !names(ve, f) {
				t.Errorf("%s: the refusal names %+v, want also %s", tc.name, ve.Fields, f)
			}
		}
	}
	list, err := w.cour.List(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("list = %d %v, want the 3 recorded couriers", len(list), err)
	}
}

func TestSheetIssue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	arman := w.subject("arman", "MFA", "ministry", policy.TopSecret, policy.CourierCareer, policy.RoleCourier)
	low := w.subject("junior", "MFA", "ministry", policy.Restricted, policy.CourierCareer, policy.RoleCourier)
	berlin := w.subject("berlin", "DE-BER", "embassy", policy.TopSecret, "", policy.RoleRegistryClerk)
	mod := w.subject("modclerk", "MOD", "state_body", policy.TopSecret, "", policy.RoleRegistryClerk)
	career, err := w.cour.Create(ctx, w.disp, courier.CourierInput{Kind: "career", UserID: arman.UserID, FullName: "Arman Courier"})
	if err != nil {
		t.Fatal(err)
	}
	junior, err := w.cour.Create(ctx, w.disp, courier.CourierInput{Kind: "career", UserID: low.UserID, FullName: "Junior Courier"})
	if err != nil {
		t.Fatal(err)
	}
	adhoc := w.adHoc("Dana Bearer", "passport", "P7654321")

	one := w.bag("one", "DE-BER", policy.Secret, 1)
	three := w.bag("three", "DE-BER", policy.Secret, 3)
	tokyo := w.bag("tokyo", "JP-TYO", policy.Secret, 1)
	open := w.bag("open", "DE-BER", policy.Secret, 0)
	plain := w.bag("plain", "DE-BER", policy.Unclassified, 2)
	taken := w.bag("taken", "DE-BER", policy.Secret, 1)
	first, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: career.ID,
		BagIDs: []string{taken.ID}, ValidUntil: after(24 * time.Hour)}, w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}

	ok := courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: career.ID,
		BagIDs: []string{one.ID, three.ID}, ValidUntil: after(72 * time.Hour)}
	with := func(f func(*courier.IssueInput)) courier.IssueInput {
		in := ok
		in.BagIDs = append([]string(nil), ok.BagIDs...)
		f(&in)
		return in
	}
	for _, tc := range []struct {
		name   string
		actor  policy.Subject
		in     courier.IssueInput
		code   string
		field  string
		reason string // Extra["reason"]
	}{
		{"no issuer", w.clerk, with(func(in *courier.IssueInput) { in.Issuer = "" }), valise.EINVALID, "issuer", ""},
		{"unknown issuer", w.clerk, with(func(in *courier.IssueInput) { in.Issuer = "XX-NOPE" }), valise.EINVALID, "issuer", ""},
		{"unknown conveyance", w.clerk, with(func(in *courier.IssueInput) { in.Conveyance = "pigeon" }), valise.EINVALID, "conveyance", ""},
		{"courier conveyance without a courier", w.clerk, with(func(in *courier.IssueInput) { in.CourierID = "" }), valise.EINVALID, "courier_id", ""},
		{"unknown courier", w.clerk, with(func(in *courier.IssueInput) { in.CourierID = "00000000-0000-0000-0000-000000000000" }), valise.EINVALID, "courier_id", ""},
		{"career conveyance, ad hoc courier", w.clerk, with(func(in *courier.IssueInput) { in.CourierID = adhoc.ID }), valise.EINVALID, "courier_id", ""},
		{"ad hoc conveyance, career courier", w.clerk, with(func(in *courier.IssueInput) { in.Conveyance = "ad_hoc_courier" }), valise.EINVALID, "courier_id", ""},
		{"captain without a name", w.clerk, with(func(in *courier.IssueInput) { in.Conveyance, in.CourierID = "aircraft_captain", "" }), valise.EINVALID, "bearer_name", ""},
		{"freight without a carrier", w.clerk, with(func(in *courier.IssueInput) { in.Conveyance, in.CourierID = "freight", "" }), valise.EINVALID, "bearer_name", ""},
		{"no bags", w.clerk, with(func(in *courier.IssueInput) { in.BagIDs = nil }), valise.EINVALID, "bag_ids", ""},
		{"no validity", w.clerk, with(func(in *courier.IssueInput) { in.ValidUntil = nil }), valise.EINVALID, "valid_until", ""},
		{"valid until before valid from", w.clerk, with(func(in *courier.IssueInput) {
			in.ValidFrom = in.ValidUntil
			in.ValidUntil = ptr(in.ValidFrom.Add(-time.Hour))
		}), valise.EINVALID, "valid_until", ""},
		{"valid only in the past", w.clerk, with(func(in *courier.IssueInput) {
			in.ValidFrom, in.ValidUntil = ptr(time.Now().Add(-48*time.Hour)), ptr(time.Now().Add(-time.Hour))
		}), valise.EINVALID, "valid_until", ""},
		{"valid longer than 366 days", w.clerk, with(func(in *courier.IssueInput) { in.ValidUntil = after(367 * 24 * time.Hour) }), valise.EINVALID, "valid_until", ""},
		{"no such bag", w.clerk, with(func(in *courier.IssueInput) { in.BagIDs[1] = "00000000-0000-0000-0000-000000000000" }), valise.EINVALID, "bag_ids[1]", ""},
		{"a bag not sealed", w.clerk, with(func(in *courier.IssueInput) { in.BagIDs = append(in.BagIDs, open.ID) }), valise.ECONFLICT, "bag_ids[2]", ""},
		{"bags on two routes", w.clerk, with(func(in *courier.IssueInput) { in.BagIDs[1] = tokyo.ID }), valise.EINVALID, "bag_ids[1]", ""},
		{"a bag on another issued sheet", w.clerk, with(func(in *courier.IssueInput) { in.BagIDs = []string{taken.ID} }), valise.ECONFLICT, "bag_ids[0]", ""},
		{"a career courier cleared below a bag", w.clerk, with(func(in *courier.IssueInput) { in.CourierID = junior.ID }), valise.ECONFLICT, "courier_id", "courier_clearance"},
		{"an ad hoc courier without a clearance record for a SECRET bag", w.clerk, with(func(in *courier.IssueInput) { in.Conveyance, in.CourierID = "ad_hoc_courier", adhoc.ID }), valise.ECONFLICT, "courier_id", "courier_clearance"},
		{"a captain for a SECRET bag", w.clerk, with(func(in *courier.IssueInput) {
			in.Conveyance, in.CourierID, in.BearerName = "aircraft_captain", "", "Capt. Nurlan"
		}), valise.ECONFLICT, "", "courier_clearance"},
		{"a carrier for a SECRET bag", w.clerk, with(func(in *courier.IssueInput) {
			in.Conveyance, in.CourierID, in.BearerName = "freight", "", "Air Astana Cargo"
		}), valise.ECONFLICT, "", "courier_clearance"},
		// DM-02: only the ministry or a foreign institution issues, in its own unit's name.
		{"a state body as issuer", w.clerk, with(func(in *courier.IssueInput) { in.Issuer = "MOD" }), valise.EINVALID, "issuer", ""},
		// Off the bags' route a bag is hidden: forbidden looks like missing.
		{"a state body's clerk issuing", mod, with(func(in *courier.IssueInput) { in.Issuer = "MOD" }), valise.EINVALID, "bag_ids[0]", ""},
		{"the ministry issuing in an embassy's name", w.clerk, with(func(in *courier.IssueInput) { in.Issuer = "DE-BER" }), valise.EFORBIDDEN, "", ""},
		{"an embassy issuing in the ministry's name", berlin, ok, valise.EFORBIDDEN, "", ""},
		{"a courier issuing", arman, ok, valise.EFORBIDDEN, "", ""},
		{"reissuing a sheet still issued", w.clerk, with(func(in *courier.IssueInput) { in.Replaces = first.ID }), valise.EINVALID, "replaces", ""},
		{"reissuing no sheet", w.clerk, with(func(in *courier.IssueInput) { in.Replaces = "00000000-0000-0000-0000-000000000000" }), valise.EINVALID, "replaces", ""},
	} {
		ve := w.refused(tc.name, tc.code, tc.field, func() error {
			_, err := w.cour.Issue(ctx, tc.actor, tc.in, w.check(tc.actor))
			return err
		})
		if tc.reason != "" && ve.Extra["reason"] != tc.reason {
			t.Errorf("%s: reason %v, want %s", tc.name, ve.Extra["reason"], tc.reason)
		}
		if tc.code == valise.ECONFLICT && tc.field == "bag_ids[2]" && ve.Extra["current_state"] != string(pouch.Assembling) {
			t.Errorf("%s: current_state %v", tc.name, ve.Extra["current_state"])
		}
	}

	// The good sheet: two bags, one route, the packages summed.
	sh, err := w.cour.Issue(ctx, w.disp, ok, w.check(w.disp))
	if err != nil {
		t.Fatal(err)
	}
	year := time.Now().Year()
	if !regexp.MustCompile(fmt.Sprintf(`^MFA-CS-%d-\d{6}$`, year)).MatchString(sh.Number) || sh.Number == first.Number {
		t.Errorf("number %s (first %s)", sh.Number, first.Number)
	}
	if sh.PackageCount != 4 || len(sh.Bags) != 2 || sh.Status != "issued" || sh.Version != 1 || sh.Issuer != "MFA" ||
		sh.IssuedBy != "disp" || sh.BearerName != "Arman Courier" || sh.CourierKind != "career" || !sh.ValidAt(time.Now()) {
		t.Fatalf("sheet %+v", sh)
	}
	if strings.Join(sh.Route, ",") != "MFA,DE-BER" {
		t.Errorf("route %v", sh.Route)
	}
	for _, b := range sh.Bags {
		want := map[string]int{one.ID: 1, three.ID: 3}[b.BagID]
		if b.Packages != want || (b.BagID == one.ID) != (b.RegistryNumber == one.RegistryNumber) {
			t.Errorf("sheet bag %+v", b)
		}
	}

	// The signed QR verifies against the published trust list and matches
	// the sheet record; the verifier finds the sheet from the QR.
	claims, err := seal.Verify(sh.QR, w.trust(), time.Now())
	if err != nil {
		t.Fatalf("the sheet's QR does not verify: %v", err)
	}
	if claims.Serial.String() != sh.QRSerial || claims.Registry != sh.Number || claims.Origin != "MFA" || claims.Destination != "DE-BER" {
		t.Errorf("QR claims %+v", claims)
	}
	found, err := courier.SheetBySeal(ctx, w.db.Pool, claims)
	if err != nil || found == nil || found.ID != sh.ID {
		t.Fatalf("sheet by seal = %+v %v", found, err)
	}
	issued, err := keyring.SealBySerial(ctx, w.db.Pool, claims.Serial)
	if err != nil {
		t.Fatal(err)
	}
	if m := found.Compare(claims, issued); len(m) != 0 {
		t.Errorf("an untouched sheet mismatches its QR: %+v", m)
	}
	// A sheet record edited behind the service no longer matches its QR.
	if _, err := w.db.Pool.Exec(ctx, `UPDATE courier_sheets SET package_count = 5 WHERE id = $1`, sh.ID); err != nil {
		t.Fatal(err)
	}
	edited, err := w.cour.GetSheet(ctx, sh.ID, w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}
	if m := edited.Compare(claims, issued); len(m) != 1 || m[0].Field != "manifest_hash" {
		t.Errorf("an edited package count: mismatches %+v, want manifest_hash", m)
	}
	if _, err := w.db.Pool.Exec(ctx, `UPDATE courier_sheets SET package_count = 4 WHERE id = $1`, sh.ID); err != nil {
		t.Fatal(err)
	}
	// A bag-seal text is not a sheet.
	bagSeals, err := keyring.BagSeals(ctx, w.db.Pool, one.ID)
	if err != nil || len(bagSeals) != 1 {
		t.Fatal(bagSeals, err)
	}
	if bc, err := seal.Verify(bagSeals[0].Text, w.trust(), time.Now()); err != nil {
		t.Fatal(err)
	} else if s, err := courier.SheetBySeal(ctx, w.db.Pool, bc); err != nil || s != nil {
		t.Errorf("a bag seal found sheet %+v %v", s, err)
	}

	// Reading the sheet: need-to-know on its bags; a stranger sees nothing.
	if _, err := w.cour.GetSheet(ctx, sh.ID, w.check(arman)); err != nil {
		t.Errorf("the courier named on the sheet cannot read it: %v", err)
	}
	tokyoClerk := w.subject("tokyo", "JP-TYO", "embassy", policy.TopSecret, "", policy.RoleRegistryClerk)
	_, err = w.cour.GetSheet(ctx, sh.ID, w.check(tokyoClerk))
	_, missing := w.cour.GetSheet(ctx, "00000000-0000-0000-0000-000000000000", w.check(tokyoClerk))
	if valise.ErrorCode(err) != valise.ENOTFOUND || valise.ErrorCode(missing) != valise.ENOTFOUND {
		t.Errorf("a registry off the route reads the sheet: %v (a missing one: %v)", err, missing)
	}

	// A captain carries an unclassified bag; a SECRET one only once the
	// reference data clears bearers without a record for it.
	capt, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "aircraft_captain", BearerName: "Capt. Nurlan",
		BagIDs: []string{plain.ID}, ValidUntil: after(12 * time.Hour)}, w.check(w.clerk))
	if err != nil || capt.PackageCount != 2 || capt.CourierID != "" || capt.BearerName != "Capt. Nurlan" {
		t.Fatalf("captain sheet %+v %v", capt, err)
	}
	if _, err := w.db.Pool.Exec(ctx, `UPDATE custody_settings SET value = 'SECRET' WHERE key = 'bearer.max_level'`); err != nil {
		t.Fatal(err)
	}
	cargo, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "freight", BearerName: "Air Astana Cargo",
		BagIDs: []string{tokyo.ID}, ValidUntil: after(12 * time.Hour)}, w.check(w.clerk))
	if err != nil || strings.Join(cargo.Route, ",") != "MFA,JP-TYO" {
		t.Fatalf("freight sheet with bearer.max_level SECRET: %+v %v", cargo, err)
	}
	// An ad hoc courier with an account is cleared by it: TOP_SECRET is
	// above bearer.max_level, not above the account's clearance.
	acct := w.subject("aigerim", "DE-BER", "embassy", policy.TopSecret, policy.CourierAdHoc, policy.RoleCourier)
	ah, err := w.cour.Create(ctx, w.disp, courier.CourierInput{Kind: "ad_hoc", UserID: acct.UserID, FullName: "Aigerim Bearer",
		DocKind: "diplomatic_passport", DocNumber: "D0001", DocCountry: "KZ", DocExpires: time.Now().AddDate(1, 0, 0).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	ts := w.bag("ts", "DE-BER", policy.TopSecret, 1)
	ahs, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "ad_hoc_courier", CourierID: ah.ID,
		BagIDs: []string{ts.ID}, ValidUntil: after(12 * time.Hour)}, w.check(w.clerk))
	if err != nil || ahs.CourierKind != "ad_hoc" || ahs.BearerDoc != "Diplomatic passport No. D0001 (KZ)" {
		t.Fatalf("ad hoc sheet for a TOP_SECRET bag, the courier's account cleared for it: %+v %v", ahs, err)
	}
}

func TestSheetRevokeAndReissue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	arman := w.subject("arman", "MFA", "ministry", policy.TopSecret, policy.CourierCareer, policy.RoleCourier)
	sec := w.subject("sec", "MFA", "ministry", policy.SpecialImportance, "", policy.RoleSecurityOfficer)
	c, err := w.cour.Create(ctx, w.disp, courier.CourierInput{Kind: "career", UserID: arman.UserID, FullName: "Arman Courier"})
	if err != nil {
		t.Fatal(err)
	}
	b := w.bag("rev", "DE-BER", policy.Secret, 2)
	issue := func(replaces string) (*courier.Sheet, error) {
		return w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: c.ID,
			BagIDs: []string{b.ID}, ValidUntil: after(48 * time.Hour), Replaces: replaces}, w.check(w.clerk))
	}
	sh, err := issue("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Verify(sh.QR, w.trust(), time.Now()); err != nil {
		t.Fatalf("the issued sheet's QR: %v", err)
	}
	revoke := func(actor policy.Subject, id string, ifMatch int, reason string) error {
		_, err := w.cour.Revoke(ctx, actor, id, ifMatch, reason, w.check(actor))
		return err
	}
	for _, tc := range []struct {
		name    string
		actor   policy.Subject
		id      string
		ifMatch int
		reason  string
		code    string
		field   string
	}{
		{"no reason", w.clerk, sh.ID, sh.Version, "", valise.EINVALID, "reason"},
		{"a blank reason", w.clerk, sh.ID, sh.Version, "  \t", valise.EINVALID, "reason"},
		{"a stale If-Match", w.clerk, sh.ID, sh.Version + 1, "courier ill", valise.EPRECONDITION, ""},
		{"the courier named on it", arman, sh.ID, sh.Version, "I am ill", valise.EFORBIDDEN, ""},
		{"a dispatcher", w.disp, sh.ID, sh.Version, "changed plans", valise.EFORBIDDEN, ""},
		{"no such sheet", w.clerk, "00000000-0000-0000-0000-000000000000", 0, "x", valise.ENOTFOUND, ""},
	} {
		w.refused("revoke: "+tc.name, tc.code, tc.field, func() error { return revoke(tc.actor, tc.id, tc.ifMatch, tc.reason) })
	}
	// A bag on an issued sheet goes on no second one, and a sheet still
	// issued cannot be replaced.
	w.refused("a second sheet", valise.ECONFLICT, "bag_ids[0]", func() error { _, err := issue(""); return err })
	other := w.bag("other", "DE-BER", policy.Secret, 1)
	w.refused("replacing an issued sheet", valise.EINVALID, "replaces", func() error {
		_, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: c.ID,
			BagIDs: []string{other.ID}, ValidUntil: after(48 * time.Hour), Replaces: sh.ID}, w.check(w.clerk))
		return err
	})

	rev, err := w.cour.Revoke(ctx, sec, sh.ID, sh.Version, "courier fell ill", w.check(sec))
	if err != nil {
		t.Fatal(err)
	}
	if rev.Status != "revoked" || rev.RevokedReason != "courier fell ill" || rev.RevokedAt == nil || rev.Version != sh.Version+1 || rev.ValidAt(time.Now()) {
		t.Fatalf("revoked sheet %+v", rev)
	}
	// Its QR is revoked with it, in the trust list published at once: it
	// is still authentic, and refused as revoked.
	if _, err := seal.Verify(sh.QR, w.trust(), time.Now()); !errors.Is(err, seal.ErrSealRevoked) || seal.Code(err) != "seal_revoked" {
		t.Fatalf("the revoked sheet's QR: %v, want seal_revoked", err)
	}
	w.refused("revoking twice", valise.ECONFLICT, "", func() error { return revoke(w.clerk, sh.ID, 0, "again") })
	w.refused("revoking with the old version", valise.EPRECONDITION, "", func() error { return revoke(w.clerk, sh.ID, sh.Version, "again") })

	// Reissue: a new number and QR replacing the revoked sheet.
	re, err := issue(sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if re.Replaces != sh.ID || re.Number == sh.Number || re.QRSerial == sh.QRSerial || re.Status != "issued" || re.PackageCount != 2 {
		t.Fatalf("reissued %+v", re)
	}
	if _, err := seal.Verify(re.QR, w.trust(), time.Now()); err != nil {
		t.Fatalf("the reissued sheet's QR: %v", err)
	}
	if _, err := seal.Verify(sh.QR, w.trust(), time.Now()); !errors.Is(err, seal.ErrSealRevoked) {
		t.Fatalf("the replaced sheet's QR after reissue: %v", err)
	}
	// The revoked one stays revoked and readable, and is replaced once.
	old, err := w.cour.GetSheet(ctx, sh.ID, w.check(w.clerk))
	if err != nil || old.Status != "revoked" {
		t.Fatalf("the revoked sheet after reissue: %+v %v", old, err)
	}
	w.refused("a second reissue of one revoked sheet", valise.EINVALID, "replaces", func() error {
		_, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: c.ID,
			BagIDs: []string{other.ID}, ValidUntil: after(48 * time.Hour), Replaces: sh.ID}, w.check(w.clerk))
		return err
	})

	// Two clerks reissue the same revoked sheet at once: one wins.
	if _, err := w.cour.Revoke(ctx, w.clerk, re.ID, re.Version, "flight cancelled", w.check(w.clerk)); err != nil {
		t.Fatal(err)
	}
	third := w.bag("third", "DE-BER", policy.Secret, 1)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{other.ID, third.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: c.ID,
				BagIDs: []string{id}, ValidUntil: after(48 * time.Hour), Replaces: re.ID}, w.check(w.clerk))
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("two reissues of one sheet: %v / %v, want exactly one", errs[0], errs[1])
	}
	var successors int
	if err := w.db.Pool.QueryRow(ctx, `SELECT count(*) FROM courier_sheets WHERE replaces = $1`, re.ID).Scan(&successors); err != nil || successors != 1 {
		t.Fatalf("%d sheets replace %s (%v)", successors, re.Number, err)
	}
}

func TestPrintableSheet(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	ad := w.adHoc("Dana Bearer", "passport", "P7654321")
	a := w.bag("printa", "DE-BER", policy.Unclassified, 2)
	b := w.bag("printb", "DE-BER", policy.Unclassified, 1)
	sh, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "ad_hoc_courier", CourierID: ad.ID,
		BagIDs: []string{a.ID, b.ID}, ValidUntil: after(24 * time.Hour)}, w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}
	render := func(sh *courier.Sheet) string {
		var page strings.Builder
		if err := sh.Print(&page); err != nil {
			t.Fatal(err)
		}
		return page.String()
	}
	page := render(sh)
	mm, err := seal.PrintSize(sh.QR)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := seal.SVG(sh.QR, mm)
	if err != nil {
		t.Fatal(err)
	}
	svgBody := string(svg)
	if i := strings.Index(svgBody, "<svg"); i >= 0 {
		svgBody = svgBody[i:]
	}
	for _, want := range []string{"COURIER SHEET", sh.Number, "Dana Bearer", "Passport No. P7654321 (KZ)", "Паспорт № P7654321 (KZ)", "Diplomatic courier ad hoc",
		"MFA → DE-BER", a.RegistryNumber, b.RegistryNumber, "<td>3</td>", "<td>2</td>", "<td>1</td>", "serial " + sh.QRSerial, svgBody} {
		if !strings.Contains(page, want) {
			t.Errorf("the printed sheet lacks %q", want)
		}
	}
	// The sheet certifies status and packages, never contents or levels.
	for _, never := range []string{"cipher telegram", "REG-PRINTA", "REG-PRINTB", "UNCLASSIFIED", "SECRET", "<?xml", "<link", "url(", "onclick"} {
		if strings.Contains(page, never) {
			t.Errorf("the printed sheet shows %q", never)
		}
	}
	// Its one external resource is the print script the server serves (the CSP allows no other).
	if strings.Count(page, "src=") != 1 || !strings.Contains(page, `<script src="`+courier.PrintScriptPath+`"></script>`) {
		t.Error("the printed sheet loads something besides its print script")
	}
	if strings.Contains(page, "REVOKED") {
		t.Error("an issued sheet prints as revoked")
	}
	rev, err := w.cour.Revoke(ctx, w.clerk, sh.ID, 0, "bearer's passport lost", w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}
	if page := render(rev); !strings.Contains(page, "REVOKED") || !strings.Contains(page, "bearer&#39;s passport lost") {
		t.Errorf("the revoked sheet prints without its revocation:\n%s", page)
	}
	// Free text is escaped: a bearer name cannot inject markup.
	evil := w.adHoc(`<script>alert(1)</script>`, "id_card", "X1")
	esh, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "ad_hoc_courier", CourierID: evil.ID,
		BagIDs: []string{a.ID}, ValidUntil: after(24 * time.Hour)}, w.check(w.clerk))
	if err != nil {
		t.Fatal(err)
	}
	if page := render(esh); strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Error("the bearer's name is not escaped on the printed sheet")
	}
}

// TestSheetIssueHidesBagsOffTheRoute: a registry that may issue sheets, but
// is on none of a bag's units, learns nothing of the bag by naming it on a
// sheet: whatever the bag's state or sheets, the refusal is the one for a
// bag that does not exist.
func TestSheetIssueHidesBagsOffTheRoute(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	tokyo := w.subject("tokyo", "JP-TYO", "embassy", policy.SpecialImportance, "", policy.RoleRegistryClerk)
	captain := func(bagID string) error {
		_, err := w.cour.Issue(ctx, tokyo, courier.IssueInput{Issuer: "JP-TYO", Conveyance: "aircraft_captain", BearerName: "Capt. Sato",
			BagIDs: []string{bagID}, ValidUntil: after(24 * time.Hour)}, w.check(tokyo))
		return err
	}
	onSheet := w.bag("onsheet", "DE-BER", policy.Unclassified, 1)
	if _, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "aircraft_captain", BearerName: "Capt. Nurlan",
		BagIDs: []string{onSheet.ID}, ValidUntil: after(24 * time.Hour)}, w.check(w.clerk)); err != nil {
		t.Fatal(err)
	}
	missing := w.refused("a bag that does not exist", valise.EINVALID, "bag_ids[0]", func() error {
		return captain("00000000-0000-0000-0000-000000000000")
	})
	for name, id := range map[string]string{
		"an assembling bag":        w.bag("asm", "DE-BER", policy.Unclassified, 0).ID,
		"a sealed bag":             w.bag("free", "DE-BER", policy.Unclassified, 1).ID,
		"a bag on an issued sheet": onSheet.ID,
		"a SECRET bag":             w.bag("sec", "DE-BER", policy.Secret, 1).ID,
	} {
		ve := w.refused(name+" of another route", missing.Code, "bag_ids[0]", func() error { return captain(id) })
		if ve.Message != missing.Message || fmt.Sprint(ve.Fields) != fmt.Sprint(missing.Fields) || len(ve.Extra) != 0 {
			t.Errorf("%s of another route: %q %+v %v; a missing bag: %q %+v", name, ve.Message, ve.Fields, ve.Extra, missing.Message, missing.Fields)
		}
	}
}

// TestSheetNamesOnlyACurrentCourier: a courier record stands for an account
// that holds the courier role (DM-04); once the account is suspended or the
// role withdrawn, no new sheet names that courier, whatever the bags' level.
func TestSheetNamesOnlyACurrentCourier(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	b := w.bag("plain", "DE-BER", policy.Unclassified, 1)
	for _, tc := range []struct{ name, change string }{
		{"suspended", `UPDATE users SET active = false WHERE id = $1`},
		{"no longer a courier", `UPDATE users SET roles = '{registry_clerk}', courier_kind = NULL WHERE id = $1`},
	} {
		s := w.subject(strings.ReplaceAll(tc.name, " ", "."), "MFA", "ministry", policy.TopSecret, policy.CourierCareer, policy.RoleCourier)
		c, err := w.cour.Create(ctx, w.disp, courier.CourierInput{Kind: "career", UserID: s.UserID, FullName: "Former Courier"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.Pool.Exec(ctx, tc.change, s.UserID); err != nil {
			t.Fatal(err)
		}
		w.refused("a sheet naming a courier "+tc.name, valise.EINVALID, "courier_id", func() error {
			_, err := w.cour.Issue(ctx, w.clerk, courier.IssueInput{Issuer: "MFA", Conveyance: "career_courier", CourierID: c.ID,
				BagIDs: []string{b.ID}, ValidUntil: after(24 * time.Hour)}, w.check(w.clerk))
			return err
		})
	}
}
