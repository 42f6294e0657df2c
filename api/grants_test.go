package api_test

import (
	"context"
	"strings"
	"testing"

	"valise/api/apitest"
	"valise/identity"
	"valise/policy"
)

// TestNobodyChangesOwnPrivileges: an admin cannot change their own roles,
// scope or unit, nor (like anyone) a clearance by editing the profile; a
// security officer cannot grant their own clearance nor more than their
// own; another security officer grants, and the grant is recorded with who
// and why, for security officers to read. Every refusal changes nothing.
func TestNobodyChangesOwnPrivileges(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	ctx := context.Background()
	admin := e.User(t, "admin", []string{policy.RoleAdmin}, "MFA", policy.Restricted, "")
	sec1 := e.User(t, "sec.one", []string{policy.RoleSecurityOfficer}, "MFA", policy.TopSecret, "")
	sec2 := e.User(t, "sec.two", []string{policy.RoleSecurityOfficer}, "MFA", policy.Secret, "")
	clerk := e.User(t, "clerk", []string{policy.RoleRegistryClerk}, "MFA", policy.Restricted, "")
	id := func(name string) string {
		var v string
		if err := e.Pool.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	snapshot := func() string {
		var s string
		err := e.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(username || roles::text || clearance || scope::text || unit_id::text || version, ';' ORDER BY username), '')
			|| (SELECT count(*)::text FROM clearance_grants) FROM users`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	refused := func(status int, want, tok, method, path string, body any) {
		t.Helper()
		before := snapshot()
		c, b := statusOf(t, e, method, path, tok, body)
		if c != status || !strings.Contains(b, want) {
			t.Errorf("%s %s = %d %s, want %d with %q", method, path, c, b, status, want)
		}
		if snapshot() != before {
			t.Errorf("%s %s was refused but changed a user or the grants", method, path)
		}
	}
	self := func(name string, roles []string, unit, clearance string, scope []string) map[string]any {
		return map[string]any{"full_name": name, "unit": unit, "roles": roles, "clearance": clearance, "scope": scope}
	}

	// The admin: not their own roles, unit or clearance.
	adm := "/api/v1/users/" + id("admin")
	refused(403, "nobody changes their own", admin, "PUT", adm, self("admin", []string{"admin", "security_officer"}, "MFA", "RESTRICTED", nil))
	refused(403, "nobody changes their own", admin, "PUT", adm, self("admin", []string{"admin"}, "DE-BER", "RESTRICTED", nil))
	refused(422, `"field":"clearance"`, admin, "PUT", adm, self("admin", []string{"admin"}, "MFA", "SPECIAL_IMPORTANCE", nil))
	refused(403, "not allowed", admin, "POST", adm+"/clearance", map[string]any{"clearance": "SECRET", "reason": "self"})
	// Their own name, yes.
	if c, b := statusOf(t, e, "PUT", adm, admin, self("Admin Person", []string{"admin"}, "MFA", "RESTRICTED", nil)); c != 200 {
		t.Errorf("admin renaming themselves: %d %s", c, b)
	}

	// A security officer: not their own clearance; not above their own.
	refused(403, "nobody changes their own", sec1, "POST", "/api/v1/users/"+id("sec.one")+"/clearance",
		map[string]any{"clearance": "SPECIAL_IMPORTANCE", "reason": "promotion"})
	refused(403, "at most your own clearance", sec2, "POST", "/api/v1/users/"+id("clerk")+"/clearance",
		map[string]any{"clearance": "TOP_SECRET", "reason": "posting to the registry"})
	refused(422, `"field":"reason"`, sec1, "POST", "/api/v1/users/"+id("clerk")+"/clearance", map[string]any{"clearance": "SECRET"})
	refused(403, "not allowed", clerk, "POST", "/api/v1/users/"+id("clerk")+"/clearance", map[string]any{"clearance": "SECRET", "reason": "x"})
	refused(404, "not found", sec1, "POST", "/api/v1/users/"+randomUUID()+"/clearance", map[string]any{"clearance": "SECRET", "reason": "x"})

	// Two people: the other security officer grants the first one's … and the clerk's.
	var g identity.Grant
	apitest.Decode(t, e.Do(t, "POST", "/api/v1/users/"+id("clerk")+"/clearance", sec1,
		map[string]any{"clearance": "SECRET", "reason": "registry of the ministry"}), &g)
	if g.From != policy.Restricted || g.To != policy.Secret || g.GrantedByUsername != "sec.one" || g.Reason != "registry of the ministry" {
		t.Errorf("grant = %+v", g)
	}
	// It applies to the clerk's next request.
	var me struct{ Clearance policy.Level }
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/me", clerk, nil), &me)
	if me.Clearance != policy.Secret {
		t.Errorf("the clerk's clearance after the grant: %v", me.Clearance)
	}
	var list struct{ Grants []identity.Grant }
	apitest.Decode(t, e.Do(t, "GET", "/api/v1/security/clearance-grants", sec2, nil), &list)
	if len(list.Grants) != 1 || list.Grants[0].ID != g.ID || list.Grants[0].UserID != id("clerk") || list.Grants[0].GrantedBy != id("sec.one") {
		t.Errorf("grants as read by a security officer: %+v", list.Grants)
	}
	for _, tok := range []string{admin, clerk} {
		if c, _ := statusOf(t, e, "GET", "/api/v1/security/clearance-grants", tok, nil); c != 403 {
			t.Errorf("grants read by a non-security role: %d", c)
		}
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE clearance_grants SET reason = 'edited'`); err == nil {
		t.Error("a grant could be edited")
	}
}

// statusOf sends a request and returns the status and body.
func statusOf(t *testing.T, e *apitest.Env, method, path, tok string, body any) (int, string) {
	t.Helper()
	return status(t, e.Do(t, method, path, tok, body))
}
