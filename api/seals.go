package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/courier"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/internal/db"
	"valise/policy"
	"valise/pouch"
)

// sealAPI serves the trust list, a bag's seals and seal verification. The
// keyring holds the master key; handlers only translate.
type sealAPI struct {
	pool     *pgxpool.Pool
	keys     *keyring.Keyring
	bags     *pouch.Service
	couriers *courier.Service
	authz    *policy.Authorizer
}

// newKeyring is the server's one keyring: the bag lifecycle signs seals and
// courier sheets with it, the seal routes publish trust lists with it.
func newKeyring(cfg Config, master []byte) *keyring.Keyring {
	kr, err := keyring.New(master, cfg.Seals)
	if err != nil {
		panic(err) // a bad Config.Seals is a programming error
	}
	return kr
}

func newSealAPI(pool *pgxpool.Pool, kr *keyring.Keyring, authz *policy.Authorizer, bags *pouch.Service, couriers *courier.Service) *sealAPI {
	return &sealAPI{pool: pool, keys: kr, bags: bags, couriers: couriers, authz: authz}
}

// publicRoutes: the trust list is public: phones fetch it without an
// account and must be able to verify offline.
func (a *sealAPI) publicRoutes(r chi.Router) {
	r.Get("/trust-list", a.trustList)
}

// routes need an authenticated caller.
func (a *sealAPI) routes(r chi.Router) {
	r.Get("/bags/{id}/seals", a.bagSeals)
	r.Get("/bags/{id}/seals/{file}", a.sealImage) // {k}.png or {k}.svg
	r.Post("/seals/verify", a.verify)
}

func (a *sealAPI) current(r *http.Request) (*keyring.Published, error) {
	var p *keyring.Published
	err := db.InTx(r.Context(), a.pool, func(tx pgx.Tx) (err error) {
		p, err = a.keys.Current(r.Context(), tx)
		return err
	})
	if valise.ErrorCode(err) == valise.ECONFLICT {
		return nil, valise.Errorf(valise.EUNAVAILABLE, "seal keys are not set up: run 'valise keys init-root'")
	}
	return p, err
}

