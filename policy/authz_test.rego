# Tests of the authorization policy, one group per rule of issue 3. Run by `go test ./policy`
# (OPA's tester) and by the stock `opa test policy/`.
package valise.authz_test

import rego.v1

import data.valise.authz

# Levels: 0 UNCLASSIFIED, 1 RESTRICTED, 2 SECRET, 3 TOP_SECRET, 4 SPECIAL_IMPORTANCE.

clerk_ber := {
	"user_id": "u-clerk", "username": "clerk", "roles": ["registry_clerk"],
	"unit_code": "DE-BER", "unit_kind": "embassy", "clearance": 2,
}

clerk_state_body := object.union(clerk_ber, {"unit_code": "MOD", "unit_kind": "state_body"})

career := {
	"user_id": "u-career", "username": "career", "roles": ["courier"], "courier_kind": "career",
	"unit_code": "MFA", "unit_kind": "ministry", "clearance": 3,
}

adhoc := object.union(career, {"user_id": "u-adhoc", "courier_kind": "ad_hoc"})

dispatcher := {
	"user_id": "u-disp", "username": "disp", "roles": ["dispatcher"],
	"unit_code": "MFA", "unit_kind": "ministry", "clearance": 2,
}

dispatcher_dept := object.union(dispatcher, {"unit_code": "MFA-DCS", "unit_kind": "department"})

auditor := {
	"user_id": "u-aud", "username": "aud", "roles": ["auditor"], "scope": ["*"],
	"unit_code": "MFA", "unit_kind": "ministry", "clearance": 2,
}

security := {
	"user_id": "u-sec", "username": "sec", "roles": ["security_officer"], "scope": ["JP-TYO"],
	"unit_code": "MFA", "unit_kind": "ministry", "clearance": 4,
}

admin := {
	"user_id": "u-adm", "username": "adm", "roles": ["admin"],
	"unit_code": "MFA", "unit_kind": "ministry", "clearance": 4,
}

# A SECRET bag from the ministry to Berlin.
bag := {"kind": "bag", "id": "b1", "level": 2, "origin": "MFA", "destination": "DE-BER", "route": []}

bag_tokyo := object.union(bag, {"origin": "MFA", "destination": "JP-TYO"})

# The same bag as the system builds it (the route names origin and destination), and held.
routed := object.union(bag, {"route": ["MFA", "DE-BER"]})

held_mfa := object.union(bag, {"custodian_kind": "registry", "custodian_unit": "MFA"})

held_mfa_routed := object.union(routed, {"custodian_kind": "registry", "custodian_unit": "MFA"})

held_ber := object.union(bag, {"custodian_kind": "registry", "custodian_unit": "DE-BER"})

bag_home := object.union(bag, {"origin": "DE-BER", "destination": "MFA"})

d(s, a, r) := x if {
	x := authz.decision with input as {"subject": s, "action": a, "resource": r}
}

allowed(s, a, r) if d(s, a, r).allow == true

hidden(s, a, r) if {
	x := d(s, a, r)
	x.allow == false
	x.hidden == true
}

forbidden(s, a, r) if {
	x := d(s, a, r)
	x.allow == false
	x.hidden == false
}

# ---- clearance ----------------------------------------------------------------------------------

test_clearance_equal_level_allows if allowed(clerk_ber, "bag.read", bag)

test_clearance_below_level_is_not_found if {
	hidden(clerk_ber, "bag.read", object.union(bag, {"level": 3}))
	d(clerk_ber, "bag.read", object.union(bag, {"level": 3})).reason == "not found"
}

test_hidden_detail_names_the_cause_for_the_log if {
	contains(d(clerk_ber, "bag.read", object.union(bag, {"level": 3})).detail, "clearance 2 is below the resource level 3")
}

# ---- need-to-know -------------------------------------------------------------------------------

test_need_to_know_destination if allowed(clerk_ber, "bag.read", bag)

test_need_to_know_origin if allowed(dispatcher, "bag.read", bag)

test_need_to_know_route if allowed(object.union(clerk_ber, {"unit_code": "AT-VIE"}), "bag.read", object.union(bag, {"route": ["AT-VIE"]}))

test_need_to_know_outside_is_not_found if hidden(clerk_ber, "bag.read", bag_tokyo)

