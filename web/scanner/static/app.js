// The courier's scanner: screens, camera, and the glue between the device
// (device.js), offline verification (verify.js) and the saved state
// (store.js). No framework: each screen is a <section>, shown one at a time.

import * as dev from "./device.js";
import * as store from "./store.js";
import { verifySeal, parseTrustList, verifyReceipt } from "./verify.js";
import { t, reason, apply, setLang, LANGS, current } from "./i18n.js";
import qrcode from "./qrcode.mjs";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const k of kids) e.append(k);
  return e;
};

let view = "";
let scanned = null; // the last seal checked: {result, bag}

function show(name) {
  stopCamera();
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "view-" + name;
  view = name;
  document.body.dataset.view = name;
  window.scrollTo(0, 0);
  if (name === "home") renderHome();
  if (name === "queue") renderQueue();
  if (name === "scan") { resetScan(); startCamera($("video"), onSealText); }
  if (name === "confirm") { $("confirm-what").hidden = true; $("confirm-text").value = ""; startCamera($("video2"), onConfirmText); }
}

function toast(msg) {
  const p = $("toast");
  p.textContent = msg;
  p.hidden = false;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { p.hidden = true; }, 4000);
}

// ---- camera: BarcodeDetector where the browser has it, else jsQR ----

let cam = null;

async function startCamera(video, onText) {
  stopCamera();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { toast(t("cameraOff")); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment", width: { ideal: 1280 } }, audio: false });
  } catch {
    toast(t("cameraOff"));
    return;
  }
  const me = { stream, video, stop: false };
  cam = me;
  video.srcObject = stream;
  video.dataset.on = "1";
  await video.play().catch(() => {});
  let detector = null;
  if ("BarcodeDetector" in window) {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) detector = new BarcodeDetector({ formats: ["qr_code"] });
    } catch { detector = null; }
  }
  document.body.dataset.decoder = detector ? "barcodedetector" : "jsqr";
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const tick = async () => {
    if (me.stop) return;
    let text = "";
    try {
      if (video.readyState >= 2 && video.videoWidth) {
        if (detector) {
          const codes = await detector.detect(video);
          if (codes.length) text = codes[0].rawValue;
        } else if (window.jsQR) {
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          ctx.drawImage(video, 0, 0);
          const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
          if (code) text = code.data;
        }
      }
    } catch { text = ""; }
    if (text && !me.stop && await onText(text)) { stopCamera(); return; }
    setTimeout(tick, 150);
  };
  tick();
}

function stopCamera() {
  if (!cam) return;
  cam.stop = true;
  for (const tr of cam.stream.getTracks()) tr.stop();
  delete cam.video.dataset.on;
  cam.video.srcObject = null;
  cam = null;
}

// ---- enrolment ----

async function onEnrolText(text) {
  if (!text.startsWith(dev.ENROL_PREFIX)) return false;
  $("enrol-code").value = text;
  await doEnrol();
  return true;
}

async function doEnrol() {
  try {
    const d = await dev.enrol($("enrol-code").value, $("enrol-label").value);
    toast(t("enrolled") + " " + d.username);
    await dev.refreshBundle().catch((e) => toast(e.message));
    show("home");
  } catch (e) {
    toast(e.message);
  }
}

// ---- home: who, the bundle's age and offline validity ----

function duration(ms) {
  const neg = ms < 0;
  ms = Math.abs(ms);
  const d = Math.floor(ms / 86400000), h = Math.floor(ms / 3600000) % 24, m = Math.floor(ms / 60000) % 60;
  const s = d ? `${d} ${t("u_d")} ${h} ${t("u_h")}` : h ? `${h} ${t("u_h")} ${m} ${t("u_min")}` : `${m} ${t("u_min")}`;
  return neg ? "−" + s : s;
}

async function renderHome() {
  const d = await dev.device();
  $("who").textContent = `${t("enrolled")} ${d.username} · ${d.id.slice(0, 8)}`;
  const b = await dev.bundle();
  const info = $("bundle-info");
  if (!b) {
    info.textContent = t("noBundle");
    info.dataset.state = "none";
  } else {
    const now = Date.now();
    const gen = Date.parse(b.bundle.generated_at), until = Date.parse(b.bundle.offline_until);
    info.dataset.state = now > until ? "expired" : "ok";
    info.textContent = "";
    info.append(el("span", { text: `${t("bundleAge")}: ${duration(now - gen)} · ` }),
      el("strong", { text: now > until ? t("bundleExpired") : `${t("offlineLeft")}: ${duration(until - now)}` }),
      el("br"), el("span", { className: "muted", text: `${t("bags")}: ${b.bundle.bags.map((g) => g.registry_number).join(", ") || "—"} · ${t("sheets")}: ${b.bundle.sheets.map((s) => s.number).join(", ") || "—"}` }));
  }
  const unsent = (await dev.records()).filter((r) => r.status === "unsent").length;
  $("queue-count").textContent = unsent ? String(unsent) : "";
}

