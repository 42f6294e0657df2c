# Valise personal-data policy: who may read and change staff records (issue 13).
#
# Personal data is visible only to personnel officers whose scope covers the record's unit and to
# the person the record describes (their linked account); every other caller is answered as if
# the record did not exist (hidden), and the authorizer writes the deny to the decision log.
# A person never changes their own record, even as a personnel officer.
#
# Input: as authz.rego; resource.kind is "staff" (origin = the unit of the record's current or last
# position, person = the linked account's user id), "personnel_reference" or "personnel_reserve".
# Scope: a personnel officer's subject.scope lists the unit codes they keep records for ("*" = all);
# an empty scope means their own unit.
package valise.personnel

import rego.v1

personnel_officer if "personnel_officer" in input.subject.roles

default covers_all := false

covers_all if {
	personnel_officer
	"*" in input.subject.scope
}

officer_units contains u if {
	personnel_officer
	some u in input.subject.scope
	u != "*"
}

officer_units contains input.subject.unit_code if {
	personnel_officer
	count(input.subject.scope) == 0
	input.subject.unit_code != ""
}

covers(u) if covers_all

covers(u) if {
	u != ""
	u in officer_units
}

self if {
	input.subject.user_id != ""
	input.subject.user_id == input.resource.person
}

# ---- decisions ---------------------------------------------------------------------------------

allow if {
	input.resource.kind == "staff"
	input.action == "staff.read"
	personnel_officer
	covers(input.resource.origin)
}

allow if {
	input.resource.kind == "staff"
	input.action == "staff.read"
	self
}

allow if {
	input.resource.kind == "staff"
	input.action == "staff.manage"
	personnel_officer
	covers(input.resource.origin)
	not self
}

allow if {
	input.resource.kind == "personnel_reference"
	input.action == "personnel_reference.read"
	personnel_officer
}

# By-law reference data is ministry-wide: only an officer of every unit edits it.
allow if {
	input.resource.kind == "personnel_reference"
	input.action == "personnel_reference.manage"
	covers_all
}

deny_detail := sprintf("personal data: %s may %s only a staff record of a unit in their personnel scope, or read their own (record unit %s)", [
	input.subject.username, input.action, input.resource.origin,
]) if {
	input.resource.kind == "staff"
	not self
} else := sprintf("personal data: %s may not change their own staff record", [input.subject.username]) if {
	input.resource.kind == "staff"
} else := sprintf("reference data: %s needs the personnel officer role (and scope \"*\" to edit)", [input.subject.username])

default decision := {
	"allow": false, "hidden": true, "reason": "not found",
	"detail": "deny by default: malformed input",
}

decision := {"allow": true, "hidden": false, "reason": "", "detail": ""} if {
	allow
} else := {"allow": false, "hidden": true, "reason": "not found", "detail": deny_detail} if {
	input.resource.kind == "staff"
} else := {"allow": false, "hidden": false, "reason": "you are not allowed to do this", "detail": deny_detail}

# ---- list scopes -------------------------------------------------------------------------------

# Lists of staff records (and of reserve entries): the units in scope, or all, plus one's own record.
default list_scope := {"all": false, "units": [], "max_level": 0, "courier": false, "self": true}

list_scope := {"all": covers_all, "units": sort(officer_units), "max_level": 0, "courier": false, "self": true} if {
	input.kind in {"staff", "personnel_reserve"}
	personnel_officer
}
