package mobileapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/keyring"
	"valise/internal/db"
	"valise/mobile-api/client"
	"valise/tlog"
)

// bundle serves everything the phone needs offline, with a strong ETag
// over its content (not over generated_at and offline_until): a matching
// If-None-Match answers 304.
func (a *API) bundle(w http.ResponseWriter, r *http.Request) {
	d := deviceFrom(r.Context())
	var (
		b          client.Bundle
		offlineFor time.Duration
	)
	b.Courier = client.BundleUser{ID: d.UserID, Username: d.Subject.Username, Unit: d.Subject.UnitCode}
	b.Sheets, b.Bags = []client.Sheet{}, []client.BundleBag{}
	err := db.InTx(r.Context(), a.Pool, func(tx pgx.Tx) error {
		p, err := a.Keys.Current(r.Context(), tx)
		if valise.ErrorCode(err) == valise.ECONFLICT {
			return valise.Errorf(valise.EUNAVAILABLE, "seal keys are not set up: run 'valise keys init-root'")
		}
		if err != nil {
			return err
		}
		b.TrustList = json.RawMessage(p.Document)
		_, root, err := keyring.Root(r.Context(), tx)
		if err != nil {
			return err
		}
		b.TrustRoot = base64.StdEncoding.EncodeToString(root)
		b.LogKey, _ = tlog.VerifierKey(r.Context(), tx) // none before the integrator first runs
		var secs float64
		if err := tx.QueryRow(r.Context(), `SELECT extract(epoch FROM value::interval) FROM mobile_settings
			WHERE key = 'bundle.offline_for'`).Scan(&secs); err != nil {
			return err
		}
		offlineFor = time.Duration(secs) * time.Second
		rows, err := tx.Query(r.Context(), `SELECT cs.id, cs.number, cs.conveyance, cs.valid_from, cs.valid_until, cs.route_codes,
			ARRAY(SELECT sb.bag_id::text FROM courier_sheet_bags sb WHERE sb.sheet_id = cs.id ORDER BY sb.bag_id)
			FROM courier_sheets cs JOIN couriers c ON c.id = cs.courier_id
			WHERE c.user_id = $1 AND cs.status = 'issued' AND cs.valid_from <= now() AND now() < cs.valid_until
			ORDER BY cs.issued_at, cs.id`, d.UserID)
		if err != nil {
			return err
		}
		b.Sheets, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (client.Sheet, error) {
			var s client.Sheet
			err := row.Scan(&s.ID, &s.Number, &s.Conveyance, &s.ValidFrom, &s.ValidUntil, &s.Route, &s.Bags)
			return s, err
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(r.Context(), `SELECT b.id, b.registry_number, b.state, coalesce(b.package_count, 0), b.route_codes,
			ARRAY(SELECT coalesce(p.seal_serial, '') FROM bag_packages p WHERE p.bag_id = b.id ORDER BY p.k),
			c.custodian_kind, c.custodian_unit, coalesce(c.custodian_username, ''), coalesce(c.bearer_name, ''),
			coalesce(c.custodian_user = $1::uuid, false),
			h.id, coalesce(h.to_username, h.to_unit)
			FROM bags b JOIN bag_custody c ON c.bag_id = b.id
			LEFT JOIN handoffs h ON h.bag_id = b.id AND h.status = 'released'
			WHERE b.id IN (SELECT sb.bag_id FROM courier_sheet_bags sb JOIN courier_sheets cs ON cs.id = sb.sheet_id
			               JOIN couriers co ON co.id = cs.courier_id
			               WHERE co.user_id = $1::text AND cs.status = 'issued' AND cs.valid_from <= now() AND now() < cs.valid_until)
			ORDER BY b.registry_number`, d.UserID)
		if err != nil {
			return err
		}
		b.Bags, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (client.BundleBag, error) {
			var g client.BundleBag
			var kind, unit, username, bearer string
			var hid, hto *string
			err := row.Scan(&g.ID, &g.Registry, &g.State, &g.Packages, &g.Route, &g.SealSerials,
				&kind, &unit, &username, &bearer, &g.Held, &hid, &hto)
			switch kind {
			case "person":
				g.Custodian = username
			case "bearer":
				g.Custodian = bearer
			default:
				g.Custodian = unit
			}
			switch {
			case hid != nil:
				g.Open = &client.OpenHandoff{ID: *hid, To: *hto}
				g.NextHolder = *hto
			case g.Held && len(g.Route) > 0:
				g.NextHolder = g.Route[len(g.Route)-1] // the destination registry
			}
			return g, err
		})
		return err
	})
	if err != nil {
		a.Error(w, r, err)
		return
	}
	content, _ := json.Marshal(b)
	sum := sha256.Sum256(content)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	now := a.now().UTC()
	b.GeneratedAt, b.OfflineUntil = now, now.Add(offlineFor)
	a.JSON(w, http.StatusOK, b)
}

// etagMatch is If-None-Match's weak comparison over a list.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