// ---- seal check ----

function resetScan() {
  scanned = null;
  $("verdict").hidden = true;
  $("bag-actions").hidden = true;
  $("release-qr").hidden = true;
  $("seal-text").value = "";
}

async function checkSeal(text) {
  const b = await dev.bundle();
  const d = await dev.device();
  if (!b) return { ok: false, code: "no_bundle" };
  if (Date.now() > Date.parse(b.bundle.offline_until)) return { ok: false, code: "bundle_expired" };
  let list;
  try { list = await parseTrustList(b.bundle.trust_list, d.trustRoot); } catch (e) { return { ok: false, code: "trust_list", detail: e.message }; }
  const res = await verifySeal(text.trim(), list);
  res.bag = res.claims ? b.bundle.bags.find((g) => g.id === res.claims.bag_id) : null;
  res.text = text.trim();
  return res;
}

function renderVerdict(res) {
  const v = $("verdict");
  v.hidden = false;
  v.dataset.ok = String(res.ok);
  v.dataset.code = res.code;
  v.textContent = "";
  v.append(el("strong", { text: res.ok ? t("valid") : t("invalid") }));
  if (!res.ok) v.append(el("p", { className: "reason", text: `${t("reason")}: ${reason(res.code)} (${res.code})` }));
  if (res.claims) {
    const c = res.claims;
    const dl = el("dl");
    const row = (k, val) => dl.append(el("dt", { text: k }), el("dd", { text: val }));
    row(t("registry"), c.registry_number);
    row(t("pkg"), `${c.package} ${t("of")} ${c.packages}`);
    row("", `${c.origin} → ${c.destination}`);
    row("", res.bag ? t("carried") : t("notCarried"));
    if (res.bag) row(t("heldBy"), res.bag.held ? t("youHold") : res.bag.custodian);
    if (res.bag && res.bag.open_handoff) row(t("openRelease"), "→ " + res.bag.open_handoff.to);
    v.append(dl);
    v.dataset.carried = String(!!res.bag);
  }
}

async function onSealText(text) {
  if (!text.startsWith("VS1:") && !text.startsWith("VS")) return false;
  $("seal-text").value = text;
  const res = await checkSeal(text);
  scanned = res;
  renderVerdict(res);
  $("bag-actions").hidden = !(res.ok && res.bag && res.bag.held);
  $("do-cancel").hidden = !(res.bag && res.bag.held && res.bag.open_handoff);
  if (res.bag) $("count").value = String(res.bag.packages);
  return true;
}

async function queueAndMaybeSync(rec) {
  toast(`${t("kind_" + rec.kind)} #${rec.counter}: ${t("unsent")}`);
  if (navigator.onLine) syncSoon(100);
  return rec;
}

function counted(id) {
  const n = parseInt($(id).value, 10);
  return Number.isFinite(n) ? n : undefined;
}

async function doCheckpoint() {
  if (!scanned || !scanned.bag) return;
  const rec = await dev.record({ kind: "scan", bag_id: scanned.bag.id, seals: [scanned.text], packages_counted: counted("count"),
    seals_intact: true, place: $("place").value.trim() }, { registry: scanned.bag.registry_number });
  await queueAndMaybeSync(rec);
}

async function doRelease() {
  if (!scanned || !scanned.bag) return;
  const to = $("release-to").value.trim(), unit = $("release-unit").value.trim().toUpperCase();
  if (!to && !unit) { toast(t("to")); return; }
  const rec = await dev.record({ kind: "release", bag_id: scanned.bag.id, to: to || undefined, to_unit: to ? undefined : unit,
    place: $("place").value.trim() }, { registry: scanned.bag.registry_number });
  // The receiving phone embeds this signed release in its confirmation.
  const qr = qrcode(0, "M");
  qr.addData(dev.recordQR(rec.signed), "Byte");
  qr.make();
  const box = $("qr");
  box.textContent = "";
  box.append(svgQR(qr));
  $("release-qr").hidden = false;
  $("release-qr").scrollIntoView({ block: "center" });
  await queueAndMaybeSync(rec);
}

