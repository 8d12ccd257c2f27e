// The PNG button: Python composes the picture (the same one `save_png` writes and the notebook
// keeps as its static fallback) and sends it back; the browser downloads those bytes.

import { toBytes } from "../codec.js";

/** Start a download of `bytes` (Uint8Array) as `filename`. */
export function downloadBytes(bytes, filename, type = "image/png") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.style.display = "none";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * createPngExport(sync, root, { onError }) -> request(scale): asks Python for the picture; the
 * answer ({ type: "png", filename } + one buffer) is downloaded, and `root.dataset.lastPng` records
 * its size in bytes (tests read it).
 */
export function createPngExport(sync, root, { onError } = {}) {
  sync.on("msg:custom", (content, buffers) => {
    if (content?.type === "png" && buffers?.length) {
      const bytes = toBytes(buffers[0]);
      root.dataset.lastPng = String(bytes.byteLength);
      downloadBytes(bytes, content.filename || "cam.png");
    } else if (content?.type === "error") {
      onError?.(content.message);
    }
  });
  return (scale = 2) => sync.model.send({ type: "png", scale });
}
