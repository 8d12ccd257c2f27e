// The gallery's controls that ask Python: the layer, the components shown as R, G, B (numbered from 1),
// hierarchical (disabled, with the reason, where it cannot do anything), and the sample selection with its
// "recompute on selection" button. Layer, components and hierarchical go through the last-request-wins
// queue (Python recomputes at once); the selection is only synced, the button asks for the recompute.

import { field, h, setOptions, show } from "../dom.js";
import { CHANNELS } from "./bars.js";

/** Why three component numbers cannot be sent ("" when they can): integers 1..max, distinct. */
export function componentProblem(values, max) {
  if (values.some((v) => !Number.isInteger(v) || v < 1 || v > max)) return `components are 1..${max} for this layer`;
  if (new Set(values).size !== values.length) return "components must be distinct";
  return "";
}

/** "3 selected · 8 shown" (the selection differs from what is shown until it is recomputed). */
export function selectionText(selection, shown) {
  return `${selection.length} selected · ${shown.length} shown`;
}

export function createControls(sync, { onRecompute }) {
  const { model } = sync;
  const layer = h("select", { class: "pfv-layer", "data-testid": "layer-select", title: "Layer whose features are decomposed" });
  const inputs = CHANNELS.map((c) => h("input", {
    type: "number", min: 1, step: 1, class: `pfv-component pfv-${c.toLowerCase()}`, "data-testid": `component-${c.toLowerCase()}`,
    title: `Principal component shown in ${c} (numbered from 1)`, "aria-label": `component shown in ${c}`,
  }));
  const components = h("span", { class: "cam-field pfv-components" }, h("span", { class: "cam-field-label" }, "components"),
    ...inputs.map((input, j) => h("label", { class: "pfv-component-field" },
      h("span", { class: `pfv-swatch pfv-${CHANNELS[j].toLowerCase()}` }, CHANNELS[j]), input)));
  const hierarchical = h("input", { type: "checkbox", "data-testid": "hierarchical-checkbox" });
  const reason = h("span", { class: "pfv-reason", "data-testid": "hierarchical-reason" });
  const hierarchicalLabel = h("label", { class: "cam-field", title: "The reference code's hierarchical weighting" },
    hierarchical, h("span", {}, "hierarchical"));
  const select = h("select", { multiple: true, size: 4, class: "pfv-selection", "data-testid": "selection-select",
    title: "Samples decomposed together (ctrl- or shift-click for several); the colours depend on the batch" });
  const count = h("span", { class: "pfv-selection-count", "data-testid": "selection-count" });
  const recompute = h("button", { type: "button", class: "pfv-recompute", "data-testid": "recompute-button",
    title: "Decompose the selected samples together" }, "recompute on selection");
  const fields = {
    layer: field("layer", layer), components,
    hierarchical: h("span", { class: "cam-field pfv-hierarchical" }, hierarchicalLabel, reason),
    selection: h("div", { class: "pfv-selection-field" }, h("span", { class: "cam-field-label" }, "samples"), select,
      h("div", { class: "pfv-selection-actions" }, recompute, count)),
  };

  const chosen = () => [...select.selectedOptions].map((o) => Number(o.value));

  sync.listen(layer, "change", () => sync.request({ layer: layer.value }));
  for (const input of inputs) {
    sync.listen(input, "change", () => {
      const values = inputs.map((i) => Number(i.value));
      const problem = componentProblem(values, Number(model.get("n_channels")));
      for (const i of inputs) {
        i.classList.toggle("invalid", !!problem);
        i.title = problem || i.title;
      }
      if (!problem) sync.request({ components: values });
    });
  }
  sync.listen(hierarchical, "change", () => sync.request({ hierarchical: hierarchical.checked }));
  sync.listen(select, "change", () => {
    model.set("selection", chosen());
    model.save_changes();
    update();
  });
  sync.listen(recompute, "click", () => onRecompute());

  /** Show the model's state (a held request wins). */
  function update() {
    setOptions(layer, (model.get("layers") ?? []).map((v) => ({ value: v, label: v })), sync.shown("layer"));
    layer.title = `Layer whose features are decomposed: ${layer.value}`;
    const values = sync.shown("components") ?? [];
    const max = Number(model.get("n_channels"));
    inputs.forEach((input, j) => {
      input.value = String(values[j] ?? "");
      input.max = String(max);
      input.classList.remove("invalid");
      input.title = `Principal component shown in ${CHANNELS[j]} (1..${max} for this layer)`;
    });
    const available = !!model.get("hierarchical_available");
    hierarchical.checked = !!sync.shown("hierarchical");
    hierarchical.disabled = !available;
    reason.textContent = model.get("hierarchical_reason") || "";
    hierarchicalLabel.title = reason.textContent || "The reference code's hierarchical weighting";
    show(reason, !available && !!reason.textContent);
    const samples = model.get("samples") ?? [];
    const key = JSON.stringify(samples);
    if (select.dataset.options !== key) {
      select.replaceChildren(...samples.map((title, i) => h("option", { value: i, title }, title)));
      select.dataset.options = key;
    }
    const selection = new Set(model.get("selection") ?? []);
    for (const option of select.options) option.selected = selection.has(Number(option.value));
    const shown = model.get("shown") ?? [];
    count.textContent = selectionText([...selection], shown);
    const pending = [...selection].sort((a, b) => a - b).join() !== [...shown].sort((a, b) => a - b).join();
    recompute.classList.toggle("pending", pending);
    const busy = !!model.get("busy");
    recompute.disabled = busy;
    recompute.textContent = busy ? "computing…" : "recompute on selection";
  }

  return { fields, elements: { layer, inputs, hierarchical, reason, select, recompute, count }, update };
}
