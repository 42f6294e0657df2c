# Tests of personnel.rego (run by `go test ./policy` and by stock `opa test policy/`).
package valise.personnel_test

import rego.v1

import data.valise.personnel

officer_all := {"user_id": "u-po", "username": "personnel", "roles": ["personnel_officer"], "unit_code": "MFA", "scope": ["*"]}

officer_ber := {"user_id": "u-pb", "username": "personnel.ber", "roles": ["personnel_officer"], "unit_code": "DE-BER", "scope": []}

officer_tyo_scope := {"user_id": "u-pt", "username": "po.tyo", "roles": ["personnel_officer"], "unit_code": "MFA", "scope": ["JP-TYO"]}

security := {"user_id": "u-sec", "username": "security", "roles": ["security_officer"], "unit_code": "MFA", "scope": ["*"]}

auditor := {"user_id": "u-aud", "username": "auditor", "roles": ["auditor"], "unit_code": "MFA", "scope": ["*"]}

clerk := {"user_id": "u-clerk", "username": "clerk.ber", "roles": ["registry_clerk"], "unit_code": "DE-BER", "scope": []}

record_ber := {"kind": "staff", "id": "s1", "origin": "DE-BER", "person": "u-clerk", "level": 0}

record_tyo := {"kind": "staff", "id": "s2", "origin": "JP-TYO", "person": "", "level": 0}

d(s, a, r) := x if {
	x := personnel.decision with input as {"subject": s, "action": a, "resource": r}
}

test_officer_of_every_unit_reads_and_manages if {
	d(officer_all, "staff.read", record_ber).allow
	d(officer_all, "staff.manage", record_tyo).allow
}

test_officer_of_own_unit_only if {
	d(officer_ber, "staff.read", record_ber).allow
	d(officer_ber, "staff.manage", record_ber).allow
	x := d(officer_ber, "staff.read", record_tyo)
	not x.allow
	x.hidden
}

test_scoped_officer if {
	d(officer_tyo_scope, "staff.manage", record_tyo).allow
	not d(officer_tyo_scope, "staff.read", record_ber).allow
}

test_person_reads_own_record_only if {
	d(clerk, "staff.read", record_ber).allow
	not d(clerk, "staff.manage", record_ber).allow
	not d(clerk, "staff.read", record_tyo).allow
}

test_no_one_manages_own_record if {
	me := object.union(officer_all, {"user_id": "u-clerk"})
	x := d(me, "staff.manage", record_ber)
	not x.allow
	contains(x.detail, "their own staff record")
}

test_security_and_auditor_see_no_personal_data if {
	every s in [security, auditor] {
		x := d(s, "staff.read", record_ber)
		not x.allow
		x.hidden
		x.reason == "not found"
		contains(x.detail, "personal data")
	}
}

test_reference_data if {
	d(officer_ber, "personnel_reference.read", {"kind": "personnel_reference"}).allow
	not d(officer_ber, "personnel_reference.manage", {"kind": "personnel_reference"}).allow
	d(officer_all, "personnel_reference.manage", {"kind": "personnel_reference"}).allow
	x := d(clerk, "personnel_reference.read", {"kind": "personnel_reference"})
	not x.allow
	not x.hidden
}

test_list_scopes if {
	a := personnel.list_scope with input as {"subject": officer_all, "kind": "staff"}
	a.all
	b := personnel.list_scope with input as {"subject": officer_ber, "kind": "staff"}
	not b.all
	b.units == ["DE-BER"]
	c := personnel.list_scope with input as {"subject": clerk, "kind": "staff"}
	c.units == []
	c.self
	not c.all
}
