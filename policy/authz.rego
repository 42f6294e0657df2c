# Valise authorization policy: may this subject do this action to this resource?
#
# Input (built by authorizer.go; levels are integers, 0 = UNCLASSIFIED … 4 = SPECIAL_IMPORTANCE):
#   subject:  {user_id, username, roles[], unit_code, unit_kind, parent_unit, clearance, courier_kind, scope[]}
#   action:   "bag.store", "units.manage", ... (policy/types.go)
#   resource: {kind, id, level, origin, destination, route[], custodian, custodian_kind, custodian_unit, couriers[]}
#
# Output: data.valise.authz.decision = {allow, hidden, reason, detail}. "reason" is general and
# shown to the caller; "detail" is the full reason, written only to the decision log. "hidden"
# means the caller must not learn the resource exists (answer "not found").
#
# Sources: DESIGN.md "Classification and access"; law-digest.md §1.4, DM-05, DM-06, DM-17.
package valise.authz

import rego.v1

# Kinds of resource that carry diplomatic mail: classification and need-to-know apply to them.
mail_kinds := {"bag", "sheet", "submission", "incident", "log_entry"}

# Units of the diplomatic service that may issue courier sheets and store mail (Art. 1(6), 7-1(8), 7-1(9)).
ministry_kinds := {"ministry"}

foreign_institution_kinds := {"embassy", "consulate", "permanent_mission"}

issuing_kinds := ministry_kinds | foreign_institution_kinds

# Actions that change nothing: the only ones an auditor may take.
read_actions := {
	"bag.read", "senders.read", "incident.read", "units.read", "users.read",
	"decisions.read", "lockouts.read", "log.read", "staff.read", "settings.read", "clearance.read",
}

# Roles that may see diplomatic mail at all (subject to clearance and need-to-know). The admin is
# not among them: administering units and users gives no sight of bags.
mail_roles := {"registry_clerk", "dispatcher", "courier", "security_officer", "auditor"}

mail_resource if mail_kinds[input.resource.kind]

career_courier if {
	"courier" in input.subject.roles
	input.subject.courier_kind == "career"
}

issuing_unit if issuing_kinds[input.subject.unit_kind]

# ---- need-to-know ------------------------------------------------------------------------------

clearance_ok if input.subject.clearance >= input.resource.level

need_to_know if {
	input.subject.unit_code != ""
	input.subject.unit_code == input.resource.origin
}

need_to_know if {
	input.subject.unit_code != ""
	input.subject.unit_code == input.resource.destination
}

need_to_know if input.subject.unit_code in input.resource.route

need_to_know if {
	input.subject.user_id != ""
	input.subject.user_id == input.resource.custodian
}

need_to_know if {
	input.subject.user_id != ""
	input.subject.user_id in input.resource.couriers
}

need_to_know if {
	oversight
	some s in input.subject.scope
	covers(s)
}

# A career courier of a unit's courier service (a sub-unit) acts for that unit (DM-06).
need_to_know if {
	career_courier
	input.subject.parent_unit != ""
	input.subject.parent_unit in input.resource.route
}

oversight if "security_officer" in input.subject.roles

oversight if "auditor" in input.subject.roles

covers("*")

covers(s) if s == input.resource.origin

covers(s) if s == input.resource.destination

covers(s) if s in input.resource.route

reads_mail if {
	some r in input.subject.roles
	mail_roles[r]
}

# ---- stage and verb rights ---------------------------------------------------------------------

