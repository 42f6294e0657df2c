// Package client is the reference Go client of Valise's courier-phone API
// (/mobile/v1, see mobile-api and api/openapi.yaml): it enrols a device,
// downloads the trust bundle, builds and signs offline records with the
// device counter and hash chain, syncs them, and verifies a seal and a
// receipt offline from a saved bundle. The wire format defined here is the
// one the server reads.
package client

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Record kinds.
const (
	KindScan    = "scan"    // a checkpoint scan of the seals by the custodian
	KindRelease = "release" // the custodian releases the bag to a named receiver
	KindConfirm = "confirm" // the named receiver confirms (count, seal scan)
	KindCancel  = "cancel"  // the custodian withdraws an unconfirmed release
	// KindBearerRelease: the custodian hands the bag to a bearer without an
	// account (an aircraft captain, an engaged carrier), with their count
	// and seal check; custody moves at once (a one-sided transfer).
	KindBearerRelease = "bearer_release"
	// KindBearerReceipt: a courier on a sheet covering the bag takes it back
	// from the bearer who holds it (count, seal scan).
	KindBearerReceipt = "bearer_receipt"
)

// Bearer kinds of a bearer_release.
const (
	BearerCaptain = "captain"
	BearerCarrier = "carrier"
)

// MaxBatch is the most records one sync may carry.
const MaxBatch = 200

// Request signing headers: every /mobile/v1 request but enrolment is signed
// by the device key over RequestMessage.
const (
	HeaderDevice    = "Valise-Device"
	HeaderTimestamp = "Valise-Timestamp" // Unix seconds
	HeaderSignature = "Valise-Signature" // base64 (standard) Ed25519 signature
)

// RequestMessage is what a device signs for one request: a fixed prefix,
// the method, the path with its query, the timestamp and the SHA-256 of the
// body, one per line.
func RequestMessage(method, pathQuery string, unix int64, body []byte) []byte {
	h := sha256.Sum256(body)
	return []byte("valise-mobile-request-v1\n" + method + "\n" + pathQuery + "\n" +
		strconv.FormatInt(unix, 10) + "\n" + hex.EncodeToString(h[:]))
}

// Coordinates are WGS 84 degrees.
type Coordinates struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Payload is one offline record as the device signs it (its JSON bytes are
// what the signature covers and what the next record's Prev hashes).
type Payload struct {
	DeviceID        string       `json:"device_id"`
	Counter         int64        `json:"counter"` // 1, 2, 3, … per device
	Prev            string       `json:"prev"`    // hex SHA-256 of the previous record's payload bytes; 64 zeros first
	IdempotencyKey  string       `json:"idempotency_key"`
	Kind            string       `json:"kind"`
	BagID           string       `json:"bag_id,omitempty"`
	HandoffID       string       `json:"handoff_id,omitempty"`
	DeviceTime      time.Time    `json:"device_time"`
	Place           string       `json:"place,omitempty"`
	Coordinates     *Coordinates `json:"coordinates,omitempty"`
	Seals           []string     `json:"seals,omitempty"`
	PhysicalSeals   []string     `json:"physical_seals,omitempty"`
	PackagesCounted *int         `json:"packages_counted,omitempty"`
	SealsIntact     *bool        `json:"seals_intact,omitempty"`
	To              string       `json:"to,omitempty"`      // release to a person (username)
	ToUnit          string       `json:"to_unit,omitempty"` // release to a registry (unit code)
	// A bearer_release names the bearer without an account: captain or
	// carrier, the captain's name or the engaged carrier's unit code or
	// name, and the captain's identity document or the consignment document.
	BearerKind     string `json:"bearer_kind,omitempty"`
	BearerName     string `json:"bearer_name,omitempty"`
	BearerDocument string `json:"bearer_document,omitempty"`
	Note           string `json:"note,omitempty"`
	// Release is, in a confirmation of a phone-to-phone hand-off, the
	// releasing phone's signed release record (read from its QR code), so
	// the confirmation carries both signatures.
	Release *Record `json:"release,omitempty"`
}

// Record is a signed payload: both base64 (standard encoding).
type Record struct {
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// ZeroPrev is the Prev of a device's first record.
var ZeroPrev = hex.EncodeToString(make([]byte, sha256.Size))

// Result is the server's answer for one record of a sync.
type Result struct {
	Index          int      `json:"index"` // position in the batch
	IdempotencyKey string   `json:"idempotency_key,omitempty"`
	Counter        int64    `json:"counter,omitempty"`
	Status         string   `json:"status"` // accepted or refused
	Reason         string   `json:"reason,omitempty"`
	Detail         string   `json:"detail,omitempty"`
	EventID        int64    `json:"event_id,omitempty"`
	HandoffID      string   `json:"handoff_id,omitempty"`
	Flags          []string `json:"flags,omitempty"`
	IncidentID     string   `json:"incident_id,omitempty"`
	LogIndex       *uint64  `json:"log_index,omitempty"`
	Receipt        string   `json:"receipt,omitempty"` // C2SP tlog-proof, once integrated
}

// SyncResponse is the answer to POST /mobile/v1/sync.
type SyncResponse struct {
	Results []Result `json:"results"`
}

// Enrolment is the answer to POST /mobile/v1/enrol.
type Enrolment struct {
	DeviceID  string    `json:"device_id"`
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
	Status    string    `json:"status"`
	TrustRoot string    `json:"trust_root"` // base64 Ed25519 root key of the trust list: pin it
	LogKey    string    `json:"log_key"`    // the custody log's note verifier key: pin it
	Enrolled  time.Time `json:"enrolled_at"`
}

// Bundle is GET /mobile/v1/bundle: everything a phone needs offline.
type Bundle struct {
	GeneratedAt  time.Time       `json:"generated_at"`
	OfflineUntil time.Time       `json:"offline_until"`
	Courier      BundleUser      `json:"courier"`
	TrustRoot    string          `json:"trust_root"`
	TrustList    json.RawMessage `json:"trust_list"` // the signed trust list (DSSE envelope), as /api/v1/trust-list serves it
	LogKey       string          `json:"log_key,omitempty"`
	Sheets       []Sheet         `json:"sheets"`
	Bags         []BundleBag     `json:"bags"`
}

// BundleUser is the courier the device is bound to.
type BundleUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Unit     string `json:"unit"`
}

// Sheet is a valid courier sheet naming the courier.
type Sheet struct {
	ID         string    `json:"id"`
	Number     string    `json:"number"`
	Conveyance string    `json:"conveyance"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Route      []string  `json:"route"`
	Bags       []string  `json:"bags"`
}

// BundleBag is a bag on one of the courier's sheets.
type BundleBag struct {
	ID          string       `json:"id"`
	Registry    string       `json:"registry_number"`
	State       string       `json:"state"`
	Packages    int          `json:"packages"`
	SealSerials []string     `json:"seal_serials"`
	Custodian   string       `json:"custodian"` // who holds it now (a username or a registry's unit code)
	Held        bool         `json:"held"`      // the courier holds it
	NextHolder  string       `json:"expected_next_holder,omitempty"`
	Open        *OpenHandoff `json:"open_handoff,omitempty"`
	Route       []string     `json:"route"`
}

// OpenHandoff is a bag's unconfirmed release.
type OpenHandoff struct {
	ID string `json:"id"`
	To string `json:"to"` // a username or a registry's unit code
}

// sign returns the record of payload bytes b.
func sign(key ed25519.PrivateKey, b []byte) Record {
	return Record{Payload: b64(b), Signature: b64(ed25519.Sign(key, b))}
}
