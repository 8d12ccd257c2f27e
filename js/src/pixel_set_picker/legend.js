// The class legend beside the pick view: one swatch per class (click: explain that class). It
// follows the labels toggle: with the labels hidden the swatches are hidden too and it says so.

import { h } from "../dom.js";
import { labelCss } from "../label_overlay.js";

export function createLegend(sync, { onClass }) {
  const el = h("div", { class: "cam-legend", "data-testid": "legend" });
  sync.listen(el, "click", (event) => {
    const item = event.target.closest?.(".cam-legend-item");
    if (item) onClass(Number(item.dataset.class));
  });

  function update(names, target, labelsOn) {
    const key = JSON.stringify([names, target, labelsOn]);
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    el.classList.toggle("labels-off", !labelsOn);
    el.replaceChildren(
      ...(labelsOn ? [] : [h("div", { class: "cam-legend-note", "data-testid": "legend-note" }, "labels hidden")]),
      ...names.map((n, i) => h("div", {
        class: `cam-legend-item${i === target ? " target" : ""}`, "data-class": i, title: `explain class ${i}`,
      }, h("span", { class: `cam-swatch${i === 0 ? " background" : ""}`, style: labelsOn ? `background: ${labelCss(i)}` : "" }), `${i}: ${n}`)));
  }
  return { el, update };
}
