// The picker's tool bar: the tools, the brush radius, the whole-class / all / empty / clear
// buttons, the count of M as Python counted it, and the hint that says which class M explains.

import { field, h } from "../dom.js";
import { BRUSH_TOOLS, TOOLS } from "./strokes.js";

const TOOL_TITLES = {
  point: "Point: M = the clicked pixel; the class becomes the predicted class there (shift: add, keep the class)",
  region: "Region: the connected area of the clicked pixel's predicted class, explained for that class (shift: add)",
  brush: "Brush: paint discs along the path (keeps the class)",
  lasso: "Lasso: the pixels inside the drawn polygon (keeps the class)",
  rectangle: "Rectangle: the pixels inside the dragged box (keeps the class)",
  erase: "Erase: a brush that removes from M",
};

/** The hint under the panels: which class M is explained for, and how the modifiers work. */
export function pickHint(target, name) {
  const which = target < 0
    ? "Click an object: M is explained for the predicted class under the click."
    : `M is explained for class ${target}: ${name}. A plain point or region click switches to the class under it.`;
  return `${which} Shift adds to M, Alt subtracts; a plain stroke replaces M.`;
}

export function createPickTools(sync, { onTool, onRadius, onWhole, onAll, onEmpty }) {
  const buttons = TOOLS.map((t) => h("button", {
    type: "button", class: "cam-tool", "data-tool": t, "data-testid": `tool-${t}`, title: TOOL_TITLES[t], "aria-pressed": "false",
  }, t));
  const radius = h("input", { type: "range", min: 0.5, max: 20, step: 0.5, class: "cam-brush-radius", "data-testid": "brush-radius", title: "Brush radius (data pixels)" });
  const radiusValue = h("output", { class: "cam-value", "data-testid": "brush-radius-value" });
  const radiusField = field("radius", radius, radiusValue);
  const whole = h("button", { type: "button", "data-testid": "whole-class", title: "M = every pixel predicted as the target class (all slices)" }, "whole class");
  const all = h("button", { type: "button", "data-testid": "all-pixels", title: "M = every pixel" }, "all pixels");
  const empty = h("button", { type: "button", "data-testid": "empty", title: "M = {} (sanity check: the CAM must be exactly zero)" }, "empty");
  const clear = h("button", { type: "button", "data-testid": "clear", title: "Clear M" }, "clear");
  const count = h("span", { class: "cam-selected-count", "data-testid": "selected-count", title: "Pixels in M, as Python counted them" });
  const hint = h("div", { class: "cam-hint", "data-testid": "hint" });
  const bar = h("div", { class: "cam-toolbar cam-tools" },
    h("span", { class: "cam-tool-group", role: "group", "aria-label": "tool" }, ...buttons), radiusField,
    h("span", { class: "cam-tool-group" }, whole, all, empty, clear), count);

  for (const b of buttons) sync.listen(b, "click", () => onTool(b.dataset.tool));
  sync.listen(radius, "input", () => onRadius(Number(radius.value), false));
  sync.listen(radius, "change", () => onRadius(Number(radius.value), true));
  sync.listen(whole, "click", onWhole);
  sync.listen(all, "click", onAll);
  sync.listen(empty, "click", onEmpty);
  sync.listen(clear, "click", onEmpty);

  /** state = { tool, radius, target, className, hasLabels, selected, drawn, is3d } */
  function update(s) {
    for (const b of buttons) {
      const active = b.dataset.tool === s.tool;
      b.classList.toggle("active", active);
      b.setAttribute("aria-pressed", String(active));
    }
    // the radius stays in place (dimmed for the tools it does not apply to), so the tool bar never reflows
    // and a narrow tool bar has no empty hole where a hidden radius would wrap
    const brushing = BRUSH_TOOLS.includes(s.tool);
    radiusField.classList.toggle("cam-inapplicable", !brushing);
    radiusField.title = brushing ? "Brush radius (data pixels)" : "Brush radius: applies to the brush and erase tools";
    radius.value = String(s.radius);
    radiusValue.textContent = `${s.radius}`;
    whole.disabled = s.target < 0 || !s.hasLabels;
    count.dataset.count = String(s.selected);
    count.dataset.local = String(s.drawn);
    count.textContent = `${s.selected} ${s.is3d ? "voxels" : "pixels"} in M${s.drawn !== s.selected ? ` (${s.drawn} drawn)` : ""}`;
    hint.textContent = pickHint(s.target, s.className);
  }
  return { bar, hint, update, radiusText: (r) => { radiusValue.textContent = `${r}`; } };
}