test_need_to_know_courier_on_sheet if {
	allowed(adhoc, "bag.deliver", object.union(bag_tokyo, {"origin": "X-1", "destination": "Y-1", "couriers": ["u-adhoc"]}))
	hidden(adhoc, "bag.deliver", object.union(bag_tokyo, {"origin": "X-1", "destination": "Y-1", "couriers": ["u-other"]}))
}

test_need_to_know_custodian if allowed(adhoc, "bag.deliver", {"kind": "bag", "level": 1, "origin": "X-1", "destination": "Y-1", "custodian": "u-adhoc"})

test_security_officer_scope_covers if allowed(security, "bag.read", bag_tokyo)

test_security_officer_outside_scope_not_found if hidden(object.union(security, {"unit_code": "NB"}), "bag.read", bag)

test_auditor_star_scope_reads_everything_within_clearance if {
	allowed(object.union(auditor, {"unit_code": "NB"}), "bag.read", bag_tokyo)
	hidden(auditor, "bag.read", object.union(bag_tokyo, {"level": 3}))
}

test_scope_without_oversight_role_gives_nothing if hidden(object.union(clerk_ber, {"unit_code": "NB", "scope": ["*"]}), "bag.read", bag_tokyo)

# ---- couriers (DM-05, DM-06) --------------------------------------------------------------------

test_adhoc_courier_may_only_deliver if {
	allowed(adhoc, "bag.deliver", bag)
	every a in ["bag.plan", "bag.assemble", "bag.formalise", "bag.send", "bag.accept", "bag.store", "sheet.issue"] {
		forbidden(adhoc, a, bag)
	}
}

test_career_courier_stages if {
	every a in ["bag.plan", "bag.assemble", "bag.formalise", "bag.deliver"] {
		allowed(career, a, bag)
	}
	allowed(career, "bag.send", held_mfa)
	allowed(career, "bag.accept", bag_home)
}

# A career courier of the ministry's courier service (MFA-DCS, a sub-unit of MFA) acts for the
# ministry: sees, plans, assembles and formalises its bags (DM-06), though MFA-DCS is on no route.
test_courier_service_acts_for_its_parent if {
	dcs := object.union(career, {"unit_code": "MFA-DCS", "unit_kind": "department", "parent_unit": "MFA"})
	every a in ["bag.read", "bag.plan", "bag.assemble", "bag.formalise"] {
		allowed(dcs, a, routed)
	}
	allowed(dcs, "bag.send", object.union(routed, {"custodian_kind": "registry", "custodian_unit": "MFA"}))
	forbidden(dcs, "bag.store", object.union(routed, {"custodian_kind": "registry", "custodian_unit": "MFA"}))
	hidden(object.union(dcs, {"parent_unit": "KZ-X"}), "bag.read", routed)
}

test_career_courier_may_not_store if forbidden(career, "bag.store", bag)

test_courier_without_kind_has_ad_hoc_rights_only if forbidden(object.union(career, {"courier_kind": ""}), "bag.plan", bag)

# ---- storage and courier sheets (DM-06, DM-17) ---------------------------------------------------

test_embassy_clerk_stores if allowed(clerk_ber, "bag.store", held_ber)

test_ministry_clerk_stores if allowed(object.union(clerk_ber, {"unit_code": "MFA", "unit_kind": "ministry"}), "bag.store", held_mfa)

# ---- stage ownership: the stage × actor × unit matrix (DM-17) ------------------------------------

clerk_mfa := object.union(clerk_ber, {"user_id": "u-clerk-mfa", "unit_code": "MFA", "unit_kind": "ministry"})

clerk_vie := object.union(clerk_ber, {"user_id": "u-clerk-vie", "unit_code": "AT-VIE"})

test_origin_registry_runs_the_origin_stages if {
	every a in ["bag.assemble", "bag.formalise"] {
		allowed(clerk_mfa, a, routed)
	}
	allowed(clerk_mfa, "bag.send", held_mfa_routed)
}

test_destination_registry_may_not_run_origin_stages if {
	every a in ["bag.assemble", "bag.formalise", "bag.send"] {
		forbidden(clerk_ber, a, held_mfa_routed)
	}
}

test_origin_registry_may_not_accept_or_store_at_the_destination if {
	forbidden(clerk_mfa, "bag.accept", routed)
	forbidden(clerk_mfa, "bag.store", object.union(routed, {"custodian_kind": "registry", "custodian_unit": "DE-BER"}))
}

