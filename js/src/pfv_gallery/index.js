// PFVGallery front end (anywidget): the header, the controls, and a responsive grid of cards. Python sends
// the PFV rgb and the grey base once per recompute (binary uint8, `rgb` / `grey`) with the cards' titles and
// bars; opacity, axis and slice are the browser's: every change redraws at once, with no round trip, and is
// synced to Python afterwards (debounced while dragging). Python's side: cam_widgets/widgets/pfv_gallery.py.

import { decodeArray } from "../codec.js";
import { h } from "../dom.js";
import { createDisplayControls } from "../shared/display_controls.js";
import { COMMIT_DELAY, createSync, displayState } from "../shared/model_sync.js";
import { createPngExport } from "../shared/png_export.js";
import { createStatus } from "../shared/status.js";
import { watchTheme } from "../shared/theme.js";
import { clampIndex } from "../slicing.js";
import { createCards } from "./cards.js";
import { createControls } from "./controls.js";
import { checkImages } from "./pixels.js";

const DISPLAY = {
  opacity: { trait: "opacity", read: Number },
  axis: { trait: "axis", read: (v) => clampIndex(v ?? 0, 3) },
  slice: { trait: "slice_index", read: Number },
};

function render({ model, el }) {
  const sync = createSync(model);
  const status = createStatus(sync);
  const display = displayState(sync, DISPLAY);
  const { view } = display;
  const errors = {};
  let images = null;
  const cards = createCards(sync, { onOpen: (position) => model.send({ type: "open_viewer", position }) });
  const controls = createControls(sync, { onRecompute: () => model.send({ type: "recompute" }) });
  const shape = () => model.get("input_shape") ?? [];
  const is3d = () => shape().length === 3;
  const setView = (key, value, final) => {
    view[key] = value;
    redraw();
    display.commit([key], { delay: final ? 0 : COMMIT_DELAY });
  };
  const displayControls = createDisplayControls(sync, {
    opacity: (v, final) => setView("opacity", v, final),
    slice: (i, final) => setView("slice", i, final),
    axis: (a) => {
      view.axis = a;
      if (!(view.slice >= 0 && view.slice < shape()[a])) view.slice = Math.floor(shape()[a] / 2);
      redraw();
      display.commit(["axis", "slice"]);
    },
    png: (scale) => requestPng(scale),
    colormap() {}, channel() {}, crosshair() {}, resetZoom() {},
  });
  const d = displayControls.fields;
  const header = h("div", { class: "pfv-header", "data-testid": "pfv-header" });
  const opacityValue = h("output", { class: "cam-value", "data-testid": "opacity-value" });
  d.opacity.append(opacityValue);
  const root = h("div", { class: "cam-viewer pfv-gallery", "data-testid": "pfv-gallery" },
    header,
    h("div", { class: "cam-toolbar" }, controls.fields.layer, controls.fields.components, controls.fields.hierarchical),
    h("div", { class: "cam-toolbar" }, d.opacity, d.axis, d.slice, d.png),
    h("div", { class: "cam-toolbar" }, controls.fields.selection),
    status.error,
    h("div", { class: "cam-stack" }, status.busy, cards.grid));
  el.append(root);
  status.attach(root);
  const requestPng = createPngExport(sync, root, { onError: (m) => { errors.png = m; status.messages(errors); } });
  sync.onDispose(watchTheme(root, (theme) => { root.dataset.theme = theme; }));

  function redraw() {
    cards.draw(images, view);
    opacityValue.textContent = Number(view.opacity).toFixed(2);
    displayControls.update({
      is3d: is3d(), axisControl: true, axis: view.axis, slice: view.slice, sliceCount: is3d() ? shape()[view.axis] : 1,
      opacity: view.opacity, colormap: "inferno", signed: false, showCrosshair: false, zoom: 1, nChannels: 1, channel: "mean",
    });
  }

  /** Python sent a recompute (or its status): cards, images and controls from the model. */
  let scheduled = false;
  function refresh() {
    scheduled = false;
    header.textContent = model.get("header") || "";
    cards.build(model.get("cards") ?? []);
    cards.mark(model.get("opened"));
    try {
      images = checkImages(decodeArray(model.get("rgb")), decodeArray(model.get("grey")), cards.count());
      errors.images = "";
    } catch (err) {
      images = null;
      errors.images = model.get("rgb")?.buffer ? `images not drawn: ${err.message}` : "";
    }
    controls.update();
    status.messages(errors);
    status.syncBusy();
    redraw();
  }
  const later = () => {
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(refresh); // one refresh for the traits of one message
    }
  };
  for (const name of ["rgb", "grey", "cards", "header", "shown", "selection", "samples", "layer", "layers", "components",
    "hierarchical", "hierarchical_available", "hierarchical_reason", "n_channels", "opened", "error", "input_shape"]) {
    sync.on(`change:${name}`, later);
  }
  sync.on("change:busy", () => {
    sync.queue.setBusy(!!model.get("busy"));
    later();
  });
  display.follow(() => redraw());

  refresh();
  return () => {
    sync.dispose();
    root.remove();
  };
}

export default { render };
