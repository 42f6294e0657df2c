// IndexedDB: the device (its non-extractable key pair, id, pinned keys),
// the saved bundle, and the record chain with every record's sync result.

const DB = "valise-scanner", VERSION = 1;
let dbp = null;

function open() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, VERSION);
      r.onupgradeneeded = () => {
        r.result.createObjectStore("kv");
        r.result.createObjectStore("records", { keyPath: "counter" });
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  return dbp;
}

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function tx(store, mode, fn) {
  const db = await open();
  const t = db.transaction(store, mode);
  const out = await fn(t.objectStore(store));
  await new Promise((resolve, reject) => { t.oncomplete = resolve; t.onerror = () => reject(t.error); t.onabort = () => reject(t.error); });
  return out;
}

export const get = (key) => tx("kv", "readonly", (s) => req(s.get(key)));
export const put = (key, value) => tx("kv", "readwrite", (s) => req(s.put(value, key)));

export const records = () => tx("records", "readonly", (s) => req(s.getAll()));
export const putRecord = (r) => tx("records", "readwrite", (s) => req(s.put(r)));

// saveRecord stores a signed record and the chain position after it in
// one transaction (the caller holds the signing lock, see device.js).
export async function saveRecord(record, chain) {
  const db = await open();
  const t = db.transaction(["kv", "records"], "readwrite");
  t.objectStore("records").put(record);
  t.objectStore("kv").put(chain, "chain");
  await new Promise((resolve, reject) => { t.oncomplete = resolve; t.onerror = () => reject(t.error); t.onabort = () => reject(t.error); });
  return record;
}

export async function reset() {
  const db = await open();
  db.close();
  dbp = null;
  await req(indexedDB.deleteDatabase(DB));
}
