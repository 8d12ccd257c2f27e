// 256-entry RGB lookup tables built from a few control points by linear interpolation.
// A table is a Uint8Array of 768 bytes: entry i is (r, g, b) at 3 * i.
//
// The control points are shared with Python (cam_widgets/widgets/colormaps.json, read by
// cam_widgets/widgets/colormaps.py): evenly spaced RGB points, interpolated at i / 255 and rounded
// half to even exactly as numpy does, so the browser and the static PNG use identical tables.

import POINTS from "../../cam_widgets/widgets/colormaps.json" with { type: "json" };

/** name -> evenly spaced [r, g, b] control points (first at 0, last at 1). */
export const CONTROL_POINTS = POINTS;

/** Colormaps a user can pick for unsigned maps (signed maps always use RdBu). */
export const OVERLAY_COLORMAPS = ["inferno", "viridis", "jet", "hot"];
/** The diverging map of signed maps: blue negative, (near) white at 0, red positive. */
export const DIVERGING = "RdBu";

/** Round half to even (numpy's rounding). */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Linear interpolation at t in [0, 1] of evenly spaced control points (as numpy.interp). */
export function interpolate(points, t) {
  const n = points.length;
  if (n === 1 || t <= 0) return points[0].slice();
  if (t >= 1) return points[n - 1].slice();
  const x = t * (n - 1);
  const k = Math.min(Math.floor(x), n - 2);
  const f = x - k;
  return [0, 1, 2].map((j) => points[k][j] + f * (points[k + 1][j] - points[k][j]));
}

/** A 256-entry table from evenly spaced control points. */
export function buildLut(points) {
  const lut = new Uint8Array(768);
  for (let i = 0; i < 256; i++) {
    const c = interpolate(points, i / 255);
    for (let j = 0; j < 3; j++) lut[3 * i + j] = Math.min(Math.max(roundHalfEven(c[j]), 0), 255);
  }
  return lut;
}

const cache = new Map();

/** The lookup table of a named colormap (cached). Unknown names throw. */
export function getColormap(name) {
  let lut = cache.get(name);
  if (!lut) {
    const points = CONTROL_POINTS[name];
    if (!points) throw new Error(`unknown colormap "${name}" (known: ${Object.keys(CONTROL_POINTS).join(", ")})`);
    lut = buildLut(points);
    cache.set(name, lut);
  }
  return lut;
}

/** [r, g, b] of entry i. */
export function lutColor(lut, i) {
  return [lut[3 * i], lut[3 * i + 1], lut[3 * i + 2]];
}

/** Luma (Rec. 601) of an RGB colour. */
export function luminance([r, g, b]) {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}
