// CAMViewer front end (anywidget): assembles the shared parts. The contract with Python is
// docs/widget_protocol.md. Python owns what needs the model (layer, method, class, sample, compare
// method, channel); the browser owns display state and redraws without a round trip.

import { h, show } from "../dom.js";
import { RECOMPUTE_KEYS } from "../requests.js";
import { createArrays } from "../shared/arrays.js";
import { bindDisplayControls } from "../shared/display_controls.js";
import { createExplainControls } from "../shared/explain_controls.js";
import { observeWidth } from "../shared/layout.js";
import { createSync, followModel } from "../shared/model_sync.js";
import { createNavigator, list } from "../shared/navigator.js";
import { createPngExport } from "../shared/png_export.js";
import { createReadout, voxelUnder } from "../shared/readout.js";
import { createStatus } from "../shared/status.js";
import { createClassControl } from "./class_control.js";
import { createPanels } from "./panels.js";
import { createWindowControl } from "./window_control.js";

const VIEWER_TRAITS = {
  relu: { trait: "relu", read: Boolean },
  window: { trait: "window", read: list },
  channel: { trait: "channel" },
  orthoMap: { trait: "ortho_map" },
};

function render({ model, el }) {
  const sync = createSync(model);
  const status = createStatus(sync);
  const readout = createReadout();
  let hover = null; // the real voxel under the mouse, null when not hovering
  const nav = createNavigator(sync, { traits: VIEWER_TRAITS, onChange });
  const { view } = nav;
  const { arrays, errors } = createArrays(sync, { image: {}, cam: {}, compare: {} }, onArrays);
  const panels = createPanels(sync, nav, { arrays, pointer });
  const classes = createClassControl(sync, { requested: () => onExplained() });
  const explain = createExplainControls(sync, { classOptions: classes.classOptions, onClass: classes.onClass });
  const windowControl = createWindowControl(sync, nav, { image: () => arrays.image, changed: redraw });
  const display = bindDisplayControls(sync, nav, { redraw, png: (scale) => requestPng(scale) });
  const placeholder = h("div", { class: "cam-placeholder", "data-testid": "placeholder" }, "no image yet");
  const d = display.fields;
  const e = explain.fields;
  const root = h("div", { class: "cam-viewer", "data-testid": "cam-viewer", tabindex: 0 },
    // three short rows: what is explained, where to look, how it is drawn
    h("div", { class: "cam-toolbar" }, e.layer, e.method, e.compare, e.class, classes.sampleField),
    h("div", { class: "cam-toolbar" }, d.axis, d.slice, d.crosshair, d.zoom, d.help),
    h("div", { class: "cam-toolbar" }, d.opacity, d.colormap, windowControl.fields.relu, windowControl.fields.window,
      d.channel, d.png),
    status.error, status.notice, classes.caption, placeholder,
    h("div", { class: "cam-stack" }, status.busy, panels.row, readout.el,
      // the score bars sit beside the orthogonal views when the width allows (below them otherwise)
      h("div", { class: "cam-lower" }, panels.orthoRow, classes.scores)));
  el.append(root);
  status.attach(root);
  const requestPng = createPngExport(sync, root, { onError: (m) => { errors.png = m; status.messages(errors); } });
  const measure = observeWidth(sync, root, (width) => {
    if (panels.layout(width)) redraw();
  });

  // ---------------------------------------------------------------- drawing and controls
  function redraw() {
    show(placeholder, !arrays.image);
    panels.draw();
    updateReadout();
  }

  function updateControls() {
    const image = arrays.image;
    display.refresh();
    windowControl.update();
    root.dataset.ndim = image ? String(image.shape.length) : "";
  }

  function updateReadout() {
    const voxel = hover ?? view.crosshair;
    readout.show(arrays.image && nav.shown ? voxel : null, nav.real, nav.shown, arrays.image,
      [[model.get("method") || "cam", arrays.cam], [model.get("compare_method") || "compare", arrays.compare]], !!hover);
  }

  function onChange(kind) {
    updateControls();
    if (kind === "view") redraw();
    else updateReadout();
  }

  /** A pointer on a panel slicing along `axis` at real index `index`. */
  function pointer(type, event, point, axis, index) {
    if (!arrays.image) return;
    const voxel = point?.pixel ? voxelUnder(point.pixel.row, point.pixel.col, axis, index, nav.real, nav.shown) : null;
    if (type === "down") root.focus({ preventScroll: true });
    if (voxel && (type === "down" || (type === "move" && event.buttons & 1))) nav.moveCrosshair(voxel);
    hover = type === "leave" || type === "cancel" ? null : voxel;
    updateReadout();
  }

  function onArrays(names) {
    if (names.includes("image")) {
      const changed = nav.setShape(arrays.image?.shape, model.get("input_shape"));
      if (changed.length) nav.commit(changed);
      hover = null;
    }
    status.messages(errors);
    updateControls();
    redraw();
  }

  function onExplained() {
    explain.syncChoices();
    classes.update();
    status.syncBusy();
    panels.titles();
    updateReadout();
  }

  sync.listen(root, "keydown", (event) => {
    if (event.target !== root && event.target.tagName !== "CANVAS") return; // typing into a control
    const step = nav.onKey(event);
    if (step?.sample) classes.stepSample(step.sample);
    if (step) event.preventDefault();
  });
  followModel(sync, {
    explained: [...RECOMPUTE_KEYS, "follow_prediction", "predicted_class", "true_labels", "layers", "methods", "method_info",
      "class_names", "class_scores", "class_probs", "n_samples"],
    onExplained, onImage: () => onArrays(["image"]), messages: () => status.messages(errors), redraw, updateControls,
  });

  // ---------------------------------------------------------------- first draw
  measure();
  onExplained();
  onArrays(["image"]);
  return () => {
    sync.dispose();
    root.remove();
  };
}

export default { render };
