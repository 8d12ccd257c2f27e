import { test } from "node:test";
import assert from "node:assert/strict";
import { createStrokes } from "../src/pixel_set_picker/strokes.js";

const ROWS = 6;
const COLS = 8;
const LABELS = Uint8Array.from({ length: ROWS * COLS }, (_, i) => (Math.floor(i / COLS) < 3 && i % COLS < 4 ? 1 : 0));
const P = (x, y, pixel = { row: Math.floor(y), col: Math.floor(x) }) => ({ x, y, pixel });
const LEFT = { buttons: 1 };

function grid(mask) {
  return Array.from({ length: ROWS }, (_, r) => Array.from(mask.subarray(r * COLS, (r + 1) * COLS)).join(""));
}

function setup(tool, radius = 1) {
  const log = { previews: 0, finished: [] };
  const strokes = createStrokes({
    tool: () => tool, radius: () => radius,
    labelsOn: (axis, index) => (axis === 0 && index === 2 ? LABELS : null),
    onPreview: () => log.previews++, onFinish: (s) => log.finished.push(s),
  });
  return { strokes, log };
}

test("point: finishes on pointer down with the pixel, the slice and the axis it was drawn on", () => {
  const { strokes, log } = setup("point");
  strokes.pointer("down", {}, P(3.5, 4.5), 1, 7, ROWS, COLS);
  assert.equal(log.finished.length, 1);
  const s = log.finished[0];
  assert.deepEqual([s.tool, s.mode, s.axis, s.index, s.pixel], ["point", "replace", 1, 7, { row: 4, col: 3 }]);
  assert.deepEqual(grid(s.slice).filter((r) => r.includes("1")), ["00010000"]);
  assert.equal(strokes.active, null);
});

test("region: the 4-connected component of the slice's labels; a point without labels", () => {
  const { strokes, log } = setup("region");
  strokes.pointer("down", { shiftKey: true }, P(1.5, 1.5), 0, 2, ROWS, COLS);
  assert.equal(log.finished[0].mode, "add");
  assert.deepEqual(grid(log.finished[0].slice), ["11110000", "11110000", "11110000", "00000000", "00000000", "00000000"]);
  strokes.pointer("down", {}, P(1.5, 1.5), 0, 3, ROWS, COLS); // labelsOn gives null: the pixel alone
  assert.equal(log.finished[1].slice.reduce((a, b) => a + b, 0), 1);
});

test("brush: previews while dragging, finishes once on release; alt subtracts", () => {
  const { strokes, log } = setup("brush", 0.5);
  strokes.pointer("down", { altKey: true }, P(0.5, 0.5), 0, 0, ROWS, COLS);
  assert.equal(log.finished.length, 0);
  assert.equal(log.previews, 1);
  strokes.pointer("move", LEFT, P(3.5, 0.5), 0, 0, ROWS, COLS);
  strokes.pointer("move", { buttons: 0 }, P(5.5, 5.5), 0, 0, ROWS, COLS); // no button: ignored
  assert.equal(log.previews, 2);
  // the preview on that slice: "subtract" shows M minus the stroke
  const current = new Uint8Array(ROWS * COLS).fill(1);
  const preview = strokes.preview(current, 0, 0);
  assert.deepEqual(grid(preview)[0], "00001111");
  assert.equal(strokes.preview(current, 0, 1), current, "another slice: unchanged");
  assert.equal(strokes.preview(current, 1, 0), current, "another axis: unchanged");
  strokes.pointer("up", {}, P(3.5, 0.5), 0, 0, ROWS, COLS);
  assert.equal(log.finished.length, 1);
  assert.equal(log.finished[0].mode, "subtract");
  assert.deepEqual(grid(log.finished[0].slice)[0], "11110000");
  assert.equal(strokes.active, null);
});

test("replace preview: only the stroke; rectangle and lasso rasterise their points", () => {
  const rect = setup("rectangle");
  rect.strokes.pointer("down", {}, P(1.2, 1.2), 0, 0, ROWS, COLS);
  rect.strokes.pointer("move", LEFT, P(3.8, 2.8), 0, 0, ROWS, COLS);
  assert.deepEqual(grid(rect.strokes.preview(new Uint8Array(ROWS * COLS).fill(1), 0, 0)).slice(0, 4),
    ["00000000", "01110000", "01110000", "00000000"]);
  rect.strokes.pointer("up", {}, null, 0, 0, ROWS, COLS); // released off the image: the last point stands
  assert.deepEqual(grid(rect.log.finished[0].slice).slice(0, 4), ["00000000", "01110000", "01110000", "00000000"]);

  const lasso = setup("lasso");
  lasso.strokes.pointer("down", {}, P(0.1, 0.1), 2, 0, ROWS, COLS);
  lasso.strokes.pointer("move", LEFT, P(7.9, 0.1), 2, 0, ROWS, COLS);
  lasso.strokes.pointer("move", LEFT, P(0.1, 5.9), 2, 0, ROWS, COLS);
  lasso.strokes.pointer("up", {}, P(0.1, 5.9), 2, 0, ROWS, COLS);
  const s = lasso.log.finished[0];
  assert.equal(s.points.length, 3);
  assert.equal(s.axis, 2);
  assert.deepEqual(grid(s.slice)[0], "11111111".slice(0, 7) + "0");
});

test("cancel drops the stroke without finishing it; a press off the image starts nothing", () => {
  const { strokes, log } = setup("brush");
  strokes.pointer("down", {}, P(2.5, 2.5), 0, 0, ROWS, COLS);
  assert.ok(strokes.active);
  strokes.pointer("cancel", {}, null, 0, 0, ROWS, COLS);
  assert.equal(strokes.active, null);
  strokes.pointer("up", {}, P(2.5, 2.5), 0, 0, ROWS, COLS);
  assert.equal(log.finished.length, 0);
  strokes.pointer("down", {}, { x: -1, y: 2, pixel: null }, 0, 0, ROWS, COLS);
  assert.equal(strokes.active, null);
});
