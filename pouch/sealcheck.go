package pouch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"valise"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/crypto/trust"
	"valise/internal/db"
)

// SealScan is what a receiver (or a checkpoint) reports after scanning a
// bag's seals: the VS1 seal texts read from the packages' QR codes, and when
// the bag carries only physical seals, the serials read off them. Intact and
// PackagesCounted are the person's own observation.
type SealScan struct {
	Seals           []string `json:"seals,omitempty"`
	PhysicalSeals   []string `json:"physical_seals,omitempty"`
	SealsIntact     *bool    `json:"seals_intact,omitempty"`
	PackagesCounted *int     `json:"packages_counted,omitempty"`
}

// SealCheck is the outcome of one scanned seal.
type SealCheck struct {
	Fields  []string `json:"fields,omitempty"`
	Package int      `json:"package,omitempty"`
	// Result is "ok", a crypto/seal reason ("bad_signature", "seal_expired",
	// "seal_revoked", ...), "mismatch" (authentic but contradicts the bag's
	// record: Fields names the claims), "wrong_bag", "duplicate" or "missing".
	Result string `json:"result"`
	Serial string `json:"serial,omitempty"`
}

// SealResult is the recorded outcome of a scan: what was checked, how, and
// whether everything matched. It goes into the event's custody block.
type SealResult struct {
	Checked []SealCheck `json:"checked"`
	// Method is "vs1" (signed seals verified against the trust list),
	// "physical" (serials compared with the bag's record; intact as reported) or "visual" (a registry counted and looked).
	Method           string   `json:"method"`
	OK               bool     `json:"ok"`
	PackagesCounted  *int     `json:"packages_counted,omitempty"`
	PackagesExpected int      `json:"packages_expected"`
	Problems         []string `json:"problems,omitempty"`
	SealsIntact      *bool    `json:"seals_intact,omitempty"`
	TrustList        uint64   `json:"trust_list,omitempty"` // sequence of the trust list used
}

// verified is a scanned VS1 seal after signature verification, before the
// comparison with the bag's record (which needs the database).
type verified struct {
	text   string
	claims seal.Claims
	reason string // "" when authentic and valid now
}

// trustCache keeps the parsed newest trust list: parsing verifies the root
// signature, which need not happen on every scan. It is refreshed when a
// newer list is published (checked on every use by its sequence number).
type trustCache struct {
	mu      sync.Mutex
	seq     uint64
	list    *trust.List
	checked time.Time
	// sigs remembers the seal signatures that verified: a bag's seals are
	// checked at every scan and hand-off, and only the signature is the
	// same answer every time (seal.Memo).
	sigs seal.Memo
}

// trustRecheck is how often the cache asks the database for a newer list:
// a new trust list (a revoked key or seal) takes effect within this time.
const trustRecheck = time.Second

