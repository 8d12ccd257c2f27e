// PNG export of a panel: the image (nearest-neighbour upscaled), its colour bar with tick labels
// and a title, on a white background.

import { colorbarPixels } from "./compose.js";
import { getColormap } from "./colormaps.js";

/**
 * Draw the panel onto a new canvas and return it.
 * image: a canvas at data resolution; colormap: name or null (no bar); ticks: [{ label, frac }].
 */
export function panelCanvas({ image, title = "", colormap = null, ticks = [], target = 512 }) {
  const s = Math.max(1, Math.floor(target / Math.max(image.width, image.height)));
  const w = image.width * s;
  const hgt = image.height * s;
  const pad = 10;
  const titleH = title ? 22 : 0;
  const barW = colormap ? 16 : 0;
  const labelW = colormap ? 70 : 0;
  const out = document.createElement("canvas");
  out.width = pad + w + (colormap ? pad + barW + labelW : pad);
  out.height = pad + titleH + hgt + pad;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = "#111";
  ctx.font = "13px sans-serif";
  ctx.textBaseline = "middle";
  if (title) ctx.fillText(title, pad, pad + titleH / 2 - 2, out.width - 2 * pad);
  ctx.imageSmoothingEnabled = false;
  const top = pad + titleH;
  ctx.drawImage(image, pad, top, w, hgt);
  if (colormap) {
    const bar = document.createElement("canvas");
    bar.width = 1;
    bar.height = 256;
    const bctx = bar.getContext("2d");
    const img = bctx.createImageData(1, 256);
    img.data.set(colorbarPixels(getColormap(colormap)));
    bctx.putImageData(img, 0, 0);
    const x = pad + w + pad;
    ctx.drawImage(bar, x, top, barW, hgt);
    ctx.strokeStyle = "#888";
    ctx.strokeRect(x + 0.5, top + 0.5, barW - 1, hgt - 1);
    ctx.fillStyle = "#111";
    for (const t of ticks) {
      const y = top + (1 - t.frac) * (hgt - 1);
      ctx.fillRect(x + barW, Math.round(y), 4, 1);
      ctx.fillText(t.label, x + barW + 6, Math.min(Math.max(y, top + 6), top + hgt - 6));
    }
  }
  return out;
}

/** Start a download of a data URL under `filename`. */
export function downloadURL(url, filename) {
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.style.display = "none";
  document.body.append(a);
  a.click();
  a.remove();
}

/** A file-name-safe version of a string. */
export function safeName(text) {
  return String(text).replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_+|_+$/g, "") || "panel";
}
