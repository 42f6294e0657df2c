// Runs the app's verify.js on the Go implementation's vector files
// (crypto/seal/testdata/vectors) and publishes one result per file.
import { verifySeal, parseTrustList, verifyReceipt, base45Decode, cborDecode } from "/app/verify.js";

async function run() {
  const names = await (await fetch("/vectors/")).json();
  const results = [];
  for (const name of names) {
    const v = await (await fetch("/vectors/" + name)).json();
    const r = { file: name };
    try {
      if (name.startsWith("receipt")) {
        try {
          const got = await verifyReceipt(v.log_key, v.receipt);
          r.ok = true;
          r.index = got.index;
          r.size = got.size;
          r.leaf = btoa(got.leaf);
        } catch (e) {
          r.ok = false;
          r.error = e.message;
        }
      } else {
        const list = await parseTrustList(v.trust_list, v.trust_root, Date.parse(v.now));
        const got = await verifySeal(v.text, list, Date.parse(v.now));
        r.code = got.code;
        r.claims = got.claims || null;
      }
    } catch (e) {
      r.exception = String(e && e.stack || e);
    }
    results.push(r);
  }
  // A few strictness checks of the codec beyond the vectors.
  const refuses = (f) => { try { f(); return false; } catch (e) { return e.code || "error"; } };
  results.push({ file: "codec", checks: {
    base45_length: refuses(() => base45Decode("A")),
    base45_char: refuses(() => base45Decode("a0")),
    cbor_nonshortest: refuses(() => cborDecode(new Uint8Array([0x18, 0x01]))),
    cbor_indefinite: refuses(() => cborDecode(new Uint8Array([0x9f, 0xff]))),
    cbor_dupkey: refuses(() => cborDecode(new Uint8Array([0xa2, 0x01, 0x01, 0x01, 0x02]))),
    cbor_trailing: refuses(() => cborDecode(new Uint8Array([0x01, 0x01]))),
    cbor_float: refuses(() => cborDecode(new Uint8Array([0xf9, 0x3c, 0x00]))),
  } });
  // How long one offline seal check takes here (trust list parsed once).
  const v = await (await fetch("/vectors/valid.json")).json();
  const list = await parseTrustList(v.trust_list, v.trust_root, Date.parse(v.now));
  const n = 200, t0 = performance.now();
  for (let i = 0; i < n; i++) await verifySeal(v.text, list, Date.parse(v.now));
  const t1 = performance.now();
  for (let i = 0; i < 20; i++) await parseTrustList(v.trust_list, v.trust_root, Date.parse(v.now));
  results.push({ file: "timing", seal_ms: (t1 - t0) / n, trust_list_ms: (performance.now() - t1) / 20 });
  window.vectorResults = results;
  document.getElementById("out").textContent = JSON.stringify(results, null, 2);
  document.body.dataset.done = "1";
}
run().catch((e) => { window.vectorResults = [{ exception: String(e) }]; document.body.dataset.done = "1"; });
