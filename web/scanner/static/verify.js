// Offline verification for the courier's scanner: the VS1 seal codec
// (Base45, the CBOR subset seals use, COSE_Sign1 with Ed25519), the signed
// trust list (DSSE), and C2SP tlog-proof receipts (RFC 6962 inclusion proof
// under a C2SP signed-note checkpoint). It mirrors crypto/seal, crypto/trust
// and tlog in Go and is tested against them on the same vector files
// (crypto/seal/testdata/vectors). Every check refuses rather than guesses:
// a seal has exactly one byte form, so the decoder refuses any other.

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export class SealError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code; // the stable reason of crypto/seal (seal.Code)
  }
}
const fail = (code, msg) => { throw new SealError(code, msg); };

// ---- bytes ----

export function b64decode(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(b) {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

export function b64url(b) {
  return b64encode(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function hex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export async function sha256(b) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", b));
}

export async function ed25519Verify(pub, sig, msg) {
  const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
}

// ---- Base45 (RFC 9285), strict as crypto/seal's decoder ----

const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

export function base45Decode(s) {
  if (s.length % 3 === 1) fail("bad_base45", "length is 1 modulo 3");
  const v = (c) => {
    const i = B45.indexOf(c);
    if (i < 0 || c === "") fail("bad_base45", "invalid character");
    return i;
  };
  const out = [];
  for (let i = 0; i < s.length; i += 3) {
    if (s.length - i === 2) {
      const n = v(s[i]) + v(s[i + 1]) * 45;
      if (n > 0xff) fail("bad_base45", "final pair exceeds 255");
      out.push(n);
      break;
    }
    const n = v(s[i]) + v(s[i + 1]) * 45 + v(s[i + 2]) * 2025;
    if (n > 0xffff) fail("bad_base45", "triplet exceeds 65535");
    out.push(n >> 8, n & 0xff);
  }
  return new Uint8Array(out);
}

// ---- CBOR: the deterministic subset seals use ----
// Unsigned and negative integers, byte and text strings, arrays, maps and
// the outer tag 18; shortest heads only, no indefinite lengths, map keys
// strictly ascending in encoded order (so no duplicates), no trailing bytes.

export function cborDecode(b, { allowTag = false } = {}) {
  let p = 0;
  const need = (n) => { if (p + n > b.length) fail("bad_cbor", "truncated"); };
  function head() {
    need(1);
    const ib = b[p++];
    const major = ib >> 5, ai = ib & 31;
    let n;
    if (ai < 24) n = ai;
    else if (ai === 24) { need(1); n = b[p++]; if (n < 24) fail("bad_cbor", "non-shortest head"); }
    else if (ai === 25) { need(2); n = (b[p] << 8) | b[p + 1]; p += 2; if (n <= 0xff) fail("bad_cbor", "non-shortest head"); }
    else if (ai === 26) { need(4); n = ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3]; p += 4; if (n <= 0xffff) fail("bad_cbor", "non-shortest head"); }
    else if (ai === 27) {
      need(8);
      const hi = ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];
      const lo = ((b[p + 4] << 24) >>> 0) + (b[p + 5] << 16) + (b[p + 6] << 8) + b[p + 7];
      p += 8;
      if (hi === 0) fail("bad_cbor", "non-shortest head");
      n = hi * 2 ** 32 + lo; // only ever compared against small bounds
    } else fail("bad_cbor", "indefinite length or reserved");
    return [major, n];
  }
  function item(depth) {
    if (depth > 4) fail("bad_cbor", "nested too deeply");
    const start = p;
    const [major, n] = head();
    switch (major) {
      case 0: return n;
      case 1: return -1 - n;
      case 2: need(n); p += n; return b.slice(p - n, p);
      case 3: {
        need(n); p += n;
        try { return dec.decode(b.subarray(p - n, p)); } catch { fail("bad_cbor", "invalid UTF-8"); }
      }
      // falls through (unreachable)
      case 4: {
        if (n > 16) fail("bad_cbor", "array too long");
        const a = [];
        for (let i = 0; i < n; i++) a.push(item(depth + 1));
        return a;
      }
      case 5: {
        if (n > 16) fail("bad_cbor", "map too large");
        const m = new Map();
        let prev = null;
        for (let i = 0; i < n; i++) {
          const ks = p;
          const k = item(depth + 1);
          const kb = b.subarray(ks, p);
          if (prev && compareBytes(prev, kb) >= 0) fail("bad_cbor", "map keys not in deterministic order or repeated");
          prev = kb;
          m.set(k, item(depth + 1));
        }
        return m;
      }
      case 6:
        if (!allowTag || start !== 0 || n !== 18) fail("bad_cbor", "tag not allowed");
        return { tag: n, value: item(depth + 1) };
      default: fail("bad_cbor", "simple values and floats are not allowed");
    }
  }
  const v = item(0);
  if (p !== b.length) fail("bad_cbor", "trailing bytes");
  return v;
}

function compareBytes(a, b) {
  // Core deterministic order (RFC 8949 §4.2.1): bytewise lexicographic.
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function cborHead(major, n) {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n <= 0xff) return [m | 24, n];
  if (n <= 0xffff) return [m | 25, n >> 8, n & 0xff];
  return [m | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

function cborBstr(b) { return concat(new Uint8Array(cborHead(2, b.length)), b); }

// ---- COSE_Sign1 (RFC 9052) in the VS1 profile ----

export const PREFIX = "VS1:";
export const MAX_TEXT = 1024;

// sigStructure is ["Signature1", protected, h'', payload].
export function sigStructure(protectedBytes, payload) {
  return concat(new Uint8Array([0x84, 0x6a]), enc.encode("Signature1"), cborBstr(protectedBytes),
    new Uint8Array([0x40]), cborBstr(payload));
}

const CODE_RE = (punct) => new RegExp(punct ? "^[A-Z0-9][A-Z0-9./-]*$" : "^[A-Z0-9][A-Z0-9-]*$");
function checkCode(what, s, min, max, punct) {
  if (typeof s !== "string" || s.length < min || s.length > max || !CODE_RE(punct).test(s)) {
    fail("bad_claims", what + " " + JSON.stringify(s) + " is not allowed");
  }
}

// parseSeal decodes a seal text and checks its structure and claims, not
// its signature (crypto/seal.Parse).
export function parseSeal(text) {
  if (typeof text !== "string" || text.length > MAX_TEXT) fail("too_large");
  if (!text.startsWith(PREFIX)) fail("bad_prefix", "not a VS1 seal");
  const raw = base45Decode(text.slice(PREFIX.length));
  if (raw.length === 0 || raw[0] !== 0xd2) fail("bad_cbor", "not a tagged COSE_Sign1");
  const top = cborDecode(raw, { allowTag: true });
  const arr = top.value;
  if (!Array.isArray(arr) || arr.length !== 4) fail("bad_cbor", "COSE_Sign1 is not a 4-array");
  const [prot, unprot, payload, sig] = arr;
  if (!(prot instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(sig instanceof Uint8Array)) fail("bad_cbor", "COSE_Sign1 fields");
  if (!(unprot instanceof Map) || unprot.size !== 0) fail("bad_header", "unprotected header must be empty");
  const h = cborDecode(prot);
  if (!(h instanceof Map)) fail("bad_cbor", "protected header is not a map");
  for (const k of h.keys()) if (k !== 1 && k !== 2 && k !== 4) fail(h.has(2) ? "critical_header" : "bad_header", "unknown header label " + k);
  if (h.has(2)) fail("critical_header");
  if (h.get(1) !== -8) fail("bad_algorithm", "alg is not EdDSA");
  const kid = h.get(4);
  if (!(kid instanceof Uint8Array) || kid.length !== 8) fail("bad_header", "kid must be 8 bytes");
  if (sig.length !== 64) fail("bad_signature", "signature is not 64 bytes");
  const c = cborDecode(payload);
  if (!(c instanceof Map)) fail("bad_cbor", "claims are not a CBOR map");
  for (const k of c.keys()) if (!(Number.isInteger(k) && k >= 1 && k <= 11)) fail("unknown_claim", "unknown claim " + k);
  const need = (k, type) => {
    const v = c.get(k);
    const ok = type === "bstr" ? v instanceof Uint8Array : type === "tstr" ? typeof v === "string" : Number.isInteger(v) && v >= 0;
    if (!ok) fail(c.has(k) ? "bad_cbor" : "bad_claims", "claim " + k + " missing or of the wrong type");
    return v;
  };
  const claims = {
    bagID: need(1, "bstr"), registry: need(2, "tstr"), origin: need(3, "tstr"), destination: need(4, "tstr"),
    package: need(5, "uint"), packages: need(6, "uint"),
    physicalSeal: c.has(7) ? need(7, "tstr") : "",
    manifestHash: need(8, "bstr"), issuedAt: need(9, "uint"), expires: need(10, "uint"), serial: need(11, "bstr"),
  };
  validateClaims(claims, c.has(7));
  return { kid, protected: prot, payload, signature: sig, claims };
}

function validateClaims(c, hasPhysical) {
  if (c.bagID.length !== 16 || c.manifestHash.length !== 32 || c.serial.length !== 8) fail("bad_claims", "wrong length");
  checkCode("registry number", c.registry, 1, 32, true);
  checkCode("origin unit code", c.origin, 2, 16, false);
  checkCode("destination unit code", c.destination, 2, 16, false);
  if (c.origin === c.destination) fail("bad_claims", "origin and destination are the same");
  if (c.packages < 1 || c.packages > 99 || c.package < 1 || c.package > c.packages) fail("bad_claims", "package k of N");
  if (hasPhysical) checkCode("physical seal", c.physicalSeal, 1, 24, true);
  const zero = (b) => b.every((x) => x === 0);
  if (zero(c.bagID) || zero(c.manifestHash) || zero(c.serial)) fail("bad_claims", "zero id, hash or serial");
  if (c.issuedAt < 1 || c.issuedAt > 0xffffffff || c.expires <= c.issuedAt || c.expires > 0xffffffff) fail("bad_claims", "times");
  if (c.expires - c.issuedAt > 366 * 86400) fail("bad_claims", "lifetime");
}

export function uuid(b) {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// showClaims is a seal's claims as the app shows them, in the form of
// keyring.ClaimsView (the API's, and the vectors').
export function showClaims(c, kid) {
  const iso = (s) => new Date(s * 1000).toISOString().replace(".000Z", "Z");
  const out = {
    bag_id: uuid(c.bagID), registry_number: c.registry, origin: c.origin, destination: c.destination,
    package: c.package, packages: c.packages, manifest_hash: hex(c.manifestHash),
    issued_at: iso(c.issuedAt), expires_at: iso(c.expires), serial: hex(c.serial), kid: b64url(kid),
  };
  if (c.physicalSeal) out.physical_seal = c.physicalSeal;
  return out;
}

// ---- the trust list (DSSE, crypto/trust) ----

export const TRUST_PAYLOAD_TYPE = "application/vnd.valise.trust-list+json";
const CLOCK_SKEW = 5 * 60; // seconds (seal.ClockSkew)

function pae(body) {
  const t = enc.encode(TRUST_PAYLOAD_TYPE);
  return concat(enc.encode(`DSSEv1 ${t.length} `), t, enc.encode(` ${body.length} `), body);
}

async function kidOf(pub) { return (await sha256(pub)).slice(0, 8); }

// parseTrustList verifies a trust list envelope (an object or its JSON)
// against the pinned root key at now (ms) and returns the list.
export async function parseTrustList(envelope, rootB64, now = Date.now()) {
  const env = typeof envelope === "string" ? JSON.parse(envelope) : envelope;
  const bad = (msg) => { throw new Error("trust list: " + msg); };
  if (!env || env.payloadType !== TRUST_PAYLOAD_TYPE || typeof env.payload !== "string" || !Array.isArray(env.signatures)) bad("malformed envelope");
  if (env.signatures.length > 8) bad("too many signatures");
  const root = b64decode(rootB64);
  if (root.length !== 32) bad("root key is not 32 bytes");
  const rootKid = b64url(await kidOf(root));
  const body = b64decode(env.payload);
  let signed = false;
  for (const s of env.signatures) {
    if (s.keyid === rootKid && await ed25519Verify(root, b64decode(s.sig), pae(body))) { signed = true; break; }
  }
  if (!signed) bad("not signed by the root key");
  const text = dec.decode(body);
  const p = JSON.parse(text);
  // The payload has one form (crypto/trust re-encodes and compares): a
  // re-serialization that differs means duplicate keys or another writer.
  if (JSON.stringify(p) !== text) bad("payload is not in canonical form");
  const fields = ["version", "sequence", "issued_at", "stale_after", "keys", "revoked_serials"];
  if (Object.keys(p).join() !== fields.join() || p.version !== 1) bad("unknown fields or version");
  const keys = new Map();
  for (const k of p.keys) {
    const pub = b64decode(k.public_key);
    if (pub.length !== 32 || b64url(await kidOf(pub)) !== k.kid || k.kid === rootKid) bad("key " + k.kid + " is invalid");
    if (keys.has(k.kid)) bad("key listed twice");
    keys.set(k.kid, { kid: k.kid, office: k.office, pub, notBefore: Date.parse(k.not_before) / 1000,
      notAfter: Date.parse(k.not_after) / 1000, status: k.status });
  }
  const issuedAt = Date.parse(p.issued_at), staleAfter = Date.parse(p.stale_after);
  if (issuedAt > now + CLOCK_SKEW * 1000) bad("issued in the future");
  return { sequence: p.sequence, issuedAt, staleAfter, keys, revoked: new Set(p.revoked_serials), digest: hex(await sha256(body)) };
}

// verifySeal checks a seal against a parsed trust list at now (ms), in
// crypto/seal's order; it returns {ok, code, claims} (claims whenever the
// seal parses, so an invalid one can still be shown as unverified).
export async function verifySeal(text, list, now = Date.now()) {
  let s;
  try { s = parseSeal(text); } catch (e) { return { ok: false, code: e.code || "error", detail: e.message }; }
  const claims = showClaims(s.claims, s.kid);
  const out = (code, detail) => ({ ok: code === "", code, detail, claims });
  const k = list.keys.get(b64url(s.kid));
  if (!k) return out("unknown_key", "the trust list has no key " + b64url(s.kid));
  if (!await ed25519Verify(k.pub, s.signature, sigStructure(s.protected, s.payload))) return out("bad_signature");
  const c = s.claims, t = now / 1000;
  if (k.status === "revoked") return out("key_revoked");
  if (k.office !== c.origin) return out("wrong_office");
  if (c.issuedAt < k.notBefore) return out("key_not_yet_valid");
  if (c.issuedAt > k.notAfter) return out("key_expired");
  if (list.revoked.has(hex(c.serial))) return out("seal_revoked");
  if (c.issuedAt > t + CLOCK_SKEW) return out("seal_from_future");
  if (t >= c.expires) return out("seal_expired");
  return out("");
}

// ---- receipts: C2SP tlog-proof under a C2SP signed-note checkpoint ----

// parseVerifierKey reads a note verifier key "name+hash+base64(1||key)".
async function parseVerifierKey(vkey) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(vkey || "");
  if (!m) throw new Error("log key: malformed");
  const [, name, hashHex, keyB64] = m;
  const key = b64decode(keyB64);
  if (key.length !== 33 || key[0] !== 1) throw new Error("log key: not an Ed25519 note key");
  const h = await sha256(concat(enc.encode(name + "\n"), key));
  if (hex(h.slice(0, 4)) !== hashHex) throw new Error("log key: hash does not match");
  return { name, hash: h.slice(0, 4), pub: key.slice(1) };
}

// openNote verifies a signed note with the verifier and returns its text.
async function openNote(signed, v) {
  const i = signed.lastIndexOf("\n\n");
  if (i < 0 || !signed.endsWith("\n")) throw new Error("checkpoint: malformed note");
  const text = signed.slice(0, i + 1);
  const sigs = signed.slice(i + 2, -1).split("\n");
  for (const line of sigs) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error("checkpoint: malformed signature line");
    if (m[1] !== v.name) continue;
    const sig = b64decode(m[2]);
    if (sig.length !== 68 || !equal(sig.slice(0, 4), v.hash)) continue;
    if (await ed25519Verify(v.pub, sig.slice(4), enc.encode(text))) return text;
    throw new Error("checkpoint: the log's signature does not verify");
  }
  throw new Error("checkpoint: not signed by the log key");
}

async function nodeHash(l, r) { return sha256(concat(new Uint8Array([1]), l, r)); }

// rootFromInclusion is RFC 9162 §2.1.3.2: the root that the audit path
// leads to from leaf index of a tree of size.
async function rootFromInclusion(index, size, leafHash, path) {
  if (index >= size) throw new Error("receipt: index beyond the tree");
  let fn = index, sn = size - 1, r = leafHash;
  for (const p of path) {
    if (sn === 0) throw new Error("receipt: proof too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("receipt: proof too short");
  return r;
}

// verifyReceipt checks a receipt offline with the log's verifier key and
// returns {index, size, origin, leaf} (leaf: the receipt's extra bytes).
export async function verifyReceipt(logKey, receipt) {
  const v = await parseVerifierKey(logKey);
  const cut = receipt.indexOf("\n\n");
  if (cut < 0) throw new Error("receipt: no blank line before the checkpoint");
  const lines = receipt.slice(0, cut).split("\n");
  if (lines.shift() !== "c2sp.org/tlog-proof@v1") throw new Error("receipt: not a c2sp.org/tlog-proof@v1");
  let leaf = null;
  if (lines.length && lines[0].startsWith("extra ")) leaf = b64decode(lines.shift().slice(6));
  const im = lines.length ? /^index (0|[1-9][0-9]*)$/.exec(lines.shift()) : null;
  if (!im) throw new Error("receipt: missing index line");
  const index = Number(im[1]);
  const path = lines.map((l) => {
    const h = b64decode(l);
    if (h.length !== 32) throw new Error("receipt: bad proof hash");
    return h;
  });
  const text = await openNote(receipt.slice(cut + 2), v);
  const [origin, sizeLine, rootLine] = text.split("\n");
  if (origin !== v.name) throw new Error("checkpoint: origin is not the log's");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw new Error("checkpoint: bad size");
  const size = Number(sizeLine), root = b64decode(rootLine);
  if (!leaf || leaf.length === 0) throw new Error("receipt: no leaf");
  const leafHash = await sha256(concat(new Uint8Array([0]), leaf));
  const got = await rootFromInclusion(index, size, leafHash, path);
  if (!equal(got, root)) throw new Error("receipt: the inclusion proof does not lead to the checkpoint's root");
  return { index, size, origin, leaf: dec.decode(leaf) };
}
