// Package seal encodes, signs, parses and verifies the signed QR seals that
// go on each package of a diplomatic bag.
//
// # Text form
//
// A seal is the text
//
//	"VS1:" + Base45(COSE_Sign1)
//
// where Base45 is RFC 9285 and COSE_Sign1 is RFC 9052 with EdDSA (Ed25519).
// Every character of that text, the prefix included, is in the QR
// alphanumeric set, so a QR code carries it at 5.5 bits per character (the
// EU DCC "HC1:" design). The text is at most [MaxTextLen] characters; longer
// input is refused before any decoding.
//
// # COSE_Sign1 profile
//
// The seal is a tagged COSE_Sign1 (CBOR tag 18) in exactly one encoding:
//
//	18([ protected: bstr .cbor {1: -8, 4: kid}, unprotected: {}, payload: bstr .cbor claims, signature: bstr(64) ])
//
// In detail:
//
//   - alg (1) is -8 (EdDSA) and kid (4) is the 8-byte [KID]; both are in the
//     protected header so that they are signed.
//   - Any other header label is refused, crit (2) with [ErrCritical]: this
//     profile understands no extension, and a verifier must not silently skip
//     one that the issuer marked critical.
//   - The unprotected header must be empty: nothing unsigned is accepted.
//   - Every CBOR item must use the shortest (RFC 8949 §4.2.1 "core
//     deterministic") encoding, with no indefinite lengths, no duplicate map
//     keys, no tags other than the outer 18 and no trailing bytes. The parser
//     re-encodes what it decoded and refuses any difference, so a seal has
//     exactly one byte form and one text form; nothing about a seal can be
//     changed without breaking the signature.
//
// # Claims
//
// The payload is a CBOR map with small integer keys (one byte each on the
// wire). It holds only opaque facts, so that a foreign official who scans the
// seal learns nothing about contents, classification or people:
//
//	key  field         CBOR  rule
//	 1   bag id        bstr  16 bytes (a UUID)
//	 2   registry no.  tstr  1..32 of A-Z 0-9 - . / (first A-Z or 0-9)
//	 3   origin unit   tstr  unit code: ^[A-Z0-9][A-Z0-9-]{1,15}$
//	 4   destination   tstr  unit code, differs from origin
//	 5   package k     uint  1..99, k <= N
//	 6   packages N    uint  1..99
//	 7   phys. seal    tstr  optional; 1..24 of A-Z 0-9 - . /; absent when empty
//	 8   manifest hash bstr  32 bytes: SHA-256 of the manifest, not truncated
//	 9   issued at     uint  unix seconds, 1..2^32-1
//	10   expires       uint  unix seconds, after issued-at, at most MaxLifetime later
//	11   seal serial   bstr  8 random bytes, unique per seal; revocable
//
// Bag id, manifest hash and serial must not be all zeros, and origin and
// destination must differ.
//
// Unknown keys are refused with [ErrUnknownClaim] rather than ignored. An
// unknown claim means the seal was made by a newer issuer whose meaning this
// verifier cannot know; the custody decision made on a seal must not depend on
// which version of the app scanned it. A new claim therefore needs a new
// prefix ("VS2:"), which old apps refuse cleanly.
//
// Lengths and ranges are checked both when signing and when parsing.
//
// # QR budget
//
// The largest claims this package accepts make a 265-byte COSE_Sign1 and a
// 402-character text: a version 15 QR code (77 modules) at error correction
// level Q. Typical claims need version 13 and the smallest valid claims
// version 12. Version 11 at level Q holds 170 bytes of COSE, of which the
// envelope (tag, headers, kid, signature) takes 85, which leaves too little for
// these claims at any length. A 16-byte truncated manifest hash would save one
// version at the maximum (14 instead of 15) at the cost of 64-bit collision
// resistance, which is within reach of a state adversary; the full SHA-256 is
// kept. Printed 40 mm wide (85 modules with the quiet zone) a version 15 code
// has 0.47 mm modules, well above what phone cameras read (SMART Health Cards
// use up to version 22 at that size).
//
// # Verification
//
// [Verify] resolves the kid through a [KeyResolver] (normally a
// trust.List that a phone caches) and checks, in this order, reporting the
// first failure as a sentinel error that [Code] turns into a stable reason:
// key known, signature, key not revoked, the key belongs to the seal's origin
// office, the key's signing window contains issued-at, seal serial not revoked,
// issued-at not in the future beyond [ClockSkew], seal not expired.
// The signature is checked before anything else the seal says, so every later
// reason is about authentic claims.
package seal