// trustList serves the signed trust list with a strong ETag; a matching
// If-None-Match gets 304 so phones refresh cheaply.
func (a *sealAPI) trustList(w http.ResponseWriter, r *http.Request) {
	p, err := a.current(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("ETag", p.ETag)
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Last-Modified", p.IssuedAt.UTC().Format(http.TimeFormat))
	if etagMatch(r.Header.Get("If-None-Match"), p.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(p.Document)
}

// etagMatch implements If-None-Match's weak comparison over a list.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// readBag authorizes reading the bag (404 for a bag the caller may not see).
func (a *sealAPI) readBag(w http.ResponseWriter, r *http.Request) (*pouch.Bag, bool) {
	s, ok := subject(w, r)
	if !ok {
		return nil, false
	}
	b, err := a.bags.Get(r.Context(), chi.URLParam(r, "id"), checkAs(a.authz, s))
	if err != nil {
		Error(w, r, err)
		return nil, false
	}
	return b, true
}

type sealItem struct {
	Package   int       `json:"package"`
	Packages  int       `json:"packages"`
	Text      string    `json:"text"`
	KID       string    `json:"kid"`
	Serial    string    `json:"serial"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	PNG       string    `json:"png"`
	SVG       string    `json:"svg"`
}

// bagSeals lists a closed bag's current seals; an unsealed bag has none.
func (a *sealAPI) bagSeals(w http.ResponseWriter, r *http.Request) {
	b, ok := a.readBag(w, r)
	if !ok {
		return
	}
	seals, err := keyring.BagSeals(r.Context(), a.pool, b.ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	items := make([]sealItem, 0, len(seals))
	for _, s := range seals {
		base := "/api/v1/bags/" + b.ID + "/seals/" + strconv.Itoa(s.Package)
		items = append(items, sealItem{Package: s.Package, Packages: s.Packages, Text: s.Text, KID: s.KID.String(),
			Serial: s.Serial.String(), IssuedAt: s.IssuedAt, ExpiresAt: s.ExpiresAt, PNG: base + ".png", SVG: base + ".svg"})
	}
	JSON(w, http.StatusOK, map[string]any{"bag_id": b.ID, "registry_number": b.RegistryNumber, "seals": items})
}

// sealImage draws seal k as PNG (?size= pixels, default 600) or SVG
// (?mm= printed width, default 40).
func (a *sealAPI) sealImage(w http.ResponseWriter, r *http.Request) {
	file := chi.URLParam(r, "file")
	num, ext, _ := strings.Cut(file, ".")
	k, err := strconv.Atoi(num)
	if err != nil || k < 1 || k > seal.MaxPackages || (ext != "png" && ext != "svg") {
		Error(w, r, valise.Errorf(valise.ENOTFOUND, "no such seal image %q: use {k}.png or {k}.svg", file))
		return
	}
	b, ok := a.readBag(w, r)
	if !ok {
		return
	}
	seals, err := keyring.BagSeals(r.Context(), a.pool, b.ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	var text string
	for _, s := range seals {
		if s.Package == k {
			text = s.Text
		}
	}
	if text == "" {
		Error(w, r, valise.Errorf(valise.ENOTFOUND, "the bag has no seal for package %d", k))
		return
	}
	var img []byte
	if ext == "png" {
		size := 600
		if v := r.URL.Query().Get("size"); v != "" {
			if size, err = strconv.Atoi(v); err != nil || size < 100 || size > seal.MaxPNGSize {
				Error(w, r, valise.Invalid("bad image size", valise.FieldError{Field: "size", Reason: "pixels, 100.." + strconv.Itoa(seal.MaxPNGSize)}))
				return
			}
		}
		img, err = seal.PNG(text, size)
		w.Header().Set("Content-Type", "image/png")
	} else {
		mm := 40.0
		if v := r.URL.Query().Get("mm"); v != "" {
			if mm, err = strconv.ParseFloat(v, 64); err != nil || mm < 10 || mm > seal.MaxSVGSize {
				Error(w, r, valise.Invalid("bad print size", valise.FieldError{Field: "mm", Reason: "millimetres, 10..1000"}))
				return
			}
		}
		img, err = seal.SVG(text, mm)
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	if err != nil {
		w.Header().Del("Content-Type")
		Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(img)
}

type verifyRequest struct {
	Text string `json:"text"`
}

// verifyResponse is the verdict. Reason is seal.Code's stable reason when
// invalid; Record compares an authentic seal with the server's record.
type verifyResponse struct {
	// Document is "bag_seal" or "courier_sheet" (a sheet's signed QR is a
	// one-package VS1 seal whose bag id is the sheet's id).
	Document  string              `json:"document"`
	Valid     bool                `json:"valid"`
	Reason    string              `json:"reason,omitempty"`
	Detail    string              `json:"detail,omitempty"`
	Claims    *keyring.ClaimsView `json:"claims,omitempty"`
	TrustList map[string]any      `json:"trust_list"`
	Record    *recordCheck        `json:"record,omitempty"`
}

type recordCheck struct {
	// Checked is false when the caller may not read the bag: the server's
	// record is then not consulted (and not disclosed).
	Checked            bool               `json:"checked"`
	Matches            bool               `json:"matches"`
	PossibleTransplant bool               `json:"possible_transplant"`
	Mismatches         []keyring.Mismatch `json:"mismatches"`
	Superseded         bool               `json:"superseded,omitempty"`
	// SheetStatus is the courier sheet's status (issued, revoked) when the
	// QR is a sheet's and the caller may read it.
	SheetStatus string `json:"sheet_status,omitempty"`
}

// verify checks a seal against the current trust list, then, for an
// authentic seal whose bag the caller may read, against the bag record.
func (a *sealAPI) verify(w http.ResponseWriter, r *http.Request) {
	sub, ok := subject(w, r)
	if !ok {
		return
	}
	var in verifyRequest
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	if strings.TrimSpace(in.Text) == "" {
		Error(w, r, valise.Invalid("give the seal text", valise.FieldError{Field: "text", Reason: "required"}))
		return
	}
	p, err := a.current(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	list, err := a.keys.Parsed(r.Context(), a.pool, p)
	if err != nil {
		Error(w, r, err)
		return
	}
	now := time.Now()
	out := verifyResponse{TrustList: map[string]any{"sequence": list.Sequence, "issued_at": list.IssuedAt,
		"stale_after": list.StaleAfter}}
	sealed, err := seal.Parse(in.Text)
	if err != nil {
		// Not a seal at all: a 422 with the precise reason, like any bad input.
		e := valise.Invalid("not a readable seal", valise.FieldError{Field: "text", Reason: seal.Code(err)})
		e.Extra = map[string]any{"reason": seal.Code(err)}
		Error(w, r, e)
		return
	}
	out.Claims = keyring.View(sealed)
	sheet, err := courier.SheetBySeal(r.Context(), a.pool, sealed.Claims)
	if err != nil {
		Error(w, r, err)
		return
	}
	out.Document = "bag_seal"
	if sheet != nil {
		out.Document = "courier_sheet"
	}
	if err := sealed.Verify(list, now); err != nil {
		out.Reason, out.Detail = seal.Code(err), err.Error()
		JSON(w, http.StatusOK, out)
		return
	}
	out.Valid = true
	if sheet != nil {
		out.Record = a.compareSheet(r, sub, sheet, sealed.Claims)
		if out.Record.Checked && !out.Record.Matches {
			out.Valid, out.Reason = false, "record_mismatch"
			out.Detail = "the QR is authentic but does not match the server's record of the courier sheet"
		} else if out.Record.Checked && !sheet.ValidAt(now) {
			out.Valid, out.Reason = false, "sheet_not_valid"
			out.Detail = "the courier sheet is " + sheet.Status + ", valid from " + sheet.ValidFrom.UTC().Format(time.RFC3339) +
				" until " + sheet.ValidUntil.UTC().Format(time.RFC3339)
		}
		JSON(w, http.StatusOK, out)
		return
	}
	out.Record = a.compare(r, sub, sealed.Claims)
	if out.Record.Checked && !out.Record.Matches {
		out.Valid = false
		out.Reason = "record_mismatch"
		out.Detail = "the seal is authentic but does not match the server's record of the bag: possibly moved from another bag"
		if out.Record.Superseded {
			out.Reason, out.Detail = "seal_superseded", "the bag was re-sealed; this seal was replaced"
		}
	}
	JSON(w, http.StatusOK, out)
}

// compareSheet compares an authentic sheet QR with the sheet record, when
// the caller may read the sheet (bag.read on its bags).
func (a *sealAPI) compareSheet(r *http.Request, sub policy.Subject, sh *courier.Sheet, c seal.Claims) *recordCheck {
	rc := &recordCheck{Mismatches: []keyring.Mismatch{}}
	err := a.authz.Authorize(r.Context(), sub, policy.ActBagRead, sh.Resource())
	if err != nil {
		return rc
	}
	rc.Checked, rc.SheetStatus = true, sh.Status
	issued, _ := keyring.SealBySerial(r.Context(), a.pool, c.Serial)
	if m := sh.Compare(c, issued); m != nil {
		rc.Mismatches = m
	}
	rc.Matches = len(rc.Mismatches) == 0
	rc.PossibleTransplant = !rc.Matches
	return rc
}

// compare looks the bag up under the caller's authority.
func (a *sealAPI) compare(r *http.Request, sub policy.Subject, c seal.Claims) *recordCheck {
	rc := &recordCheck{Mismatches: []keyring.Mismatch{}}
	b, err := a.bags.Get(r.Context(), c.BagID.String(), checkAs(a.authz, sub))
	if err != nil {
		// Not readable by the caller (the policy answers "not found" above
		// a clearance) or failing: the record is not consulted or disclosed.
		// An authentic seal always names a bag that exists: bags are never
		// deleted.
		return rc
	}
	rc.Checked = true
	issued, _ := keyring.SealBySerial(r.Context(), a.pool, c.Serial)
	rec := keyring.BagRecord{Registry: b.RegistryNumber, Origin: b.Origin, Destination: b.Destination,
		Packages: b.PackageCount, PhysicalSerials: map[int]string{}}
	for _, p := range b.Packages {
		rec.PhysicalSerials[p.K] = p.SealSerial
	}
	if m := keyring.Compare(c, rec, issued); m != nil {
		rc.Mismatches = m
	}
	rc.Matches = len(rc.Mismatches) == 0
	rc.PossibleTransplant = !rc.Matches
	rc.Superseded = issued != nil && issued.SupersededAt != nil
	if rc.Superseded {
		rc.Matches, rc.PossibleTransplant = false, false
	}
	return rc
}
