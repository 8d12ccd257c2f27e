import { test } from "node:test";
import assert from "node:assert/strict";
import { countSet, decodeMask, encodeMask, packBits, unpackBits } from "../src/mask_codec.js";

test("bit order is NumPy's packbits (MSB first, last byte zero-padded)", () => {
  // np.packbits([1,0,0,0,0,0,0,0,1]) -> [128, 128]
  assert.deepEqual(Array.from(packBits(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1]))), [128, 128]);
  // np.packbits([1,1,0,1,0,0,1,0,1,0,1]) -> [210, 160]
  assert.deepEqual(Array.from(packBits(Uint8Array.from([1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1]))), [210, 160]);
  assert.deepEqual(Array.from(packBits(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1]))), [1]);
  assert.deepEqual(Array.from(packBits(new Uint8Array(0))), []);
  assert.deepEqual(Array.from(packBits(Uint8Array.from([0, 3, 0, 0, 0, 0, 0, 0]))), [64]); // non-zero counts as 1
});

test("pack / unpack round trip for lengths that are not multiples of 8", () => {
  for (const n of [1, 7, 8, 9, 13, 64, 65]) {
    const m = Uint8Array.from({ length: n }, (_, i) => ((i * 7 + 3) % 5 < 2 ? 1 : 0));
    const bytes = packBits(m);
    assert.equal(bytes.length, Math.ceil(n / 8));
    assert.deepEqual(unpackBits(bytes, n), m);
  }
  assert.throws(() => unpackBits(new Uint8Array(1), 9), /9 voxels need 2/);
});

test("encodeMask matches np.packbits of a 3D mask, and decodeMask reads what Python sends", () => {
  // rng = np.random.default_rng(0); m = (rng.random((2, 3, 5)) < 0.4).astype(np.uint8)
  const m = Uint8Array.from([0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
  const dict = encodeMask(m, [2, 3, 5]);
  assert.equal(dict.encoding, "bits");
  assert.deepEqual(dict.shape, [2, 3, 5]);
  assert.ok(dict.buffer instanceof DataView);
  assert.deepEqual(Array.from(new Uint8Array(dict.buffer.buffer)), [112, 21, 44, 64]); // np.packbits(m.ravel())
  // Python -> JS: a DataView over a larger buffer at an offset, as a websocket message may be
  const raw = new Uint8Array([9, 112, 21, 44, 64, 9]);
  const back = decodeMask({ buffer: new DataView(raw.buffer, 1, 4), shape: [2, 3, 5], encoding: "bits" }, [2, 3, 5]);
  assert.deepEqual(back.mask, m);
  assert.deepEqual(back.shape, [2, 3, 5]);
  assert.equal(countSet(back.mask), 10); // m.sum()
});

test("decodeMask: {} is the empty set (null); wrong shape or encoding is a readable error", () => {
  assert.equal(decodeMask({}, [2, 2]), null);
  const d = encodeMask(Uint8Array.from([1, 0, 0, 1]), [2, 2]);
  assert.throws(() => decodeMask(d, [4, 1]), /shape \[2,2\] but the image has \[4,1\]/);
  assert.throws(() => decodeMask({ ...d, encoding: "rle" }, [2, 2]), /encoding must be "bits"/);
  assert.throws(() => encodeMask(new Uint8Array(3), [2, 2]), /3 entries/);
  const out = new Uint8Array(4).fill(1);
  assert.equal(decodeMask({ ...d, buffer: d.buffer.buffer }, [2, 2], out).mask, out); // ArrayBuffer, reused out
  assert.deepEqual(Array.from(out), [1, 0, 0, 1]);
});
