// PixelSetPicker front end (anywidget). The contract with Python is docs/picker_protocol.md.
//
// The user picks a pixel set M on the input (with the predicted labels as a colour overlay);
// Python explains the class-c logits summed over M. Every tool runs in the browser on the current
// slice (the stroke preview never goes through Python); M is sent bit-packed (`mask_bits`) once per
// finished stroke or button, through the "last request wins" queue.

import { decodeTrait } from "./codec.js";
import { OVERLAY_COLORMAPS } from "./colormaps.js";
import { composeRGBA } from "./compose.js";
import { createColorbar } from "./colorbar.js";
import { h, field, setOptions, setSelectValue, show } from "./dom.js";
import { classIds, labelCss, paintLabels, paintMask } from "./label_overlay.js";
import { countSet, decodeMask, encodeMask } from "./mask_codec.js";
import {
  brushStroke, combineStroke, equalMask, fillPolygon, fillRect, pointMask, regionGrow, sliceOfMask,
  stampSegment, strokeMode,
} from "./rasterize.js";
import { LastRequestWins } from "./requests.js";
import { clampIndex, cssToPixel, extractSlice } from "./slicing.js";
import { createView, displayScale } from "./view.js";

const PANEL_SIZE = 320; // CSS px of the larger side of each panel
const PANEL_SIZE_COMPARE = 256; // the same with three panels side by side
const LABEL_ALPHA = 0.4;
export const TOOLS = ["point", "region", "brush", "lasso", "rectangle", "erase"];
/** Traits whose change makes Python recompute (docs/picker_protocol.md). */
export const PICKER_RECOMPUTE_KEYS = ["mask_bits", "target_class", "layer", "method", "compare_method"];
const TOOL_TITLES = {
  point: "Point: M = the clicked pixel",
  region: "Region: the connected area of the clicked pixel's predicted class",
  brush: "Brush: paint discs along the path",
  lasso: "Lasso: the pixels inside the drawn polygon",
  rectangle: "Rectangle: the pixels inside the dragged box",
  erase: "Erase: a brush that removes from M",
};