# What each role may do wherever its holder works. An ad hoc courier may only deliver (DM-05):
# reading what they carry, handing it over and reporting its loss are part of delivery. The admin
# manages units, users and the authorized-sender list, nothing about bags.
role_grants := {
	"courier": {"bag.read", "bag.deliver", "bag.hand_off", "bag.report_loss", "units.read", "senders.read"},
	"registry_clerk": {"bag.read", "bag.report_loss", "submission.create", "units.read", "senders.read", "log.read"},
	"dispatcher": {"bag.read", "bag.plan", "units.read", "senders.read", "users.read"},
	"security_officer": {
		"bag.read", "bag.examine", "bag.report_loss", "sheet.revoke", "incident.read", "incident.manage",
		"units.read", "users.read", "decisions.read", "lockouts.read", "lockouts.manage", "keys.manage", "log.read",
		"senders.read", "staff.read", "clearance.grant", "clearance.read", "alerts.manage", "devices.manage",
	},
	# Auditors read everything their clearance allows (and change nothing: see the veto below).
	"auditor": read_actions,
	"personnel_officer": {"staff.read", "staff.manage", "units.read", "users.read"},
	"admin": {
		"units.manage", "units.read", "users.manage", "users.privileges", "users.read",
		"senders.manage", "senders.read",
	},
}

# A career courier also plans, assembles, formalises, sends and accepts; never stores (DM-06).
career_grants := {"bag.plan", "bag.assemble", "bag.formalise", "bag.send", "bag.accept"}

# Only in a ministry or foreign-institution unit: registry clerks run the registry stages, store
# mail and issue courier sheets; dispatchers issue courier sheets (Art. 1(6), 7-1(8)(1), 7-1(9)).
issuing_grants := {
	"registry_clerk": {
		"bag.assemble", "bag.formalise", "bag.send", "bag.accept", "bag.store",
		"bag.hand_off", "sheet.issue", "sheet.revoke",
	},
	"dispatcher": {"sheet.issue"},
}

may if {
	some r in input.subject.roles
	role_grants[r][input.action]
}

may if {
	career_courier
	career_grants[input.action]
}

may if {
	issuing_unit
	some r in input.subject.roles
	issuing_grants[r][input.action]
}

# granted is every action the subject holds by role (for /me); decisions use may.
granted contains a if {
	some r in input.subject.roles
	some a in role_grants[r]
}

granted contains a if {
	career_courier
	some a in career_grants
}

granted contains a if {
	issuing_unit
	some r in input.subject.roles
	some a in issuing_grants[r]
}

# A registry clerk reads the incidents (and loss reports) of the bags they may see: their desk
# counts and lists the open ones (issue 16), as a bag's page already shows its own. Only kind
# "incident": incident.read also gates the security officer's overdue and silence lists, which stay
# theirs; notifying and closing (incident.manage) stays theirs too. Clearance and need-to-know apply
# as to every mail kind.
may if {
	input.action == "incident.read"
	input.resource.kind == "incident"
	"registry_clerk" in input.subject.roles
}

granted contains "incident.read" if "registry_clerk" in input.subject.roles

# ---- stage ownership (DM-17, law-digest §1.4) ---------------------------------------------------

# Which unit each registry stage belongs to. The origin registry plans, assembles and seals; the
# registry that holds the bag sends it (its origin, or a relay on the route, 7-1(9)(1)); the
# destination or a relay registry accepts; only the registry holding the bag stores it. The
# ministry also plans for every route (7-1(8)(1)). Who holds the bag, and who is named on the
# release, is checked by the pouch package on the locked row.
stage_actions := {"bag.plan", "bag.assemble", "bag.formalise", "bag.send", "bag.accept", "bag.store"}

acts_for(u) if {
	u != ""
	input.subject.unit_code == u
}

acts_for(u) if {
	u != ""
	career_courier
	input.subject.parent_unit == u
}

stage_unit_ok if not input.action in stage_actions

stage_unit_ok if {
	input.action == "bag.plan"
	input.subject.unit_kind in ministry_kinds
}

stage_unit_ok if {
	input.action in {"bag.plan", "bag.assemble", "bag.formalise"}
	acts_for(input.resource.origin)
}

stage_unit_ok if {
	input.action == "bag.send"
	input.resource.custodian_kind == "registry"
	acts_for(input.resource.custodian_unit)
}

stage_unit_ok if {
	input.action == "bag.accept"
	acts_for(input.resource.destination)
}

