import { test } from "node:test";
import assert from "node:assert/strict";
import { barPercent, barsLabel, barTicks } from "../src/pfv_gallery/bars.js";
import { componentProblem, selectionText } from "../src/pfv_gallery/controls.js";
import { blendRGBA, checkImages, sampleSlice, spatialOf } from "../src/pfv_gallery/pixels.js";

// two samples of a [2, 3, 4] volume (z, y, x) whose value is its flat index within the sample, plus 100 per sample
const spatial = [2, 3, 4];
const grey = Uint8Array.from({ length: 48 }, (_, i) => (i % 24) + 100 * Math.floor(i / 24));
// the same as rgb (channel last): channel c holds value + 30 c
const rgb = Uint8Array.from({ length: 144 }, (_, i) => grey[Math.floor(i / 3)] + 30 * (i % 3));

test("a sample's slice along z is a view of its own part of the array", () => {
  const s = sampleSlice(grey, [2, ...spatial], 1, 1, 0, 1);
  assert.deepEqual([s.rows, s.cols], [3, 4]);
  assert.deepEqual([...s.data], [112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123]);
  assert.equal(s.data.buffer, grey.buffer);
});

test("slices along y and x show (z, x) and (z, y), as slicing.js", () => {
  const y = sampleSlice(grey, [2, ...spatial], 1, 0, 1, 2);
  assert.deepEqual([y.rows, y.cols, [...y.data]], [2, 4, [8, 9, 10, 11, 20, 21, 22, 23]]);
  const x = sampleSlice(grey, [2, ...spatial], 1, 0, 2, 3);
  assert.deepEqual([x.rows, x.cols, [...x.data]], [2, 3, [3, 7, 11, 15, 19, 23]]);
});

test("channel-last rgb slices keep the three channels of each pixel together", () => {
  const x = sampleSlice(rgb, [2, ...spatial, 3], 3, 1, 2, 0);
  assert.deepEqual([x.rows, x.cols], [2, 3]);
  assert.deepEqual([...x.data.subarray(0, 6)], [100, 130, 160, 104, 134, 164]);
  const out = new Uint8Array(24); // 2 x 4 pixels x 3 channels
  assert.equal(sampleSlice(rgb, [2, ...spatial, 3], 3, 1, 1, 0, out).data, out); // reused scratch
  assert.deepEqual(spatialOf([2, ...spatial, 3], 3), spatial);
});

test("an index outside the volume is clamped; a 2D sample is its own slice", () => {
  assert.deepEqual([...sampleSlice(grey, [2, ...spatial], 1, 0, 0, 9).data].slice(0, 2), [12, 13]);
  const image = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const s = sampleSlice(image, [2, 2, 2], 1, 1, 0, 0);
  assert.deepEqual([s.rows, s.cols, [...s.data]], [2, 2, [5, 6, 7, 8]]);
});

test("the blend is round((1 - o) grey + o rgb), half to even, opaque", () => {
  const out = new Uint8ClampedArray(8);
  blendRGBA(Uint8Array.from([0, 255]), Uint8Array.from([255, 1, 3, 0, 100, 200]), 0.5, out);
  // 127.5 -> 128, 0.5 -> 0, 1.5 -> 2; 127.5 -> 128, 177.5 -> 178, 227.5 -> 228
  assert.deepEqual([...out], [128, 0, 2, 255, 128, 178, 228, 255]);
  blendRGBA(Uint8Array.from([10, 20]), Uint8Array.from([1, 2, 3, 4, 5, 6]), 0, out);
  assert.deepEqual([...out], [10, 10, 10, 255, 20, 20, 20, 255]);
  blendRGBA(Uint8Array.from([10, 20]), Uint8Array.from([1, 2, 3, 4, 5, 6]), 1, out);
  assert.deepEqual([...out], [1, 2, 3, 255, 4, 5, 6, 255]);
});

test("the image traits are checked: uint8 levels of [0, 1], matching shapes, one image per card", () => {
  const a = (shape) => ({ dtype: "uint8", vmin: 0, vmax: 1, shape, data: new Uint8Array(shape.reduce((x, y) => x * y)) });
  assert.deepEqual(checkImages(a([2, 3, 4, 3]), a([2, 3, 4]), 2).spatial, [3, 4]);
  assert.throws(() => checkImages(a([2, 3, 4, 3]), a([2, 3, 5]), 2), /expected \[n, \.\.\.spatial, 3\]/);
  assert.throws(() => checkImages(a([2, 3, 4, 3]), a([2, 3, 4]), 3), /2 images for 3 cards/);
  assert.throws(() => checkImages({ ...a([2, 3, 4, 3]), vmax: 255 }, a([2, 3, 4]), 2), /levels of \[0, 1\]/);
});

test("bar ticks are round steps of 1, 2 or 5 x 10^k", () => {
  assert.deepEqual(barTicks(0, 1, 3), [0, 0.5, 1]);
  assert.deepEqual(barTicks(0, 1, 6), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(barTicks(0, 0.3, 4), [0, 0.1, 0.2, 0.3]);
  assert.deepEqual(barTicks(0, 1, 1), [0]);
  assert.deepEqual([barPercent(0.25), barPercent(-1), barPercent(3)], [25, 0, 100]);
  assert.equal(barsLabel([0.894, 0.54, 0.7012]), "foreground mean R 0.894, G 0.54, B 0.701");
});

test("component numbers are checked before they are sent", () => {
  assert.equal(componentProblem([1, 2, 3], 8), "");
  assert.match(componentProblem([1, 2, 9], 8), /1\.\.8/);
  assert.match(componentProblem([0, 2, 3], 8), /1\.\.8/);
  assert.match(componentProblem([1.5, 2, 3], 8), /1\.\.8/);
  assert.match(componentProblem([2, 2, 3], 8), /distinct/);
  assert.equal(selectionText([1, 2, 3], [0, 1, 2, 3, 4]), "3 selected · 5 shown");
});
