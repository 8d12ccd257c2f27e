// The picker's pointer state machine: a stroke starts on pointer down on a pick view (a slice
// along any axis), grows while the button is held, and finishes on pointer up. Point and region
// finish at once. Rasterisation is rasterize.js; combining into M is the widget's (onFinish).

import {
  brushStroke, combineStroke, fillPolygon, fillRect, pointMask, regionGrow, stampSegment, strokeMode,
} from "../rasterize.js";

export const TOOLS = ["point", "region", "brush", "lasso", "rectangle", "erase"];
export const INSTANT_TOOLS = ["point", "region"];
export const BRUSH_TOOLS = ["brush", "erase"];

/**
 * createStrokes({ tool, radius, labelsOn, onPreview, onFinish }) -> strokes
 *   tool(), radius()                     the current tool and brush radius
 *   labelsOn(axis, index)                the class ids of that slice (region tool), or null
 *   onPreview()                          redraw the pick views (the stroke in progress changed)
 *   onFinish(stroke)                     a finished stroke { tool, mode, slice, axis, index, pixel, points }
 *   strokes.pointer(type, event, point, axis, index, rows, cols)
 *   strokes.preview(current, axis, index)  M on that slice as it will be after the stroke
 *   strokes.cancel()
 */
export function createStrokes({ tool, radius, labelsOn, onPreview, onFinish }) {
  let stroke = null;

  function raster(onlyLast) {
    const { rows, cols, points: p } = stroke;
    if (BRUSH_TOOLS.includes(stroke.tool)) {
      if (!onlyLast) brushStroke(p, radius(), rows, cols, stroke.slice);
      else stampSegment(stroke.slice, rows, cols, p[p.length - 2] ?? p[p.length - 1], p[p.length - 1], radius());
    } else if (stroke.tool === "lasso") {
      fillPolygon(p, rows, cols, stroke.slice);
    } else if (stroke.tool === "rectangle") {
      fillRect(p[0], p[p.length - 1], rows, cols, stroke.slice);
    }
  }

  function finish() {
    const s = stroke;
    stroke = null;
    if (s) onFinish(s);
  }

  function down(event, point, axis, index, rows, cols) {
    if (!point?.pixel) return;
    const { row, col } = point.pixel;
    const t = tool();
    stroke = {
      tool: t, mode: strokeMode(event, t), points: [{ x: point.x, y: point.y }], slice: new Uint8Array(rows * cols),
      rows, cols, axis, index, pixel: { row, col },
    };
    if (INSTANT_TOOLS.includes(t)) {
      if (t === "point") pointMask(row, col, rows, cols, stroke.slice);
      else {
        const labels = labelsOn(axis, index);
        if (labels) regionGrow(labels, rows, cols, row, col, stroke.slice);
        else pointMask(row, col, rows, cols, stroke.slice);
      }
      finish();
      return;
    }
    raster(false);
    onPreview();
  }

  function move(event, point) {
    if (!stroke || !point || !(event.buttons & 1)) return;
    const last = stroke.points[stroke.points.length - 1];
    if (last.x === point.x && last.y === point.y) return;
    stroke.points.push({ x: point.x, y: point.y });
    raster(true);
    onPreview();
  }

  function up(point) {
    if (!stroke) return;
    if (point) {
      const last = stroke.points[stroke.points.length - 1];
      if (last.x !== point.x || last.y !== point.y) {
        stroke.points.push({ x: point.x, y: point.y });
        raster(true);
      }
    }
    finish();
  }

  return {
    pointer(type, event, point, axis, index, rows, cols) {
      if (type === "down") down(event, point, axis, index, rows, cols);
      else if (type === "move") move(event, point);
      else if (type === "up") up(point);
      else if (type === "cancel") this.cancel();
    },
    /** M on the slice (`current`, rows x cols) as it will be after the stroke in progress. */
    preview(current, axis, index) {
      if (!stroke || stroke.axis !== axis || stroke.index !== index) return current;
      const out = stroke.mode === "replace" ? new Uint8Array(current.length) : current.slice();
      return combineStroke(out, stroke.slice, stroke.mode === "replace" ? "add" : stroke.mode);
    },
    cancel() {
      if (!stroke) return;
      stroke = null;
      onPreview();
    },
    get active() {
      return stroke;
    },
  };
}