stage_unit_ok if {
	input.action == "bag.accept"
	some i, u in input.resource.route
	i > 0
	acts_for(u)
}

stage_unit_ok if {
	input.action == "bag.store"
	input.resource.custodian_kind == "registry"
	acts_for(input.resource.custodian_unit)
}

# ---- vetoes: explicit denies that no grant overrides -------------------------------------------

# (Only where a role grants the action: otherwise the role is the reason.)
vetoed if {
	input.resource.kind == "bag"
	may
	not stage_unit_ok
}

default holder_unit := "(none)"

holder_unit := input.resource.custodian_unit

veto contains sprintf("%s belongs to another unit's registry (DM-17): origin %s, destination %s, held by the registry of %s", [
	input.action, input.resource.origin, input.resource.destination, holder_unit,
]) if {
	input.resource.kind == "bag"
	may
	not stage_unit_ok
}

vetoed if {
	"auditor" in input.subject.roles
	not read_actions[input.action]
}

vetoed if {
	input.action == "sheet.issue"
	not issuing_unit
}

veto contains "auditors change nothing" if {
	"auditor" in input.subject.roles
	not input.action in read_actions
}

veto contains sprintf("a courier sheet may only be issued by a ministry or foreign-institution unit, not a %s", [input.subject.unit_kind]) if {
	input.action == "sheet.issue"
	not issuing_unit
}

# ---- clearance and privileges: two people, never oneself (issue 10) ---------------------------

# The highest clearance an admin may give a new account (RESTRICTED); anything above, and every later
# change of clearance, is a clearance.grant by a security officer.
admin_clearance_ceiling := 1

# The resource is the caller's own account.
own_account if {
	input.resource.kind == "user"
	input.subject.user_id != ""
	input.resource.account == input.subject.user_id
}

# Roles, scope and clearance: nobody changes their own, admins and security officers included.
self_vetoed_actions := {"users.privileges", "clearance.grant"}

vetoed if {
	self_vetoed_actions[input.action]
	own_account
}

public_veto contains "nobody changes their own clearance, roles or oversight scope" if {
	self_vetoed_actions[input.action]
	own_account
}

# users.manage with a level is the creation of an account with that clearance.
vetoed if {
	input.action == "users.manage"
	input.resource.kind == "user"
	input.resource.level > admin_clearance_ceiling
}

public_veto contains "an account is created with clearance RESTRICTED at most; a security officer grants more (POST /api/v1/users/{id}/clearance)" if {
	input.action == "users.manage"
	input.resource.kind == "user"
	input.resource.level > admin_clearance_ceiling
}

# A security officer grants at most their own clearance.
vetoed if {
	input.action == "clearance.grant"
	input.resource.level > input.subject.clearance
}

public_veto contains "you may grant at most your own clearance" if {
	input.action == "clearance.grant"
	input.resource.level > input.subject.clearance
}

veto contains v if some v in public_veto

# ---- the decision ------------------------------------------------------------------------------

# hidden: the resource carries mail the subject may not see at all, so it must stay invisible.
hidden if {
	mail_resource
	not visible
}

visible if {
	clearance_ok
	need_to_know
	reads_mail
}

hide_reasons contains sprintf("clearance %d is below the resource level %d", [input.subject.clearance, input.resource.level]) if {
	mail_resource
	not clearance_ok
}

hide_reasons contains sprintf("need-to-know: unit %s is not origin, destination or on the route, and no custody or oversight scope covers it", [input.subject.unit_code]) if {
	mail_resource
	not need_to_know
}

hide_reasons contains "no role that may see diplomatic mail" if {
	mail_resource
	not reads_mail
}

default decision := {
	"allow": false, "hidden": false,
	"reason": "you are not allowed to do this",
	"detail": "deny by default: malformed input",
}

