// Drawing a slice of the image (grey or colour) with a map blended on top into a map panel, with
// reused scratch buffers (a slice along axis 0 is a view, the other axes are copied once each).

import { composeRGBA } from "../compose.js";
import { AXIS_LETTERS, VIEW_NAMES, extractSlice, sliceDims } from "../slicing.js";

export function createSliceDrawer() {
  const scratch = new Map(); // key -> reused slice buffer

  function slice(data, shape, axis, index, key) {
    const s = extractSlice(data, shape, axis, index, scratch.get(key));
    if (s.buffer !== data.buffer) scratch.set(key, s);
    return s;
  }

  /** A decoded array's slice as { data, dtype, vmin, vmax } (channels too for a colour image). */
  function sliceOf(array, axis, index, key) {
    const out = { data: null, dtype: array.dtype, vmin: array.vmin, vmax: array.vmax };
    if (array.channels) {
      out.channels = array.channels.map((c, k) => slice(c, array.shape, axis, index, `${key}:${k}`));
      out.data = out.channels[0];
    } else {
      out.data = slice(array.data, array.shape, axis, index, key);
    }
    return out;
  }

  /**
   * Draw `image` with `overlay` (or null) along `axis` at display index `index` into `panel`;
   * `paint(rgba, rows, cols)` may add to the pixels before they are shown. Returns { rows, cols }.
   */
  function draw(panel, image, overlay, options, axis, index, key, paint) {
    const { rows, cols } = sliceDims(image.shape, axis);
    const base = sliceOf(image, axis, index, `${key}:base`);
    const over = overlay ? sliceOf(overlay, axis, index, `${key}:overlay`) : null;
    const rgba = composeRGBA(base, over, options, panel.pixels(cols, rows));
    if (paint) paint(rgba, rows, cols);
    panel.flush();
    return { rows, cols };
  }

  return { draw, slice, sliceOf };
}

/** True when a decoded map is zero everywhere (its range is [0, 0]). */
export function isZeroMap(array) {
  return !!array && array.vmin === 0 && array.vmax === 0;
}

/** The panel message of a zero map (the same text as Python's static picture). */
export function zeroMessage(method, className, layer) {
  return `the ${method} map of ${className} at ${layer} is zero everywhere: try another layer, method or class`;
}

/** Where a view slices: "axial z=12" (figure.py writes the same). */
export function viewTitle(axis, index) {
  return `${VIEW_NAMES[axis]} ${AXIS_LETTERS[axis]}=${index}`;
}

/** A map panel's title: "{method} · {layer} · {class}", plus " · {view}" of a volume's slice (figure.py's twin). */
export function mapTitle(method, layer, cls, where = "") {
  return `${method ?? ""} · ${layer ?? ""} · ${cls}${where ? ` · ${where}` : ""}`;
}
