// What CAMViewer explains: the class (a class, or "predicted": follow each sample's prediction),
// the sample of the batch with its true label beside the prediction, and the class-score bars.

import { field, h, show } from "../dom.js";
import { renderScores } from "../scores.js";
import { className } from "../shared/explain_controls.js";

/**
 * The class select: "predicted (name)" first, then every class; the value shown. `available` (a list of
 * classes, or null for all) disables the other classes, with `reason` as their tooltip (a stored run's viewer).
 */
export function classChoices({ names, n, predicted, follow, target, available = null, reason = "" }) {
  const usable = (c) => !Array.isArray(available) || available.includes(c);
  const off = (c) => (usable(c) ? {} : { disabled: true, title: reason });
  const options = [{ value: "predicted", label: `predicted (${className(names, predicted)})`, ...off(predicted) }];
  for (let i = 0; i < n; i++) options.push({ value: String(i), label: `${i}: ${className(names, i)}`, ...off(i) });
  return { options, value: follow ? "predicted" : String(target) };
}

/** "sample 2/7 · true: face · predicted: face" (the true label only when known; no sample for a single one). */
export function sampleCaption({ sample, nSamples, trueLabel, predicted, names }) {
  const known = Number.isInteger(trueLabel) && trueLabel >= 0;
  const parts = nSamples > 1 ? [`sample ${sample}/${nSamples - 1}`] : [];
  if (known) parts.push(`true: ${className(names, trueLabel)}`);
  parts.push(`predicted: ${className(names, predicted)}`);
  if (known) parts.push(trueLabel === predicted ? "✓" : "✗");
  return parts.join(" · ");
}

/**
 * createClassControl(sync, { requested }) -> controls; requested() runs after each class or sample
 * request (the select and the bars must show a request that is held while Python is busy).
 */
export function createClassControl(sync, { requested = () => {} } = {}) {
  const { model } = sync;
  const slider = h("input", { type: "range", min: 0, max: 0, step: 1, value: 0, class: "cam-sample", "data-testid": "sample-slider", title: "Sample of the batch ([ and ] step it)" });
  const value = h("output", { class: "cam-value", "data-testid": "sample-value" });
  const sampleField = field("sample", slider, value);
  const caption = h("div", { class: "cam-caption", "data-testid": "sample-caption" });
  const scores = h("div", { class: "cam-scores", "data-testid": "scores" });

  const ask = (changes) => {
    sync.request(changes);
    requested();
  };
  const choose = (c) => ask({ target_class: c, follow_prediction: false });
  const classOptions = () => {
    const names = model.get("class_names") ?? [];
    return classChoices({
      names, n: Math.max(names.length, (model.get("class_scores") ?? []).length),
      predicted: Number(model.get("predicted_class") ?? 0), follow: !!sync.shown("follow_prediction"),
      target: sync.shown("target_class"), available: model.get("available_classes") ?? null,
      reason: model.get("class_unavailable") ?? "",
    });
  };
  const onClass = (v) => (v === "predicted" ? ask({ follow_prediction: true }) : choose(Number(v)));

  /** Step the sample by `delta` (keyboard [ ]), clamped to the batch. */
  function stepSample(delta) {
    const n = Number(model.get("n_samples") ?? 1);
    const s = Math.min(Math.max(Number(sync.shown("sample") ?? 0) + delta, 0), n - 1);
    if (s !== Number(sync.shown("sample"))) ask({ sample: s });
  }
  sync.listen(slider, "input", () => { value.textContent = `${slider.value}/${slider.max}`; });
  sync.listen(slider, "change", () => ask({ sample: Number(slider.value) }));

  function update() {
    const n = Number(model.get("n_samples") ?? 1);
    show(sampleField, n > 1);
    slider.max = String(Math.max(n - 1, 0));
    slider.value = String(sync.shown("sample") ?? 0);
    value.textContent = `${slider.value}/${Math.max(n - 1, 0)}`;
    const names = model.get("class_names") ?? [];
    const sample = Number(model.get("sample") ?? 0);
    const labels = model.get("true_labels") ?? [];
    caption.textContent = sampleCaption({
      sample, nSamples: n, trueLabel: labels.length ? Number(labels[sample]) : null,
      predicted: Number(model.get("predicted_class") ?? 0), names,
    });
    show(caption, n > 1 || labels.length > 0);
    const list = model.get("class_scores") ?? [];
    show(scores, list.length > 0);
    renderScores(scores, { scores: list, probs: model.get("class_probs") ?? [], names, target: Number(sync.shown("target_class")) }, choose);
  }
  return { sampleField, caption, scores, classOptions, onClass, stepSample, update };
}
