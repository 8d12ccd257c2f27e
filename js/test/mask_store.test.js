import { test } from "node:test";
import assert from "node:assert/strict";
import { combineAlong, createMaskStore, slicesWithMask } from "../src/pixel_set_picker/mask_store.js";
import { extractSlice } from "../src/slicing.js";

const SHAPE = [3, 4, 5]; // (z, y, x): every axis a different length
const N = SHAPE[0] * SHAPE[1] * SHAPE[2];
const at = (z, y, x) => (z * SHAPE[1] + y) * SHAPE[2] + x;

/** The voxels [z, y, x] set in a volume mask. */
function voxels(mask) {
  const out = [];
  for (let z = 0; z < SHAPE[0]; z++) for (let y = 0; y < SHAPE[1]; y++) for (let x = 0; x < SHAPE[2]; x++) {
    if (mask[at(z, y, x)]) out.push([z, y, x]);
  }
  return out;
}

/** A slice stroke of rows x cols with the given (row, col) pixels set. */
function stroke(rows, cols, pixels) {
  const s = new Uint8Array(rows * cols);
  for (const [r, c] of pixels) s[r * cols + c] = 1;
  return s;
}

test("combineAlong axis 0: the stroke's (row, col) is (y, x) of slice z", () => {
  const m = new Uint8Array(N);
  combineAlong(m, SHAPE, 0, 2, stroke(4, 5, [[1, 3], [3, 0]]), "replace");
  assert.deepEqual(voxels(m), [[2, 1, 3], [2, 3, 0]]);
});

test("combineAlong axis 1: (row, col) is (z, x) at y = index", () => {
  const m = new Uint8Array(N);
  combineAlong(m, SHAPE, 1, 3, stroke(3, 5, [[0, 4], [2, 1]]), "replace");
  assert.deepEqual(voxels(m), [[0, 3, 4], [2, 3, 1]]);
});

test("combineAlong axis 2: (row, col) is (z, y) at x = index", () => {
  const m = new Uint8Array(N);
  combineAlong(m, SHAPE, 2, 1, stroke(3, 4, [[1, 2], [2, 3]]), "replace");
  assert.deepEqual(voxels(m), [[1, 2, 1], [2, 3, 1]]);
});

test("combineAlong modes on every axis: replace clears all of M, add sets, subtract clears", () => {
  for (const axis of [0, 1, 2]) {
    const m = new Uint8Array(N);
    m[at(0, 0, 0)] = 1; // elsewhere in M: replace clears it
    const rows = axis === 0 ? 4 : 3;
    const cols = axis === 2 ? 4 : 5;
    combineAlong(m, SHAPE, axis, 1, stroke(rows, cols, [[1, 1], [2, 2]]), "replace");
    const slice = extractSlice(m, SHAPE, axis, 1);
    assert.deepEqual(Array.from(slice), Array.from(stroke(rows, cols, [[1, 1], [2, 2]])), `axis ${axis}`);
    assert.equal(m.reduce((a, b) => a + b, 0), 2, `replace clears the rest (axis ${axis})`);
    combineAlong(m, SHAPE, axis, 0, stroke(rows, cols, [[0, 0]]), "add");
    assert.equal(m[at(0, 0, 0)], 1);
    combineAlong(m, SHAPE, axis, 1, stroke(rows, cols, [[1, 1]]), "subtract");
    assert.equal(m.reduce((a, b) => a + b, 0), 2, `subtract removes one (axis ${axis})`);
    assert.equal(extractSlice(m, SHAPE, axis, 1)[1 * cols + 1], 0);
  }
  assert.throws(() => combineAlong(new Uint8Array(N), SHAPE, 1, 0, new Uint8Array(15), "xor"), /mode must be/);
});

test("combineAlong in 2D ignores the axis", () => {
  const m = new Uint8Array(6);
  combineAlong(m, [2, 3], 0, 0, Uint8Array.from([0, 1, 0, 0, 0, 1]), "replace");
  assert.deepEqual(Array.from(m), [0, 1, 0, 0, 0, 1]);
});

test("slicesWithMask lists the slices along each axis that hold part of M", () => {
  const m = new Uint8Array(N);
  m[at(0, 2, 4)] = 1;
  m[at(2, 2, 1)] = 1;
  assert.deepEqual(slicesWithMask(m, SHAPE, 0), [0, 2]);
  assert.deepEqual(slicesWithMask(m, SHAPE, 1), [2]);
  assert.deepEqual(slicesWithMask(m, SHAPE, 2), [1, 4]);
  assert.deepEqual(slicesWithMask(new Uint8Array(N), SHAPE, 0), []);
  assert.deepEqual(slicesWithMask(new Uint8Array(6), [2, 3], 0), []);
});

test("mask store: encode / load round trip, {} for the empty set, fill, count, slices", () => {
  const store = createMaskStore();
  store.reset(SHAPE);
  assert.deepEqual(store.encode(), {});
  store.combine(1, 2, stroke(3, 5, [[1, 4]]), "replace");
  assert.equal(store.count(), 1);
  assert.deepEqual(store.slices(0), [1]);
  assert.deepEqual(store.slices(2), [4]);
  const bits = store.encode();
  assert.deepEqual(bits.shape, SHAPE);
  assert.equal(bits.encoding, "bits");
  // voxel (1, 2, 4) is flat index 34: byte 4, bit 2 from the top (MSB first, as np.packbits)
  const bytes = new Uint8Array(bits.buffer.buffer);
  assert.equal(bytes.length, Math.ceil(N / 8));
  assert.deepEqual(Array.from(bytes), Array.from({ length: 8 }, (_, i) => (i === 4 ? 0x20 : 0)));
  const other = createMaskStore();
  other.reset(SHAPE);
  other.load(bits);
  assert.deepEqual(voxels(other.mask), [[1, 2, 4]]);
  assert.deepEqual(Array.from(other.slice(2, 4)), Array.from(stroke(3, 4, [[1, 2]])));
  other.load({});
  assert.equal(other.count(), 0);
  other.fill(1);
  assert.equal(other.count(), N);
  assert.throws(() => other.load({ ...bits, shape: [3, 5, 4] }), /shape/);
  other.reset(null);
  assert.equal(other.mask.length, 0);
  assert.deepEqual(other.slices(0), []);
  assert.deepEqual(other.encode(), {});
});
