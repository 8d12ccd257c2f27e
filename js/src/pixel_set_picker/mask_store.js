// The picker's pixel set M over the whole input (0/1 per voxel): combining a stroke drawn on a
// slice along any axis, the slices that hold part of M, and the mask_bits dicts sent to Python.

import { countSet, decodeMask, encodeMask } from "../mask_codec.js";
import { combineStroke } from "../rasterize.js";
import { extractSlice, viewAxes } from "../slicing.js";

/**
 * Combine a slice stroke (rows x cols of the slice along `axis` at `index`) into the volume mask
 * (C order, `shape`) in place: "replace" clears all of M first, "add" sets, "subtract" clears.
 */
export function combineAlong(mask, shape, axis, index, stroke, mode) {
  if (shape.length === 2 || axis === 0) {
    const n = shape.length === 2 ? 0 : shape[1] * shape[2];
    return combineStroke(mask, stroke, mode, index * n);
  }
  if (!["replace", "add", "subtract"].includes(mode)) throw new Error(`mode must be "replace", "add" or "subtract", got "${mode}"`);
  if (mode === "replace") mask.fill(0);
  const { rowAxis, colAxis } = viewAxes(3, axis);
  const strides = [shape[1] * shape[2], shape[2], 1];
  const cols = shape[colAxis];
  const value = mode === "subtract" ? 0 : 1;
  for (let i = 0; i < stroke.length; i++) {
    if (!stroke[i]) continue;
    const row = Math.floor(i / cols);
    const col = i - row * cols;
    mask[index * strides[axis] + row * strides[rowAxis] + col * strides[colAxis]] = value;
  }
  return mask;
}

/** The indices of the slices along `axis` that hold at least one voxel of M (3D shapes). */
export function slicesWithMask(mask, shape, axis) {
  if (shape.length !== 3) return [];
  const [D, H, W] = shape;
  const hit = new Uint8Array(shape[axis]);
  for (let z = 0, i = 0; z < D; z++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++, i++) {
        if (mask[i]) hit[axis === 0 ? z : axis === 1 ? y : x] = 1;
      }
    }
  }
  const out = [];
  for (let k = 0; k < hit.length; k++) if (hit[k]) out.push(k);
  return out;
}

/** createMaskStore() -> M for the current image, loaded from and encoded to mask_bits dicts. */
export function createMaskStore() {
  let mask = new Uint8Array(0);
  let shape = null;
  return {
    get mask() { return mask; },
    get shape() { return shape; },
    /** Make M the empty set of `imageShape` (null: no image). */
    reset(imageShape) {
      shape = imageShape ? [...imageShape] : null;
      const n = shape ? shape.reduce((a, b) => a * b, 1) : 0;
      if (mask.length !== n) mask = new Uint8Array(n);
      else mask.fill(0);
    },
    /** Load M from a mask_bits dict (throws with a readable message on a bad one). */
    load(bits) {
      mask.fill(0);
      if (shape) decodeMask(bits, shape, mask);
    },
    /** M along `axis` at `index` (a view for axis 0, else a copy). */
    slice(axis, index) {
      return shape.length === 2 ? mask : extractSlice(mask, shape, axis, index);
    },
    combine(axis, index, stroke, mode) {
      combineAlong(mask, shape, axis, index, stroke, mode);
    },
    fill(value) {
      mask.fill(value);
    },
    count: () => countSet(mask),
    /** The mask_bits dict of M ({} for the empty set). */
    encode() {
      return shape && countSet(mask) > 0 ? encodeMask(mask, shape) : {};
    },
    slices: (axis) => (shape ? slicesWithMask(mask, shape, axis) : []),
  };
}
