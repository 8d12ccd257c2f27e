// The read-out line: voxel coordinates (the input's real indices), the input value and every shown
// map's value, under the mouse while it hovers a panel, else at the crosshair. Text in the widget,
// never drawn on the canvas.

import { valueAt } from "../codec.js";
import { formatValue } from "../compose.js";
import { h } from "../dom.js";
import { flatIndex, formatVoxel, viewAxes } from "../slicing.js";
import { displayIndex, realIndex } from "./navigation.js";

/** The input's value(s) at flat index i: one number, or "(r, g, b)" for a colour image. */
export function inputText(image, i) {
  if (image.channels) return `(${image.channels.map((data) => formatValue(valueAt({ ...image, data }, i))).join(", ")})`;
  return formatValue(valueAt(image, i));
}

/**
 * The real voxel under display pixel (row, col) of a panel slicing along `axis` at real index
 * `index` (real: the input's shape; shown: the image's display shape).
 */
export function voxelUnder(row, col, axis, index, real, shown) {
  if (shown.length === 2) return [realIndex(row, real[0], shown[0]), realIndex(col, real[1], shown[1])];
  const { rowAxis, colAxis } = viewAxes(3, axis);
  const v = [0, 0, 0];
  v[axis] = index;
  v[rowAxis] = realIndex(row, real[rowAxis], shown[rowAxis]);
  v[colAxis] = realIndex(col, real[colAxis], shown[colAxis]);
  return v;
}

/** createReadout() -> { el, show(voxel, real, shown, entries, hovering) } with entries [[name, array]]. */
export function createReadout() {
  const el = h("div", { class: "cam-readout", "data-testid": "readout" });
  function show(voxel, real, shown, image, entries, hovering) {
    if (!image || !voxel) {
      el.textContent = "";
      return;
    }
    const i = flatIndex(shown, voxel.map((v, k) => displayIndex(v, real[k], shown[k])));
    const parts = [`${formatVoxel(voxel)}`, `input=${inputText(image, i)}`];
    for (const [name, array, format] of entries) {
      if (array) parts.push(`${name}=${format ? format(array, i) : formatValue(valueAt(array, i))}`);
    }
    el.textContent = parts.join("  ");
    el.dataset.source = hovering ? "hover" : "crosshair";
    el.dataset.voxel = JSON.stringify(voxel);
  }
  return { el, show };
}
