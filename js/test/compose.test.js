import { test } from "node:test";
import assert from "node:assert/strict";
import { getColormap, lutColor, roundHalfEven } from "../src/colormaps.js";
import {
  colorIndex, colorbarPixels, colorbarTicks, composeRGBA, formatValue, greyLevel, overlayRange, windowRange,
} from "../src/compose.js";

const u8 = (values, vmin = 0, vmax = 255) => ({ data: Uint8Array.from(values), dtype: "uint8", vmin, vmax });
const f32 = (values, vmin, vmax) => ({ data: Float32Array.from(values), dtype: "float32", vmin, vmax });
// a test colormap: entry i = (i, 0, 255 - i)
const ramp = new Uint8Array(768);
for (let i = 0; i < 256; i++) { ramp[3 * i] = i; ramp[3 * i + 2] = 255 - i; }
const px = (rgba, i) => [...rgba.subarray(4 * i, 4 * i + 4)];

test("base 100 under overlay 1.0 (colour (255, 0, 0)) at opacity 0, 1 and 0.5", () => {
  const base = u8([100]);
  const over = f32([1], 0, 1);
  assert.deepEqual(px(composeRGBA(base, over, { colormap: ramp, opacity: 0 }), 0), [100, 100, 100, 255]);
  assert.deepEqual(px(composeRGBA(base, over, { colormap: ramp, opacity: 1 }), 0), [255, 0, 0, 255]);
  assert.deepEqual(px(composeRGBA(base, over, { colormap: ramp, opacity: 0.5 }), 0), [178, 50, 50, 255]);
  // overlay 0.5 -> index round(127.5) = 128 -> (128, 0, 127); with 0.25 opacity over grey 100
  assert.deepEqual(px(composeRGBA(base, f32([0.5], 0, 1), { colormap: ramp, opacity: 0.25 }), 0),
    [roundHalfEven(75 + 32), 75, roundHalfEven(75 + 31.75), 255]);
});

test("uint8 overlays go through vmin/vmax the same way as float32", () => {
  const base = u8([100, 100]);
  const over = u8([255, 51], 0, 5); // real values 5 and 1
  const rgba = composeRGBA(base, over, { colormap: ramp, opacity: 1, hideZero: false });
  assert.deepEqual(px(rgba, 0), [255, 0, 0, 255]);
  assert.deepEqual(px(rgba, 1), [51, 0, 204, 255]);
});

test("windowing maps [low, high] onto black..white and clips outside", () => {
  const base = u8([40, 50, 75, 100, 150, 200]);
  const rgba = composeRGBA(base, null, { window: [50, 150] });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => px(rgba, i)[0]), [0, 0, 64, 128, 255, 255]);
  // real units: uint8 codes over [-1, 1]; window [0, 1] -> code 191 (0.498) ~ grey 127
  const b2 = u8([0, 128, 191, 255], -1, 1);
  const r2 = composeRGBA(b2, null, { window: [0, 1] });
  assert.deepEqual([0, 1, 2, 3].map((i) => px(r2, i)[0]), [0, 1, 127, 255]);
  // an empty window is the full range; float32 bases too
  const r3 = composeRGBA(f32([-2, 0, 2], -2, 2), null, { window: [] });
  assert.deepEqual([0, 1, 2].map((i) => px(r3, i)[0]), [0, 128, 255]);
  assert.deepEqual(windowRange({ vmin: -2, vmax: 2 }, [1]), [-2, 2]);
  assert.deepEqual(windowRange({ vmin: -2, vmax: 2 }, [3, 1]), [-2, 2]);
  assert.equal(greyLevel(5, 5, 5), 255); // a zero-width window is a threshold
  assert.equal(greyLevel(4.9, 5, 5), 0);
});

test("overlay values outside the map's range are clipped to the ends of the colormap", () => {
  const rgba = composeRGBA(u8([0, 0]), f32([5, -3], 0, 1), { colormap: ramp, opacity: 1, hideZero: false });
  assert.deepEqual(px(rgba, 0), [255, 0, 0, 255]);
  assert.deepEqual(px(rgba, 1), [0, 0, 255, 255]);
  assert.equal(colorIndex(0.5, 0, 1), 128);
  assert.equal(colorIndex(2, 1, 1), 255);
});

