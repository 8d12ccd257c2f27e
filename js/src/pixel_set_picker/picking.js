// What a finished stroke or button does to M and to the class it is explained for, and M's sync
// with Python: sent once per stroke through the request queue (with the class when it changes),
// loaded again when Python sets mask_bits (our own echo is recognised and skipped).

import { equalMask } from "../rasterize.js";
import { extractSlice } from "../slicing.js";
import { voxelUnder } from "../shared/readout.js";
import { INSTANT_TOOLS } from "./strokes.js";

/**
 * The class a finished stroke explains: a plain point or region click takes the predicted class
 * under the click; any other stroke keeps `target`, except that the first pick (target -1) takes
 * the class under its first point (an eraser never chooses one). null: keep the class.
 */
export function strokeClass(stroke, classHere, target) {
  if (classHere === null || classHere === undefined) return null;
  let cls = null;
  if (INSTANT_TOOLS.includes(stroke.tool) && stroke.mode === "replace") cls = classHere;
  else if (target < 0 && stroke.tool !== "erase") cls = classHere;
  return cls === target ? null : cls;
}

/**
 * createPicking(sync, nav, { arrays, labels, masks, errors, target, cancelStroke, changed })
 * changed(): M or the class request changed (controls and pick views must follow).
 */
export function createPicking(sync, nav, { arrays, labels, masks, errors, target, cancelStroke, changed }) {
  const { model } = sync;
  let lastSent = null; // the mask_bits dict we set last (to recognise our own echo)

  /** The class ids of the slice along `axis` at `index`. */
  function sliceLabels(axis, index) {
    return nav.shown.length === 3 ? extractSlice(labels(), arrays.image.shape, axis, index) : labels();
  }

  function send(extra = {}) {
    lastSent = masks.encode();
    sync.request({ mask_bits: lastSent, ...extra });
    changed();
  }

  /** A finished stroke: combine it into M and send M with the class it is explained for. */
  function finish(s) {
    const classHere = labels() ? sliceLabels(s.axis, s.index)[s.pixel.row * s.cols + s.pixel.col] : null;
    const cls = strokeClass(s, classHere, target());
    const extra = cls === null ? {} : { target_class: cls };
    if (s.tool === "lasso" && s.points.length < 3) { // a click with the lasso only chooses the class
      if (cls !== null) sync.request(extra);
      changed();
      return;
    }
    masks.combine(s.axis, s.index, s.slice, s.mode);
    send(extra);
    if (nav.is3d()) nav.moveCrosshair(voxelUnder(s.pixel.row, s.pixel.col, s.axis, s.index, nav.real, nav.shown));
  }

  /** M = every voxel (1) or none (0). */
  function fill(value) {
    if (!arrays.image) return;
    cancelStroke();
    masks.fill(value);
    send();
  }

  /** M = every voxel predicted as the target class. */
  function wholeClass() {
    if (!arrays.image || !labels() || target() < 0) return;
    cancelStroke();
    equalMask(labels(), target(), masks.mask);
    send();
  }

  /** Load M from the model's mask_bits (first render, a new image, or Python set it). */
  function load() {
    errors.mask_bits = "";
    masks.reset(arrays.image?.shape ?? null);
    if (!arrays.image) return;
    try {
      masks.load(model.get("mask_bits"));
    } catch (err) {
      errors.mask_bits = `mask_bits: ${err.message}`;
    }
  }

  /** Python's mask_bits changed: load it unless it is our own echo or a newer one of ours is held. */
  function followModel(onLoaded) {
    sync.on("change:mask_bits", () => {
      if (model.get("mask_bits") === lastSent || sync.queue.has("mask_bits")) return;
      lastSent = null;
      load();
      onLoaded();
    });
  }

  return { sliceLabels, finish, fill, wholeClass, load, followModel };
}
