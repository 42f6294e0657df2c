package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/courier"
	"valise/crypto/keyring"
	"valise/policy"
	"valise/pouch"
)

// The demo's mail. Every row is written through the pouch and courier
// services as the demo users, with the real policy deciding, so the events,
// the custody log leaves and the incidents are exactly what the API would
// have produced. Each bag is found again by the note of its "planned" event
// (demo:<key>) and driven from whatever state it is in to its target, so a
// second load changes nothing and an interrupted one resumes.

// demoSubmitter is the Ministry of Defence officer who hands MOD's mail in at
// the ministry registry; the registry clerk records the hand-in.
const demoSubmitter = "mod.officer"

// demoBag is one bag of the demo: its route, contents, conveyance and the
// actions that bring it to its demo state, in order.
type demoBag struct {
	key         string // note of its planned event: demo:<key>
	origin      string
	destination string
	plan        string // key of a demoPlans entry, or "" for a bag planned between two units
	sender      string // sending organization (its own registry for diplomatic service bodies)
	level       policy.Level
	kind        string // correspondence, item, equipment
	description string
	responsible string
	packages    int
	container   string
	conveyance  string // career_courier, ad_hoc_courier, aircraft_captain
	overdue     bool   // due an hour ago: shows in "overdue" lists
	reissue     bool   // its first courier sheet is revoked and reissued
	lostAbroad  string // country where it went missing (report_missing abroad)
	path        []pouch.Action
}

var (
	toSealed = []pouch.Action{pouch.ActAssemble, pouch.ActSeal}
	toStored = append(slices.Clone(toSealed), pouch.ActDispatch, pouch.ActArriveLeg, pouch.ActDeliver, pouch.ActAccept, pouch.ActStore)
)

var demoBags = []demoBag{
	{key: "mod-berlin-stored", origin: UnitMFA, destination: UnitBerlin, plan: "berlin", sender: "MOD", level: policy.Secret,
		kind: "correspondence", description: "defence attaché instructions", responsible: "Minister of Defence",
		packages: 2, container: "suitcase", conveyance: "career_courier", path: toStored},
	{key: "mfa-berlin-transit", origin: UnitMFA, destination: UnitBerlin, sender: UnitMFA, level: policy.Restricted,
		kind: "correspondence", description: "consular circulars", responsible: "Head of Consular Service",
		packages: 1, container: "envelope", conveyance: "career_courier", overdue: true, reissue: true,
		path: append(slices.Clone(toSealed), pouch.ActDispatch, pouch.ActArriveLeg)},
	{key: "mfa-tokyo-assembling", origin: UnitMFA, destination: UnitTokyo, plan: "tokyo", sender: UnitMFA, level: policy.Restricted,
		kind: "item", description: "visa stickers", responsible: "Head of Consular Service",
		path: []pouch.Action{pouch.ActAssemble}},
	{key: "mfa-tokyo-missing", origin: UnitMFA, destination: UnitTokyo, plan: "tokyo", sender: UnitMFA, level: policy.Unclassified,
		kind: "correspondence", description: "protocol notes", responsible: "Chief of Protocol",
		packages: 1, container: "sack", conveyance: "aircraft_captain", lostAbroad: "JP",
		path: append(slices.Clone(toSealed), pouch.ActDispatch, pouch.ActReportLoss)},
	{key: "berlin-mfa-delivered", origin: UnitBerlin, destination: UnitMFA, plan: "home", sender: UnitBerlin, level: policy.Secret,
		kind: "correspondence", description: "political report", responsible: "Ambassador",
		packages: 1, container: "package", conveyance: "ad_hoc_courier",
		path: append(slices.Clone(toSealed), pouch.ActDispatch, pouch.ActDeliver)},
}

// demoPlans are the dispatch plans, found again by route and author.
var demoPlans = map[string]pouch.PlanInput{
	"berlin": {Origin: UnitMFA, Destination: UnitBerlin, Conveyance: "career_courier",
		Legs: []pouch.Leg{{FromCity: "Astana", ToCity: "Frankfurt", Flight: "KC921"}, {FromCity: "Frankfurt", ToCity: "Berlin", Flight: "LH190"}}},
	"tokyo": {Origin: UnitMFA, Destination: UnitTokyo, Conveyance: "aircraft_captain",
		Legs: []pouch.Leg{{FromCity: "Astana", ToCity: "Seoul", Flight: "KC909", CaptainName: "Capt. Nurlan Abenov"},
			{FromCity: "Seoul", ToCity: "Tokyo", Flight: "OZ102", CaptainName: "Capt. Min-jun Park"}}},
	"home": {Origin: UnitBerlin, Destination: UnitMFA, Conveyance: "ad_hoc_courier",
		Legs: []pouch.Leg{{FromCity: "Berlin", ToCity: "Frankfurt"}, {FromCity: "Frankfurt", ToCity: "Astana", Flight: "KC922"}}},
}