test("signed maps are centred on 0: the white centre of RdBu at 0, its ends at -m and m", () => {
  const over = f32([0, -4, 4, -2], -2, 4); // signed -> range [-4, 4]
  assert.deepEqual(overlayRange(over, true), [-4, 4]);
  const rgba = composeRGBA(u8([0, 0, 0, 0]), over, { signed: true, opacity: 1, hideZero: false, colormap: "inferno" });
  assert.deepEqual(px(rgba, 0), [247, 246, 246, 255]); // index round(127.5) = 128
  assert.deepEqual(px(rgba, 1), [5, 48, 97, 255]);
  assert.deepEqual(px(rgba, 2), [103, 0, 31, 255]);
  // -2 -> t = 0.25 -> index 64 -> RdBu at 64/255 = 0.251, between points 0.2 (67, 147, 195) and 0.3 (146, 197, 222)
  assert.deepEqual(px(rgba, 3), [107, 172, 209, 255]);
  assert.deepEqual(lutColor(getColormap("RdBu"), 64), [107, 172, 209]);
});

test("relu hides negative values of a signed map; positives stay", () => {
  const over = f32([-1, 0.5], -1, 1);
  const opts = { signed: true, opacity: 1, relu: true };
  const rgba = composeRGBA(u8([30, 30]), over, opts);
  assert.deepEqual(px(rgba, 0), [30, 30, 30, 255]);
  assert.deepEqual(px(rgba, 1), [...lutColor(getColormap("RdBu"), 191), 255]);
  const noRelu = composeRGBA(u8([30, 30]), over, { ...opts, relu: false });
  assert.deepEqual(px(noRelu, 0), [5, 48, 97, 255]);
});

test("zero is transparent by default (within half a uint8 step), and drawn with hideZero: false", () => {
  // signed uint8 over [-1, 1]: codes 127 and 128 are -1/255 and +1/255, i.e. 0 to the codec's precision
  const over = u8([127, 128, 126, 0], -1, 1);
  const rgba = composeRGBA(u8([60, 60, 60, 60]), over, { signed: true, opacity: 1 });
  assert.deepEqual(px(rgba, 0), [60, 60, 60, 255]);
  assert.deepEqual(px(rgba, 1), [60, 60, 60, 255]);
  assert.notDeepEqual(px(rgba, 2), [60, 60, 60, 255]);
  assert.deepEqual(px(rgba, 3), [5, 48, 97, 255]);
  const unsigned = composeRGBA(u8([60]), u8([0], 0, 2), { colormap: ramp, opacity: 1, hideZero: false });
  assert.deepEqual(px(unsigned, 0), [0, 0, 255, 255]);
  const hidden = composeRGBA(u8([60]), u8([0], 0, 2), { colormap: ramp, opacity: 1 });
  assert.deepEqual(px(hidden, 0), [60, 60, 60, 255]);
});

test("out buffers are reused; mismatched sizes throw", () => {
  const out = new Uint8ClampedArray(8);
  assert.equal(composeRGBA(u8([1, 2]), null, {}, out), out);
  assert.deepEqual([...out], [1, 1, 1, 255, 2, 2, 2, 255]);
  assert.throws(() => composeRGBA(u8([1, 2]), f32([1], 0, 1), {}), /overlay has 1 values, base 2/);
});

test("colour bar pixels: vertical puts the high end on top, horizontal on the right", () => {
  const v = colorbarPixels(getColormap("grey"), { length: 256, thickness: 1 });
  assert.deepEqual(px(v, 0), [255, 255, 255, 255]);
  assert.deepEqual(px(v, 255), [0, 0, 0, 255]);
  assert.deepEqual(px(v, 100), [155, 155, 155, 255]);
  const hz = colorbarPixels(ramp, { length: 3, thickness: 2, vertical: false });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => px(hz, i)[0]), [0, 128, 255, 0, 128, 255]);
});

