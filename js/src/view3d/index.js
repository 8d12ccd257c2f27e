// The 3D view's header (anywidget): its title, the levels, the opacities, which surfaces are shown,
// the surfaces' status, and the notebook's theme for Python (the Plotly figure below follows it).
// Python meshes and owns the figure; a control is committed when it is released, or while it is
// dragged at most every COMMIT_DELAY ms (Python coalesces what arrives meanwhile into one update).

import { field, h, show } from "../dom.js";
import { observeWidth } from "../shared/layout.js";
import { COMMIT_DELAY, createSync } from "../shared/model_sync.js";
import { watchTheme } from "../shared/theme.js";

const SURFACES = [
  ["show_input", "input", "input"],
  ["show_positive", "positive", "CAM > 0"],
  ["show_negative", "negative", "CAM < 0"],
];

/** A number as the controls write it: 3 significant digits, no exponent for ordinary sizes. */
export function shortNumber(v) {
  if (!Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

function slider(testid, { min, max, step }) {
  return h("input", { type: "range", class: "cam-view3d-range", "data-testid": testid, min, max, step });
}

function render({ model, el }) {
  const sync = createSync(model);
  const title = h("div", { class: "cam-view3d-title", "data-testid": "view3d-title" });
  const inputLevel = slider("input-level", { min: 0, max: 1, step: 0.001 });
  const inputValue = h("span", { class: "cam-value", "data-testid": "input-level-value" });
  const inputAuto = h("input", { type: "checkbox", "data-testid": "input-auto" });
  const camLevel = slider("cam-level", { min: 0.05, max: 0.95, step: 0.05 });
  const camValue = h("span", { class: "cam-value cam-view3d-wide", "data-testid": "cam-level-value" });
  const inputOpacity = slider("input-opacity", { min: 0, max: 1, step: 0.05 });
  const camOpacity = slider("cam-opacity", { min: 0, max: 1, step: 0.05 });
  const inputOpacityValue = h("span", { class: "cam-value cam-view3d-narrow" });
  const camOpacityValue = h("span", { class: "cam-value cam-view3d-narrow" });
  const boxes = SURFACES.map(([trait, kind, label]) => {
    const box = h("input", { type: "checkbox", "data-testid": trait.replace("_", "-") });
    const swatch = h("span", { class: "cam-view3d-swatch", "data-kind": kind });
    return { trait, kind, box, swatch, label: h("label", { class: "cam-field cam-view3d-check" }, box, swatch, label) };
  });
  const busy = h("span", { class: "cam-view3d-busy", "data-testid": "view3d-busy", role: "status" },
    h("span", { class: "cam-spinner" }), "updating…");
  const notes = h("span", { class: "cam-view3d-notes", "data-testid": "view3d-notes" });
  const error = h("div", { class: "cam-error", "data-testid": "view3d-error", role: "alert", hidden: true });
  const root = h("div", { class: "cam-viewer cam-view3d", "data-testid": "view3d" },
    title,
    h("div", { class: "cam-toolbar" },
      field("input level", inputLevel, inputValue, h("label", { class: "cam-field cam-view3d-check", title:
        "follow the data: each new image gets its default level (from the smoothed input)" }, inputAuto, "auto")),
      field("CAM level", camLevel, camValue)),
    h("div", { class: "cam-toolbar" },
      field("opacity: input", inputOpacity, inputOpacityValue),
      field("CAM", camOpacity, camOpacityValue),
      h("span", { class: "cam-field" }, h("span", { class: "cam-field-label" }, "show"), ...boxes.map((b) => b.label))),
    h("div", { class: "cam-view3d-status" }, busy, notes),
    error);
  el.append(root);

  // ---------------------------------------------------------------- Python -> controls
  const held = new Map(); // trait -> value the user set that is not committed yet
  let timer = null;

  function flush() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (!held.size) return;
    for (const [trait, value] of held) model.set(trait, value);
    held.clear();
    model.save_changes();
  }

  function commit(trait, value, delay = 0) {
    held.set(trait, value);
    if (delay > 0) {
      if (timer === null) timer = setTimeout(flush, delay);
    } else {
      flush();
    }
  }

  const shown = (trait) => (held.has(trait) ? held.get(trait) : model.get(trait));

  function update() {
    title.textContent = model.get("title") || "";
    const [low, high] = model.get("input_range") || [0, 1];
    inputLevel.min = String(low);
    inputLevel.max = String(high);
    inputLevel.step = String((high - low) / 1000 || 0.001);
    inputLevel.value = String(shown("input_level"));
    inputValue.textContent = shortNumber(shown("input_level"));
    inputAuto.checked = !!shown("input_auto");
    camLevel.value = String(shown("cam_level"));
    camValue.textContent = `${shortNumber(shown("cam_level"))} × max|CAM|`;
    inputOpacity.value = String(shown("input_opacity"));
    inputOpacityValue.textContent = shortNumber(shown("input_opacity"));
    camOpacity.value = String(shown("cam_opacity"));
    camOpacityValue.textContent = shortNumber(shown("cam_opacity"));
    const colours = model.get("colours") || {};
    for (const b of boxes) {
      b.box.checked = !!shown(b.trait);
      b.swatch.style.background = colours[b.kind] || "transparent";
    }
    notes.textContent = model.get("notes") || "";
    const message = model.get("error") || "";
    error.textContent = message;
    show(error, !!message);
    root.classList.toggle("busy", !!model.get("busy"));
  }

  // ---------------------------------------------------------------- controls -> Python
  const number = (input) => Number(input.value);
  const sliders = [
    [inputLevel, "input_level", () => { held.set("input_auto", false); }],
    [camLevel, "cam_level"],
    [inputOpacity, "input_opacity"],
    [camOpacity, "cam_opacity"],
  ];
  for (const [input, trait, also] of sliders) {
    sync.listen(input, "input", () => {
      also?.();
      commit(trait, number(input), COMMIT_DELAY);
      update();
    });
    sync.listen(input, "change", () => {
      also?.();
      commit(trait, number(input));
      update();
    });
  }
  sync.listen(inputAuto, "change", () => commit("input_auto", inputAuto.checked));
  for (const b of boxes) sync.listen(b.box, "change", () => commit(b.trait, b.box.checked));

  for (const name of ["title", "input_range", "input_level", "input_auto", "cam_level", "input_opacity", "cam_opacity",
    "show_input", "show_positive", "show_negative", "colours", "notes", "error", "busy"]) {
    sync.on(`change:${name}`, update);
  }
  // the theme, and the header's own colours: the figure's paper and font match them (read again a
  // little later too: a theme's stylesheet may apply after its flag on <body> has changed)
  const report = () => {
    const style = getComputedStyle(root);
    const seen = { theme: root.dataset.theme, background: style.backgroundColor, foreground: style.color };
    if (Object.entries(seen).some(([k, v]) => model.get(k) !== v)) {
      for (const [k, v] of Object.entries(seen)) model.set(k, v);
      model.save_changes();
    }
  };
  const timers = [];
  const stopTheme = watchTheme(root, (theme) => {
    root.dataset.theme = theme;
    report();
    for (const t of timers.splice(0)) clearTimeout(t);
    timers.push(setTimeout(report, 300), setTimeout(report, 1500));
  });
  sync.onDispose(() => timers.forEach(clearTimeout));

  // Python asks before it meshes: answer once this page has drawn what it received (the viewer's
  // change came before the question) and is idle, so that meshing does not compete with drawing
  sync.on("msg:custom", (content) => {
    if (content?.type !== "idle?") return;
    const answer = () => model.send({ type: "idle", token: content.token });
    requestAnimationFrame(() => (window.requestIdleCallback ? requestIdleCallback(answer, { timeout: 300 })
      : setTimeout(answer, 0)));
  });

  // the panel's width, for the figure below (Plotly's widget keeps its first width by itself)
  const measure = observeWidth(sync, root, (width) => {
    model.set("width", width);
    model.save_changes();
  });
  sync.onDispose(flush);
  sync.onDispose(stopTheme);
  update();
  measure();
  return () => {
    sync.dispose();
    root.remove();
  };
}

export default { render };
