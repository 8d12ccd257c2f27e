// Pure pixel composition (no DOM): a grey, windowed base slice blended with a colour-mapped
// overlay slice, and the colour bar of the overlay.
//
// A "slice" here is { data, dtype, vmin, vmax } (a decoded array, or one whose data was replaced
// by a 2D slice of it): real values are read through the codec's linear parameters.
//
// Overlay transparency (documented behaviour): a pixel shows the base alone (overlay alpha 0) where
//   - `relu` is on and the overlay value is negative, or
//   - `hideZero` is on (the viewer's default) and the overlay value is 0, i.e. within half a uint8
//     quantisation step of 0 (|v| <= (vmax - vmin) / 510; exactly 0 for float32).
// Everywhere else the colour is blended with alpha a:
//   out = round(grey * (1 - a) + colour * a), alpha channel 255,
// with grey = clip((v - low) / (high - low), 0, 1) * 255 unrounded, and every rounding half to even
// (numpy's), so that cam_widgets/widgets/render.py can reproduce the pixels,
// where a = opacity, or with `fade` (the viewer's default for signed maps)
//   a = opacity * min(1, 2 |v| / m), m = max(|vmin|, |vmax|),
// so that values near 0 fade into the base image instead of veiling it in the centre colour
// (white in RdBu); values from half the maximum magnitude up get the full opacity.

import { linearParams, zeroTolerance } from "./codec.js";
import { getColormap, roundHalfEven } from "./colormaps.js";

/** The window [low, high] in real units: `window` when it is a valid pair, else the full range. */
export function windowRange(base, window) {
  if (Array.isArray(window) && window.length === 2) {
    const lo = Number(window[0]);
    const hi = Number(window[1]);
    if (Number.isFinite(lo) && Number.isFinite(hi) && hi >= lo) return [lo, hi];
  }
  return [base.vmin, base.vmax];
}

/**
 * The value range mapped onto the colormap: [vmin, vmax] of the map, or for a signed map
 * [-m, m] with m = max(|vmin|, |vmax|), so that 0 falls on the centre (white in RdBu).
 */
export function overlayRange(overlay, signed) {
  if (signed) {
    const m = Math.max(Math.abs(overlay.vmin), Math.abs(overlay.vmax));
    return [-m, m];
  }
  return [overlay.vmin, overlay.vmax];
}

/** Colormap index 0..255 of value v for the range [cmin, cmax] (clipped). */
export function colorIndex(v, cmin, cmax) {
  if (!(cmax > cmin)) return v > cmin ? 255 : 0;
  const t = (v - cmin) / (cmax - cmin);
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return roundHalfEven(t * 255);
}

/** Grey level 0..255 (unrounded) of value v for the window [lo, hi]: clipped; a step at lo when lo == hi. */
export function greyLevel(v, lo, hi) {
  if (!(hi > lo)) return v >= lo ? 255 : 0;
  const t = (v - lo) / (hi - lo);
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return t * 255;
}


/**
 * RGBA pixels (Uint8ClampedArray, 4 per pixel) of `base` with `overlay` blended on top.
 * options: window [lo, hi] (real units, [] / null = full range), colormap (name or 768-byte LUT;
 * signed maps use "RdBu" whatever is passed), signed, opacity 0..1, relu, hideZero (default true),
 * fade (alpha = opacity * min(1, 2|v| / max|v|); default false).
 * A colour base carries `channels` (the r, g, b slices, one value range for all three, so the
 * window applies to them jointly); each channel is blended as the grey level is:
 *   out_c = round(level_c * (1 - a) + colour_c * a).
 * `out` is reused when it has the right length. `overlay` may be null (base only).
 */
export function composeRGBA(base, overlay, options = {}, out) {
  const planes = base.channels ?? [base.data, base.data, base.data];
  const n = planes[0].length;
  if (overlay && overlay.data.length !== n) {
    throw new Error(`overlay has ${overlay.data.length} values, base ${n}`);
  }
  // Uint8ClampedArray stores a number rounded half to even and clamped to 0..255 (ToUint8Clamp):
  // the rounding numpy does, for free.
  const rgba = out instanceof Uint8ClampedArray && out.length === 4 * n ? out : new Uint8ClampedArray(4 * n);
  const [lo, hi] = windowRange(base, options.window);
  const table = levelTable(base, (v) => greyLevel(v, lo, hi), Float64Array);
  const bp = linearParams(base);
  const level = table ? (q) => table[q] : (q) => greyLevel(bp.offset + bp.scale * q, lo, hi);
  const [r, g, b] = planes;
  const coder = overlay ? overlayCoder(overlay, options) : null;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const lr = level(r[i]);
    const lg = r === g ? lr : level(g[i]);
    const lb = r === b ? lr : level(b[i]);
    const c = coder ? coder.code(i) : -1;
    if (c < 0) {
      rgba[j] = lr; rgba[j + 1] = lg; rgba[j + 2] = lb;
    } else {
      const a = coder.alpha(i);
      const k = 3 * c;
      const keep = 1 - a;
      rgba[j] = keep * lr + a * coder.lut[k];
      rgba[j + 1] = keep * lg + a * coder.lut[k + 1];
      rgba[j + 2] = keep * lb + a * coder.lut[k + 2];
    }
    rgba[j + 3] = 255;
  }
  return rgba;
}

