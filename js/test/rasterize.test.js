import { test } from "node:test";
import assert from "node:assert/strict";
import {
  brushStroke, combineStroke, equalMask, fillPolygon, fillRect, pointMask, regionGrow, sliceOfMask,
  stampSegment, strokeMode,
} from "../src/rasterize.js";

/** A mask as rows of "0"/"1" strings, for readable expectations. */
function grid(mask, rows, cols) {
  return Array.from({ length: rows }, (_, r) => Array.from(mask.subarray(r * cols, (r + 1) * cols)).join(""));
}
const P = (x, y) => ({ x, y });

test("brush: one disc of radius 1 at a pixel centre is the 4-neighbour plus (diagonals at sqrt 2 are out)", () => {
  assert.deepEqual(grid(brushStroke([P(2.5, 2.5)], 1, 5, 5), 5, 5), [
    "00000",
    "00100",
    "01110",
    "00100",
    "00000",
  ]);
});

test("brush: a segment with round caps (distance to the segment, not to its points)", () => {
  // segment from the centre of (2,1) to the centre of (2,3), radius 1: row 2 reaches the caps at
  // cols 0 and 4 (distance 1), rows 1 and 3 only beside the segment (cols 0 and 4 are at sqrt 2)
  assert.deepEqual(grid(brushStroke([P(1.5, 2.5), P(3.5, 2.5)], 1, 5, 5), 5, 5), [
    "00000",
    "01110",
    "11111",
    "01110",
    "00000",
  ]);
});

test("brush: a polyline with a corner, radius 0.5, clipped at the border", () => {
  const m = brushStroke([P(-3, 0.5), P(2.5, 0.5), P(2.5, 3.5)], 0.5, 4, 4);
  assert.deepEqual(grid(m, 4, 4), [
    "1110",
    "0010",
    "0010",
    "0010",
  ]);
});

test("stampSegment adds to a mask without clearing it; radius 0 takes only centres on the segment", () => {
  const m = new Uint8Array(9);
  m[8] = 1;
  stampSegment(m, 3, 3, P(0.5, 0.5), P(2.5, 0.5), 0);
  assert.deepEqual(grid(m, 3, 3), ["111", "000", "001"]);
});

test("lasso: a square polygon takes the pixels whose centres are inside", () => {
  const m = fillPolygon([P(1, 1), P(4, 1), P(4, 4), P(1, 4)], 6, 6);
  assert.deepEqual(grid(m, 6, 6), ["000000", "011100", "011100", "011100", "000000", "000000"]);
});

test("lasso: a concave (U-shaped) polygon leaves the notch out", () => {
  const u = [P(0, 0), P(5, 0), P(5, 5), P(3, 5), P(3, 2), P(2, 2), P(2, 5), P(0, 5)];
  assert.deepEqual(grid(fillPolygon(u, 5, 5), 5, 5), ["11111", "11111", "11011", "11011", "11011"]);
});

test("lasso: even-odd rule, a self-intersecting bow tie and a triangle (half-open on the edge)", () => {
  // triangle x + y < 4: centres with c + r + 1 < 4; centres exactly on the hypotenuse (c + r = 3) are out
  assert.deepEqual(grid(fillPolygon([P(0, 0), P(4, 0), P(0, 4)], 4, 4), 4, 4), ["1110", "1100", "1000", "0000"]);
  // a pentagram-free check of even-odd: a square traced twice in a figure eight around (1.5, 1.5)
  const outer = [P(0, 0), P(4, 0), P(4, 4), P(0, 4), P(0, 0), P(1, 1), P(1, 3), P(3, 3), P(3, 1), P(1, 1)];
  // the inner square (centres 1.5..2.5) is crossed twice: even -> out
  assert.deepEqual(grid(fillPolygon(outer, 4, 4), 4, 4), ["1111", "1001", "1001", "1111"]);
  assert.deepEqual(grid(fillPolygon([P(0, 0), P(3, 3)], 3, 3), 3, 3), ["000", "000", "000"]); // < 3 points
});

