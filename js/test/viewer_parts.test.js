import assert from "node:assert/strict";
import { test } from "node:test";

import { classChoices, sampleCaption } from "../src/cam_viewer/class_control.js";
import { parseWindow } from "../src/cam_viewer/window_control.js";
import { composeRGBA } from "../src/compose.js";
import { asImage, decodeOne } from "../src/shared/arrays.js";
import { isZeroMap, zeroMessage } from "../src/shared/draw.js";
import { panelSide } from "../src/shared/layout.js";

const wire = (bytes, shape, vmin, vmax, extra = {}) => ({ buffer: new DataView(Uint8Array.from(bytes).buffer), dtype: "uint8", shape, vmin, vmax, ...extra });

test("the class select offers 'predicted' first and shows it while following the prediction", () => {
  const c = classChoices({ names: ["cat", "dog"], n: 2, predicted: 1, follow: true, target: 1 });
  assert.deepEqual(c.options.map((o) => o.value), ["predicted", "0", "1"]);
  assert.equal(c.options[0].label, "predicted (dog)");
  assert.equal(c.value, "predicted");
  assert.equal(classChoices({ names: ["cat", "dog"], n: 2, predicted: 1, follow: false, target: 0 }).value, "0");
});

test("a viewer of stored maps offers only the stored classes; the others are disabled with the reason", () => {
  const c = classChoices({ names: ["a", "b", "c"], n: 3, predicted: 2, follow: false, target: 0, available: [0, 2],
    reason: "not stored in this run" });
  assert.deepEqual(c.options.map((o) => !!o.disabled), [false, false, true, false]);
  assert.equal(c.options[2].title, "not stored in this run");
  const none = classChoices({ names: ["a", "b"], n: 2, predicted: 1, follow: true, target: 1, available: [0] });
  assert.equal(none.options[0].disabled, true);  // the predicted class is not stored either
  assert.ok(classChoices({ names: ["a"], n: 1, predicted: 0, follow: true, target: 0 }).options.every((o) => !o.disabled));
});

test("the caption puts the true label beside the prediction", () => {
  assert.equal(sampleCaption({ sample: 2, nSamples: 8, trueLabel: 0, predicted: 1, names: ["face", "non-face"] }),
    "sample 2/7 · true: face · predicted: non-face · ✗");
  assert.equal(sampleCaption({ sample: 0, nSamples: 2, trueLabel: null, predicted: 0, names: ["a"] }), "sample 0/1 · predicted: a");
  assert.equal(sampleCaption({ sample: 0, nSamples: 1, trueLabel: 1, predicted: 1, names: ["a", "b"] }), "true: b · predicted: b · ✓");
});

test("an RGB image decodes into three channel views over the spatial shape", () => {
  const { array, error } = decodeOne(wire([0, 255, 10, 20, 30, 40], [3, 1, 2], 0, 1, { rgb: true }), "image", null);
  assert.equal(error, "");
  assert.deepEqual(array.shape, [1, 2]);
  assert.deepEqual(array.channels.map((c) => [...c]), [[0, 255], [10, 20], [30, 40]]);
  assert.throws(() => asImage({ shape: [2, 4], data: new Uint8Array(8) }, true), /3 channels first/);
  // a map must have the image's spatial shape, not its channel shape
  assert.equal(decodeOne(wire([1, 2], [1, 2], 0, 1), "cam", array).error, "");
  assert.match(decodeOne(wire([1, 2, 3], [3, 1], 0, 1), "cam", array).error, /has shape \[3,1\] but the image has \[1,2\]/);
});

test("a colour base is blended channel by channel: round(level * (1 - a) + colour * a)", () => {
  const base = { channels: [Uint8Array.from([255, 0]), Uint8Array.from([0, 0]), Uint8Array.from([0, 255])], dtype: "uint8", vmin: 0, vmax: 1 };
  base.data = base.channels[0];
  const overlay = { data: Uint8Array.from([0, 255]), dtype: "uint8", vmin: 0, vmax: 1 };
  const lut = new Uint8Array(768).fill(100); // every colour (100, 100, 100)
  const out = composeRGBA(base, overlay, { colormap: lut, opacity: 0.25 });
  assert.deepEqual([...out.slice(0, 4)], [255, 0, 0, 255]); // map 0 is hidden: the red input shows
  assert.deepEqual([...out.slice(4, 8)], [25, 25, 216, 255]); // 0.75 * (0, 0, 255) + 0.25 * 100 = 25, 216.25
  // the window applies to the three channels together
  const win = composeRGBA(base, null, { window: [0, 0.5] });
  assert.deepEqual([...win.slice(0, 3)], [255, 0, 0]);
});

test("zero maps, window parsing and panel sizes", () => {
  assert.ok(isZeroMap({ vmin: 0, vmax: 0 }) && !isZeroMap({ vmin: 0, vmax: 1e-6 }) && !isZeroMap(null));
  assert.match(zeroMessage("gradcam", "cat", "layer4"), /the gradcam map of cat at layer4 is zero everywhere/);
  assert.deepEqual(parseWindow("", "", [0, 1]), []);
  assert.deepEqual(parseWindow("0.2", "", [0, 1]), [0.2, 1]);
  assert.equal(parseWindow("2", "1", [0, 1]), null);
  assert.equal(panelSide(1400, 2), 460);
  assert.equal(panelSide(900, 2), 370);
  assert.equal(panelSide(300, 3), 140);
});

test("displayScale: whole numbers from WHOLE_FROM up, quarters below, never larger than the target", async () => {
  const { displayScale, WHOLE_FROM } = await import("../src/shared/map_panel.js");
  assert.equal(displayScale(64, 64, 400), 6); // 6.25 -> 6
  assert.equal(displayScale(64, 64, 183), 2.75); // 2.86 -> 2.75, not 2 (a third of the side lost)
  assert.equal(displayScale(25, 25, 460), Math.floor(460 / 25));
  assert.equal(displayScale(1000, 500, 400), 0.4); // large images shrink freely
  for (const [n, side] of [[64, 183], [24, 150], [128, 300], [7, 460]]) {
    const s = displayScale(n, n, side);
    assert.ok(s * n <= side && s * n > side * (1 - 1 / WHOLE_FROM) - 1, `${n} px in ${side}: ${s}`);
  }
});

test("theme: colours parsed from computed styles; the luma decides light or dark", async () => {
  const { parseColour } = await import("../src/shared/theme.js");
  const { luminance } = await import("../src/colormaps.js");
  assert.deepEqual(parseColour("rgb(17, 17, 17)"), [[17, 17, 17], 1]);
  assert.deepEqual(parseColour("rgba(255, 255, 255, 0)"), [[255, 255, 255], 0]); // transparent: look further up
  assert.equal(parseColour("transparent"), null);
  assert.ok(luminance([17, 17, 17]) < 0.4 * 255 && luminance([245, 245, 245]) > 0.4 * 255);
});
