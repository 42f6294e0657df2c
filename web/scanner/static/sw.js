// The scanner's service worker: the app shell is cached on install and
// served from the cache (refreshed in the background when online), so the
// app opens with no network; /mobile/v1 always goes to the network (the
// app keeps its own data in IndexedDB).
const CACHE = "valise-scanner-v1";
const SHELL = ["/app/", "/app/app.css", "/app/app.js", "/app/verify.js", "/app/device.js", "/app/store.js", "/app/i18n.js",
  "/app/jsqr.js", "/app/qrcode.mjs", "/app/manifest.webmanifest", "/app/icon.svg",
  "/app/icon-192.png", "/app/icon-512.png"];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((ks) => Promise.all(ks.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/app/")) return;
  const key = url.pathname === "/app/index.html" ? "/app/" : url.pathname;
  e.respondWith(caches.open(CACHE).then(async (c) => {
    const hit = await c.match(key);
    const fresh = fetch(e.request).then((res) => { if (res.ok) c.put(key, res.clone()); return res; });
    if (hit) { fresh.catch(() => {}); return hit; }
    return fresh;
  }));
});
