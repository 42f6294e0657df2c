// The console's one script (a module: no inline script anywhere). It only
// helps; every page works without it.
//  - The sign-in form sends the browser's time zone, so dates show in it.
//  - A seal-scan field gets a "Scan with camera" button where the browser
//    has a camera (a laptop's): QR codes are read with the browser's
//    BarcodeDetector, or the vendored jsQR where there is none (Chromium on
//    Linux); a handheld scanner simply types each QR's VS1 text and Enter
//    into the field.
for (const el of document.querySelectorAll("input.detect-tz")) {
  try { el.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (_) { /* UTC stays */ }
}

// Camera scanning: the browser's BarcodeDetector where it reads QR codes,
// else the scanner app's vendored jsQR (fetched from the server the first
// time a scan starts: pages that never scan never load it).
let jsQRLoad = null;
function loadJsQR() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  jsQRLoad ??= new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "/console/static/jsqr.js";
    s.onload = () => (window.jsQR ? resolve(window.jsQR) : reject(new Error("no jsQR")));
    s.onerror = () => { jsQRLoad = null; reject(new Error("jsQR did not load")); };
    document.head.append(s);
  });
  return jsQRLoad;
}

// decoder returns a function from a playing video to the QR texts it sees.
async function decoder() {
  if ("BarcodeDetector" in window) {
    try {
      if ((await window.BarcodeDetector.getSupportedFormats()).includes("qr_code")) {
        const d = new window.BarcodeDetector({ formats: ["qr_code"] });
        return { name: "barcodedetector", read: async (video) => (await d.detect(video).catch(() => [])).map((c) => c.rawValue) };
      }
    } catch (_) { /* fall back to jsQR */ }
  }
  const jsQR = await loadJsQR();
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  return {
    name: "jsqr",
    read: async (video) => {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0);
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const code = jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
      return code ? [code.data] : [];
    },
  };
}

if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  for (const field of document.querySelectorAll("textarea.scan")) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = field.dataset.camera || "Scan with camera";
    button.setAttribute("aria-controls", field.id);
    const status = document.createElement("span");
    status.className = "hint";
    status.setAttribute("role", "status");
    field.after(button, status);
    let scan = null; // the running scan: its stream and video
    const stop = () => {
      if (!scan) return;
      scan.stream.getTracks().forEach((t) => t.stop());
      scan.video.remove();
      scan = null;
      button.setAttribute("aria-pressed", "false");
    };
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", async () => {
      if (scan) { stop(); return; }
      let stream, read;
      try {
        read = await decoder();
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment", width: { ideal: 1280 } }, audio: false });
      } catch (_) {
        status.textContent = field.dataset.cameraOff || "The camera is not available.";
        return;
      }
      field.dataset.decoder = read.name;
      status.textContent = "";
      const video = document.createElement("video");
      video.setAttribute("aria-label", button.textContent);
      video.playsInline = true;
      video.muted = true;
      button.after(video);
      const me = { stream, video };
      scan = me;
      button.setAttribute("aria-pressed", "true");
      video.srcObject = stream;
      await video.play().catch(() => {});
      const tick = async () => {
        if (scan !== me) return;
        let texts = [];
        if (video.readyState >= 2 && video.videoWidth) texts = await read.read(video).catch(() => []);
        const text = texts.find((v) => v.startsWith("VS1:"));
        if (text) {
          if (!field.value.includes(text)) field.value += (field.value && !field.value.endsWith("\n") ? "\n" : "") + text + "\n";
          status.textContent = field.dataset.scanned || "";
          stop();
          field.focus();
          return;
        }
        setTimeout(tick, 150);
      };
      tick();
    });
  }
}
