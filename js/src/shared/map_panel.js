// One map panel: a title, a canvas at data resolution scaled by CSS (nearest neighbour, image
// smoothing off), zoom and pan as a CSS transform (no redraw), a crosshair, a message over the
// image (e.g. "zero everywhere") and optionally a colour bar. The widget owns the state; the panel
// reports gestures:
//   onPointer(type, event, point)  type "down" | "move" | "up" | "cancel" | "leave" for the primary
//                                  button and hover; point = { x, y, pixel: { row, col } | null }
//                                  in data pixels of the slice (null when off the image)
//   onWheel(factor, x, y)          wheel zoom about data point (x, y); factor > 1 zooms in
//   onPan(dx, dy)                  a pan drag (middle button, or Ctrl/⌘ + drag) moved by CSS px
//   onPanEnd(), onReset()          the drag ended; double-click (reset the zoom)

import { h } from "../dom.js";
import { cssToPixel } from "../slicing.js";
import { createColorbar } from "./colorbar.js";
import { WHEEL_STEP } from "./navigation.js";

export function createMapPanel(sync, { testid, title = "", className = "", colorbar = null, handlers = {} } = {}) {
  const canvas = h("canvas", { class: "cam-canvas", "data-testid": testid, width: 1, height: 1 });
  const vline = h("div", { class: "cam-cross cam-cross-v", hidden: true });
  const hline = h("div", { class: "cam-cross cam-cross-h", hidden: true });
  const message = h("div", { class: "cam-panel-message", "data-testid": `${testid}-message`, hidden: true });
  const stage = h("div", { class: "cam-stage" }, canvas, vline, hline, message);
  const titleEl = h("div", { class: "cam-view-title", "data-testid": `${testid}-title` }, title);
  const view = h("div", { class: `cam-view ${className}`.trim() }, titleEl, stage);
  const bar = colorbar ? createColorbar(colorbar) : null;
  const el = h("div", { class: bar ? "cam-panel cam-with-bar" : "cam-panel", "data-testid": `${testid}-panel` }, view, bar?.el);
  const ctx = canvas.getContext("2d");
  let imageData = null;
  let scale = 1;
  let transform = { k: 1, tx: 0, ty: 0 };
  let cross = null;
  let pan = null;

  function dataPoint(event) {
    const rect = canvas.getBoundingClientRect(); // includes the zoom transform
    if (!imageData || !(rect.width > 0 && rect.height > 0)) return null;
    const cssX = event.clientX - rect.left;
    const cssY = event.clientY - rect.top;
    const s = stage.getBoundingClientRect();
    const inside = event.clientX >= s.left && event.clientX <= s.right && event.clientY >= s.top && event.clientY <= s.bottom;
    return {
      x: (cssX / rect.width) * canvas.width,
      y: (cssY / rect.height) * canvas.height,
      pixel: inside ? cssToPixel(cssX, cssY, rect.width, rect.height, canvas.width, canvas.height) : null,
    };
  }
  const capture = (event) => {
    try {
      canvas.setPointerCapture(event.pointerId); // drags keep going outside the canvas
    } catch {
      // a synthetic pointer (tests) cannot be captured
    }
  };
  const report = (type, event) => handlers.onPointer?.(type, event, dataPoint(event));

  const onDown = (event) => {
    if (event.button === 1 || (event.button === 0 && (event.ctrlKey || event.metaKey))) {
      event.preventDefault();
      pan = { x: event.clientX, y: event.clientY };
      capture(event);
      stage.classList.add("panning");
      return;
    }
    if (event.button !== 0) return;
    event.preventDefault();
    capture(event);
    report("down", event);
  };
  const onMove = (event) => {
    if (pan) {
      const dx = event.clientX - pan.x;
      const dy = event.clientY - pan.y;
      pan = { x: event.clientX, y: event.clientY };
      if (dx || dy) handlers.onPan?.(dx, dy);
      return;
    }
    report("move", event);
  };
  const endPan = () => {
    if (!pan) return false;
    pan = null;
    stage.classList.remove("panning");
    handlers.onPanEnd?.();
    return true;
  };
  const onUp = (event) => {
    if (!endPan()) report("up", event);
  };
  const onCancel = (event) => {
    if (!endPan()) report("cancel", event);
  };
  const onLeave = (event) => report("leave", event);
  const onWheel = (event) => {
    const p = dataPoint(event);
    if (!p || !handlers.onWheel) return;
    event.preventDefault(); // the notebook does not scroll while zooming
    const notches = Math.max(-4, Math.min(4, -event.deltaY / (event.deltaMode === 1 ? 3 : 100)));
    if (notches) handlers.onWheel(WHEEL_STEP ** notches, p.x, p.y);
  };
  const onDouble = (event) => {
    event.preventDefault();
    handlers.onReset?.();
  };
  const onAux = (event) => event.button === 1 && event.preventDefault(); // no middle-click paste / scroll
  sync.listen(canvas, "pointerdown", onDown);
  sync.listen(canvas, "pointermove", onMove);
  sync.listen(canvas, "pointerup", onUp);
  sync.listen(canvas, "pointercancel", onCancel);
  sync.listen(canvas, "pointerleave", onLeave);
  sync.listen(canvas, "wheel", onWheel, { passive: false });
  sync.listen(canvas, "dblclick", onDouble);
  sync.listen(canvas, "auxclick", onAux);

  function placeCanvas() {
    const w = `${canvas.width * scale}px`;
    const hgt = `${canvas.height * scale}px`;
    if (canvas.style.width !== w) canvas.style.width = w;
    if (canvas.style.height !== hgt) canvas.style.height = hgt;
    if (stage.style.width !== w) stage.style.width = w;
    if (stage.style.height !== hgt) stage.style.height = hgt;
    bar?.setHeight(canvas.height * scale);
  }

  function placeCross() {
    const visible = !!cross;
    vline.hidden = !visible;
    hline.hidden = !visible;
    if (!visible) return;
    const x = transform.tx + transform.k * scale * cross.x;
    const y = transform.ty + transform.k * scale * cross.y;
    vline.style.left = `${x}px`;
    hline.style.top = `${y}px`;
    vline.hidden = x < 0 || x > canvas.width * scale;
    hline.hidden = y < 0 || y > canvas.height * scale;
  }

  return {
    el,
    canvas,
    stage,
    colorbar: bar,
    /** The RGBA buffer of a cols x rows slice to draw into. */
    pixels(cols, rows) {
      if (!imageData || imageData.width !== cols || imageData.height !== rows) {
        canvas.width = cols;
        canvas.height = rows;
        imageData = ctx.createImageData(cols, rows);
        placeCanvas();
      }
      return imageData.data;
    },
    flush() {
      if (imageData) ctx.putImageData(imageData, 0, 0);
    },
    get scale() {
      return scale;
    },
    /** CSS px per data pixel at zoom 1 (the fitted size). */
    setScale(s) {
      if (s === scale) return;
      scale = s;
      placeCanvas();
      placeCross();
    },
    /** Data point (x, y) -> stage CSS px under the current zoom; and CSS px per data pixel. */
    toStage(x, y) {
      return { x: transform.tx + transform.k * scale * x, y: transform.ty + transform.k * scale * y };
    },
    get pixelSize() {
      return transform.k * scale;
    },
    /** The zoom transform { k, tx, ty } (navigation.panelTransform). */
    setTransform(t) {
      transform = t;
      const css = t.k === 1 && t.tx === 0 && t.ty === 0 ? "" : `translate(${t.tx}px, ${t.ty}px) scale(${t.k})`;
      if (canvas.style.transform !== css) canvas.style.transform = css;
      placeCross();
    },
    /** Crosshair through data point (x, y) (pixel centres are at +0.5); null hides it. */
    setCrosshair(point) {
      cross = point;
      placeCross();
    },
    setTitle(text) {
      if (titleEl.textContent !== text) titleEl.textContent = text;
      if (titleEl.title !== text) titleEl.title = text; // the whole title when a narrow panel cuts it
    },
    setMessage(text) {
      message.hidden = !text;
      if (message.textContent !== (text || "")) message.textContent = text || "";
    },
  };
}

/**
 * CSS pixels per data pixel so that the larger side is about `target` px: a whole number from
 * `WHOLE_FROM` up (every data pixel equally wide, at most 1/WHOLE_FROM of the side lost), a multiple
 * of 1/4 below it (a small image at 2.86x would otherwise shrink to 2x and leave a third of the side empty).
 */
export const WHOLE_FROM = 5;
export function displayScale(rows, cols, target) {
  const s = target / Math.max(rows, cols, 1);
  if (s >= WHOLE_FROM) return Math.floor(s);
  return s >= 1 ? Math.floor(s * 4) / 4 : s;
}
