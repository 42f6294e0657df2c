// Package bench is the machinery behind `valise bench` and the custody
// tests that need bags in transit: it sets up bags ready for hand-offs and drives hand-offs
// through the HTTP API, for custody's tests and for `valise bench`. It uses
// the real services (identity, pouch, keyring) on a real database; the only
// shortcut is that a fixture bag is put in transit by SQL (sealed, on two
// issued courier sheets, one per courier) and one recorded event (dispatched
// to the second courier) instead of through the whole submission-to-dispatch
// lifecycle, which pouch's own tests cover.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/identity"
	"valise/policy"
	"valise/pouch"
)

// Password is the password of every fixture user.
const Password = "custody-fixture-password"

// Pair is one bag in transit and the two career couriers who hand it back
// and forth in transit, each named on a courier sheet covering the bag.
// Second holds it first. Seals are the bag's VS1 seal texts.
type Pair struct {
	BagID        string
	Registry     string
	Second       string
	SecondID     string
	SecondToken  string
	Courier      string
	CourierID    string
	CourierToken string
	Seals        []string
	Physical     []string
	// Next is the round of the pair's next hand-off (HandOffNext, Step).
	Next int
	// open is the hand-off Step released and has not confirmed yet.
	open string
}

// Step sends the pair's next hand-off request: the release of round Next
// by whoever holds the bag, or the receiver's confirmation of the release
// before it (which completes the round).
func (p *Pair) Step(ctx context.Context, c *http.Client, base string) error {
	fromTok, to, toTok := p.SecondToken, p.Courier, p.CourierToken
	if p.Next%2 == 1 {
		fromTok, to, toTok = p.CourierToken, p.Second, p.SecondToken
	}
	var h struct {
		ID      string `json:"id"`
		SealsOK *bool  `json:"seals_ok"`
	}
	if p.open == "" {
		if err := Call(ctx, c, "POST", base+"/api/v1/custody/handoffs", fromTok,
			map[string]any{"bag_id": p.BagID, "to": to, "place": "Astana airport"}, http.StatusCreated, &h); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		p.open = h.ID
		return nil
	}
	if err := Call(ctx, c, "POST", base+"/api/v1/custody/handoffs/"+p.open+"/accept", toTok,
		map[string]any{"seals": p.Seals, "packages_counted": 2, "seals_intact": true, "place": "Astana airport"},
		http.StatusOK, &h); err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	if h.SealsOK == nil || !*h.SealsOK {
		return fmt.Errorf("hand-off %s: the seal check failed", p.open)
	}
	p.open = ""
	p.Next++
	return nil
}

// HandOffNext runs the pair's next hand-off (whoever holds the bag releases
// it to the other) and advances Next when it completed.
func (p *Pair) HandOffNext(ctx context.Context, c *http.Client, base string) (Result, error) {
	r, err := p.HandOff(ctx, c, base, p.Next)
	if err == nil {
		p.Next++
	}
	return r, err
}

// Setup creates n pairs (couriers named second-<tag>-<i> and courier-<tag>-<i>),
// the MFA seal key (and the root key when there is none), and one
// dispatched two-package bag per pair with issued VS1 seals. The demo units
// must be loaded. master seals the keyring's keys (any 32 bytes).
func Setup(ctx context.Context, pool *pgxpool.Pool, ident *identity.Service, master []byte, tag string, n int) ([]*Pair, error) {
	kr, err := keyring.New(master, keyring.Options{})
	if err != nil {
		return nil, err
	}
	if _, _, err := keyring.Root(ctx, pool); err != nil {
		if _, _, err := kr.InitRoot(ctx, pool); err != nil {
			return nil, fmt.Errorf("init seal root: %w", err)
		}
	}
	if _, err := kr.IssueKey(ctx, pool, "MFA", "fixture", time.Time{}); err != nil && valise.ErrorCode(err) != valise.ECONFLICT {
		return nil, fmt.Errorf("issue MFA seal key: %w", err)
	}
	allow := func(context.Context, string, policy.Resource) error { return nil }
	bags := pouch.New(pool)
	out := make([]*Pair, n)
	for i := range out {
		p := &Pair{Second: fmt.Sprintf("second-%s-%d", tag, i), Courier: fmt.Sprintf("courier-%s-%d", tag, i)}
		cu, err := ident.CreateUser(ctx, identity.UserInput{Username: p.Second, FullName: p.Second, Unit: "MFA",
			Roles: []string{policy.RoleCourier}, CourierKind: policy.CourierCareer, Clearance: policy.TopSecret, Password: Password})
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", p.Second, err)
		}
		co, err := ident.CreateUser(ctx, identity.UserInput{Username: p.Courier, FullName: p.Courier, Unit: "MFA",
			Roles: []string{policy.RoleCourier}, CourierKind: policy.CourierCareer, Clearance: policy.TopSecret, Password: Password})
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", p.Courier, err)
		}
		p.SecondID, p.CourierID = cu.ID, co.ID
		actor := policy.Subject{UserID: cu.ID, Username: cu.Username, UnitCode: "MFA", Roles: []string{policy.RoleRegistryClerk}}
		b, err := bags.CreateBag(ctx, actor, pouch.CreateBagInput{Origin: "MFA", Destination: "DE-BER"}, allow)
		if err != nil {
			return nil, fmt.Errorf("create bag: %w", err)
		}
		p.BagID, p.Registry = b.ID, b.RegistryNumber
		var suffix [4]byte
		_, _ = rand.Read(suffix[:])
		p.Physical = []string{fmt.Sprintf("PS-%X-1", suffix), fmt.Sprintf("PS-%X-2", suffix)}
		if err := putInTransit(ctx, pool, actor, p); err != nil {
			return nil, err
		}
		seals, err := kr.IssueSeals(ctx, pool, keyring.BagFacts{BagID: b.ID, Registry: b.RegistryNumber, Origin: "MFA",
			Destination: "DE-BER", Packages: 2, PhysicalSerials: p.Physical, ManifestHash: seal.HashManifest([]byte(b.ID))})
		if err != nil {
			return nil, fmt.Errorf("issue seals: %w", err)
		}
		for _, s := range seals {
			p.Seals = append(p.Seals, s.Text)
		}
		for _, u := range []struct {
			name string
			tok  *string
		}{{p.Second, &p.SecondToken}, {p.Courier, &p.CourierToken}} {
			t, err := ident.Login(ctx, u.name, Password, "127.0.0.1")
			if err != nil {
				return nil, fmt.Errorf("login %s: %w", u.name, err)
			}
			*u.tok = t.AccessToken
		}
		out[i] = p
	}
	// Fresh planner statistics after the fixtures' bulk load.
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	return out, nil
}