/** Per element of `overlay`: its colormap index (-1 = not drawn) and its alpha (module doc). */
function overlayCoder(overlay, options) {
  const signed = !!options.signed;
  const lut = signed ? getColormap("RdBu") : typeof options.colormap === "string" || options.colormap == null
    ? getColormap(options.colormap ?? "inferno") : options.colormap;
  const opacity = Math.min(Math.max(Number(options.opacity ?? 0.5), 0), 1);
  const relu = !!options.relu;
  const hideZero = options.hideZero ?? true;
  const fade = !!options.fade;
  const tol = zeroTolerance(overlay);
  const [cmin, cmax] = overlayRange(overlay, signed);
  const m = Math.max(Math.abs(overlay.vmin), Math.abs(overlay.vmax));
  const hidden = (v) => opacity === 0 || (relu && v < 0) || (hideZero && Math.abs(v) <= tol);
  const code = (v) => (hidden(v) ? -1 : colorIndex(v, cmin, cmax));
  const alpha = (v) => (fade ? (m > 0 ? opacity * Math.min((2 * Math.abs(v)) / m, 1) : 0) : opacity);
  const od = overlay.data;
  // 256-entry tables for uint8 maps
  const codes = levelTable(overlay, code, Int16Array);
  const alphas = levelTable(overlay, alpha, Float64Array);
  if (codes) return { lut, code: (i) => codes[od[i]], alpha: (i) => alphas[od[i]] };
  const op = linearParams(overlay);
  return { lut, code: (i) => code(op.offset + op.scale * od[i]), alpha: (i) => alpha(op.offset + op.scale * od[i]) };
}

/** For a uint8 array, f applied to the real value of each of the 256 codes; null otherwise. */
function levelTable(array, f, Type = Uint8Array) {
  if (array.dtype !== "uint8") return null;
  const { scale, offset } = linearParams(array);
  const table = new Type(256);
  for (let q = 0; q < 256; q++) table[q] = f(offset + scale * q);
  return table;
}

/**
 * RGBA pixels of a colour bar: `length` entries along the bar (low to high), `thickness` across.
 * Vertical bars put the high end at the top (row 0); horizontal bars put it on the right.
 */
export function colorbarPixels(colormap, { length = 256, thickness = 1, vertical = true } = {}) {
  const lut = typeof colormap === "string" ? getColormap(colormap) : colormap;
  const rgba = new Uint8ClampedArray(4 * length * thickness);
  for (let a = 0; a < length; a++) {
    const idx = length === 1 ? 255 : roundHalfEven((a / (length - 1)) * 255);
    for (let b = 0; b < thickness; b++) {
      const p = vertical ? (length - 1 - a) * thickness + b : b * length + a;
      rgba[4 * p] = lut[3 * idx];
      rgba[4 * p + 1] = lut[3 * idx + 1];
      rgba[4 * p + 2] = lut[3 * idx + 2];
      rgba[4 * p + 3] = 255;
    }
  }
  return rgba;
}

/**
 * Tick marks of the colour bar of `overlay`: [{ value, label, frac }] with frac the position from
 * the low end (0) to the high end (1): vmin, 0 for signed maps, vmax.
 */
export function colorbarTicks(overlay, signed) {
  const [cmin, cmax] = overlayRange(overlay, signed);
  const ticks = [{ value: cmin, frac: 0 }];
  if (signed) ticks.push({ value: 0, frac: 0.5 });
  ticks.push({ value: cmax, frac: 1 });
  return ticks.map((t) => ({ ...t, label: formatValue(t.value) }));
}

/** A short readable number: 3 significant digits, exponent for very small or large values. */
export function formatValue(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (v === 0 || Object.is(v, -0)) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}
