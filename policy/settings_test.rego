# Tests of the settings and plan-review rules (issue 11).
package valise.authz_test

import rego.v1

import data.valise.authz

setting := {"kind": "setting", "level": 0}

plan_route := {"kind": "bag", "level": 0, "origin": "DE-BER", "destination": "JP-TYO", "route": ["DE-BER", "JP-TYO"]}

test_security_officer_changes_bylaw_settings_only if {
	authz.decision.allow with input as {"subject": security, "action": "settings.bylaw", "resource": setting}
	not authz.decision.allow with input as {"subject": security, "action": "settings.operations", "resource": setting}
}

test_admin_changes_operational_settings_only if {
	authz.decision.allow with input as {"subject": admin, "action": "settings.operations", "resource": setting}
	not authz.decision.allow with input as {"subject": admin, "action": "settings.bylaw", "resource": setting}
}

test_auditor_reads_settings_and_changes_none if {
	authz.decision.allow with input as {"subject": auditor, "action": "settings.read", "resource": setting}
	not authz.decision.allow with input as {"subject": auditor, "action": "settings.bylaw", "resource": setting}
	not authz.decision.allow with input as {"subject": object.union(auditor, {"roles": ["auditor", "security_officer"]}), "action": "settings.bylaw", "resource": setting}
}

test_clerks_and_couriers_do_not_read_settings if {
	not authz.decision.allow with input as {"subject": clerk_ber, "action": "settings.read", "resource": setting}
	not authz.decision.allow with input as {"subject": career, "action": "settings.read", "resource": setting}
}

test_plan_review_by_security_in_scope_or_ministry_dispatcher if {
	authz.decision.allow with input as {"subject": security, "action": "plan.review", "resource": object.union(plan_route, {"route": ["DE-BER", "JP-TYO"]})}
	authz.decision.allow with input as {"subject": dispatcher, "action": "plan.review", "resource": object.union(plan_route, {"origin": "MFA", "route": ["MFA", "DE-BER", "JP-TYO"]})}
	not authz.decision.allow with input as {"subject": dispatcher_dept, "action": "plan.review", "resource": object.union(plan_route, {"origin": "MFA", "route": ["MFA", "DE-BER", "JP-TYO"]})}
	not authz.decision.allow with input as {"subject": clerk_ber, "action": "plan.review", "resource": plan_route}
	not authz.decision.allow with input as {"subject": auditor, "action": "plan.review", "resource": plan_route}
}

test_plan_review_needs_sight_of_the_route if {
	d := authz.decision with input as {"subject": dispatcher, "action": "plan.review", "resource": plan_route}
	not d.allow
	d.hidden
}

test_personnel_lead_times_are_set_by_a_personnel_officer_of_every_unit if {
	po_all := {"username": "po", "roles": ["personnel_officer"], "unit_code": "MFA", "unit_kind": "ministry", "scope": ["*"], "clearance": 0}
	po_one := object.union(po_all, {"scope": ["DE-BER"]})
	authz.decision.allow with input as {"subject": po_all, "action": "settings.personnel", "resource": setting}
	authz.decision.allow with input as {"subject": po_one, "action": "settings.read", "resource": setting}
	not authz.decision.allow with input as {"subject": po_one, "action": "settings.personnel", "resource": setting}
	not authz.decision.allow with input as {"subject": security, "action": "settings.personnel", "resource": setting}
}
