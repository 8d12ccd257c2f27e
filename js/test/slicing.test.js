import { test } from "node:test";
import assert from "node:assert/strict";
import {
  centreVoxel, clampVoxel, crosshair, cssToPixel, extractSlice, flatIndex, formatVoxel,
  orthogonalViews, pixelToCss, pixelToVoxel, sliceDims, viewAxes, voxelToPixel,
} from "../src/slicing.js";

// a [2, 3, 4] volume whose value is its flat index: v(z, y, x) = 12 z + 4 y + x
const shape = [2, 3, 4];
const vol = Float32Array.from({ length: 24 }, (_, i) => i);

test("axial slice (axis 0) shows (y, x) and is a zero-copy view", () => {
  const s = extractSlice(vol, shape, 0, 1);
  assert.deepEqual([...s], [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
  assert.equal(s.buffer, vol.buffer);
  assert.deepEqual(sliceDims(shape, 0), { rows: 3, cols: 4, depth: 2 });
});

test("coronal slice (axis 1) shows (z, x)", () => {
  assert.deepEqual([...extractSlice(vol, shape, 1, 2)], [8, 9, 10, 11, 20, 21, 22, 23]);
  assert.deepEqual(sliceDims(shape, 1), { rows: 2, cols: 4, depth: 3 });
});

test("sagittal slice (axis 2) shows (z, y)", () => {
  assert.deepEqual([...extractSlice(vol, shape, 2, 3)], [3, 7, 11, 15, 19, 23]);
  assert.deepEqual([...extractSlice(vol, shape, 2, 0)], [0, 4, 8, 12, 16, 20]);
  assert.deepEqual(sliceDims(shape, 2), { rows: 2, cols: 3, depth: 4 });
});

test("out buffers are reused, keep the input's type, and indices are clamped", () => {
  const u8 = Uint8Array.from(vol);
  const out = new Uint8Array(6);
  const s = extractSlice(u8, shape, 2, 99, out); // clamped to x = 3
  assert.equal(s, out);
  assert.deepEqual([...out], [3, 7, 11, 15, 19, 23]);
  const t = extractSlice(u8, shape, 1, 0, new Float32Array(8)); // wrong type: not reused
  assert.ok(t instanceof Uint8Array);
  assert.deepEqual([...t], [0, 1, 2, 3, 12, 13, 14, 15]);
  assert.deepEqual([...extractSlice(vol, shape, 0, -5)], [...vol.subarray(0, 12)]);
});

test("2D arrays pass through", () => {
  const img = Float32Array.from([1, 2, 3, 4, 5, 6]);
  assert.equal(extractSlice(img, [2, 3], 0, 0), img);
  assert.equal(extractSlice(img, [2, 3], 2, 5), img);
  assert.deepEqual(viewAxes(2, 0), { rowAxis: 0, colAxis: 1 });
  assert.deepEqual(sliceDims([2, 3], 0), { rows: 2, cols: 3, depth: 1 });
});

test("every voxel of every slice matches the volume (flatIndex agrees)", () => {
  for (let axis = 0; axis < 3; axis++) {
    const { rows, cols, depth } = sliceDims(shape, axis);
    for (let index = 0; index < depth; index++) {
      const s = extractSlice(vol, shape, axis, index);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const v = pixelToVoxel(r, c, axis, index, 3);
          assert.equal(s[r * cols + c], vol[flatIndex(shape, v)]);
          assert.deepEqual(voxelToPixel(v, axis, 3), { row: r, col: c, index });
        }
      }
    }
  }
});

test("click -> pixel on a canvas scaled by 50 and by a non-integer factor, and back", () => {
  // 4 x 3 data pixels shown at 200 x 150 CSS px
  assert.deepEqual(cssToPixel(120, 140, 200, 150, 4, 3), { row: 2, col: 2 });
  assert.deepEqual(cssToPixel(0, 0, 200, 150, 4, 3), { row: 0, col: 0 });
  assert.deepEqual(cssToPixel(200, 150, 200, 150, 4, 3), { row: 2, col: 3 }); // right/bottom edge
  assert.deepEqual(cssToPixel(49.9, 50, 200, 150, 4, 3), { row: 1, col: 0 });
  assert.equal(cssToPixel(-1, 10, 200, 150, 4, 3), null);
  assert.equal(cssToPixel(10, 151, 200, 150, 4, 3), null);
  assert.deepEqual(pixelToCss(2, 2, 200, 150, 4, 3), { x: 125, y: 125 });
  // 4 x 3 shown at 130 x 97.5 (scale 32.5): pixel centres map back to themselves
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 4; col++) {
      const { x, y } = pixelToCss(row, col, 130, 97.5, 4, 3);
      assert.deepEqual(cssToPixel(x, y, 130, 97.5, 4, 3), { row, col });
    }
  }
  assert.deepEqual(cssToPixel(65, 33, 130, 97.5, 4, 3), { row: 1, col: 2 });
});

test("pixel -> voxel for each view", () => {
  assert.deepEqual(pixelToVoxel(2, 3, 0, 1, 3), [1, 2, 3]);
  assert.deepEqual(pixelToVoxel(1, 3, 1, 2, 3), [1, 2, 3]);
  assert.deepEqual(pixelToVoxel(1, 2, 2, 3, 3), [1, 2, 3]);
  assert.deepEqual(pixelToVoxel(1, 2, 0, 0, 2), [1, 2]);
});

test("crosshair geometry of the three orthogonal views through (z, y, x) = (1, 2, 3)", () => {
  const views = orthogonalViews(shape, [1, 2, 3]);
  assert.deepEqual(views.map((v) => [v.name, v.axis, v.index, v.rows, v.cols, v.row, v.col]), [
    ["axial", 0, 1, 3, 4, 2, 3],
    ["coronal", 1, 2, 2, 4, 1, 3],
    ["sagittal", 2, 3, 2, 3, 1, 2],
  ]);
  assert.deepEqual([views[0].x, views[0].y, views[0].fx, views[0].fy], [3.5, 2.5, 3.5 / 4, 2.5 / 3]);
  assert.deepEqual([views[1].fx, views[1].fy], [3.5 / 4, 1.5 / 2]);
  assert.deepEqual([views[2].fx, views[2].fy], [2.5 / 3, 1.5 / 2]);
  const c2 = crosshair([0, 2], [2, 3], 0);
  assert.deepEqual([c2.row, c2.col, c2.fx, c2.fy], [0, 2, 2.5 / 3, 0.5 / 2]);
});

test("voxel helpers: centre, clamp, format", () => {
  assert.deepEqual(centreVoxel([128, 64, 5]), [64, 32, 2]);
  assert.deepEqual(clampVoxel([5, -1, 2], shape), [1, 0, 2]);
  assert.deepEqual(clampVoxel([], shape), [1, 1, 2]);
  assert.deepEqual(clampVoxel([1, 1], shape), [1, 1, 2]);
  assert.equal(formatVoxel([1, 2, 3]), "z=1 y=2 x=3");
  assert.equal(formatVoxel([4, 5]), "y=4 x=5");
});