// doCancel withdraws the bag's unconfirmed release (the custodian only).
async function doCancel() {
  if (!scanned || !scanned.bag || !scanned.bag.open_handoff) return;
  const rec = await dev.record({ kind: "cancel", handoff_id: scanned.bag.open_handoff.id, place: $("place").value.trim() },
    { registry: scanned.bag.registry_number });
  $("do-cancel").hidden = true;
  await queueAndMaybeSync(rec);
}

// svgQR draws the modules as one SVG path (no inline style, no data URL).
function svgQR(qr) {
  const n = qr.getModuleCount(), q = 4;
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${n + 2 * q} ${n + 2 * q}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  let d = "";
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (qr.isDark(y, x)) d += `M${x + q} ${y + q}h1v1h-1z`;
  const bg = document.createElementNS(NS, "rect");
  bg.setAttribute("width", "100%"); bg.setAttribute("height", "100%"); bg.setAttribute("fill", "#fff");
  const p = document.createElementNS(NS, "path");
  p.setAttribute("d", d); p.setAttribute("fill", "#000");
  svg.append(bg, p);
  svg.id = "release-qr-svg";
  return svg;
}

// ---- confirmation: the releasing party's QR ----

let pendingConfirm = null;

async function onConfirmText(text) {
  text = text.trim();
  const b = await dev.bundle();
  if (text.startsWith("VS1:")) {
    // A registry (or anyone online) released the bag to this courier: the
    // bundle names the open release; the courier confirms it by a seal.
    const res = await checkSeal(text);
    const me = (await dev.device()).username;
    const open = res.bag && res.bag.open_handoff;
    if (!res.ok || !open || open.to !== me) return false;
    pendingConfirm = { bag: res.bag, handoffID: open.id, seals: [res.text], payload: { bag_id: res.bag.id, to: me } };
    const box = $("confirm-what");
    box.hidden = false;
    box.textContent = `${t("kind_release")}: ${res.bag.registry_number} → ${me} (${res.bag.custodian})`;
    $("confirm-count").value = String(res.bag.packages);
    return true;
  }
  try {
    const { record, payload } = dev.parseRecordQR(text);
    const bag = b && b.bundle.bags.find((g) => g.id === payload.bag_id);
    pendingConfirm = { release: record, bag, payload };
    const box = $("confirm-what");
    box.hidden = false;
    box.textContent = `${t("kind_release")}: ${bag ? bag.registry_number : payload.bag_id} → ${payload.to || payload.to_unit}`;
    if (bag) $("confirm-count").value = String(bag.packages);
    return true;
  } catch {
    return false;
  }
}

async function doConfirm() {
  if (!pendingConfirm) await onConfirmText($("confirm-text").value);
  if (!pendingConfirm) { toast(t("confirmHint")); return; }
  const { release, bag, payload, handoffID, seals } = pendingConfirm;
  const rec = await dev.record({ kind: "confirm", bag_id: handoffID ? undefined : payload.bag_id, handoff_id: handoffID, release,
    seals, packages_counted: counted("confirm-count"), seals_intact: $("confirm-intact").checked },
  { registry: bag ? bag.registry_number : "" });
  pendingConfirm = null;
  await queueAndMaybeSync(rec);
  show("queue");
}

// ---- the record queue, results and receipts ----