# The allow path comes first and touches only boolean rules; reasons are built on denies only.
decision := {"allow": true, "hidden": false, "reason": "", "detail": ""} if {
	not hidden
	not vetoed
	may
} else := {
	"allow": false, "hidden": true, "reason": "not found",
	"detail": concat("; ", sort(hide_reasons)),
} if {
	hidden
} else := {
	"allow": false, "hidden": false, "reason": veto_reason,
	"detail": concat("; ", sort(veto)),
} if {
	vetoed
} else := {
	"allow": false, "hidden": false, "reason": "you are not allowed to do this",
	"detail": sprintf("deny by default: none of the roles %v may %s", [input.subject.roles, input.action]),
}

# A veto about the caller's own request (public_veto) is told to a caller who holds the right;
# others hear the general reason.
default veto_reason := "you are not allowed to do this"

veto_reason := concat("; ", sort(public_veto)) if {
	count(public_veto) > 0
	may
}

# ---- list scopes -------------------------------------------------------------------------------

# The read action that governs listing each kind.
list_action := {
	"bag": "bag.read", "sheet": "bag.read", "submission": "bag.read", "log_entry": "log.read",
	"incident": "incident.read", "unit": "units.read", "user": "users.read",
	"decision_log": "decisions.read", "lockout": "lockouts.read", "staff": "staff.read",
	"sender": "senders.read", "clearance_grant": "clearance.read",
}

default list_scope := {"all": false, "units": [], "max_level": -1, "courier": false}

# What a list of input.kind may show: rows of these units (or all) up to this level. Mail kinds
# need a mail role; others only the read grant.
list_scope := {
	"all": scope_all, "units": sort(scope_units), "max_level": input.subject.clearance,
	"courier": is_courier,
} if {
	input.kind in mail_kinds
	list_action[input.kind] in granted
	reads_mail
} else := {"all": true, "units": [], "max_level": input.subject.clearance, "courier": false} if {
	not input.kind in mail_kinds
	list_action[input.kind] in granted
}

default is_courier := false

is_courier if "courier" in input.subject.roles

scope_all if {
	oversight
	"*" in input.subject.scope
}

default scope_all := false

scope_units contains input.subject.unit_code if input.subject.unit_code != ""

scope_units contains s if {
	oversight
	some s in input.subject.scope
	s != "*"
}

# What /me shows: every action this subject holds by role (before resource checks).
default actions := []

actions := sort([a | some a in granted; not veto_for(a)])

veto_for(a) if {
	"auditor" in input.subject.roles
	not a in read_actions
}

# ---- settings and plan review (issue 11) -------------------------------------------------------

# Who changes which settings (docs/decisions.md, "Settings"): what the law leaves to by-laws
# (incident, breach and loss deadlines, transit time, silence window) is the security officer's;
# how the system runs (login limits, seal lifetime, trust-list staleness) is the administrator's.
# Auditors read them (read_actions); dispatchers read them because plans depend on them.
settings_grants := {
	"security_officer": {"settings.read", "settings.bylaw", "plan.review"},
	"admin": {"settings.read", "settings.operations"},
	"auditor": {"settings.read"},
	"dispatcher": {"settings.read"},
	"personnel_officer": {"settings.read"},
}

# Personnel alert lead times are ministry-wide: a personnel officer of every unit (scope "*") sets them.
may if {
	input.action == "settings.personnel"
	"personnel_officer" in input.subject.roles
	"*" in input.subject.scope
}

granted contains "settings.personnel" if {
	"personnel_officer" in input.subject.roles
	"*" in input.subject.scope
}

may if {
	some r in input.subject.roles
	settings_grants[r][input.action]
}

granted contains a if {
	some r in input.subject.roles
	some a in settings_grants[r]
}

# A plan flagged for review (DM-14) is approved or refused by a security officer or by a dispatcher
# of the ministry, which organises delivery (7-1(8)(1)); need-to-know on the route still applies
# (the plan is checked as a bag on its route), and pouch refuses the plan's own author.
ministry_dispatcher if {
	"dispatcher" in input.subject.roles
	ministry_kinds[input.subject.unit_kind]
}

may if {
	input.action == "plan.review"
	ministry_dispatcher
}

granted contains "plan.review" if ministry_dispatcher