// mailRun holds what the bag step works with.
type mailRun struct {
	pool     *pgxpool.Pool
	bags     *pouch.Service
	couriers *courier.Service
	authz    *policy.Authorizer
	subjects map[string]policy.Subject
	plans    map[string]string // plan key → id
}

// loadBags writes the demo mail: the MOD entry on the authorized senders
// list, three dispatch plans, a career and an ad hoc courier, and five bags
// on the routes MFA → DE-BER, MFA → JP-TYO and DE-BER → MFA (stored, in
// transit and overdue with a reissued courier sheet, assembling, missing
// abroad awaiting the foreign-intelligence agreement, delivered awaiting
// acceptance).
func loadBags(ctx context.Context, pool *pgxpool.Pool, o Options) error {
	if o.MasterKey == nil {
		return fmt.Errorf("the demo mail needs the master key: its bags and courier sheets carry signed seals")
	}
	kr, err := keyring.New(o.MasterKey, keyring.Options{})
	if err != nil {
		return err
	}
	authz, err := policy.New(ctx, pool, nil)
	if err != nil {
		return err
	}
	r := &mailRun{pool: pool, bags: pouch.New(pool, pouch.WithKeyring(kr)), couriers: courier.New(pool, courier.WithKeyring(kr)), authz: authz,
		subjects: map[string]policy.Subject{}, plans: map[string]string{}}
	for _, u := range []string{"admin", "clerk.mfa", "clerk.ber", "dispatcher", "courier", "adhoc"} {
		if r.subjects[u], err = subjectOf(ctx, pool, u); err != nil {
			return err
		}
	}
	if err := r.sender(ctx); err != nil {
		return fmt.Errorf("senders list: %w", err)
	}
	for key, in := range demoPlans {
		if r.plans[key], err = r.plan(ctx, in); err != nil {
			return fmt.Errorf("plan %s: %w", key, err)
		}
	}
	for _, b := range demoBags {
		if err := r.drive(ctx, b); err != nil {
			return fmt.Errorf("bag %s: %w", b.key, err)
		}
	}
	return nil
}

// subjectOf is a demo user as the policy sees them.
func subjectOf(ctx context.Context, pool *pgxpool.Pool, username string) (policy.Subject, error) {
	var s policy.Subject
	var clearance int16
	err := pool.QueryRow(ctx, `SELECT u.id, u.username, n.code, n.kind, u.roles, u.clearance, coalesce(u.courier_kind, ''), u.scope
		FROM users u JOIN units n ON n.id = u.unit_id WHERE u.username = $1`, username).
		Scan(&s.UserID, &s.Username, &s.UnitCode, &s.UnitKind, &s.Roles, &clearance, &s.CourierKind, &s.Scope)
	if err != nil {
		return s, fmt.Errorf("demo user %s: %w", username, err)
	}
	s.Clearance = policy.Level(clearance)
	return s, nil
}

func (r *mailRun) check(user string) pouch.Check {
	s := r.subjects[user]
	return func(ctx context.Context, action string, res policy.Resource) error {
		return r.authz.Authorize(ctx, s, action, res)
	}
}

// as runs a service call as a demo user.
func (r *mailRun) as(user string) (policy.Subject, pouch.Check) {
	return r.subjects[user], r.check(user)
}

// sender puts the Ministry of Defence on the authorized senders list (up
// to SECRET, handed in by its officer) unless it has an entry.
func (r *mailRun) sender(ctx context.Context) error {
	hist, err := pouch.SenderHistory(ctx, r.pool, "MOD")
	if err != nil || len(hist) > 0 {
		return err
	}
	ceiling := policy.Secret
	actor, chk := r.as("admin")
	_, err = r.bags.RecordSender(ctx, actor, pouch.SenderInput{Unit: "MOD", LegalBasis: "Government Decree No. 123 (demo)",
		ValidFrom: "2024-01-01", Ceiling: &ceiling, Submitters: []string{demoSubmitter}, ApprovedBy: "Deputy Prime Minister"}, chk)
	return err
}

