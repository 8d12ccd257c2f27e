// Window / level of the base image ([low, high] in image units; empty = full range) and the ReLU
// toggle of signed maps: CAMViewer's own display controls.

import { formatValue } from "../compose.js";
import { field, h } from "../dom.js";
import { COMMIT_DELAY } from "../shared/model_sync.js";

/** A valid window from the two inputs' text: [] (both empty), [lo, hi] with lo < hi, or null. */
export function parseWindow(lo, hi, full) {
  lo = lo.trim();
  hi = hi.trim();
  if (lo === "" && hi === "") return [];
  const win = [lo === "" ? full[0] : Number(lo), hi === "" ? full[1] : Number(hi)];
  return Number.isFinite(win[0]) && Number.isFinite(win[1]) && win[1] > win[0] ? win : null;
}

export function createWindowControl(sync, nav, { image, changed }) {
  const { view } = nav;
  const low = h("input", { type: "number", step: "any", class: "cam-window-low", "data-testid": "window-low", title: "Window: lowest image value shown black" });
  const high = h("input", { type: "number", step: "any", class: "cam-window-high", "data-testid": "window-high", title: "Window: highest image value shown white" });
  const reset = h("button", { type: "button", class: "cam-window-reset", "data-testid": "window-reset", title: "Full range" }, "full");
  const relu = h("input", { type: "checkbox", class: "cam-relu", "data-testid": "relu-checkbox", title: "Hide negative values of signed maps" });
  const fields = {
    window: h("span", { class: "cam-field cam-window" }, h("span", { class: "cam-field-label" }, "window"), low, high, reset),
    relu: field("relu", relu),
  };

  const onInput = (event) => {
    const img = image();
    const win = parseWindow(low.value, high.value, img ? [img.vmin, img.vmax] : [0, 1]);
    low.classList.toggle("invalid", win === null);
    high.classList.toggle("invalid", win === null);
    if (win === null) return;
    view.window = win;
    changed();
    nav.commit(["window"], { delay: event.type === "input" ? COMMIT_DELAY : 0 });
  };
  for (const node of [low, high]) {
    sync.listen(node, "input", onInput);
    sync.listen(node, "change", onInput);
  }
  sync.listen(reset, "click", () => {
    view.window = [];
    low.value = "";
    high.value = "";
    low.classList.remove("invalid");
    high.classList.remove("invalid");
    changed();
    nav.commit(["window"]);
  });
  sync.listen(relu, "change", () => {
    view.relu = relu.checked;
    changed();
    nav.commit(["relu"]);
  });

  function update() {
    const img = image();
    relu.checked = !!view.relu;
    const full = img ? [img.vmin, img.vmax] : ["", ""];
    const win = view.window.length === 2 ? view.window : ["", ""];
    low.placeholder = formatValue(full[0]);
    high.placeholder = formatValue(full[1]);
    if (document.activeElement !== low) low.value = win[0] === "" ? "" : String(win[0]);
    if (document.activeElement !== high) high.value = win[1] === "" ? "" : String(win[1]);
  }
  return { fields, update };
}