test("colour bar ticks carry real values: vmin, 0 for signed maps, vmax", () => {
  assert.deepEqual(colorbarTicks({ vmin: 0, vmax: 2.5 }, false), [
    { value: 0, frac: 0, label: "0" }, { value: 2.5, frac: 1, label: "2.5" }]);
  assert.deepEqual(colorbarTicks({ vmin: -0.0123, vmax: 0.5 }, true), [
    { value: -0.5, frac: 0, label: "-0.5" }, { value: 0, frac: 0.5, label: "0" }, { value: 0.5, frac: 1, label: "0.5" }]);
  assert.equal(formatValue(1.23456e-5), "1.23e-5");
  assert.equal(formatValue(123456), "1.23e5");
  assert.equal(formatValue(0.123456), "0.123");
  assert.equal(formatValue(-12.3456), "-12.3");
  assert.equal(formatValue(NaN), "–");
});

test("fade: signed maps get alpha = opacity * min(1, 2|v| / max|v|), the same for uint8 and float32", () => {
  const rd = getColormap("RdBu");
  const over = f32([4, 1, -1, -4], -4, 4);
  const rgba = composeRGBA(u8([0, 0, 0, 0]), over, { signed: true, opacity: 1, fade: true });
  assert.deepEqual(px(rgba, 0), [103, 0, 31, 255]); // |v| = max: full opacity
  const three = composeRGBA(u8([0]), f32([3], -4, 4), { signed: true, opacity: 1, fade: true });
  assert.deepEqual(px(three, 0), [...lutColor(rd, 223), 255]); // |v| >= max / 2: full opacity
  // v = 1: index round(0.625 * 255) = 159, alpha 2 * 1/4 = 0.5 over black
  assert.deepEqual(px(rgba, 1), [...lutColor(rd, 159).map((c) => roundHalfEven(c * 0.5)), 255]);
  assert.deepEqual(px(rgba, 2), [...lutColor(rd, 96).map((c) => roundHalfEven(c * 0.5)), 255]);
  assert.deepEqual(px(rgba, 3), [5, 48, 97, 255]);
  // over grey 200 at opacity 0.5: alpha 0.25 for v = 1
  const half = composeRGBA(u8([200]), f32([1], -4, 4), { signed: true, opacity: 0.5, fade: true });
  assert.deepEqual(px(half, 0), [...lutColor(rd, 159).map((c) => roundHalfEven(200 * 0.75 + c * 0.25)), 255]);
  // uint8 codes give what their real values give through the float32 path
  const codes = [0, 40, 100, 126, 129, 191, 255];
  const asU8 = composeRGBA(u8(codes.map(() => 90)), u8(codes, -4, 4), { signed: true, opacity: 0.8, fade: true });
  const real = codes.map((q) => -4 + (q / 255) * 8);
  const asF32 = composeRGBA(u8(codes.map(() => 90)), f32(real, -4, 4), { signed: true, opacity: 0.8, fade: true, hideZero: false });
  assert.deepEqual([...asU8], [...asF32]);
});

test("same pixels as the Python renderer (cam_widgets/widgets/render.py compose, float64 inputs)", () => {
  // Expected values printed by render.compose for these uint8 codes decoded in float64, window
  // [-0.2, 1.9]; the browser's extra rules (zero transparency, fade) are off here.
  const base = u8([0, 37, 128, 200, 255, 91], -0.7, 2.3);
  const unsigned = composeRGBA(base, u8([1, 64, 127, 128, 254, 255], 0, 1.7),
    { colormap: "inferno", opacity: 0.3, window: [-0.2, 1.9], hideZero: false });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => px(unsigned, i).slice(0, 3)),
    [[0, 0, 2], [26, 6, 31], [141, 103, 110], [213, 175, 182], [254, 254, 227], [124, 125, 98]]);
  const signed = composeRGBA(base, u8([0, 60, 126, 129, 200, 255], -2.5, 2.5),
    { signed: true, opacity: 0.7, window: [-0.2, 1.9], hideZero: false });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => px(signed, i).slice(0, 3)),
    [[4, 34, 68], [66, 115, 144], [208, 209, 210], [240, 239, 238], [230, 151, 136], [93, 21, 42]]);
});
