package policy

import (
	"strconv"
	"strings"
	"sync"
)

// The policy is embedded in the binary and cannot change while the process
// runs, so a decision is a pure function of the input fields the policy
// reads. decisionCache memoizes decisions by exactly those fields: a
// repeated question (the same clerk storing bags of one route and level)
// costs a map lookup instead of a Rego evaluation (~60 µs). The key leaves
// out only fields the policy never reads (the resource id, the username);
// TestCacheKeyCoversPolicyInputs fails if the policy starts reading one.
type decisionCache struct {
	mu  sync.RWMutex
	m   map[string]Decision
	max int
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{m: make(map[string]Decision, max), max: max}
}

func (c *decisionCache) get(k string) (Decision, bool) {
	c.mu.RLock()
	d, ok := c.m[k]
	c.mu.RUnlock()
	return d, ok
}

// put stores d; when the cache is full it starts afresh, which keeps it
// bounded without the bookkeeping of an LRU.
func (c *decisionCache) put(k string, d Decision) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = d
	c.mu.Unlock()
}

// cachedSubjectFields and cachedResourceFields are the input fields the key
// covers: every field the policy may read.
var (
	cachedSubjectFields  = []string{"user_id", "roles", "unit_code", "unit_kind", "parent_unit", "clearance", "courier_kind", "scope"}
	cachedResourceFields = []string{"kind", "level", "origin", "destination", "route", "custodian", "custodian_kind", "custodian_unit", "couriers", "account"}
)

// decisionKey encodes the fields above unambiguously (NUL between fields,
// SOH between list items; neither occurs in ids, codes or role names).
func decisionKey(s Subject, action string, r Resource) string {
	var b strings.Builder
	b.Grow(256)
	field := func(v string) { b.WriteString(v); b.WriteByte(0) }
	list := func(vs []string) {
		for _, v := range vs {
			b.WriteString(v)
			b.WriteByte(1)
		}
		b.WriteByte(0)
	}
	field(action)
	field(s.UserID)
	list(s.Roles)
	field(s.UnitCode)
	field(s.UnitKind)
	field(s.ParentUnit)
	field(strconv.Itoa(int(s.Clearance)))
	field(s.CourierKind)
	list(s.Scope)
	field(r.Kind)
	field(strconv.Itoa(int(r.Level)))
	field(r.Origin)
	field(r.Destination)
	list(r.Route)
	field(r.Custodian)
	field(r.CustodianKind)
	field(r.CustodianUnit)
	list(r.Couriers)
	field(r.Account)
	field(r.Person)
	return b.String()
}
