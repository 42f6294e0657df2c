package console

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"valise"
	"valise/crypto/seal"
)

// A domain's refusal in the user's language. The domain speaks English in
// its messages, but says what it refused in words a machine reads too: the
// error's code (invalid, conflict, forbidden, precondition_failed, ...), a
// reason (not_custodian, receiver_clearance, ...), what is missing
// (courier_sheet, agreement), the bag's current state, and the fields at
// fault with their reasons. The console translates those (catalog keys
// refuse.*, field labels, why:<reason>) and shows the domain's English
// detail beneath, marked as English: a refusal the catalog does not know
// still says everything the API would.

// refusal is what the error page shows of a refused action.
type refusal struct {
	Message string        // in the user's language
	Detail  string        // the domain's own words (English)
	Fields  []fieldReason // the fields at fault, in the user's language
	Raw     string        // the fields as the API names them (English)
}

type fieldReason struct{ Field, Reason string }

// fieldLabels are the form labels that name the domain's input fields.
var fieldLabels = map[string]string{
	"seal_serials": "seal.serials", "packages": "seal.packages", "container": "seal.container",
	"protective_means": "seal.protective", "packages_counted": "accept.counted", "seals_intact": "accept.intact",
	"seals": "accept.seals", "place": "form.place", "custodian": "store.custodian", "note": "form.note",
	"courier_id": "sheet.courier", "bearer_name": "sheet.bearer", "conveyance": "sheet.conveyance",
	"valid_until": "sheet.until", "bearer_document": "dispatch.document", "sender": "sub.sender",
	"destination": "sub.destination", "submitter": "sub.submitter", "responsible_person": "sub.responsible",
	"items": "sub.items", "items.kind": "sub.kind", "items.level": "bag.level",
	"items.registry_number": "sub.number", "items.count": "sub.count", "items.description": "sub.description",
	"submission_ids": "clerk.intobag", "bag_ids": "clerk.intobag", "reason": "ev.reason",
	"witness_name": "ex.witness_name", "witness_unit": "ex.witness_unit", "witness_kind": "ex.witness_kind",
	"witness_courier_id": "ex.witness_courier", "grounds": "ex.grounds", "initiating_body": "ex.body",
	"initiating_official": "ex.official",
}

var fieldIndex = regexp.MustCompile(`\[(\d+)\]`)

// explain turns a refused action's error into what the page shows in lang.
func explain(lang string, err error) refusal {
	r := refusal{Detail: valise.ErrorMessage(err)}
	var ve *valise.Error
	if !errors.As(err, &ve) {
		r.Message = translate(lang, "error.refused")
		return r
	}
	reason, _ := ve.Extra["reason"].(string)
	missing, _ := ve.Extra["missing"].(string)
	state := ""
	if s := ve.Extra["current_state"]; s != nil {
		state = fmt.Sprint(s)
	}
	_, allowed := ve.Extra["allowed_next"]
	switch {
	case reason != "" && known(lang, "refuse.reason."+reason):
		r.Message = translate(lang, "refuse.reason."+reason)
	case missing != "" && known(lang, "refuse.missing."+missing):
		r.Message = translate(lang, "refuse.missing."+missing)
	case ve.Code == valise.ECONFLICT && allowed && state != "" && known(lang, "state."+state):
		r.Message = translate(lang, "refuse.state", translate(lang, "state."+state))
	case known(lang, "refuse.code."+ve.Code):
		r.Message = translate(lang, "refuse.code."+ve.Code)
	default:
		r.Message = translate(lang, "error.refused")
	}
	var raw []string
	for _, f := range ve.Fields {
		raw = append(raw, f.Field+": "+f.Reason)
		r.Fields = append(r.Fields, fieldReason{fieldName(lang, f.Field), fieldWhy(lang, f.Reason)})
	}
	r.Raw = strings.Join(raw, "; ")
	return r
}

// known reports whether lang has its own message for key (an English
// fallback is not a translation).
func known(lang, key string) bool { return catalog[lang][key] != "" }

// fieldName is a field's form label: "seal_serials[1]" is the label of
// seal serials and the second of them.
func fieldName(lang, field string) string {
	n := ""
	if m := fieldIndex.FindStringSubmatch(field); m != nil {
		if i, err := strconv.Atoi(m[1]); err == nil {
			n = " " + strconv.Itoa(i+1)
		}
	}
	base := fieldIndex.ReplaceAllString(field, "")
	if key, ok := fieldLabels[base]; ok {
		return translate(lang, key) + n
	}
	return field
}

// fieldWhy translates a field's reason the catalog knows (why:<reason>),
// else gives the domain's words.
func fieldWhy(lang, reason string) string {
	if known(lang, "why:"+reason) {
		return translate(lang, "why:"+reason)
	}
	return reason
}

// ruleMessages translate the field reasons the domain builds from the seal
// format's limits (pouch/seals.go and pouch/lifecycle.go word them so).
func ruleMessages() [][4]string {
	return [][4]string{
		{"why:" + fmt.Sprintf("1..%d characters of A-Z, 0-9 and - . / (not first), distinct: a signed seal carries it", seal.MaxPhysicalSealLen),
			fmt.Sprintf("A-Z, 0-9 және - . / таңбаларынан 1..%d таңба (бірінші таңба әріп не сан), қайталанбайтын: оны қол қойылған мөр алып жүреді", seal.MaxPhysicalSealLen),
			fmt.Sprintf("1..%d символов из A-Z, 0-9 и - . / (не первым), без повторов: его несёт подписанная печать", seal.MaxPhysicalSealLen),
			fmt.Sprintf("1..%d characters of A-Z, 0-9 and - . / (not first), distinct: a signed seal carries it", seal.MaxPhysicalSealLen)},
		{"why:" + fmt.Sprintf("must be 1..%d: one signed seal per package", seal.MaxPackages),
			fmt.Sprintf("1..%d болуы керек: әр орамға бір қол қойылған мөр", seal.MaxPackages),
			fmt.Sprintf("должно быть 1..%d: по одной подписанной печати на место", seal.MaxPackages),
			fmt.Sprintf("must be 1..%d: one signed seal per package", seal.MaxPackages)},
	}
}
