// The console's one script (a module: no inline script anywhere). It only
// helps; every page works without it.
//  - The sign-in form sends the browser's time zone, so dates show in it.
//  - A seal-scan field gets a "Scan with camera" button where the browser
//    has a barcode detector (a laptop's camera); a handheld scanner simply
//    types each QR's VS1 text and Enter into the field.
for (const el of document.querySelectorAll("input.detect-tz")) {
  try { el.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (_) { /* UTC stays */ }
}

if ("BarcodeDetector" in window && navigator.mediaDevices) {
  for (const field of document.querySelectorAll("textarea.scan")) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = field.dataset.camera || "Scan with camera";
    field.after(button);
    button.addEventListener("click", async () => {
      const video = document.createElement("video");
      video.setAttribute("aria-label", button.textContent);
      video.playsInline = true;
      button.after(video);
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream;
      await video.play();
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      const tick = async () => {
        const codes = await detector.detect(video).catch(() => []);
        const text = codes.map((c) => c.rawValue).find((v) => v.startsWith("VS1:"));
        if (text) {
          if (!field.value.includes(text)) field.value += (field.value && !field.value.endsWith("\n") ? "\n" : "") + text + "\n";
          stream.getTracks().forEach((t) => t.stop());
          video.remove();
          field.focus();
          return;
        }
        requestAnimationFrame(tick);
      };
      tick();
    });
  }
}
