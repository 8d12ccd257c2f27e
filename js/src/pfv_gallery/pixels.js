// The gallery's pixels, pure (no DOM): the 2D slice of one sample of a channel-last uint8 array, and the
// blend of the grey base with the PFV rgb that every card shows. Python's twins: take_slice and blend in
// cam_widgets/widgets/pfv_gallery_data.py (the static picture draws the same pixels).
//
//   out_c = round((1 - opacity) * grey + opacity * rgb_c)     (uint8 levels, rounding half to even)

import { roundHalfEven } from "../colormaps.js";
import { clampIndex, sliceDims } from "../slicing.js";

/** The spatial shape of an image array [n, ...spatial] (grey) or [n, ...spatial, 3] (rgb). */
export function spatialOf(shape, channels) {
  return channels > 1 ? shape.slice(1, -1) : shape.slice(1);
}

/**
 * The slice of sample `k` of `data` (C order, shape [n, ...spatial] for channels = 1, [n, ...spatial, 3] for
 * channels = 3) along `axis` at `index`, rows and columns as slicing.js (axis 0: rows y, cols x; axis 1: rows
 * z, cols x; axis 2: rows z, cols y): { data (rows * cols * channels values), rows, cols }. A 2D sample and
 * axis 0 are views; the other axes copy into `out` when it fits.
 */
export function sampleSlice(data, shape, channels, k, axis, index, out) {
  const spatial = spatialOf(shape, channels);
  const size = spatial.reduce((a, b) => a * b, 1) * channels;
  const sample = data.subarray(k * size, (k + 1) * size);
  if (spatial.length === 2) return { data: sample, rows: spatial[0], cols: spatial[1] };
  const [, H, W] = spatial;
  const { rows, cols } = sliceDims(spatial, axis);
  const strides = [H * W * channels, W * channels, channels];
  const start = clampIndex(index, spatial[axis]) * strides[axis];
  if (axis === 0) return { data: sample.subarray(start, start + rows * cols * channels), rows, cols };
  const rowStride = strides[0];
  const colStride = axis === 1 ? strides[2] : strides[1];
  const n = rows * cols * channels;
  const dst = out && out.length === n ? out : new Uint8Array(n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const from = start + r * rowStride + c * colStride;
      const to = (r * cols + c) * channels;
      for (let ch = 0; ch < channels; ch++) dst[to + ch] = sample[from + ch];
    }
  }
  return { data: dst, rows, cols };
}

/** RGBA pixels (`out`, rows * cols * 4) of `grey` (one level per pixel) blended with `rgb` (three per pixel). */
export function blendRGBA(grey, rgb, opacity, out) {
  const o = Math.min(Math.max(Number(opacity), 0), 1);
  const keep = 1 - o;
  for (let p = 0; p < grey.length; p++) {
    const g = grey[p];
    for (let c = 0; c < 3; c++) out[4 * p + c] = roundHalfEven(keep * g + o * rgb[3 * p + c]);
    out[4 * p + 3] = 255;
  }
  return out;
}

/**
 * The decoded image traits of the gallery, checked: { rgb, grey, n, spatial } or throws with what is wrong.
 * Both are uint8 levels of [0, 1] ({ vmin: 0, vmax: 1 }), rgb [n, ...spatial, 3] and grey [n, ...spatial].
 */
export function checkImages(rgb, grey, nCards) {
  for (const [name, a] of [["rgb", rgb], ["grey", grey]]) {
    if (a.dtype !== "uint8" || a.vmin !== 0 || a.vmax !== 1) {
      throw new Error(`${name} must be uint8 levels of [0, 1], got ${a.dtype} [${a.vmin}, ${a.vmax}]`);
    }
  }
  const spatial = spatialOf(grey.shape, 1);
  if (rgb.shape.length !== grey.shape.length + 1 || rgb.shape[rgb.shape.length - 1] !== 3
      || spatialOf(rgb.shape, 3).join() !== spatial.join() || rgb.shape[0] !== grey.shape[0]) {
    throw new Error(`rgb has shape [${rgb.shape}], grey [${grey.shape}]: expected [n, ...spatial, 3] and [n, ...spatial]`);
  }
  if (![2, 3].includes(spatial.length)) throw new Error(`images must be 2D or 3D, got spatial shape [${spatial}]`);
  if (grey.shape[0] !== nCards) throw new Error(`${grey.shape[0]} images for ${nCards} cards`);
  return { rgb, grey, n: grey.shape[0], spatial };
}
