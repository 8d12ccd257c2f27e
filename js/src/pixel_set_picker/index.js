// PixelSetPicker front end (anywidget): assembles the shared parts and the picker's own. The
// contract with Python is docs/picker_protocol.md. Every tool runs in the browser on a slice (the
// stroke preview never goes through Python); M is sent bit-packed (`mask_bits`) once per finished
// stroke or button, through the "last request wins" queue, with the class it is explained for.

import { field, h, show } from "../dom.js";
import { classIds } from "../label_overlay.js";
import { createArrays } from "../shared/arrays.js";
import { bindDisplayControls } from "../shared/display_controls.js";
import { className, createExplainControls } from "../shared/explain_controls.js";
import { BAR_WIDTH, observeWidth } from "../shared/layout.js";
import { createSync, followModel } from "../shared/model_sync.js";
import { createNavigator } from "../shared/navigator.js";
import { createPngExport } from "../shared/png_export.js";
import { createReadout, voxelUnder } from "../shared/readout.js";
import { createStatus } from "../shared/status.js";
import { createLegend } from "./legend.js";
import { createMaskStore } from "./mask_store.js";
import { createPickerPanels } from "./panels.js";
import { createPickTools } from "./pick_tools.js";
import { createPicking } from "./picking.js";
import { BRUSH_TOOLS, createStrokes, TOOLS } from "./strokes.js";

const PICKER_TRAITS = {
  tool: { trait: "tool" },
  brushRadius: { trait: "brush_radius", read: Number },
  showLabels: { trait: "show_labels", read: Boolean },
  channel: { trait: "channel" },
};
/** Traits whose change makes Python recompute (docs/picker_protocol.md). */
export const PICKER_RECOMPUTE_KEYS = ["mask_bits", "target_class", "layer", "method", "compare_method"];