func (c *trustCache) get(ctx context.Context, q db.Querier, now time.Time) (*trust.List, uint64, error) {
	c.mu.Lock()
	if c.list != nil && now.Sub(c.checked) < trustRecheck && now.Sub(c.checked) >= 0 && !c.list.Stale(now) {
		defer c.mu.Unlock()
		return c.list, c.seq, nil
	}
	c.mu.Unlock()
	var seq int64
	if err := q.QueryRow(ctx, `SELECT coalesce(max(sequence), 0) FROM trust_lists`).Scan(&seq); err != nil {
		return nil, 0, fmt.Errorf("newest trust list: %w", err)
	}
	if seq == 0 {
		return nil, 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && c.seq == uint64(seq) && !c.list.Stale(now) {
		c.checked = now
		return c.list, c.seq, nil
	}
	p, err := keyring.Latest(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	_, root, err := keyring.Root(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	l, err := trust.ParseAt(p.Document, root, now)
	if err != nil {
		return nil, 0, fmt.Errorf("the stored trust list does not verify: %w", err)
	}
	c.list, c.seq, c.checked = l, p.Sequence, now
	return l, p.Sequence, nil
}

// verifySeals checks each scanned text's signature, key and validity
// against the trust list; no database access beyond the list.
func verifySeals(texts []string, list *trust.List, now time.Time, sigs *seal.Memo) []verified {
	out := make([]verified, len(texts))
	for i, t := range texts {
		out[i].text = t
		c, err := seal.VerifyWith(t, list, now, sigs)
		if err != nil {
			out[i].reason = seal.Code(err)
			if out[i].reason == "error" {
				out[i].reason = "unverifiable"
			}
			continue
		}
		out[i].claims = c
	}
	return out
}

// verifyScanned checks scanned seal texts against the current trust list
// (verifySeals) before any transaction; seq is the list's sequence. Without
// a trust list each text is unverified, reason "no_trust_list".
func (s *Service) verifyScanned(ctx context.Context, texts []string, now time.Time) ([]verified, uint64, error) {
	if len(texts) == 0 {
		return nil, 0, nil
	}
	list, seq, err := s.trust.get(ctx, db.Q(ctx, s.pool), now) // in a scope: its connection, not a second one
	if err != nil {
		return nil, 0, err
	}
	if list == nil {
		vs := make([]verified, len(texts))
		for i, t := range texts {
			vs[i] = verified{text: t, reason: "no_trust_list"}
		}
		return vs, seq, nil
	}
	return verifySeals(texts, list, now, &s.trust.sigs), seq, nil
}

// checkSeals compares a scan with the bag's record, inside the transaction
// that records it. With issued VS1 seals on the bag the scan must present
// every current seal, each authentic, valid now, not revoked, and agreeing
// with the bag's record (keyring.Compare catches a seal moved from another
// bag). Without them it compares the physical serials read with the
// bag_packages record and takes the person's "intact" as given.
//
// issued are the bag's current seals (keyring.BagSeals, read under the bag's
// lock); q serves the rare look-up of a seal that is not one of them.
//
// visual allows a registry's acceptance without scanned seals: the clerk
// counts and looks (method "visual", intact as reported), as a receipt on
// paper records; the trail shows that no seal was scanned.
func checkSeals(ctx context.Context, q db.Querier, b *Bag, issued []*keyring.Seal, scan SealScan, vs []verified, listSeq uint64, visual bool) (*SealResult, error) {
	res := &SealResult{PackagesExpected: b.PackageCount, PackagesCounted: scan.PackagesCounted,
		SealsIntact: scan.SealsIntact, Checked: []SealCheck{}}
	if visual && len(scan.Seals) == 0 && len(scan.PhysicalSeals) == 0 {
		res.Method = "visual"
	} else if len(issued) > 0 {
		res.Method, res.TrustList = "vs1", listSeq
		seen := map[int]bool{}
		bySerial := map[seal.Serial]*keyring.Seal{}
		for _, s := range issued {
			bySerial[s.Serial] = s
		}
		for _, v := range vs {
			c := SealCheck{Result: v.reason}
			if v.reason == "" {
				c.Package, c.Serial, c.Result = v.claims.Package, v.claims.Serial.String(), "ok"
				// The bag's current seals are at hand; only a serial that is not
				// one of them needs a look-up (a superseded or foreign seal).
				is := bySerial[v.claims.Serial]
				if is == nil {
					s, err := keyring.SealBySerial(ctx, q, v.claims.Serial)
					if err == nil {
						is = s
					} else if valise.ErrorCode(err) != valise.ENOTFOUND {
						return nil, err
					}
				}
				switch {
				case v.claims.BagID.String() != b.ID:
					c.Result = "wrong_bag"
				case seen[v.claims.Package]:
					c.Result = "duplicate"
				default:
					phys := map[int]string{}
					for _, p := range b.Packages {
						if p.SealSerial != "" {
							phys[p.K] = p.SealSerial
						}
					}
					if m := keyring.Compare(v.claims, keyring.BagRecord{Registry: b.RegistryNumber, Origin: b.Origin,
						Destination: b.Destination, Packages: b.PackageCount, PhysicalSerials: phys}, is); len(m) > 0 {
						c.Result = "mismatch"
						for _, f := range m {
							c.Fields = append(c.Fields, f.Field)
						}
					} else if is != nil && is.SupersededAt != nil {
						c.Result = "seal_revoked"
					}
					seen[v.claims.Package] = true
				}
			}
			if c.Result != "ok" {
				res.Problems = append(res.Problems, fmt.Sprintf("seal %d: %s", len(res.Checked)+1, c.Result))
			}
			res.Checked = append(res.Checked, c)
		}
		for _, s := range issued {
			if !seen[s.Package] {
				res.Checked = append(res.Checked, SealCheck{Package: s.Package, Serial: s.Serial.String(), Result: "missing"})
				res.Problems = append(res.Problems, fmt.Sprintf("package %d: its seal was not presented", s.Package))
			}
		}
	} else {
		res.Method = "physical"
		want := map[string]int{}
		for _, p := range b.Packages {
			if p.SealSerial != "" {
				want[p.SealSerial] = p.K
			}
		}
		seen := map[string]bool{}
		for _, s := range scan.PhysicalSeals {
			c := SealCheck{Serial: s, Result: "ok"}
			k, ok := want[s]
			switch {
			case !ok:
				c.Result = "mismatch"
				c.Fields = []string{"physical_seal"}
			case seen[s]:
				c.Result = "duplicate"
			default:
				c.Package = k
			}
			seen[s] = true
			if c.Result != "ok" {
				res.Problems = append(res.Problems, fmt.Sprintf("physical seal %q: %s", s, c.Result))
			}
			res.Checked = append(res.Checked, c)
		}
		keys := make([]string, 0, len(want))
		for s := range want {
			keys = append(keys, s)
		}
		slices.Sort(keys)
		for _, s := range keys {
			if !seen[s] {
				res.Checked = append(res.Checked, SealCheck{Package: want[s], Serial: s, Result: "missing"})
				res.Problems = append(res.Problems, fmt.Sprintf("package %d: physical seal %s not presented", want[s], s))
			}
		}
	}
	if scan.SealsIntact != nil && !*scan.SealsIntact {
		res.Problems = append(res.Problems, "seals reported not intact")
	}
	if scan.PackagesCounted != nil && *scan.PackagesCounted != b.PackageCount {
		res.Problems = append(res.Problems, fmt.Sprintf("%d of %d packages counted", *scan.PackagesCounted, b.PackageCount))
	}
	res.OK = len(res.Problems) == 0
	return res, nil
}

// validateScan refuses a scan that says nothing: a hand-off must record a
// seal check, so either seal texts or physical serials and the intact flag.
func validateScan(s SealScan) []valise.FieldError {
	var fe []valise.FieldError
	if len(s.Seals) == 0 && len(s.PhysicalSeals) == 0 && s.SealsIntact == nil {
		fe = append(fe, valise.FieldError{Field: "seals", Reason: "scan the seals: give the seal texts, or the physical seal serials and seals_intact"})
	}
	if len(s.Seals) > 200 || len(s.PhysicalSeals) > 200 {
		fe = append(fe, valise.FieldError{Field: "seals", Reason: "at most 200"})
	}
	for i, t := range s.Seals {
		if len(t) == 0 || len(t) > seal.MaxTextLen {
			fe = append(fe, valise.FieldError{Field: fmt.Sprintf("seals[%d]", i), Reason: "not a seal text"})
		}
	}
	if s.PackagesCounted != nil && (*s.PackagesCounted < 0 || *s.PackagesCounted > 999) {
		fe = append(fe, valise.FieldError{Field: "packages_counted", Reason: "must be 0..999"})
	}
	return fe
}