test("rectangle: centres inside the box (boundary included), corners in any order", () => {
  const a = fillRect(P(1.2, 0.6), P(3.4, 2.5), 4, 5);
  assert.deepEqual(grid(a, 4, 5), ["00000", "01100", "01100", "00000"]);
  assert.deepEqual(fillRect(P(3.4, 2.5), P(1.2, 0.6), 4, 5), a);
  assert.deepEqual(grid(fillRect(P(-2, -2), P(9, 0.9), 3, 3), 3, 3), ["111", "000", "000"]);
});

test("point: one pixel; outside the slice nothing", () => {
  assert.deepEqual(grid(pointMask(1, 2, 2, 3), 2, 3), ["000", "001"]);
  assert.deepEqual(grid(pointMask(2, 0, 2, 3), 2, 3), ["000", "000"]);
});

test("region growing is 4-connected on the labels (a diagonal neighbour is not joined)", () => {
  const labels = Uint8Array.from([
    1, 1, 0, 2,
    0, 1, 0, 2,
    1, 0, 1, 1,
    1, 1, 0, 1,
  ]);
  assert.deepEqual(grid(regionGrow(labels, 4, 4, 0, 0), 4, 4), ["1100", "0100", "0000", "0000"]);
  assert.deepEqual(grid(regionGrow(labels, 4, 4, 3, 0), 4, 4), ["0000", "0000", "1000", "1100"]);
  assert.deepEqual(grid(regionGrow(labels, 4, 4, 2, 3), 4, 4), ["0000", "0000", "0011", "0001"]);
  assert.deepEqual(grid(regionGrow(labels, 4, 4, 1, 2), 4, 4), ["0010", "0010", "0000", "0000"]);
});

test("whole class: labels == c over the whole volume", () => {
  assert.deepEqual(Array.from(equalMask(Uint8Array.from([0, 2, 2, 1, 2, 0]), 2)), [0, 1, 1, 0, 1, 0]);
});

test("stroke modes: plain replaces, shift adds, alt (or the erase tool) subtracts", () => {
  assert.equal(strokeMode({}, "brush"), "replace");
  assert.equal(strokeMode({ shiftKey: true }, "lasso"), "add");
  assert.equal(strokeMode({ altKey: true }, "brush"), "subtract");
  assert.equal(strokeMode({ altKey: true, shiftKey: true }, "brush"), "subtract");
  assert.equal(strokeMode({ shiftKey: true }, "erase"), "subtract");
  assert.equal(strokeMode({}, "erase"), "subtract");
});

test("combineStroke on a volume: replace clears every slice, add / subtract touch only the stroke's slice", () => {
  // volume [2, 2, 2]: slice 0 = elements 0..3, slice 1 = elements 4..7
  const base = () => Uint8Array.from([1, 0, 1, 0, 1, 1, 0, 0]);
  const stroke = Uint8Array.from([0, 1, 1, 0]);
  assert.deepEqual(Array.from(combineStroke(base(), stroke, "replace", 4)), [0, 0, 0, 0, 0, 1, 1, 0]);
  assert.deepEqual(Array.from(combineStroke(base(), stroke, "add", 4)), [1, 0, 1, 0, 1, 1, 1, 0]);
  assert.deepEqual(Array.from(combineStroke(base(), stroke, "subtract", 4)), [1, 0, 1, 0, 1, 0, 0, 0]);
  assert.deepEqual(Array.from(combineStroke(base(), stroke, "subtract", 0)), [1, 0, 0, 0, 1, 1, 0, 0]);
  assert.throws(() => combineStroke(base(), stroke, "add", 6), /does not fit/);
  assert.throws(() => combineStroke(base(), stroke, "xor", 0), /mode must be/);
});

test("sliceOfMask is a view (writes land in the volume)", () => {
  const vol = new Uint8Array(12);
  const s = sliceOfMask(vol, [3, 2, 2], 1);
  s[3] = 1;
  assert.equal(vol[7], 1);
  assert.equal(sliceOfMask(vol, [3, 4]), vol);
});
