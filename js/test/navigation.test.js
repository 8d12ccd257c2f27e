import assert from "node:assert/strict";
import { test } from "node:test";

import {
  clampCenter, clampZoom, displayIndex, keyStep, panBy, panelTransform, realIndex, realShape, voxelToDisplay, zoomAbout,
} from "../src/shared/navigation.js";

test("real <-> display indices of a 256-voxel axis shown with 128 pixels", () => {
  assert.equal(displayIndex(201, 256, 128), 100);
  assert.equal(displayIndex(255, 256, 128), 127);
  assert.equal(displayIndex(0, 256, 128), 0);
  assert.equal(realIndex(100, 256, 128), 201); // the centre of display pixel 100 is real 201
  for (let p = 0; p < 128; p++) assert.equal(displayIndex(realIndex(p, 256, 128), 256, 128), p);
  // an axis that is not downsampled maps to itself
  for (let i = 0; i < 20; i++) assert.equal(displayIndex(i, 20, 20), i);
  assert.deepEqual(voxelToDisplay([201, 10, 255], [256, 256, 256], [128, 128, 128]), [100, 5, 127]);
  assert.deepEqual(realShape([256, 256, 256], [128, 128, 128]), [256, 256, 256]);
  assert.deepEqual(realShape([], [12, 16]), [12, 16]); // no input_shape: the shown shape
});

test("zoom is clamped to 1..64 and the centre keeps the zoomed view filled", () => {
  assert.equal(clampZoom(0.5), 1);
  assert.equal(clampZoom(100), 64);
  assert.equal(clampZoom("x"), 1);
  assert.deepEqual(clampCenter([], [10, 20], 1), [4.5, 9.5]); // [] = the centre
  assert.deepEqual(clampCenter([0, 0], [10, 20], 1), [4.5, 9.5]); // at zoom 1 only the centre fits
  // at zoom 2 the centre may go from n/4 - 0.5 to 3n/4 - 0.5
  assert.deepEqual(clampCenter([0, 100], [10, 20], 2), [2, 14.5]);
});

test("a panel's transform puts the zoom centre at the stage centre", () => {
  const t1 = panelTransform({ zoom: 1, center: [], real: [10, 20], axis: 0, rows: 10, cols: 20, scale: 3 });
  assert.deepEqual([t1.k, t1.tx, t1.ty], [1, 0, 0]); // fit: no transform
  const t = panelTransform({ zoom: 2, center: [2, 5], real: [10, 20], axis: 0, rows: 10, cols: 20, scale: 3 });
  // data point of the centre voxel (col 5 + 0.5, row 2 + 0.5) lands on the stage centre (30, 15)
  const p = t.toStage(5.5, 2.5);
  assert.ok(Math.abs(p.x - 30) < 1e-9 && Math.abs(p.y - 15) < 1e-9, JSON.stringify(p));
});

test("zooming about a point keeps that point under the pointer", () => {
  const g = { zoom: 1, center: [], real: [40, 60], axis: 0, rows: 40, cols: 60, scale: 2 };
  const before = panelTransform(g).toStage(45.5, 10.5);
  const next = zoomAbout(g, 1.25 ** 3, 45.5, 10.5);
  assert.ok(next.zoom > 1.9 && next.zoom < 2);
  const after = panelTransform({ ...g, zoom: next.zoom, center: next.center }).toStage(45.5, 10.5);
  assert.ok(Math.abs(before.x - after.x) < 1e-6 && Math.abs(before.y - after.y) < 1e-6, JSON.stringify([before, after]));
  // 3D: a coronal panel (axis 1) moves the centre along z and x, never along y
  const g3 = { zoom: 2, center: [10, 7, 12], real: [20, 16, 24], axis: 1, rows: 20, cols: 24, scale: 4 };
  const z3 = zoomAbout(g3, 1.25, 3.5, 20.5);
  assert.equal(z3.center[1], 7);
});

test("panning moves the centre against the drag, in real voxels of a downsampled grid", () => {
  const g = { zoom: 4, center: [128, 128], real: [256, 256], axis: 0, rows: 128, cols: 128, scale: 3 };
  // 12 CSS px at zoom 4 and 3 px per display pixel = 1 display pixel = 2 real voxels
  assert.deepEqual(panBy(g, 12, -12), [130, 126]);
});

test("keys: arrows and pages step the slice, brackets the sample", () => {
  assert.deepEqual(keyStep("ArrowUp"), { slice: 1 });
  assert.deepEqual(keyStep("ArrowLeft"), { slice: -1 });
  assert.deepEqual(keyStep("PageDown"), { slice: -10 });
  assert.deepEqual(keyStep("]"), { sample: 1 });
  assert.equal(keyStep("a"), null);
});