function render({ model, el }) {
  const listeners = [];
  const on = (event, f) => {
    model.on(event, f);
    listeners.push([event, f]);
  };

  // ---------------------------------------------------------------- state
  const arrays = { image: null, labels: null, cam: null, compare: null };
  const arrayErrors = { image: "", labels: "", cam: "", compare: "", mask_bits: "" };
  let classes = null; // class id per voxel (Uint8Array, whole volume)
  let mask = new Uint8Array(0); // M over the whole volume, 0/1 (the browser's copy)
  let lastSent = null; // the mask_bits dict we set last (to recognise our own echo)
  let stroke = null; // { tool, mode, points, slice: Uint8Array, target }
  let cursor = null; // last pointer position in data pixels (brush outline)
  const view = {
    slice: Number(model.get("slice_index") ?? 0),
    tool: TOOLS.includes(model.get("tool")) ? model.get("tool") : "brush",
    brushRadius: Number(model.get("brush_radius") ?? 3),
    opacity: Number(model.get("opacity") ?? 0.5),
    colormap: model.get("colormap") || "inferno",
    showLabels: model.get("show_labels") ?? true,
  };
  const queue = new LastRequestWins((changes) => {
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.save_changes();
  }, { busy: !!model.get("busy") });
  const shown = (key) => (queue.has(key) ? queue.get(key) : model.get(key));
  /** Browser-only traits: synced at once (Python just observes). */
  function commit(changes) {
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.save_changes();
  }

  // ---------------------------------------------------------------- DOM
  const toolButtons = TOOLS.map((t) => h("button", {
    type: "button", class: "cam-tool", "data-tool": t, "data-testid": `tool-${t}`, title: TOOL_TITLES[t], "aria-pressed": "false",
  }, t));
  const radiusSlider = h("input", { type: "range", min: 0.5, max: 20, step: 0.5, class: "cam-brush-radius", "data-testid": "brush-radius", title: "Brush radius (data pixels)" });
  const radiusValue = h("output", { class: "cam-value", "data-testid": "brush-radius-value" });
  const radiusField = field("radius", radiusSlider, radiusValue);
  const wholeClassButton = h("button", { type: "button", "data-testid": "whole-class", title: "M = every pixel predicted as the target class (all slices)" }, "whole class");
  const allButton = h("button", { type: "button", "data-testid": "all-pixels", title: "M = every pixel" }, "all pixels");
  const emptyButton = h("button", { type: "button", "data-testid": "empty", title: "M = {} (sanity check: the CAM must be exactly zero)" }, "empty");
  const clearButton = h("button", { type: "button", "data-testid": "clear", title: "Clear M" }, "clear");
  const countEl = h("span", { class: "cam-selected-count", "data-testid": "selected-count", title: "Pixels in M, as Python counted them" });

  const classSelect = h("select", { class: "cam-class", "data-testid": "class-select", title: "Class whose logits are summed over M" });
  const methodSelect = h("select", { class: "cam-method", "data-testid": "method-select", title: "CAM method" });
  const layerSelect = h("select", { class: "cam-layer", "data-testid": "layer-select", title: "Layer whose activations are explained" });
  const compareSelect = h("select", { class: "cam-compare", "data-testid": "compare-select", title: "Show a second method side by side" });

  const sliceSlider = h("input", { type: "range", min: 0, max: 0, step: 1, value: 0, class: "cam-slice", "data-testid": "slice-slider" });
  const sliceValue = h("output", { class: "cam-value", "data-testid": "slice-value" });
  const sliceField = field("slice z", sliceSlider, sliceValue);
  const opacitySlider = h("input", { type: "range", min: 0, max: 1, step: 0.01, class: "cam-opacity", "data-testid": "opacity-slider", title: "Opacity of the map" });
  const colormapSelect = h("select", { class: "cam-colormap", "data-testid": "colormap-select" },
    ...OVERLAY_COLORMAPS.map((c) => h("option", { value: c }, c)));
  const labelsBox = h("input", { type: "checkbox", class: "cam-show-labels", "data-testid": "labels-checkbox", title: "Show the predicted labels" });

  const busyEl = h("span", { class: "cam-busy-indicator", "data-testid": "busy", role: "status", "aria-hidden": "true" },
    h("span", { class: "cam-spinner" }), h("span", { class: "cam-busy-text" }, "computing…"));
  const errorEl = h("div", { class: "cam-error", "data-testid": "error", role: "alert", hidden: true });
  const noticeEl = h("div", { class: "cam-notice", "data-testid": "notice", hidden: true });
  const hintEl = h("div", { class: "cam-hint", "data-testid": "hint" });
  const placeholder = h("div", { class: "cam-placeholder", "data-testid": "placeholder" }, "no image yet");
  const legendEl = h("div", { class: "cam-legend", "data-testid": "legend" });

  const pickView = createView({ testid: "pick-canvas", title: "input · predicted labels · M", className: "cam-pick-view" });
  const brushCursor = h("div", { class: "cam-brush-cursor", "data-testid": "brush-cursor", hidden: true });
  pickView.canvas.parentElement.append(brushCursor);
  const camView = createView({ testid: "cam-canvas", className: "cam-main" });
  const camBar = createColorbar("colorbar");
  const compareView = createView({ testid: "compare-canvas", className: "cam-compare-view" });
  const compareBar = createColorbar("compare-colorbar");

  const pickPanel = h("div", { class: "cam-panel cam-pick-panel", "data-testid": "pick-panel" }, pickView.el, legendEl);
  const camPanel = h("div", { class: "cam-panel", "data-testid": "cam-panel" }, camView.el, camBar.el);
  const comparePanel = h("div", { class: "cam-panel", "data-testid": "compare-panel", hidden: true }, compareView.el, compareBar.el);
  const panels = h("div", { class: "cam-panels" }, busyEl, pickPanel, camPanel, comparePanel);

  const root = h("div", { class: "cam-viewer cam-picker", "data-testid": "pixel-set-picker" },
    h("div", { class: "cam-toolbar cam-tools" },
      h("span", { class: "cam-tool-group", role: "group", "aria-label": "tool" }, ...toolButtons), radiusField,
      h("span", { class: "cam-tool-group" }, wholeClassButton, allButton, emptyButton, clearButton), countEl),
    h("div", { class: "cam-toolbar" },
      field("class", classSelect), field("method", methodSelect), field("layer", layerSelect), field("compare", compareSelect)),
    h("div", { class: "cam-toolbar" },
      sliceField, field("opacity", opacitySlider), field("colormap", colormapSelect), field("labels", labelsBox)),
    errorEl, noticeEl, placeholder, panels, hintEl);
  el.append(root);

  // ---------------------------------------------------------------- geometry helpers
  const is3d = () => !!arrays.image && arrays.image.shape.length === 3;
  const dims = () => {
    const s = arrays.image.shape;
    return { rows: s[s.length - 2], cols: s[s.length - 1] };
  };
  const sliceOffset = () => (is3d() ? view.slice * dims().rows * dims().cols : 0);
  const sliceOf = (data) => (is3d() ? extractSlice(data, arrays.image.shape, 0, view.slice) : data);

  // ---------------------------------------------------------------- drawing
  /** M on the current slice as it will be after the stroke in progress (the live preview). */
  function previewSlice() {
    const current = sliceOfMask(mask, arrays.image.shape, view.slice);
    if (!stroke) return current;
    const out = stroke.mode === "replace" ? new Uint8Array(current.length) : current.slice();
    return combineStroke(out, stroke.slice, stroke.mode === "replace" ? "add" : stroke.mode);
  }

  function drawPick() {
    const { image } = arrays;
    const { rows, cols } = dims();
    const base = { data: sliceOf(image.data), dtype: image.dtype, vmin: image.vmin, vmax: image.vmax };
    const rgba = composeRGBA(base, null, {}, pickView.pixels(cols, rows));
    if (view.showLabels && classes) paintLabels(rgba, sliceOf(classes), LABEL_ALPHA);
    paintMask(rgba, previewSlice(), rows, cols);
    pickView.flush();
  }

  function drawMap(target, overlay, signed) {
    const { image } = arrays;
    const { rows, cols } = dims();
    const base = { data: sliceOf(image.data), dtype: image.dtype, vmin: image.vmin, vmax: image.vmax };
    const over = overlay ? { data: sliceOf(overlay.data), dtype: overlay.dtype, vmin: overlay.vmin, vmax: overlay.vmax } : null;
    composeRGBA(base, over, { colormap: view.colormap, signed, opacity: view.opacity, fade: signed }, target.pixels(cols, rows));
    target.flush();
  }

  function redraw() {
    const { image, compare } = arrays;
    show(placeholder, !image);
    show(panels, !!image);
    if (!image) return;
    show(comparePanel, !!compare);
    const { rows, cols } = dims();
    const scale = displayScale(rows, cols, compare ? PANEL_SIZE_COMPARE : PANEL_SIZE);
    drawPick();
    pickView.setScale(scale);
    drawMap(camView, arrays.cam, !!model.get("cam_signed"));
    camView.setScale(scale);
    camBar.setHeight(rows * scale);
    if (compare) {
      drawMap(compareView, compare, !!model.get("compare_signed"));
      compareView.setScale(scale);
      compareBar.setHeight(rows * scale);
    }
    updateCursor();
  }

  function updateColorbars() {
    camBar.update(arrays.cam, { colormap: view.colormap, signed: !!model.get("cam_signed") });
    compareBar.update(arrays.compare, { colormap: view.colormap, signed: !!model.get("compare_signed") });
    colormapSelect.disabled = !!model.get("cam_signed");
  }

  function updateCursor() {
    const visible = !!cursor && !!arrays.image && (view.tool === "brush" || view.tool === "erase");
    show(brushCursor, visible);
    if (!visible) return;
    const { rows, cols } = dims();
    brushCursor.style.left = `${(cursor.x / cols) * 100}%`;
    brushCursor.style.top = `${(cursor.y / rows) * 100}%`;
    const d = 2 * view.brushRadius * (pickView.canvas.getBoundingClientRect().width / cols || 1);
    brushCursor.style.width = `${d}px`;
    brushCursor.style.height = `${d}px`;
    brushCursor.classList.toggle("erase", view.tool === "erase");
  }

  // ---------------------------------------------------------------- controls
  function syncTools() {
    for (const b of toolButtons) {
      const active = b.dataset.tool === view.tool;
      b.classList.toggle("active", active);
      b.setAttribute("aria-pressed", String(active));
    }
    show(radiusField, view.tool === "brush" || view.tool === "erase");
    radiusSlider.value = String(view.brushRadius);
    radiusValue.textContent = `${view.brushRadius}`;
    pickView.canvas.dataset.tool = view.tool;
    updateCursor();
  }

  function syncViewControls() {
    const image = arrays.image;
    show(sliceField, is3d());
    if (is3d()) {
      sliceSlider.max = String(image.shape[0] - 1);
      sliceSlider.value = String(view.slice);
      sliceValue.textContent = `${view.slice}/${image.shape[0] - 1}`;
    }
    opacitySlider.value = String(view.opacity);
    setSelectValue(colormapSelect, view.colormap);
    labelsBox.checked = !!view.showLabels;
    syncTools();
  }

  function targetClass() {
    return Number(shown("target_class") ?? -1);
  }

  function syncChoices() {
    const names = model.get("class_names") ?? [];
    const tc = targetClass();
    const options = names.map((n, i) => ({ value: String(i), label: `${i}: ${n}` }));
    if (tc === -1) options.unshift({ value: "-1", label: "(click the image)" });
    setOptions(classSelect, options, String(tc));
    setOptions(methodSelect, (model.get("methods") ?? []).map((m) => ({ value: m, label: m })), shown("method"));
    setOptions(layerSelect, (model.get("layers") ?? []).map((l) => ({ value: l, label: l })), shown("layer"));
    setOptions(compareSelect, [{ value: "", label: "(off)" }, ...(model.get("methods") ?? []).map((m) => ({ value: m, label: m }))],
      shown("compare_method") ?? "");
    wholeClassButton.disabled = tc < 0 || !classes;
    syncLegend();
    updateTitles();
  }

  function syncLegend() {
    const names = model.get("class_names") ?? [];
    const tc = targetClass();
    const key = JSON.stringify([names, tc]);
    if (legendEl.dataset.key === key) return;
    legendEl.dataset.key = key;
    legendEl.replaceChildren(...names.map((n, i) => h("div", {
      class: `cam-legend-item${i === tc ? " target" : ""}`, "data-class": i, title: `explain class ${i}`,
    }, h("span", { class: `cam-swatch${i === 0 ? " background" : ""}`, style: `background: ${labelCss(i)}` }), `${i}: ${n}`)));
  }

  function updateTitles() {
    const names = model.get("class_names") ?? [];
    const tc = targetClass();
    const cls = tc < 0 ? "no class yet" : names[tc] ?? `class ${tc}`;
    camView.setTitle(`${shown("method") ?? ""} · ${shown("layer") ?? ""} · ${cls}`);
    compareView.setTitle(`${shown("compare_method") ?? ""} · ${shown("layer") ?? ""} · ${cls}`);
  }

  function syncCount() {
    const n = Number(model.get("n_selected") ?? 0);
    const local = countSet(mask);
    countEl.dataset.count = String(n);
    countEl.dataset.local = String(local);
    const unit = is3d() ? "voxels" : "pixels";
    countEl.textContent = `${n} ${unit} in M${local !== n ? ` (${local} drawn)` : ""}`;
    const hint = targetClass() < 0 ? "Click the image to choose the class (the predicted class under the click). " : "";
    hintEl.textContent = `${hint}Shift adds to M, Alt subtracts; a plain stroke replaces M.`;
  }

  function syncBusy() {
    const busy = !!model.get("busy");
    root.classList.toggle("busy", busy);
    busyEl.setAttribute("aria-hidden", String(!busy));
    const n = Object.keys(queue.pending()).length;
    busyEl.querySelector(".cam-busy-text").textContent = n ? `computing… (${n} queued)` : "computing…";
  }

  function syncMessages() {
    const messages = [model.get("error"), ...Object.values(arrayErrors)].filter(Boolean);
    errorEl.textContent = messages.join("\n");
    show(errorEl, messages.length > 0);
    const notice = model.get("notice") || "";
    noticeEl.textContent = notice;
    show(noticeEl, !!notice);
  }

  /** A recompute trait (or several, sent together): at once, or held while busy. */
  function request(changes) {
    queue.requestAll(changes);
    syncChoices();
    syncBusy();
    syncCount();
  }

  /** Send M (and optionally a first target class) as one request. */
  function sendMask(extra = {}) {
    const dict = arrays.image && countSet(mask) > 0 ? encodeMask(mask, arrays.image.shape) : {};
    lastSent = dict;
    request({ mask_bits: dict, ...extra });
  }

  // ---------------------------------------------------------------- arrays
  function decode(name) {
    ({ array: arrays[name], error: arrayErrors[name] } = decodeTrait(model.get(name), name, arrays.image));
  }

  function decodeLabels() {
    decode("labels");
    classes = arrays.labels ? classIds(arrays.labels) : null;
  }

  /** Load M from the model's mask_bits (Python set it, or first render). */
  function loadMask() {
    arrayErrors.mask_bits = "";
    const image = arrays.image;
    const n = image ? image.data.length : 0;
    if (mask.length !== n) mask = new Uint8Array(n);
    else mask.fill(0);
    if (!image) return;
    try {
      decodeMask(model.get("mask_bits"), image.shape, mask);
    } catch (err) {
      arrayErrors.mask_bits = `mask_bits: ${err.message}`;
    }
  }

  function onImage() {
    decode("image");
    decodeLabels();
    decode("cam");
    decode("compare");
    stroke = null;
    const image = arrays.image;
    root.dataset.ndim = image ? String(image.shape.length) : "";
    if (image && is3d()) {
      const s = clampIndex(view.slice, image.shape[0]);
      if (s !== view.slice) {
        view.slice = s;
        commit({ slice_index: s });
      }
    }
    loadMask();
    syncViewControls();
    syncChoices();
    syncMessages();
    updateColorbars();
    syncCount();
    redraw();
  }
  const onLabels = () => {
    decodeLabels();
    syncChoices();
    syncMessages();
    redraw();
  };
  const onCam = () => {
    decode("cam");
    syncMessages();
    updateColorbars();
    redraw();
  };
  const onCompareArray = () => {
    decode("compare");
    syncMessages();
    updateColorbars();
    updateTitles();
    redraw();
  };
  const onMaskBits = () => {
    if (model.get("mask_bits") === lastSent || queue.has("mask_bits")) return; // our echo, or ours wins
    lastSent = null;
    loadMask();
    syncMessages();
    syncCount();
    redraw();
  };

  // ---------------------------------------------------------------- picking
  function dataPoint(event) {
    const rect = pickView.canvas.getBoundingClientRect();
    const { rows, cols } = dims();
    if (!(rect.width > 0 && rect.height > 0)) return null;
    const cssX = event.clientX - rect.left;
    const cssY = event.clientY - rect.top;
    return {
      x: (cssX / rect.width) * cols, y: (cssY / rect.height) * rows,
      pixel: cssToPixel(cssX, cssY, rect.width, rect.height, cols, rows),
    };
  }

  /** Rasterise the stroke in progress (brush/erase: only the newest segment). */
  function rasterStroke(onlyLast) {
    const { rows, cols } = dims();
    const p = stroke.points;
    if (stroke.tool === "brush" || stroke.tool === "erase") {
      if (!onlyLast) brushStroke(p, view.brushRadius, rows, cols, stroke.slice);
      else stampSegment(stroke.slice, rows, cols, p[p.length - 2] ?? p[p.length - 1], p[p.length - 1], view.brushRadius);
    } else if (stroke.tool === "lasso") {
      fillPolygon(p, rows, cols, stroke.slice);
    } else if (stroke.tool === "rectangle") {
      fillRect(p[0], p[p.length - 1], rows, cols, stroke.slice);
    }
  }

  function finishStroke() {
    if (!stroke) return;
    const s = stroke;
    stroke = null;
    const extra = s.target !== null ? { target_class: s.target } : {};
    if (s.tool === "lasso" && s.points.length < 3) {
      if (s.target !== null) request(extra); // a click with the lasso: just chooses the class
      redraw();
      return;
    }
    combineStroke(mask, s.slice, s.mode, sliceOffset());
    sendMask(extra);
    redraw();
  }

  const onPointerDown = (event) => {
    if (event.button !== 0 || !arrays.image) return;
    const p = dataPoint(event);
    if (!p || !p.pixel) return;
    event.preventDefault();
    pickView.canvas.setPointerCapture?.(event.pointerId);
    const { rows, cols } = dims();
    const { row, col } = p.pixel;
    const classSlice = classes ? sliceOf(classes) : null;
    const target = targetClass() < 0 && classSlice ? classSlice[row * cols + col] : null;
    const tool = view.tool;
    stroke = { tool, mode: strokeMode(event, tool), points: [{ x: p.x, y: p.y }], slice: new Uint8Array(rows * cols), target };
    if (tool === "point" || tool === "region") {
      if (tool === "point") pointMask(row, col, rows, cols, stroke.slice);
      else if (classSlice) regionGrow(classSlice, rows, cols, row, col, stroke.slice);
      finishStroke();
      return;
    }
    cursor = { x: p.x, y: p.y };
    rasterStroke(false);
    drawPick();
    updateCursor();
  };
  const onPointerMove = (event) => {
    if (!arrays.image) return;
    const p = dataPoint(event);
    if (!p) return;
    cursor = { x: p.x, y: p.y };
    updateCursor();
    if (!stroke || !(event.buttons & 1)) return;
    const last = stroke.points[stroke.points.length - 1];
    if (last.x === p.x && last.y === p.y) return;
    stroke.points.push({ x: p.x, y: p.y });
    rasterStroke(true);
    drawPick();
  };
  const onPointerUp = (event) => {
    if (!stroke) return;
    const p = dataPoint(event);
    if (p && stroke.tool !== "point" && stroke.tool !== "region") {
      const last = stroke.points[stroke.points.length - 1];
      if (last.x !== p.x || last.y !== p.y) {
        stroke.points.push({ x: p.x, y: p.y });
        rasterStroke(true);
      }
    }
    finishStroke();
  };
  const onPointerCancel = () => {
    stroke = null;
    if (arrays.image) drawPick();
  };
  const onPointerLeave = () => {
    cursor = null;
    updateCursor();
  };

  // ---------------------------------------------------------------- buttons and controls
  function setWhole(fill) {
    if (!arrays.image) return;
    stroke = null;
    mask.fill(fill);
    sendMask();
    redraw();
  }
  const onWholeClass = () => {
    const tc = targetClass();
    if (!arrays.image || !classes || tc < 0) return;
    stroke = null;
    equalMask(classes, tc, mask);
    sendMask();
    redraw();
  };
  const onAll = () => setWhole(1);
  const onEmpty = () => setWhole(0);
  const onTool = (event) => {
    const t = event.currentTarget.dataset.tool;
    if (t === view.tool) return;
    view.tool = t;
    syncTools();
    commit({ tool: t });
  };
  const onRadiusInput = () => {
    view.brushRadius = Number(radiusSlider.value);
    radiusValue.textContent = `${view.brushRadius}`;
    updateCursor();
  };
  const onRadiusChange = () => {
    onRadiusInput();
    commit({ brush_radius: view.brushRadius });
  };
  const onSliceInput = () => {
    if (!is3d()) return;
    view.slice = clampIndex(sliceSlider.value, arrays.image.shape[0]);
    sliceValue.textContent = `${view.slice}/${arrays.image.shape[0] - 1}`;
    stroke = null;
    redraw();
  };
  const onSliceChange = () => {
    onSliceInput();
    commit({ slice_index: view.slice });
  };
  const onOpacityInput = () => {
    view.opacity = Number(opacitySlider.value);
    redraw();
  };
  const onOpacityChange = () => {
    onOpacityInput();
    commit({ opacity: view.opacity });
  };
  const onColormap = () => {
    view.colormap = colormapSelect.value;
    updateColorbars();
    redraw();
    commit({ colormap: view.colormap });
  };
  const onLabelsBox = () => {
    view.showLabels = labelsBox.checked;
    redraw();
    commit({ show_labels: view.showLabels });
  };
  const onClass = () => request({ target_class: Number(classSelect.value) });
  const onMethod = () => request({ method: methodSelect.value });
  const onLayer = () => request({ layer: layerSelect.value });
  const onCompare = () => request({ compare_method: compareSelect.value });
  const onLegendClick = (event) => {
    const item = event.target.closest?.(".cam-legend-item");
    if (item) request({ target_class: Number(item.dataset.class) });
  };

  // ---------------------------------------------------------------- model -> view (browser-only traits)
  function onViewTrait(key, read) {
    return () => {
      const v = read();
      if (v === view[key]) return; // our own echo
      view[key] = v;
      if (key === "slice" && is3d()) view.slice = clampIndex(v, arrays.image.shape[0]);
      syncViewControls();
      updateColorbars();
      redraw();
    };
  }
  const viewTraits = [
    ["slice", "slice_index", () => Number(model.get("slice_index") ?? 0)],
    ["tool", "tool", () => (TOOLS.includes(model.get("tool")) ? model.get("tool") : view.tool)],
    ["brushRadius", "brush_radius", () => Number(model.get("brush_radius") ?? view.brushRadius)],
    ["opacity", "opacity", () => Number(model.get("opacity") ?? 0.5)],
    ["colormap", "colormap", () => model.get("colormap") || "inferno"],
    ["showLabels", "show_labels", () => !!model.get("show_labels")],
  ];

  const onBusy = () => {
    queue.setBusy(!!model.get("busy")); // may flush held requests (model.set + save_changes)
    syncBusy();
    syncChoices();
    syncCount();
  };
  const onChoices = () => {
    syncChoices();
    syncCount();
  };

  // ---------------------------------------------------------------- wiring
  const domListeners = [
    ...toolButtons.map((b) => [b, "click", onTool]),
    [radiusSlider, "input", onRadiusInput], [radiusSlider, "change", onRadiusChange],
    [wholeClassButton, "click", onWholeClass], [allButton, "click", onAll],
    [emptyButton, "click", onEmpty], [clearButton, "click", onEmpty],
    [classSelect, "change", onClass], [methodSelect, "change", onMethod],
    [layerSelect, "change", onLayer], [compareSelect, "change", onCompare],
    [sliceSlider, "input", onSliceInput], [sliceSlider, "change", onSliceChange],
    [opacitySlider, "input", onOpacityInput], [opacitySlider, "change", onOpacityChange],
    [colormapSelect, "change", onColormap], [labelsBox, "change", onLabelsBox],
    [legendEl, "click", onLegendClick],
    [pickView.canvas, "pointerdown", onPointerDown], [pickView.canvas, "pointermove", onPointerMove],
    [pickView.canvas, "pointerup", onPointerUp], [pickView.canvas, "pointercancel", onPointerCancel],
    [pickView.canvas, "pointerleave", onPointerLeave],
  ];
  for (const [node, type, f] of domListeners) node.addEventListener(type, f);

  on("change:image", onImage);
  on("change:labels", onLabels);
  on("change:cam", onCam);
  on("change:cam_signed", onCam);
  on("change:compare", onCompareArray);
  on("change:compare_signed", onCompareArray);
  on("change:mask_bits", onMaskBits);
  on("change:n_selected", syncCount);
  for (const [key, trait, read] of viewTraits) on(`change:${trait}`, onViewTrait(key, read));
  for (const name of ["layers", "methods", "class_names", "target_class", "layer", "method", "compare_method"]) {
    on(`change:${name}`, onChoices);
  }
  on("change:busy", onBusy);
  on("change:error", syncMessages);
  on("change:notice", syncMessages);

  // ---------------------------------------------------------------- first draw
  syncBusy();
  onImage();

  return () => {
    for (const [event, f] of listeners) model.off(event, f);
    for (const [node, type, f] of domListeners) node.removeEventListener(type, f);
    for (const v of [pickView, camView, compareView]) v.destroy();
    root.remove();
  };
}

export default { render };