async function renderQueue() {
  const list = $("records");
  const recs = (await dev.records()).reverse();
  const last = await store.get("lastSync");
  $("sync-info").textContent = `${navigator.onLine ? t("online") : t("offline")} · ${t("synced")}: ${last ? new Date(last).toLocaleString(current()) : "—"}`;
  list.textContent = "";
  if (!recs.length) list.append(el("li", { text: t("nothing") }));
  const d = await dev.device();
  for (const r of recs) {
    const li = el("li", { "data-status": r.status, "data-counter": String(r.counter), "data-kind": r.kind, "data-reason": r.reason || "" });
    const status = r.status === "accepted" && !r.receipt ? `${t("accepted")} · ${t("waiting")}` : t(r.status);
    li.append(el("div", { text: `${t("counter")} ${r.counter} · ${t("kind_" + r.kind)} · ${r.bag}${r.to ? " → " + r.to : ""}` }),
      el("div", { className: "status", text: status }),
      el("div", { className: "muted", text: new Date(r.createdAt).toLocaleString(current()) }));
    if (r.status === "refused") li.append(el("div", { className: "reason", text: `${t("reason")}: ${reason(r.reason)} (${r.reason}) ${r.detail || ""}` }));
    if (r.receipt) {
      const out = el("div", { className: "receipt" });
      const btn = el("button", { className: "secondary verify-receipt", text: t("verify") });
      btn.addEventListener("click", async () => {
        try {
          const v = await verifyReceipt(d.logKey || (await dev.bundle()).bundle.log_key, r.receipt);
          out.dataset.ok = "true";
          out.textContent = `${t("receiptOK")}: ${t("leaf")} ${v.index} / ${v.size} (${v.origin})`;
        } catch (e) {
          out.dataset.ok = "false";
          out.textContent = `${t("receiptBad")}: ${e.message}`;
        }
      });
      li.append(btn, out);
    }
    list.append(li);
  }
}

let syncing = false, syncTimer = 0;

function syncSoon(ms) {
  clearTimeout(syncTimer);
  syncTimer = setTimeout(() => syncNow(false), ms);
}

async function syncNow(manual) {
  if (syncing) return;
  syncing = true;
  try {
    const out = await dev.sync();
    if (manual || out.sent) toast(`${t("syncNow")}: ${out.sent}`);
    if (out.sent) await dev.refreshBundle().catch(() => {});
  } catch (e) {
    if (manual) toast(e.message);
  } finally {
    syncing = false;
    document.body.dataset.synced = String(Date.now());
  }
  if (view === "queue") await renderQueue();
  if (view === "home") await renderHome();
}

function renderNet() {
  const n = $("net");
  n.dataset.state = navigator.onLine ? "online" : "offline";
  n.textContent = navigator.onLine ? t("online") : t("offline");
}

// ---- settings ----

async function applySettings() {
  const s = (await store.get("settings")) || {};
  setLang(s.lang || (navigator.language || "en").slice(0, 2));
  document.documentElement.classList.toggle("contrast", !!s.contrast);
  $("contrast").checked = !!s.contrast;
  $("lang").value = current();
  apply();
  renderNet();
}

async function saveSettings() {
  await store.put("settings", { lang: $("lang").value, contrast: $("contrast").checked });
  await applySettings();
  if (view === "home") renderHome();
}

// ---- start ----

async function main() {
  for (const [code, name] of Object.entries(LANGS)) $("lang").append(el("option", { value: code, text: name }));
  await applySettings();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  $("enrol-go").addEventListener("click", doEnrol);
  $("enrol-scan").addEventListener("click", () => startCamera($("video0"), onEnrolText));
  $("bundle-refresh").addEventListener("click", async () => {
    try { await dev.refreshBundle(); toast(t("bundle") + " ✓"); } catch (e) { toast(e.message); }
    renderHome();
  });
  $("go-scan").addEventListener("click", () => show("scan"));
  $("go-confirm").addEventListener("click", () => show("confirm"));
  $("go-queue").addEventListener("click", () => show("queue"));
  $("go-settings").addEventListener("click", () => show("settings"));
  for (const b of document.querySelectorAll("button.back")) b.addEventListener("click", () => show("home"));
  $("seal-check").addEventListener("click", () => onSealText($("seal-text").value.trim() || "VS?"));
  $("do-checkpoint").addEventListener("click", doCheckpoint);
  $("do-release").addEventListener("click", doRelease);
  $("do-cancel").addEventListener("click", doCancel);
  $("do-confirm").addEventListener("click", doConfirm);
  $("sync-now").addEventListener("click", () => syncNow(true));
  $("lang").addEventListener("change", saveSettings);
  $("contrast").addEventListener("change", saveSettings);
  window.addEventListener("online", () => { renderNet(); syncSoon(500); });
  window.addEventListener("offline", renderNet);
  setInterval(() => { renderNet(); if (navigator.onLine) syncSoon(0); }, 20000);
  const d = await dev.device();
  if (!d) {
    show("enrol");
    const code = new URLSearchParams(location.hash.slice(1)).get("code");
    if (code) $("enrol-code").value = code;
  } else {
    show("home");
    if (navigator.onLine) { dev.refreshBundle().then(renderHome).catch(() => {}); syncSoon(1000); }
  }
  document.body.dataset.ready = "1";
}

main();
