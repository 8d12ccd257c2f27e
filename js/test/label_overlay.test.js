import { test } from "node:test";
import assert from "node:assert/strict";
import { classIds, labelColor, paintLabels, paintMask, MASK_COLOR, MASK_STYLE } from "../src/label_overlay.js";
import { LastRequestWins } from "../src/requests.js";

test("labels: class 0 is not drawn; other classes cycle through the palette", () => {
  assert.equal(labelColor(0), null);
  assert.deepEqual(labelColor(1), [78, 121, 167]);
  assert.deepEqual(labelColor(13), labelColor(1));
});

test("classIds: bytes as class ids for vmin 0 / vmax 255, rescaled otherwise", () => {
  const data = Uint8Array.from([0, 3, 255]);
  assert.equal(classIds({ data, vmin: 0, vmax: 255 }), data);
  assert.deepEqual(Array.from(classIds({ data: Uint8Array.from([0, 128, 255]), vmin: 0, vmax: 2 })), [0, 1, 2]);
});

test("paintLabels blends the class colour at alpha 0.4 (rounded), leaves class 0 alone", () => {
  const rgba = new Uint8ClampedArray([100, 100, 100, 255, 100, 100, 100, 255]);
  paintLabels(rgba, Uint8Array.from([1, 0]), 0.4);
  // 0.6 * 100 + 0.4 * (78, 121, 167) = (91.2, 108.4, 126.8)
  assert.deepEqual(Array.from(rgba), [91, 108, 127, 255, 100, 100, 100, 255]);
});

test("paintMask: solid outline, light hatch every 6th diagonal, lighter tint inside; outside M untouched", () => {
  const n = 8;
  const rgba = new Uint8ClampedArray(4 * n * n).fill(100);
  const mask = new Uint8Array(n * n).fill(1);
  mask[n * n - 1] = 0; // the last pixel is outside M
  paintMask(rgba, mask, n, n);
  const px = (r, c) => Array.from(rgba.subarray(4 * (r * n + c), 4 * (r * n + c) + 3));
  assert.deepEqual(px(0, 0), MASK_COLOR); // the image's border
  assert.deepEqual(px(6, 7), MASK_COLOR); // beside the pixel outside M
  assert.deepEqual(px(7, 7), [100, 100, 100]); // outside M
  // hatch: (3 + 3) % 6 == 0 -> 0.4 * 100 + 0.6 * (255, 230, 0) = (193, 178, 40)
  assert.deepEqual(px(3, 3), [193, 178, 40]);
  assert.deepEqual(px(2, 4), [193, 178, 40]);
  // tint: 0.8 * 100 + 0.2 * (255, 230, 0) = (131, 126, 80)
  assert.deepEqual(px(2, 2), [131, 126, 80]);
  assert.deepEqual(px(4, 3), [131, 126, 80]);
  assert.deepEqual(MASK_STYLE, { border: 1, hatch: 0.6, tint: 0.2, hatchEvery: 6 });
});

test("paintMask keeps a full M readable: most pixels keep 80% of the image", () => {
  const rows = 30;
  const cols = 40;
  const base = new Uint8ClampedArray(4 * rows * cols);
  for (let i = 0; i < rows * cols; i++) base.fill(50 + (i % 150), 4 * i, 4 * i + 4);
  const rgba = base.slice();
  paintMask(rgba, new Uint8Array(rows * cols).fill(1), rows, cols);
  let kept = 0;
  for (let i = 0; i < rows * cols; i++) if (rgba[4 * i + 2] >= 0.79 * base[4 * i + 2]) kept++;
  assert.ok(kept / (rows * cols) > 0.7, `${kept} of ${rows * cols}`);
});

test("requestAll: mask and first target class travel together, held together while busy", () => {
  const sent = [];
  const q = new LastRequestWins((c) => sent.push(c));
  assert.equal(q.requestAll({ mask_bits: "m1", target_class: 2 }), true);
  q.setBusy(true);
  assert.equal(q.requestAll({ mask_bits: "m2" }), false);
  q.requestAll({ mask_bits: "m3", target_class: 4 });
  q.request("layer", "conv2");
  assert.deepEqual(sent, [{ mask_bits: "m1", target_class: 2 }]);
  q.setBusy(false);
  assert.deepEqual(sent[1], { mask_bits: "m3", target_class: 4, layer: "conv2" });
});