test_destination_registry_accepts_and_stores if {
	allowed(clerk_ber, "bag.accept", routed)
	allowed(clerk_ber, "bag.store", object.union(routed, {"custodian_kind": "registry", "custodian_unit": "DE-BER"}))
}

test_relay_registry_accepts_stores_and_sends_on if {
	relay := object.union(routed, {"route": ["MFA", "AT-VIE", "DE-BER"]})
	held := object.union(relay, {"custodian_kind": "registry", "custodian_unit": "AT-VIE"})
	allowed(clerk_vie, "bag.accept", relay)
	allowed(clerk_vie, "bag.store", held)
	allowed(clerk_vie, "bag.send", held)
	forbidden(clerk_vie, "bag.assemble", relay)
}

test_nobody_stores_a_bag_a_person_holds if {
	forbidden(clerk_ber, "bag.store", object.union(routed, {"custodian_kind": "person", "custodian": "u-career"}))
}

test_nobody_sends_what_a_bearer_holds if forbidden(clerk_mfa, "bag.send", object.union(routed, {"custodian_kind": "bearer"}))

test_stage_veto_detail_names_the_rule if {
	contains(d(clerk_ber, "bag.formalise", routed).detail, "DM-17")
}

test_state_body_clerk_may_not_store if forbidden(clerk_state_body, "bag.store", object.union(bag, {"origin": "MOD"}))

test_dispatcher_may_not_store if forbidden(dispatcher, "bag.store", bag)

test_sheet_issued_by_ministry_or_foreign_institution if {
	allowed(dispatcher, "sheet.issue", {"kind": "sheet", "level": 0, "origin": "MFA", "destination": "DE-BER"})
	allowed(clerk_ber, "sheet.issue", {"kind": "sheet", "level": 0, "origin": "DE-BER", "destination": "MFA"})
}

test_sheet_not_issued_by_other_units if {
	x := d(dispatcher_dept, "sheet.issue", {"kind": "sheet", "level": 0, "origin": "MFA-DCS", "destination": "DE-BER"})
	x.allow == false
	contains(x.detail, "ministry or foreign-institution unit")
	forbidden(clerk_state_body, "sheet.issue", {"kind": "sheet", "level": 0, "origin": "MOD", "destination": "DE-BER"})
}

# ---- dispatchers --------------------------------------------------------------------------------

test_dispatcher_plans if allowed(dispatcher, "bag.plan", bag)

test_dispatcher_does_not_assemble if forbidden(dispatcher, "bag.assemble", bag)

# ---- auditors -----------------------------------------------------------------------------------

test_auditor_reads if {
	every a in ["decisions.read", "lockouts.read", "users.read", "units.read", "staff.read"] {
		allowed(auditor, a, {"kind": "x", "level": 0})
	}
}

test_auditor_changes_nothing if {
	every a in ["units.manage", "users.manage", "staff.manage", "incident.manage"] {
		forbidden(auditor, a, {"kind": "x", "level": 0})
	}
	forbidden(auditor, "bag.store", bag)
}

test_auditor_veto_beats_other_roles if {
	both := object.union(clerk_ber, {"roles": ["registry_clerk", "auditor"]})
	x := d(both, "bag.store", held_ber)
	x.allow == false
	x.detail == "auditors change nothing"
}

# ---- admin --------------------------------------------------------------------------------------

test_admin_manages_units_and_users if {
	allowed(admin, "units.manage", {"kind": "unit", "level": 0})
	allowed(admin, "users.manage", {"kind": "user", "level": 0})
}

test_admin_gets_no_bag_by_being_admin if {
	hidden(admin, "bag.read", bag)
	d(admin, "bag.read", bag).detail == "no role that may see diplomatic mail"
}

test_non_admin_may_not_manage_users if forbidden(security, "users.manage", {"kind": "user", "level": 0})

# ---- deny by default ----------------------------------------------------------------------------

test_unknown_action_denied if {
	x := d(admin, "bag.teleport", {"kind": "unit", "level": 0})
	x.allow == false
	x.reason == "you are not allowed to do this"
	contains(x.detail, "deny by default")
}

test_no_roles_denied if forbidden(object.union(admin, {"roles": []}), "units.read", {"kind": "unit", "level": 0})

test_empty_input_denied if {
	x := authz.decision with input as {}
	x.allow == false
}

