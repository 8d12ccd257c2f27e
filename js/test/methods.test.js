import assert from "node:assert/strict";
import { test } from "node:test";

import { busyText, layerText, methodLabel, methodOptions, methodTitle, progressFraction } from "../src/shared/methods.js";

const INFO = {
  gradcam: { label: "Seg-Grad-CAM", paper: "Selvaraju et al. 2017", kind: "gradient", layer: "", class_agnostic: false, unavailable: "" },
  cam: { label: "CAM", paper: "Zhou et al. 2016", kind: "gradient", layer: "", class_agnostic: false,
    unavailable: "n/a for pixel sets: CAM needs the class score of a global-average-pooling + linear head (use Seg-Grad-CAM)" },
  scorecam: { label: "Seg-Score-CAM", paper: "Wang et al. 2020", kind: "perturbation", layer: "", class_agnostic: false, unavailable: "" },
  eigencam: { label: "Eigen-CAM", paper: "Muhammad and Yeasin 2020", kind: "gradient", layer: "", class_agnostic: true, unavailable: "" },
  fullgrad: { label: "Seg-FullGrad", paper: "Srinivas and Fleuret 2019", kind: "input-gradient", layer: "all biases", class_agnostic: false, unavailable: "" },
};

test("method options: Python's labels in its order, the methods that do not apply disabled at the end, with why", () => {
  const options = methodOptions(["gradcam", "scorecam", "eigencam", "fullgrad"], INFO);
  assert.deepEqual(options.map((o) => o.value), ["gradcam", "scorecam", "eigencam", "fullgrad", "cam"]);
  assert.deepEqual(options.map((o) => o.label), ["Seg-Grad-CAM", "Seg-Score-CAM", "Eigen-CAM", "Seg-FullGrad", "CAM (n/a for pixel sets)"]);
  assert.deepEqual(options.map((o) => !!o.disabled), [false, false, false, false, true]);
  assert.match(options[4].title, /global-average-pooling/);
  assert.equal(methodTitle(INFO, "scorecam"), "Seg-Score-CAM · Wang et al. 2020 · perturbation");
  assert.match(methodTitle(INFO, "eigencam"), /class-agnostic/);
  // without method_info (an older kernel) the names are the labels
  assert.deepEqual(methodOptions(["gradcam", "x"], undefined).map((o) => [o.value, o.label, !!o.disabled]),
    [["gradcam", "gradcam", false], ["x", "x", false]]);
  assert.equal(methodLabel({}, "hirescam"), "hirescam");
});

test("FullGrad's titles name all biases instead of the layer", () => {
  assert.equal(layerText(INFO, "fullgrad", "layer3"), "all biases");
  assert.equal(layerText(INFO, "scorecam", "layer3"), "layer3");
  assert.equal(layerText(undefined, "fullgrad", "layer3"), "layer3");
});

test("the busy text: computing…, a slow method's batches, the compare map's, and what is queued", () => {
  assert.equal(busyText(null), "computing…");
  assert.equal(busyText(null, 2), "computing… (2 queued)");
  const p = { type: "progress", which: "cam", method: "scorecam", label: "Score-CAM", done: 37, total: 512 };
  assert.equal(busyText(p), "Score-CAM 37 / 512");
  assert.equal(busyText({ ...p, which: "compare", label: "Ablation-CAM", done: 3, total: 64 }, 1), "compare: Ablation-CAM 3 / 64 (1 queued)");
  assert.equal(busyText({ ...p, total: 0 }), "computing…");
  assert.equal(progressFraction(p), 37 / 512);
  assert.equal(progressFraction({ done: 9, total: 4 }), 1);
  assert.equal(progressFraction(null), 0);
});