function render({ model, el }) {
  const sync = createSync(model);
  const status = createStatus(sync);
  const readout = createReadout();
  const masks = createMaskStore();
  let hover = null;
  let cursor = null; // { panel, x, y } of the brush outline
  const nav = createNavigator(sync, { traits: PICKER_TRAITS, onChange });
  const { view } = nav;
  const { arrays, errors } = createArrays(sync, { image: {}, labels: { post: classIds }, cam: {}, compare: {} }, onArrays);
  const labels = () => arrays.labels;
  const target = () => Number(sync.shown("target_class") ?? -1);
  const strokes = createStrokes({
    tool: () => view.tool, radius: () => view.brushRadius,
    labelsOn: (axis, index) => (labels() ? picking.sliceLabels(axis, index) : null),
    onPreview: () => panels.drawPick(), onFinish: (s) => picking.finish(s),
  });
  const picking = createPicking(sync, nav, {
    arrays, labels, masks, errors, target, cancelStroke: () => strokes.cancel(),
    changed: () => { updateControls(); redraw(); },
  });
  const panels = createPickerPanels(sync, nav, { arrays, labels, masks, strokes, pointer });
  const legend = createLegend(sync, { onClass: (c) => sync.request({ target_class: c }) });
  panels.pick.el.append(legend.el);
  const brushCursor = h("div", { class: "cam-brush-cursor", "data-testid": "brush-cursor", hidden: true });
  panels.pick.stage.append(brushCursor);
  const pickViews = [panels.pick, ...panels.ortho];
  const tools = createPickTools(sync, {
    onTool: (t) => { if (t !== view.tool) { view.tool = t; updateControls(); nav.commit(["tool"]); } },
    onRadius: (r, final) => { view.brushRadius = r; tools.radiusText(r); placeCursor(); if (final) nav.commit(["brushRadius"]); },
    onWhole: () => picking.wholeClass(),
    onAll: () => picking.fill(1),
    onEmpty: () => picking.fill(0),
  });
  const explain = createExplainControls(sync, {
    classTitle: "Class whose logits are summed over M",
    classOptions: () => {
      const names = model.get("class_names") ?? [];
      const options = names.map((n, i) => ({ value: String(i), label: `${i}: ${n}` }));
      if (target() === -1) options.unshift({ value: "-1", label: "(click the image)" });
      return { options, value: String(target()) };
    },
    onClass: (v) => sync.request({ target_class: Number(v) }),
  });
  const labelsBox = h("input", { type: "checkbox", class: "cam-show-labels", "data-testid": "labels-checkbox", title: "Show the predicted labels" });
  sync.listen(labelsBox, "change", () => { view.showLabels = labelsBox.checked; updateControls(); redraw(); nav.commit(["showLabels"]); });
  const display = bindDisplayControls(sync, nav, { redraw, png: (scale) => requestPng(scale), beforeMove: () => strokes.cancel() });
  const placeholder = h("div", { class: "cam-placeholder", "data-testid": "placeholder" }, "no image yet");
  const d = display.fields;
  const e = explain.fields;
  const root = h("div", { class: "cam-viewer cam-picker", "data-testid": "pixel-set-picker", tabindex: 0 },
    tools.bar,
    h("div", { class: "cam-toolbar" }, e.class, e.method, e.layer, e.compare, d.channel),
    h("div", { class: "cam-toolbar" }, d.axis, d.slice, d.opacity, d.colormap, field("labels", labelsBox), d.crosshair, d.zoom),
    status.error, status.notice, placeholder,
    h("div", { class: "cam-stack" }, status.busy, panels.row, panels.orthoRow),
    readout.el, tools.hint);
  tools.bar.append(h("span", { class: "cam-tool-group cam-export" }, d.help, d.png));
  // the strip of slices holding M lies under the slice slider's track; its count follows the value
  const sliceTrack = h("span", { class: "cam-slice-track" });
  display.controls.slice.replaceWith(sliceTrack);
  sliceTrack.append(display.controls.slice, panels.sliceMarks);
  d.slice.append(panels.sliceMarksLabel);
  el.append(root);
  status.attach(root);
  const requestPng = createPngExport(sync, root, { onError: (m) => { errors.png = m; status.messages(errors); } });
  // the legend sits beside the pick view where the maps have their colour bars: its extra width is reserved
  let width = 0;
  let legendExtra = 0;
  const relayout = () => { if (width > 0 && panels.layout(width, legendExtra)) redraw(); };
  const measure = observeWidth(sync, root, (w) => { width = w; relayout(); });
  const measureLegend = observeWidth(sync, legend.el, (w) => { legendExtra = Math.max(0, w - BAR_WIDTH); relayout(); });

  // ---------------------------------------------------------------- drawing and controls
  function redraw() {
    show(placeholder, !arrays.image);
    panels.draw();
    placeCursor();
    updateReadout();
  }

  function placeCursor() {
    const visible = !!cursor && !!arrays.image && BRUSH_TOOLS.includes(view.tool) && pickViews.includes(cursor.panel);
    show(brushCursor, visible);
    if (!visible) return;
    const panel = cursor.panel;
    if (brushCursor.parentNode !== panel.stage) panel.stage.append(brushCursor);
    const p = panel.toStage(cursor.x, cursor.y);
    const size = 2 * view.brushRadius * panel.pixelSize;
    Object.assign(brushCursor.style, { left: `${p.x}px`, top: `${p.y}px`, width: `${size}px`, height: `${size}px` });
    brushCursor.classList.toggle("erase", view.tool === "erase");
  }

  function updateControls() {
    display.refresh();
    show(d.crosshair, nav.is3d()); // a 2D pick view has no crosshair (its clicks draw M)
    labelsBox.checked = !!view.showLabels;
    const names = model.get("class_names") ?? [];
    tools.update({
      tool: TOOLS.includes(view.tool) ? view.tool : "region", radius: view.brushRadius, target: target(),
      className: className(names, target()), hasLabels: !!labels(), selected: Number(model.get("n_selected") ?? 0),
      drawn: masks.count(), is3d: nav.is3d(),
    });
    for (const p of pickViews) p.canvas.dataset.tool = view.tool;
    legend.update(names, target(), !!view.showLabels);
    root.dataset.ndim = arrays.image ? String(arrays.image.shape.length) : "";
  }

  function updateReadout() {
    const voxel = hover ?? (nav.is3d() ? view.crosshair : null);
    const label = (array, i) => className(model.get("class_names"), array[i]);
    const inM = (array, i) => (array[i] ? "in" : "out");
    readout.show(arrays.image && nav.shown ? voxel : null, nav.real, nav.shown, arrays.image, [
      ["label", labels() ? labels() : null, label], ["M", masks.mask.length ? masks.mask : null, inM],
      [model.get("method") || "cam", arrays.cam], [model.get("compare_method") || "compare", arrays.compare],
    ], !!hover);
  }

  function onChange(kind) {
    updateControls();
    if (kind === "view") redraw();
    else {
      placeCursor();
      updateReadout();
    }
  }

  /** A pointer on a panel: strokes on the pick views, the crosshair on the map panels. */
  function pointer(type, event, point, axis, index, panel) {
    if (!arrays.image) return;
    const voxel = point?.pixel ? voxelUnder(point.pixel.row, point.pixel.col, axis, index, nav.real, nav.shown) : null;
    hover = type === "leave" || type === "cancel" ? null : voxel;
    cursor = type === "leave" || !point ? null : { panel, x: point.x, y: point.y };
    if (type === "down") root.focus({ preventScroll: true });
    const pickView = panel === panels.pick || panels.ortho.includes(panel);
    if (pickView) {
      strokes.pointer(type, event, point, axis, index, panel.canvas.height, panel.canvas.width);
    } else if (voxel && (type === "down" || (type === "move" && event.buttons & 1))) {
      nav.moveCrosshair(voxel);
    }
    placeCursor();
    updateReadout();
  }

  function onArrays(names) {
    if (names.includes("image")) {
      strokes.cancel();
      nav.setShape(arrays.image?.shape, model.get("input_shape")); // Python's defaults are valid: nothing to write back
      picking.load();
      hover = null;
    }
    status.messages(errors);
    explain.syncChoices();
    updateControls();
    redraw();
  }

  function onExplained() {
    explain.syncChoices();
    status.syncBusy();
    updateControls();
    panels.titles();
    updateReadout();
  }

  picking.followModel(() => {
    status.messages(errors);
    updateControls();
    redraw();
  });
  sync.listen(root, "keydown", (event) => {
    if (event.target !== root && event.target.tagName !== "CANVAS") return;
    if (nav.onKey(event)) event.preventDefault();
  });
  followModel(sync, {
    explained: [...PICKER_RECOMPUTE_KEYS, "layers", "methods", "method_info", "class_names", "n_selected"],
    onExplained, onImage: () => onArrays(["image"]), messages: () => status.messages(errors), redraw, updateControls,
  });

  measure();
  measureLegend();
  onArrays(["image"]);
  onExplained();
  return () => {
    sync.dispose();
    root.remove();
  };
}

export default { render };