// plan returns the id of the dispatcher's plan on in's route, creating it
// (departure tomorrow, arrival in three days) if there is none.
func (r *mailRun) plan(ctx context.Context, in pouch.PlanInput) (string, error) {
	var id string
	err := r.pool.QueryRow(ctx, `SELECT id FROM dispatch_plans WHERE route_codes = $1 AND created_by = 'dispatcher'
		ORDER BY created_at LIMIT 1`, []string{in.Origin, in.Destination}).Scan(&id)
	if !errors.Is(err, pgx.ErrNoRows) {
		return id, err
	}
	dep := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
	arr := dep.Add(48 * time.Hour)
	in.PlannedDeparture, in.PlannedArrival = &dep, &arr
	in.Legs = slices.Clone(in.Legs)
	actor, chk := r.as("dispatcher")
	p, err := r.bags.CreatePlan(ctx, actor, in, chk)
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

// courierID returns the courier record for a conveyance: the career courier
// "courier" or the ad hoc courier "adhoc" (with a passport), created once.
func (r *mailRun) courierID(ctx context.Context, conveyance string) (string, error) {
	user, in := "courier", courier.CourierInput{Kind: policy.CourierCareer, FullName: "Kairat Career Courier", Unit: UnitDCS}
	if conveyance == "ad_hoc_courier" {
		user, in = "adhoc", courier.CourierInput{Kind: policy.CourierAdHoc, FullName: "Asel Ad-hoc Courier", Unit: UnitBerlin,
			DocKind: "service_passport", DocNumber: "N0000417", DocCountry: "KZ", DocExpires: "2034-06-30", Nationality: "KZ"}
	}
	in.UserID = r.subjects[user].UserID
	var id string
	err := r.pool.QueryRow(ctx, `SELECT id FROM couriers WHERE user_id = $1`, in.UserID).Scan(&id)
	if !errors.Is(err, pgx.ErrNoRows) {
		return id, err
	}
	actor, _ := r.as("dispatcher")
	c, err := r.couriers.Create(ctx, actor, in)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

// find returns the demo bag keyed b.key, or nil.
func (r *mailRun) find(ctx context.Context, b demoBag) (*pouch.Bag, error) {
	var id string
	err := r.pool.QueryRow(ctx, `SELECT bag_id FROM bag_events WHERE kind = 'planned' AND reason = $1`, "demo:"+b.key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.bags.Get(ctx, id, func(context.Context, string, policy.Resource) error { return nil })
}

// resultOf is the state each demo action leads to.
var resultOf = map[pouch.Action]pouch.State{
	pouch.ActAssemble: pouch.Assembling, pouch.ActSeal: pouch.Sealed, pouch.ActDispatch: pouch.Dispatched,
	pouch.ActArriveLeg: pouch.InTransit, pouch.ActDeliver: pouch.Delivered, pouch.ActAccept: pouch.Accepted,
	pouch.ActStore: pouch.Stored, pouch.ActReportLoss: pouch.Missing,
}

// drive creates the bag if needed and runs the actions of its path that
// follow its current state.
func (r *mailRun) drive(ctx context.Context, spec demoBag) error {
	b, err := r.find(ctx, spec)
	if err != nil {
		return err
	}
	if b == nil {
		if b, err = r.create(ctx, spec); err != nil {
			return err
		}
	}
	next := 0
	for i, a := range spec.path {
		if resultOf[a] == b.State {
			next = i + 1
		}
	}
	for _, a := range spec.path[next:] {
		if b, err = r.act(ctx, spec, b, a); err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
	}
	return nil
}

// create plans the bag (on its plan, or between its two units).
func (r *mailRun) create(ctx context.Context, spec demoBag) (*pouch.Bag, error) {
	in := pouch.CreateBagInput{Note: "demo:" + spec.key}
	if spec.plan != "" {
		in.PlanID = r.plans[spec.plan]
	} else {
		in.Origin, in.Destination = spec.origin, spec.destination
	}
	if spec.overdue {
		due := time.Now().Add(-time.Hour)
		in.DueAt = &due
	}
	actor, chk := r.as("dispatcher")
	return r.bags.CreateBag(ctx, actor, in, chk)
}

// registryClerk is the demo registry clerk of a unit.
func registryClerk(unit string) string {
	if unit == UnitBerlin {
		return "clerk.ber"
	}
	return "clerk.mfa"
}

// act runs one action of a demo bag's path as the person who would.
func (r *mailRun) act(ctx context.Context, spec demoBag, b *pouch.Bag, a pouch.Action) (*pouch.Bag, error) {
	origin, dest := registryClerk(spec.origin), registryClerk(spec.destination)
	m := pouch.Mutation{BagID: b.ID, IfMatch: b.Version}
	var err error
	switch a {
	case pouch.ActAssemble:
		var sub string
		if sub, err = r.submission(ctx, spec); err != nil {
			return nil, err
		}
		actor, chk := r.as(origin)
		return r.bags.Assemble(ctx, actor, m, []string{sub}, chk)
	case pouch.ActSeal:
		serials := make([]string, spec.packages)
		for k := range serials {
			serials[k] = fmt.Sprintf("D-%s-%d", b.RegistryNumber, k+1) // ≤ 24 characters: a signed seal carries it
		}
		actor, chk := r.as(origin)
		return r.bags.Seal(ctx, actor, m, pouch.SealInput{Container: spec.container, Packages: spec.packages, SealSerials: serials}, chk)
	case pouch.ActDispatch:
		if err := r.sheet(ctx, spec, b); err != nil {
			return nil, fmt.Errorf("courier sheet: %w", err)
		}
		// The registry releases the bag to the bearer on the sheet; a
		// courier confirms it with a scan of its seals (an aircraft captain
		// is recorded by the registry at once).
		var open int
		if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM handoffs WHERE bag_id = $1 AND status = 'released'`, b.ID).Scan(&open); err != nil {
			return nil, err
		}
		if open == 0 {
			actor, chk := r.as(origin)
			m.Place = cityOf(spec.origin)
			in := pouch.DispatchInput{}
			if spec.conveyance == "aircraft_captain" {
				in.BearerDocument = "passport KZ N0000001"
			}
			b, _, err = r.bags.Dispatch(ctx, actor, m, in, chk)
			if err != nil || spec.conveyance == "aircraft_captain" {
				return b, err
			}
		}
		if err := r.confirm(ctx, b.ID, carrierOf(spec), cityOf(spec.origin)+" airport"); err != nil {
			return nil, err
		}
		return r.bags.Get(ctx, b.ID, func(context.Context, string, policy.Resource) error { return nil })
	case pouch.ActArriveLeg:
		actor, chk := r.as("courier")
		return r.bags.ArriveLeg(ctx, actor, m, 1, "Frankfurt", chk)
	case pouch.ActDeliver:
		actor, chk := r.as(carrierOf(spec))
		m.Place = cityOf(spec.destination)
		b, _, err = r.bags.Deliver(ctx, actor, m, pouch.DeliverInput{}, chk)
		return b, err
	case pouch.ActAccept:
		actor, chk := r.as(dest)
		scan, err := r.scan(ctx, b.ID)
		if err != nil {
			return nil, err
		}
		b, _, err = r.bags.Accept(ctx, actor, m, pouch.AcceptInput{SealScan: scan}, chk)
		return b, err
	case pouch.ActStore:
		actor, chk := r.as(dest)
		return r.bags.Store(ctx, actor, m, pouch.StoreInput{Place: "Registry safe 1", Custodian: dest}, chk)
	case pouch.ActReportLoss:
		actor, chk := r.as(origin)
		seen := time.Now().Add(-6 * time.Hour).Truncate(time.Minute)
		b, _, err = r.bags.ReportMissing(ctx, actor, m, pouch.LossInput{Territory: "abroad", Country: spec.lostAbroad,
			LastSeenAt: &seen, LastSeenPlace: "Incheon transfer desk",
			Circumstances: "not handed over by the captain of the connecting flight"}, chk)
		return b, err
	}
	return nil, fmt.Errorf("no demo step for %s", a)
}

// scan is what a person scanning every seal of the bag reports.
func (r *mailRun) scan(ctx context.Context, bagID string) (pouch.SealScan, error) {
	seals, err := keyring.BagSeals(ctx, r.pool, bagID)
	if err != nil {
		return pouch.SealScan{}, err
	}
	scan := pouch.SealScan{PackagesCounted: ptr(len(seals)), SealsIntact: ptr(true)}
	for _, s := range seals {
		scan.Seals = append(scan.Seals, s.Text)
	}
	return scan, nil
}

// confirm has the named receiver confirm the bag's open hand-off.
func (r *mailRun) confirm(ctx context.Context, bagID, who, place string) error {
	var h string
	if err := r.pool.QueryRow(ctx, `SELECT id FROM handoffs WHERE bag_id = $1 AND status = 'released'`, bagID).Scan(&h); err != nil {
		return fmt.Errorf("open hand-off: %w", err)
	}
	scan, err := r.scan(ctx, bagID)
	if err != nil {
		return err
	}
	actor, chk := r.as(who)
	_, err = r.bags.Confirm(ctx, actor, h, pouch.ConfirmInput{SealScan: scan, Where: pouch.Where{Place: place}}, chk)
	return err
}

// submission returns the demo bag's submission (keyed by its item's
// registry number), handing it in at the origin registry if needed.
func (r *mailRun) submission(ctx context.Context, spec demoBag) (string, error) {
	reg := "DEMO-" + spec.key
	var id string
	err := r.pool.QueryRow(ctx, `SELECT submission_id FROM submission_items WHERE registry_number = $1`, reg).Scan(&id)
	if !errors.Is(err, pgx.ErrNoRows) {
		return id, err
	}
	in := pouch.SubmissionInput{Sender: spec.sender, Registry: spec.origin, Destination: spec.destination,
		ResponsiblePerson: spec.responsible, Items: []pouch.Item{{Kind: spec.kind, Level: spec.level, RegistryNumber: reg,
			Count: 1, Description: spec.description}}}
	if spec.sender != spec.origin {
		in.Submitter = demoSubmitter // handed in by the MOD officer, recorded by the clerk
	}
	actor, chk := r.as(registryClerk(spec.origin))
	sub, err := r.bags.Submit(ctx, actor, in, chk)
	if err != nil {
		return "", err
	}
	return sub.ID, nil
}

// sheet makes sure an issued courier sheet covers the bag; for a reissued
// one, the first sheet is issued, revoked with a reason, then replaced.
func (r *mailRun) sheet(ctx context.Context, spec demoBag, b *pouch.Bag) error {
	var issued, revoked int
	var lastRevoked string
	err := r.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE cs.status = 'issued'), count(*) FILTER (WHERE cs.status = 'revoked'),
		coalesce(max(cs.id::text) FILTER (WHERE cs.status = 'revoked'), '')
		FROM courier_sheet_bags sb JOIN courier_sheets cs ON cs.id = sb.sheet_id WHERE sb.bag_id = $1`, b.ID).
		Scan(&issued, &revoked, &lastRevoked)
	if err != nil || (issued > 0 && (!spec.reissue || revoked > 0)) {
		return err
	}
	actor, chk := r.as(registryClerk(spec.origin))
	in := courier.IssueInput{Issuer: spec.origin, Conveyance: spec.conveyance, BagIDs: []string{b.ID},
		ValidUntil: ptr(time.Now().Add(14 * 24 * time.Hour).Truncate(time.Hour))}
	if spec.conveyance == "aircraft_captain" {
		in.BearerName = demoPlans[spec.plan].Legs[0].CaptainName
	} else if in.CourierID, err = r.courierID(ctx, spec.conveyance); err != nil {
		return err
	}
	if spec.reissue && revoked == 0 {
		var first string
		if issued == 0 {
			sh, err := r.couriers.Issue(ctx, actor, in, chk)
			if err != nil {
				return err
			}
			first = sh.ID
		} else if err := r.pool.QueryRow(ctx, `SELECT cs.id FROM courier_sheet_bags sb JOIN courier_sheets cs ON cs.id = sb.sheet_id
			WHERE sb.bag_id = $1 AND cs.status = 'issued'`, b.ID).Scan(&first); err != nil {
			return err
		}
		if _, err := r.couriers.Revoke(ctx, actor, first, 0, "the named courier was reassigned to another route", chk); err != nil {
			return err
		}
		lastRevoked = first
	}
	if spec.reissue {
		in.Replaces = lastRevoked
	}
	_, err = r.couriers.Issue(ctx, actor, in, chk)
	return err
}

// carrierOf is the demo user who carries the bag to its destination.
func carrierOf(spec demoBag) string {
	if spec.conveyance == "ad_hoc_courier" {
		return "adhoc"
	}
	return "courier"
}

func cityOf(unit string) string {
	switch unit {
	case UnitBerlin:
		return "Berlin"
	case UnitTokyo:
		return "Tokyo"
	}
	return "Astana"
}

func ptr[T any](v T) *T { return &v }
