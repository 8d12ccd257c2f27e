import { test } from "node:test";
import assert from "node:assert/strict";
import { classIds, labelColor, paintLabels, paintMask, MASK_COLOR } from "../src/label_overlay.js";
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

test("paintMask: outline and hatch solid, interior tinted", () => {
  const rgba = new Uint8ClampedArray(4 * 16).fill(100);
  paintMask(rgba, new Uint8Array(16).fill(1), 4, 4, 0.35);
  const px = (r, c) => Array.from(rgba.subarray(4 * (r * 4 + c), 4 * (r * 4 + c) + 3));
  assert.deepEqual(px(0, 0), MASK_COLOR); // border
  assert.deepEqual(px(2, 2), MASK_COLOR); // hatch: (2 + 2) % 4 == 0
  // interior: 0.65 * 100 + 0.35 * (255, 230, 0) = (154.25, 145.5, 65) -> half to even: 146
  assert.deepEqual(px(1, 1), [154, 146, 65]);
  assert.deepEqual(px(1, 2), [154, 146, 65]);
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