// putInTransit seals the fixture bag by SQL, puts it on one issued courier
// sheet per courier (DM-01, DM-03), and records its dispatch to the second
// courier as an event of its history (so state and custodian follow).
func putInTransit(ctx context.Context, pool *pgxpool.Pool, actor policy.Subject, p *Pair) error {
	_, err := pool.Exec(ctx, `
		WITH b AS (UPDATE bags SET level = 2, container = 'suitcase', package_count = 2,
		           dispatched_at = now(), due_at = now() + interval '3 days'
		           WHERE id = $1 RETURNING id),
		     pk AS (INSERT INTO bag_packages (bag_id, k, seal_serial) VALUES ($1, 1, $4), ($1, 2, $5)),
		     c AS (INSERT INTO couriers (kind, user_id, username, full_name, created_by)
		           VALUES ('career', $2, $3, $3, 'fixture'), ('career', $6, $7, $7, 'fixture') RETURNING id, username),
		     s AS (INSERT INTO courier_sheets (number, issuer_id, conveyance, courier_id, bearer_name, route_codes,
		               package_count, valid_from, valid_until, status, issued_by)
		           SELECT 'CS-' || c.username, u.id, 'career_courier', c.id, c.username, ARRAY['MFA', 'DE-BER'], 2,
		                  now() - interval '1 hour', now() + interval '3 days', 'issued', 'fixture'
		           FROM c, units u WHERE u.code = 'MFA' RETURNING id)
		INSERT INTO courier_sheet_bags (sheet_id, bag_id, packages) SELECT s.id, $1, 2 FROM s`,
		p.BagID, p.CourierID, p.Courier, p.Physical[0], p.Physical[1], p.SecondID, p.Second)
	if err != nil {
		return fmt.Errorf("put bag in transit: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := pouch.LockBag(ctx, tx, p.BagID); err != nil {
		return err
	}
	second := pouch.Party{Kind: pouch.CustodianPerson, Unit: "MFA", User: p.SecondID, Username: p.Second}
	if err := pouch.Record(ctx, tx, actor, &pouch.Event{BagID: p.BagID, Kind: "dispatched", Stage: "send",
		ToState: pouch.Dispatched, CustodianAfter: &second, Reason: "fixture"}); err != nil {
		return fmt.Errorf("dispatch fixture bag: %w", err)
	}
	return tx.Commit(ctx)
}

// Result is one completed hand-off.
type Result struct {
	HandoffID   string
	AcceptEvent int64
}

// HandOff runs hand-off number round of the pair through the API at base:
// even rounds the clerk releases to the courier, odd rounds the courier
// releases back to the clerk; the receiver accepts with the bag's seals.
func (p *Pair) HandOff(ctx context.Context, c *http.Client, base string, round int) (Result, error) {
	fromTok, to, toTok := p.SecondToken, p.Courier, p.CourierToken
	if round%2 == 1 {
		fromTok, to, toTok = p.CourierToken, p.Second, p.SecondToken
	}
	var h struct {
		ID          string `json:"id"`
		AcceptEvent int64  `json:"accept_event"`
		SealsOK     *bool  `json:"seals_ok"`
	}
	if err := Call(ctx, c, "POST", base+"/api/v1/custody/handoffs", fromTok,
		map[string]any{"bag_id": p.BagID, "to": to, "place": "Astana airport"}, http.StatusCreated, &h); err != nil {
		return Result{}, fmt.Errorf("release: %w", err)
	}
	id := h.ID
	if err := Call(ctx, c, "POST", base+"/api/v1/custody/handoffs/"+id+"/accept", toTok,
		map[string]any{"seals": p.Seals, "packages_counted": 2, "seals_intact": true, "place": "Astana airport"},
		http.StatusOK, &h); err != nil {
		return Result{}, fmt.Errorf("accept: %w", err)
	}
	if h.SealsOK == nil || !*h.SealsOK {
		return Result{}, fmt.Errorf("hand-off %s: the seal check failed", id)
	}
	return Result{HandoffID: id, AcceptEvent: h.AcceptEvent}, nil
}

// Call sends a JSON request with a bearer token and decodes the JSON answer
// into out when the status is want; otherwise it returns the status and body.
func Call(ctx context.Context, c *http.Client, method, url, token string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return &StatusError{Status: res.StatusCode, Body: string(raw)}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// StatusError is an unexpected HTTP status.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }
