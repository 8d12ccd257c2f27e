import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeArray, isEmptyArray, linearParams, toBytes, valueAt, zeroTolerance } from "../src/codec.js";

const u8 = new Uint8Array([0, 51, 102, 255, 10, 20]);

test("uint8 from a DataView keeps shape, range and values (no copy)", () => {
  const dv = new DataView(u8.buffer);
  const a = decodeArray({ buffer: dv, dtype: "uint8", shape: [2, 3], vmin: -1, vmax: 4 });
  assert.equal(a.dtype, "uint8");
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.vmin, -1);
  assert.equal(a.vmax, 4);
  assert.ok(a.data instanceof Uint8Array);
  assert.deepEqual([...a.data], [0, 51, 102, 255, 10, 20]);
  assert.equal(a.data.buffer, u8.buffer);
});

test("uint8 from an ArrayBuffer and from a typed array", () => {
  const a = decodeArray({ buffer: u8.buffer, dtype: "uint8", shape: [6], vmin: 0, vmax: 1 });
  assert.deepEqual([...a.data], [...u8]);
  const b = decodeArray({ buffer: u8.subarray(1, 4), dtype: "uint8", shape: [3], vmin: 0, vmax: 1 });
  assert.deepEqual([...b.data], [51, 102, 255]);
});

test("a DataView with an offset is honoured", () => {
  const bytes = new Uint8Array([9, 9, 1, 2, 3, 4, 9]);
  const dv = new DataView(bytes.buffer, 2, 4);
  assert.deepEqual([...toBytes(dv)], [1, 2, 3, 4]);
  const a = decodeArray({ buffer: dv, dtype: "uint8", shape: [2, 2], vmin: 0, vmax: 255 });
  assert.deepEqual([...a.data], [1, 2, 3, 4]);
});

test("float32 from DataView (aligned and unaligned) and ArrayBuffer", () => {
  const f = new Float32Array([1.5, -2.25, 3e-3, 1024]);
  const a = decodeArray({ buffer: new DataView(f.buffer), dtype: "float32", shape: [4], vmin: -2.25, vmax: 1024 });
  assert.ok(a.data instanceof Float32Array);
  assert.deepEqual([...a.data], [1.5, -2.25, Math.fround(3e-3), 1024]);
  // the same bytes at offset 1 (anywidget may hand a view into a larger message buffer)
  const shifted = new Uint8Array(17);
  shifted.set(new Uint8Array(f.buffer), 1);
  const b = decodeArray({ buffer: new DataView(shifted.buffer, 1, 16), dtype: "float32", shape: [2, 2], vmin: 0, vmax: 1 });
  assert.deepEqual([...b.data], [1.5, -2.25, Math.fround(3e-3), 1024]);
  const c = decodeArray({ buffer: f.buffer, dtype: "float32", shape: [4] });
  assert.equal(c.vmin, -2.25); // range computed when missing
  assert.equal(c.vmax, 1024);
});

test("valueAt maps uint8 codes through vmin/vmax and returns float32 values as is", () => {
  const a = decodeArray({ buffer: u8, dtype: "uint8", shape: [6], vmin: -1, vmax: 4 });
  assert.equal(valueAt(a, 0), -1);
  assert.equal(valueAt(a, 3), 4);
  assert.ok(Math.abs(valueAt(a, 1) - 0) < 1e-12); // 51/255*5 - 1 = 0
  assert.ok(Math.abs(valueAt(a, 2) - 1) < 1e-12); // 102/255*5 - 1 = 1
  const f = decodeArray({ buffer: new Float32Array([0.25, -7]), dtype: "float32", shape: [2], vmin: -7, vmax: 0.25 });
  assert.equal(valueAt(f, 1), -7);
  assert.deepEqual(linearParams(f), { scale: 1, offset: 0 });
  assert.deepEqual(linearParams(a), { scale: 5 / 255, offset: -1 });
});

test("empty dict means nothing; malformed dicts throw readable errors", () => {
  assert.equal(decodeArray({}), null);
  assert.equal(decodeArray(null), null);
  assert.equal(isEmptyArray({}), true);
  assert.throws(() => decodeArray({ buffer: u8, dtype: "uint8", shape: [2, 2] }), /6 bytes, shape \[2,2\] of uint8 needs 4/);
  assert.throws(() => decodeArray({ buffer: u8, dtype: "int16", shape: [3] }), /unsupported dtype "int16"/);
  assert.throws(() => decodeArray({ buffer: [1, 2], dtype: "uint8", shape: [2] }), /DataView, ArrayBuffer or typed array/);
});

test("zeroTolerance is half a uint8 step (0 for float32)", () => {
  const a = decodeArray({ buffer: u8, dtype: "uint8", shape: [6], vmin: -2.55, vmax: 2.55 });
  assert.ok(Math.abs(zeroTolerance(a) - 0.01) < 1e-9);
  const f = decodeArray({ buffer: new Float32Array(2), dtype: "float32", shape: [2], vmin: 0, vmax: 0 });
  assert.equal(zeroTolerance(f), 0);
});
