// Navigation rules as pure functions (tested in node): the input's real voxel indices versus the
// display grid, zoom and pan, and keyboard steps.
//
// Slice, crosshair and zoom centre are always in the input's own voxel indices (`input_shape`),
// also when the image is shown downsampled: an axis of n real voxels shown with d display pixels
// puts real index i on display index floor(i * d / n), and display pixel p stands for the real
// index floor((p + 0.5) * n / d) (its centre).

import { viewAxes } from "../slicing.js";

export const ZOOM_MIN = 1;
export const ZOOM_MAX = 64;
export const WHEEL_STEP = 1.25; // zoom factor per wheel notch

/** Display index of real index i (n real voxels, d shown). */
export function displayIndex(i, n, d) {
  if (!(n > 0 && d > 0)) return 0;
  return Math.min(Math.max(Math.floor((Number(i) * d) / n), 0), d - 1);
}

/** Real index of display pixel p (its centre). */
export function realIndex(p, n, d) {
  if (!(n > 0 && d > 0)) return 0;
  return Math.min(Math.max(Math.floor(((Number(p) + 0.5) * n) / d), 0), n - 1);
}

/** A voxel (real indices) on the display grid. */
export function voxelToDisplay(voxel, real, shown) {
  return voxel.map((v, k) => displayIndex(v, real[k], shown[k]));
}

/** The real shape to use: `input_shape` when it matches the shown array's rank, else the shown shape. */
export function realShape(inputShape, shown) {
  return Array.isArray(inputShape) && inputShape.length === shown.length && inputShape.every((n) => n > 0)
    ? inputShape.map(Number) : [...shown];
}

/** The two axes other than `axis`: the orthogonal views of a volume shown beside the main one. */
export function otherAxes(axis) {
  return [0, 1, 2].filter((a) => a !== axis);
}

/** Clamp a zoom factor into [ZOOM_MIN, ZOOM_MAX] (non-numbers give 1). */
export function clampZoom(z) {
  z = Number(z);
  if (!Number.isFinite(z)) return 1;
  return Math.min(Math.max(z, ZOOM_MIN), ZOOM_MAX);
}

/** The centre of the input in voxel coordinates ((n - 1) / 2 per axis). */
export function centreOf(real) {
  return real.map((n) => (n - 1) / 2);
}

/**
 * A zoom centre (real voxel coordinates, one per axis) kept where the zoomed view stays filled:
 * per axis [n / (2 zoom) - 0.5, n - n / (2 zoom) - 0.5] (at zoom 1 the centre of the input).
 * [] or a centre of another rank gives the centre.
 */
export function clampCenter(center, real, zoom) {
  const z = clampZoom(zoom);
  const c = Array.isArray(center) && center.length === real.length ? center : centreOf(real);
  return c.map((v, k) => {
    const n = real[k];
    const lo = n / (2 * z) - 0.5;
    const hi = n - n / (2 * z) - 0.5;
    const x = Number.isFinite(Number(v)) ? Number(v) : (n - 1) / 2;
    return Math.min(Math.max(x, lo), hi);
  });
}

/**
 * The CSS transform of a panel slicing along `axis`: the canvas (cols x rows data pixels drawn at
 * `scale` CSS px each, i.e. fitted to the stage) is scaled by `zoom` and shifted so that the zoom
 * centre sits at the stage's centre. Returns { k, tx, ty } for `translate(tx, ty) scale(k)` with
 * transform-origin 0 0, and toStage(x, y) mapping data-pixel coordinates to stage CSS px.
 */
export function panelTransform({ zoom, center, real, axis, rows, cols, scale }) {
  const ndim = real.length;
  const { rowAxis, colAxis } = viewAxes(ndim, axis);
  const c = clampCenter(center, real, zoom);
  const k = clampZoom(zoom);
  const cx = ((c[colAxis] + 0.5) * cols) / real[colAxis];
  const cy = ((c[rowAxis] + 0.5) * rows) / real[rowAxis];
  const tx = (cols * scale) / 2 - k * scale * cx;
  const ty = (rows * scale) / 2 - k * scale * cy;
  return { k, tx, ty, toStage: (x, y) => ({ x: tx + k * scale * x, y: ty + k * scale * y }) };
}

/**
 * Zoom by `factor` about the data-pixel point (px, py) of a panel slicing along `axis`: the point
 * under the pointer stays where it is. Returns { zoom, center } (center in real voxel coordinates;
 * the axis the panel slices along keeps its centre).
 */
export function zoomAbout({ zoom, center, real, axis, rows, cols }, factor, px, py) {
  const ndim = real.length;
  const { rowAxis, colAxis } = viewAxes(ndim, axis);
  const z0 = clampZoom(zoom);
  const z1 = clampZoom(z0 * factor);
  const c = clampCenter(center, real, z0);
  const cx = ((c[colAxis] + 0.5) * cols) / real[colAxis];
  const cy = ((c[rowAxis] + 0.5) * rows) / real[rowAxis];
  const nx = px - (z0 / z1) * (px - cx);
  const ny = py - (z0 / z1) * (py - cy);
  const next = [...c];
  next[colAxis] = (nx * real[colAxis]) / cols - 0.5;
  next[rowAxis] = (ny * real[rowAxis]) / rows - 0.5;
  return { zoom: z1, center: clampCenter(next, real, z1) };
}

/** Pan a panel by (dx, dy) CSS px at `scale` CSS px per data pixel: the new centre (real voxels). */
export function panBy({ zoom, center, real, axis, rows, cols, scale }, dx, dy) {
  const { rowAxis, colAxis } = viewAxes(real.length, axis);
  const z = clampZoom(zoom);
  const c = clampCenter(center, real, z);
  const next = [...c];
  next[colAxis] -= (dx / (z * scale)) * (real[colAxis] / cols);
  next[rowAxis] -= (dy / (z * scale)) * (real[rowAxis] / rows);
  return clampCenter(next, real, z);
}

/** Round a centre for the trait (two decimals: enough for any zoom the widget allows). */
export function roundCenter(center) {
  return center.map((v) => Math.round(v * 100) / 100);
}

/** Keyboard steps: { slice: ±1 / ±10 } or { sample: ±1 }, or null for other keys. */
export function keyStep(key) {
  switch (key) {
    case "ArrowUp": case "ArrowRight": return { slice: 1 };
    case "ArrowDown": case "ArrowLeft": return { slice: -1 };
    case "PageUp": return { slice: 10 };
    case "PageDown": return { slice: -10 };
    case "]": return { sample: 1 };
    case "[": return { sample: -1 };
    default: return null;
  }
}

export const HELP_TEXT = [
  "Mouse: click or drag to move the crosshair (picker: draw with the tool)",
  "Wheel: zoom (up = in) · Ctrl/⌘ + drag or middle button: pan · double-click: reset zoom",
  "Keys (click the widget first): ↑/→ next slice, ↓/← previous, PgUp/PgDn ±10 slices",
  "[ and ]: previous / next sample of the batch",
].join("\n");
