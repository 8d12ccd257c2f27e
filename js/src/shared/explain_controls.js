// The controls that make Python recompute: layer, method, compare method and class selects. Each
// change goes through the "last request wins" queue; the selects show the held request.

import { field, h, setOptions } from "../dom.js";
import { methodOptions, methodTitle } from "./methods.js";

/**
 * createExplainControls(sync, { classOptions, onClass, classTitle }) -> controls
 *   classOptions() -> [{ value, label }]  the class select's options (each widget has its own)
 *   onClass(value)                        the class select changed (value as a string)
 */
export function createExplainControls(sync, { classOptions, onClass, classTitle = "Class to explain" }) {
  const { model } = sync;
  const layer = h("select", { class: "cam-layer", "data-testid": "layer-select", title: "Layer whose activations are explained" });
  const method = h("select", { class: "cam-method", "data-testid": "method-select", title: "CAM method" });
  const compare = h("select", { class: "cam-compare", "data-testid": "compare-select", title: "Show a second method side by side" });
  const cls = h("select", { class: "cam-class", "data-testid": "class-select", title: classTitle });
  const fields = {
    layer: field("layer", layer), method: field("method", method), compare: field("compare", compare), class: field("class", cls),
  };
  const choices = (list) => (list ?? []).map((v) => ({ value: v, label: v }));

  function syncChoices() {
    setOptions(layer, choices(model.get("layers")), sync.shown("layer"));
    const info = model.get("method_info") ?? {};
    const methods = methodOptions(model.get("methods"), info);
    setOptions(method, methods, sync.shown("method"));
    method.title = `CAM method: ${methodTitle(info, sync.shown("method"))}`;
    setOptions(compare, [{ value: "", label: "(off)" }, ...methods], sync.shown("compare_method") ?? "");
    compare.title = sync.shown("compare_method") ? `Second method side by side: ${methodTitle(info, sync.shown("compare_method"))}`
      : "Show a second method side by side";
    const { options, value } = classOptions();
    setOptions(cls, options, value);
  }

  sync.listen(layer, "change", () => sync.request({ layer: layer.value }));
  sync.listen(method, "change", () => sync.request({ method: method.value }));
  sync.listen(compare, "change", () => sync.request({ compare_method: compare.value }));
  sync.listen(cls, "change", () => onClass(cls.value));
  return { fields, selects: { layer, method, compare, class: cls }, syncChoices };
}

/** "2: square" (or "class 2" without a name). */
export function className(names, c) {
  return (names ?? [])[c] ?? `class ${c}`;
}
