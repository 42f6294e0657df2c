package seal

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (test with [errors.Is]); the wrapping text adds detail for logs, and
// [Code] maps the sentinel to a stable reason for the CLI and the API.
var (
	// Parsing: the text is not a well-formed seal.
	ErrTooLarge     = errors.New("seal: text too large")
	ErrBadPrefix    = errors.New("seal: missing " + Prefix + " prefix")
	ErrBase45       = errors.New("seal: invalid Base45")
	ErrCBOR         = errors.New("seal: malformed or non-canonical CBOR")
	ErrHeader       = errors.New("seal: invalid COSE header")
	ErrCritical     = errors.New("seal: unsupported critical header")
	ErrAlgorithm    = errors.New("seal: algorithm is not EdDSA")
	ErrClaims       = errors.New("seal: invalid claims")
	ErrUnknownClaim = errors.New("seal: unknown claim")

	// Signing.
	ErrBadKey = errors.New("seal: invalid signing key")

	// Verification: the seal is well formed but must not be trusted.
	ErrUnknownKey     = errors.New("seal: unknown key")
	ErrSignature      = errors.New("seal: signature does not verify")
	ErrKeyRevoked     = errors.New("seal: signing key revoked")
	ErrWrongOffice    = errors.New("seal: key belongs to another office")
	ErrKeyNotYetValid = errors.New("seal: signed before the key's validity")
	ErrKeyExpired     = errors.New("seal: signed after the key's validity")
	ErrSealRevoked    = errors.New("seal: seal serial revoked")
	ErrSealFromFuture = errors.New("seal: issued in the future")
	ErrSealExpired    = errors.New("seal: expired")
)

// codes pairs each sentinel with its stable reason code.
var codes = []struct {
	err  error
	code string
}{
	{ErrTooLarge, "too_large"},
	{ErrBadPrefix, "bad_prefix"},
	{ErrBase45, "bad_base45"},
	{ErrCBOR, "bad_cbor"},
	{ErrHeader, "bad_header"},
	{ErrCritical, "critical_header"},
	{ErrAlgorithm, "bad_algorithm"},
	{ErrClaims, "bad_claims"},
	{ErrUnknownClaim, "unknown_claim"},
	{ErrBadKey, "bad_key"},
	{ErrUnknownKey, "unknown_key"},
	{ErrSignature, "bad_signature"},
	{ErrKeyRevoked, "key_revoked"},
	{ErrWrongOffice, "wrong_office"},
	{ErrKeyNotYetValid, "key_not_yet_valid"},
	{ErrKeyExpired, "key_expired"},
	{ErrSealRevoked, "seal_revoked"},
	{ErrSealFromFuture, "seal_from_future"},
	{ErrSealExpired, "seal_expired"},
}

// Code returns a stable, machine-readable reason for an error of this
// package ("bad_signature", "seal_expired", ...), "" for nil and "error" for
// anything else (for example a failing [KeyResolver]). The codes are meant
// for API problem types and app messages; they never change meaning.
func Code(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "error"
}