test_general_reason_does_not_leak_detail if {
	x := d(dispatcher, "bag.store", bag)
	x.reason == "you are not allowed to do this"
	not contains(x.reason, "dispatcher")
}

# ---- list scopes --------------------------------------------------------------------------------

scope(s, k) := x if {
	x := authz.list_scope with input as {"subject": s, "kind": k}
}

test_scope_clerk_own_unit if scope(clerk_ber, "bag") == {"all": false, "units": ["DE-BER"], "max_level": 2, "courier": false}

test_scope_security_officer_scope_units if scope(security, "bag") == {"all": false, "units": ["JP-TYO", "MFA"], "max_level": 4, "courier": false}

test_scope_auditor_all if scope(auditor, "bag").all == true

test_scope_courier_flag if scope(adhoc, "bag").courier == true

test_scope_admin_sees_no_bags if scope(admin, "bag") == {"all": false, "units": [], "max_level": -1, "courier": false}

test_scope_admin_lists_users if scope(admin, "user").all == true

test_scope_unknown_kind_nothing if scope(admin, "rocket").max_level == -1

# A registry clerk reads and lists the incidents of the bags they may see, within clearance and
# need-to-know, and nothing else that incident.read gates; they do not manage incidents.
test_clerk_reads_incidents_of_bags_they_see if {
	allowed(clerk_ber, "incident.read", object.union(bag, {"kind": "incident"}))
	hidden(clerk_ber, "incident.read", object.union(bag_tokyo, {"kind": "incident"}))
	hidden(clerk_ber, "incident.read", object.union(bag, {"kind": "incident", "level": 3}))
	forbidden(clerk_ber, "incident.read", {"kind": "overdue_list"})
	forbidden(clerk_ber, "incident.manage", object.union(bag, {"kind": "incident"}))
	scope(clerk_ber, "incident") == {"all": false, "units": ["DE-BER"], "max_level": 2, "courier": false}
}

# ---- /me ----------------------------------------------------------------------------------------

test_actions_of_adhoc if {
	a := authz.actions with input as {"subject": adhoc}
	"bag.deliver" in a
	not "bag.plan" in a
}

test_actions_of_auditor_only_reads if {
	a := authz.actions with input as {"subject": object.union(auditor, {"roles": ["auditor", "admin"]})}
	not "users.manage" in a
	"users.read" in a
}

# ---- alerts -------------------------------------------------------------------------------------

# Security officers register alert webhooks and read delivery records; nobody else does.
test_alerts_manage_security_officer_only if {
	allowed(security, "alerts.manage", {"kind": "alert_webhook"})
	forbidden(clerk_ber, "alerts.manage", {"kind": "alert_webhook"})
	forbidden(object.union(security, {"roles": ["security_officer", "auditor"]}), "alerts.manage", {"kind": "alert_webhook"})
}

# ---- clearance and privileges (issue 10): two people, never oneself ----------------------------

test_nobody_changes_own_privileges if {
	x := d(admin, "users.privileges", {"kind": "user", "id": "u-adm", "account": "u-adm"})
	x.allow == false
	x.hidden == false
	contains(x.reason, "nobody changes their own")
	not allowed(security, "clearance.grant", {"kind": "user", "id": "u-sec", "account": "u-sec", "level": 4})
}

test_admin_changes_others_roles if allowed(admin, "users.privileges", {"kind": "user", "id": "u-x", "account": "u-x"})

test_admin_creates_at_most_restricted if {
	allowed(admin, "users.manage", {"kind": "user", "level": 1})
	x := d(admin, "users.manage", {"kind": "user", "level": 2})
	x.allow == false
	contains(x.reason, "security officer grants")
}

test_security_officer_grants_up_to_own_clearance if {
	allowed(security, "clearance.grant", {"kind": "user", "id": "u-x", "account": "u-x", "level": 4})
	x := d(object.union(security, {"clearance": 2}), "clearance.grant", {"kind": "user", "id": "u-x", "account": "u-x", "level": 3})
	x.reason == "you may grant at most your own clearance"
	not allowed(admin, "clearance.grant", {"kind": "user", "id": "u-x", "account": "u-x", "level": 1})
	not allowed(auditor, "clearance.grant", {"kind": "user", "id": "u-x", "account": "u-x", "level": 1})
	allowed(auditor, "clearance.read", {"kind": "clearance_grant"})
}
