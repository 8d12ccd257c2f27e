// A canvas at data resolution, scaled up with CSS (pixelated), with a crosshair overlay and
// pointer picking. Generic: any widget that draws RGBA slices can use it.

import { h } from "./dom.js";
import { cssToPixel } from "./slicing.js";

/**
 * createView({ testid, title, onPick }) -> view
 *   view.el                      the element to insert
 *   view.pixels(cols, rows)      RGBA buffer (Uint8ClampedArray) of that size to draw into
 *   view.flush()                 put the buffer on the canvas
 *   view.setScale(s)             CSS pixels per data pixel
 *   view.setCrosshair(fx, fy)    crosshair at fractions of the width/height (null hides it)
 *   view.setTitle(text)
 * onPick({ row, col }) is called on pointer down and while dragging with the button held.
 */
export function createView({ testid, title = "", className = "", onPick } = {}) {
  const canvas = h("canvas", { class: "cam-canvas", "data-testid": testid, width: 1, height: 1 });
  const vline = h("div", { class: "cam-cross cam-cross-v", hidden: true });
  const hline = h("div", { class: "cam-cross cam-cross-h", hidden: true });
  const stage = h("div", { class: "cam-stage" }, canvas, vline, hline);
  const titleEl = h("div", { class: "cam-view-title", "data-testid": `${testid}-title` }, title);
  const el = h("div", { class: `cam-view ${className}`.trim() }, titleEl, stage);
  const ctx = canvas.getContext("2d");
  let imageData = null;
  let scale = 1;

  function pick(event) {
    if (!onPick || !imageData) return;
    const rect = canvas.getBoundingClientRect();
    const p = cssToPixel(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height,
      canvas.width, canvas.height);
    if (p) onPick(p);
  }
  const onDown = (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture?.(event.pointerId);
    pick(event);
  };
  const onMove = (event) => {
    if (event.buttons & 1) pick(event);
  };
  canvas.addEventListener("pointerdown", onDown);
  canvas.addEventListener("pointermove", onMove);

  function resize() {
    const w = `${canvas.width * scale}px`;
    const hgt = `${canvas.height * scale}px`;
    if (canvas.style.width !== w) canvas.style.width = w;
    if (canvas.style.height !== hgt) canvas.style.height = hgt;
  }

  return {
    el,
    canvas,
    pixels(cols, rows) {
      if (!imageData || imageData.width !== cols || imageData.height !== rows) {
        canvas.width = cols;
        canvas.height = rows;
        imageData = ctx.createImageData(cols, rows);
        resize();
      }
      return imageData.data;
    },
    flush() {
      if (imageData) ctx.putImageData(imageData, 0, 0);
    },
    setScale(s) {
      if (s !== scale) {
        scale = s;
        resize();
      }
    },
    setCrosshair(fx, fy) {
      const visible = fx !== null && fx !== undefined;
      vline.hidden = !visible;
      hline.hidden = !visible;
      if (visible) {
        vline.style.left = `${fx * 100}%`;
        hline.style.top = `${fy * 100}%`;
      }
    },
    setTitle(text) {
      if (titleEl.textContent !== text) titleEl.textContent = text;
    },
    destroy() {
      canvas.removeEventListener("pointerdown", onDown);
      canvas.removeEventListener("pointermove", onMove);
    },
  };
}

/** CSS pixels per data pixel so that the larger side is about `target` px (integer from 2 up). */
export function displayScale(rows, cols, target) {
  const s = target / Math.max(rows, cols, 1);
  return s >= 2 ? Math.floor(s) : s;
}
