import { test } from "node:test";
import assert from "node:assert/strict";
import { CONTROL_POINTS, buildLut, getColormap, interpolate, lutColor, luminance, OVERLAY_COLORMAPS, roundHalfEven } from "../src/colormaps.js";

test("every table has 256 RGB entries; the shared control points are read", () => {
  assert.deepEqual(CONTROL_POINTS.grey, [[0, 0, 0], [255, 255, 255]]);
  for (const name of Object.keys(CONTROL_POINTS)) assert.equal(getColormap(name).length, 768, name);
});

test("endpoints equal the first and last control points", () => {
  assert.deepEqual(lutColor(getColormap("grey"), 0), [0, 0, 0]);
  assert.deepEqual(lutColor(getColormap("grey"), 255), [255, 255, 255]);
  assert.deepEqual(lutColor(getColormap("inferno"), 0), [0, 0, 4]);
  assert.deepEqual(lutColor(getColormap("inferno"), 255), [252, 255, 164]);
  assert.deepEqual(lutColor(getColormap("viridis"), 0), [68, 1, 84]);
  assert.deepEqual(lutColor(getColormap("viridis"), 255), [253, 231, 37]);
  assert.deepEqual(lutColor(getColormap("jet"), 0), [0, 0, 128]);
  assert.deepEqual(lutColor(getColormap("jet"), 255), [128, 0, 0]);
  assert.deepEqual(lutColor(getColormap("hot"), 0), [0, 0, 0]);
  assert.deepEqual(lutColor(getColormap("hot"), 255), [255, 255, 255]);
  assert.deepEqual(lutColor(getColormap("RdBu"), 0), [5, 48, 97]);
  assert.deepEqual(lutColor(getColormap("RdBu"), 255), [103, 0, 31]);
});

test("grey is the identity ramp: entry i = (i, i, i), so luminance rises strictly", () => {
  const lut = getColormap("grey");
  for (let i = 0; i < 256; i++) assert.deepEqual(lutColor(lut, i), [i, i, i]);
  for (let i = 1; i < 256; i++) assert.ok(luminance(lutColor(lut, i)) > luminance(lutColor(lut, i - 1)));
});

test("inferno luminance never decreases", () => {
  const lut = getColormap("inferno");
  for (let i = 1; i < 256; i++) {
    assert.ok(luminance(lutColor(lut, i)) >= luminance(lutColor(lut, i - 1)), `inferno at ${i}`);
  }
});

test("RdBu: near-white neutral centre (127, 128), blue below, red above", () => {
  const lut = getColormap("RdBu");
  // control points 0.4 (209, 229, 240), 0.5 (247, 247, 247), 0.6 (253, 219, 199): t = 127/255, 128/255
  assert.deepEqual(lutColor(lut, 127), [246, 247, 247]);
  assert.deepEqual(lutColor(lut, 128), [247, 246, 246]);
  let lightest = 0;
  for (let i = 0; i < 256; i++) if (luminance(lutColor(lut, i)) > luminance(lutColor(lut, lightest))) lightest = i;
  assert.ok(lightest === 127 || lightest === 128, `lightest entry ${lightest}`);
  const [r0, , b0] = lutColor(lut, 40);
  const [r1, , b1] = lutColor(lut, 215);
  assert.ok(b0 > r0, "negative side is blue");
  assert.ok(r1 > b1, "positive side is red");
});

test("linear interpolation of evenly spaced points, rounded half to even like numpy", () => {
  const pts = [[0, 0, 0], [100, 200, 50], [200, 0, 250]];
  assert.deepEqual(interpolate(pts, 0.25), [50, 100, 25]);
  assert.deepEqual(interpolate(pts, 0.75), [150, 100, 150]);
  assert.deepEqual(interpolate(pts, -1), [0, 0, 0]);
  assert.deepEqual(interpolate(pts, 2), [200, 0, 250]);
  assert.deepEqual([0.5, 1.5, 2.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 2, 3]);
  assert.deepEqual(lutColor(buildLut([[0, 0, 0], [255, 0, 10]]), 51), [51, 0, 2]);
  // a ramp to 127.5 at entry 5 gives 127.5 * 5 / 255 = 2.5, which rounds to 2 (numpy), not 3
  assert.deepEqual(lutColor(buildLut([[0, 0, 0], [127.5, 0, 0]]), 5), [2, 0, 0]);
});

test("the overlay choices are the protocol's, and unknown names throw", () => {
  assert.deepEqual(OVERLAY_COLORMAPS, ["inferno", "viridis", "jet", "hot"]);
  assert.throws(() => getColormap("plasma"), /unknown colormap "plasma"/);
});
