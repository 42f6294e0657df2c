// The phone side of /mobile/v1 (mobile-api/client is the reference): the
// device key pair (WebCrypto Ed25519, private key non-extractable, kept in
// IndexedDB), enrolment, signed requests, the trust bundle, and offline
// records signed and hash-chained exactly as the server checks them.

import * as store from "./store.js";
import { b64encode, b64decode, hex, sha256, parseTrustList } from "./verify.js";

const enc = new TextEncoder();
export const ENROL_PREFIX = "VALISE-ENROL:1:";
export const RECORD_QR_PREFIX = "VALISE-REC:1:";
export const MAX_BATCH = 200;

export class Problem extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || "HTTP " + status);
    this.status = status;
    this.body = body || {};
  }
}

async function answer(res) {
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok && res.status !== 304) throw new Problem(res.status, body);
  return { status: res.status, body, etag: res.headers.get("ETag") };
}

// enrol makes the key pair, registers its public half with the one-time
// code (typed, or read from the officer's QR) and pins the trust root and
// log key the server answers.
export async function enrol(code, label) {
  code = code.trim();
  if (code.startsWith(ENROL_PREFIX)) code = code.slice(ENROL_PREFIX.length);
  const keys = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  const res = await fetch("/mobile/v1/enrol", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code, label: label || "scanner app", public_key: b64encode(pub) }),
  });
  const { body } = await answer(res);
  if (!body.trust_root || b64decode(body.trust_root).length !== 32) throw new Error("the server sent no valid trust root");
  const dev = { id: body.device_id, username: body.username, userID: body.user_id, trustRoot: body.trust_root,
    logKey: body.log_key || "", enrolledAt: body.enrolled_at, publicKey: b64encode(pub) };
  await store.put("keys", keys);
  await store.put("device", dev);
  await store.put("chain", { counter: 0, prev: "0".repeat(64) });
  return dev;
}

export const device = () => store.get("device");

// requestMessage is client.RequestMessage.
async function requestMessage(method, pathQuery, unix, body) {
  const h = hex(await sha256(body));
  return enc.encode(`valise-mobile-request-v1\n${method}\n${pathQuery}\n${unix}\n${h}`);
}

async function sign(bytes) {
  const keys = await store.get("keys");
  return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, keys.privateKey, bytes));
}

// signedFetch sends a request signed by the device key.
async function signedFetch(method, path, bodyText, headers = {}) {
  const dev = await device();
  const body = enc.encode(bodyText || "");
  const ts = Math.floor(Date.now() / 1000);
  const sig = await sign(await requestMessage(method, path, ts, body));
  const h = { ...headers, "Valise-Device": dev.id, "Valise-Timestamp": String(ts), "Valise-Signature": b64encode(sig) };
  if (bodyText) h["Content-Type"] = "application/json";
  return fetch(path, { method, headers: h, body: bodyText || undefined, cache: "no-store" });
}

// refreshBundle downloads the bundle (If-None-Match the saved one) and
// keeps it only if its trust list verifies with the pinned root and does
// not roll the saved list back.
export async function refreshBundle() {
  const saved = await store.get("bundle");
  const dev = await device();
  const res = await signedFetch("GET", "/mobile/v1/bundle", "", saved && saved.etag ? { "If-None-Match": saved.etag } : {});
  const { status, body, etag } = await answer(res);
  if (status === 304) {
    saved.checkedAt = new Date().toISOString();
    await store.put("bundle", saved);
    return saved;
  }
  const list = await parseTrustList(body.trust_list, dev.trustRoot);
  if (saved) {
    const old = await parseTrustList(saved.bundle.trust_list, dev.trustRoot, Date.now()).catch(() => null);
    if (old && (list.sequence < old.sequence || (list.sequence === old.sequence && list.digest !== old.digest))) {
      throw new Error("the server's trust list is older than the saved one: kept the saved one");
    }
  }
  if (body.log_key && !dev.logKey) { dev.logKey = body.log_key; await store.put("device", dev); }
  const b = { bundle: body, etag, checkedAt: new Date().toISOString() };
  await store.put("bundle", b);
  return b;
}

export const bundle = () => store.get("bundle");

// The payload fields in client.Payload's order; empty ones are left out
// as the Go client's omitempty does.
const FIELDS = ["device_id", "counter", "prev", "idempotency_key", "kind", "bag_id", "handoff_id", "device_time", "place",
  "coordinates", "seals", "physical_seals", "packages_counted", "seals_intact", "to", "to_unit", "note", "release"];

let lock = Promise.resolve();

// record signs the device's next record from p ({kind, bag_id, ...}):
// device id, next counter, the previous payload's hash, a fresh
// idempotency key and the device time; the record is queued unsent.
export function record(p, meta = {}) {
  const run = lock.then(async () => {
    const dev = await device();
    const chain = (await store.get("chain")) || { counter: 0, prev: "0".repeat(64) };
    const key = hex(crypto.getRandomValues(new Uint8Array(16)));
    const full = { ...p, device_id: dev.id, counter: chain.counter + 1, prev: chain.prev, idempotency_key: key,
      device_time: new Date().toISOString() };
    const ordered = {};
    for (const f of FIELDS) {
      const v = full[f];
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) continue;
      ordered[f] = v;
    }
    const bytes = enc.encode(JSON.stringify(ordered));
    const signed = { payload: b64encode(bytes), signature: b64encode(await sign(bytes)) };
    const rec = { counter: ordered.counter, key, kind: p.kind, bag: meta.registry || "", bagID: p.bag_id || "",
      createdAt: ordered.device_time, signed, status: "unsent", to: p.to || p.to_unit || "" };
    await store.saveRecord(rec, { counter: ordered.counter, prev: hex(await sha256(bytes)) });
    return rec;
  });
  lock = run.catch(() => {});
  return run;
}

export const records = async () => (await store.records()).sort((a, b) => a.counter - b.counter);

// recordQR is the QR text of a signed record (client.RecordQR): the
// releasing phone shows its release; the receiving phone embeds it.
export function recordQR(signed) {
  const b = enc.encode(JSON.stringify({ payload: signed.payload, signature: signed.signature }));
  return RECORD_QR_PREFIX + b64encode(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function parseRecordQR(text) {
  if (!text.startsWith(RECORD_QR_PREFIX)) throw new Error("not a Valise record QR code");
  let s = text.slice(RECORD_QR_PREFIX.length).replace(/-/g, "+").replace(/_/g, "/");
  while (s.length % 4) s += "=";
  const r = JSON.parse(new TextDecoder().decode(b64decode(s)));
  if (typeof r.payload !== "string" || typeof r.signature !== "string") throw new Error("not a Valise record QR code");
  const p = JSON.parse(new TextDecoder().decode(b64decode(r.payload)));
  return { record: { payload: r.payload, signature: r.signature }, payload: p };
}

// Reasons after which the server did not keep the record: send it again.
const RETRY = new Set(["not_processed", "server_error", "in_progress"]);

// sync sends the unsent records, and the accepted ones still waiting for
// their receipt (a re-sent record answers its stored result, with the
// receipt once the log has integrated it), in chain order.
export async function sync() {
  const all = await records();
  const batch = all.filter((r) => r.status === "unsent" || (r.status === "accepted" && !r.receipt && r.eventID)).slice(0, MAX_BATCH);
  if (batch.length === 0) return { sent: 0 };
  const res = await signedFetch("POST", "/mobile/v1/sync", JSON.stringify({ records: batch.map((r) => r.signed) }));
  const { body } = await answer(res);
  for (const out of body.results) {
    const r = batch[out.index];
    if (!r) continue;
    if (RETRY.has(out.reason)) { r.lastError = out.reason; await store.putRecord(r); continue; }
    r.status = out.status;
    r.reason = out.reason || "";
    r.detail = out.detail || "";
    r.flags = out.flags || [];
    r.eventID = out.event_id || 0;
    r.handoffID = out.handoff_id || r.handoffID || "";
    if (out.receipt) { r.receipt = out.receipt; r.logIndex = out.log_index; }
    r.syncedAt = new Date().toISOString();
    await store.putRecord(r);
  }
  await store.put("lastSync", new Date().toISOString());
  return { sent: batch.length, results: body.results };
}
