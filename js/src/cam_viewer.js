// CAMViewer front end (anywidget). The contract with Python is docs/widget_protocol.md.
//
// Python owns everything that needs the model (layer, method, class, sample, compare method);
// the browser owns display state (slice, axis, crosshair, opacity, colormap, relu, window) and
// redraws from the decoded arrays without a round trip.

import { decodeTrait, valueAt } from "./codec.js";
import { OVERLAY_COLORMAPS } from "./colormaps.js";
import { composeRGBA, formatValue } from "./compose.js";
import { h, field, setOptions, setSelectValue, show } from "./dom.js";
import { downloadURL, panelCanvas, safeName } from "./export_png.js";
import { LastRequestWins, RECOMPUTE_KEYS } from "./requests.js";
import { renderScores } from "./scores.js";
import {
  AXIS_LETTERS, VIEW_NAMES, clampIndex, clampVoxel, crosshair, extractSlice, flatIndex,
  formatVoxel, pixelToVoxel, sliceDims,
} from "./slicing.js";
import { createColorbar } from "./colorbar.js";
import { createView, displayScale } from "./view.js";

const MAIN_SIZE = 320; // CSS px of the larger side of the main and compare panels
const ORTHO_SIZE = 200; // CSS px of the larger dimension of the volume in the three views
const COMMIT_DELAY = 150; // ms: slider drags are synced to Python at most this often

function render({ model, el }) {
  // ---------------------------------------------------------------- listeners (all removed in cleanup)
  const listeners = [];
  const on = (event, f) => {
    model.on(event, f);
    listeners.push([event, f]);
  };

  // ---------------------------------------------------------------- state
  const arrays = { image: null, cam: null, compare: null }; // decoded, cached until the trait changes
  const arrayErrors = { image: "", cam: "", compare: "" };
  const view = {
    axis: clampIndex(model.get("axis") ?? 0, 3),
    slice: Number(model.get("slice_index") ?? 0),
    crosshair: [...(model.get("crosshair") ?? [])],
    opacity: Number(model.get("opacity") ?? 0.5),
    colormap: model.get("colormap") || "inferno",
    relu: !!model.get("relu"),
    window: [...(model.get("window") ?? [])],
  };
  const queue = new LastRequestWins((changes) => {
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.save_changes();
  }, { busy: !!model.get("busy") });
  /** The value a recompute control shows: the held request, else the model's value. */
  const shown = (key) => (queue.has(key) ? queue.get(key) : model.get(key));

  // Display traits are synced to Python in batches (immediately, or after COMMIT_DELAY for drags).
  const dirty = new Set();
  let commitTimer = null;
  const VIEW_TRAITS = { axis: "axis", slice: "slice_index", crosshair: "crosshair", opacity: "opacity",
    colormap: "colormap", relu: "relu", window: "window" };
  function commit(keys, { delay = 0 } = {}) {
    for (const k of keys) dirty.add(k);
    if (delay > 0) {
      if (commitTimer === null) commitTimer = setTimeout(flushCommit, delay);
      return;
    }
    flushCommit();
  }
  function flushCommit() {
    if (commitTimer !== null) clearTimeout(commitTimer);
    commitTimer = null;
    if (!dirty.size) return;
    for (const k of dirty) {
      const v = view[k];
      model.set(VIEW_TRAITS[k], Array.isArray(v) ? [...v] : v);
    }
    dirty.clear();
    model.save_changes();
  }

  // ---------------------------------------------------------------- DOM
  const layerSelect = h("select", { class: "cam-layer", "data-testid": "layer-select", title: "Layer whose activations are explained" });
  const methodSelect = h("select", { class: "cam-method", "data-testid": "method-select", title: "CAM method" });
  const compareSelect = h("select", { class: "cam-compare", "data-testid": "compare-select", title: "Show a second method side by side" });
  const classSelect = h("select", { class: "cam-class", "data-testid": "class-select", title: "Class to explain" });
  const sampleSlider = h("input", { type: "range", min: 0, max: 0, step: 1, value: 0, class: "cam-sample", "data-testid": "sample-slider" });
  const sampleValue = h("output", { class: "cam-value", "data-testid": "sample-value" });
  const sampleField = field("sample", sampleSlider, sampleValue);
  const axisSelect = h("select", { class: "cam-axis", "data-testid": "axis-select", title: "Axis the main view slices along" },
    ...VIEW_NAMES.map((name, a) => h("option", { value: a }, `${name} (${AXIS_LETTERS[a]})`)));
  const axisField = field("axis", axisSelect);
  const sliceSlider = h("input", { type: "range", min: 0, max: 0, step: 1, value: 0, class: "cam-slice", "data-testid": "slice-slider" });
  const sliceValue = h("output", { class: "cam-value", "data-testid": "slice-value" });
  const sliceField = field("slice", sliceSlider, sliceValue);
  const opacitySlider = h("input", { type: "range", min: 0, max: 1, step: 0.01, class: "cam-opacity", "data-testid": "opacity-slider", title: "Opacity of the map" });
  const colormapSelect = h("select", { class: "cam-colormap", "data-testid": "colormap-select" },
    ...OVERLAY_COLORMAPS.map((c) => h("option", { value: c }, c)));
  const reluBox = h("input", { type: "checkbox", class: "cam-relu", "data-testid": "relu-checkbox", title: "Hide negative values of signed maps" });
  const windowLow = h("input", { type: "number", step: "any", class: "cam-window-low", "data-testid": "window-low", title: "Window: lowest image value shown black" });
  const windowHigh = h("input", { type: "number", step: "any", class: "cam-window-high", "data-testid": "window-high", title: "Window: highest image value shown white" });
  const windowReset = h("button", { type: "button", class: "cam-window-reset", "data-testid": "window-reset", title: "Full range" }, "full");
  const pngButton = h("button", { type: "button", class: "cam-png", "data-testid": "png-button", title: "Download the main panel as PNG" }, "PNG");
  // Floats over the panels (visibility only), so that showing it never reflows the canvases.
  const busyEl = h("span", { class: "cam-busy-indicator", "data-testid": "busy", role: "status", "aria-hidden": "true" },
    h("span", { class: "cam-spinner" }), h("span", { class: "cam-busy-text" }, "computing…"));
  const errorEl = h("div", { class: "cam-error", "data-testid": "error", role: "alert", hidden: true });
  const noticeEl = h("div", { class: "cam-notice", "data-testid": "notice", hidden: true });
  const readoutEl = h("div", { class: "cam-readout", "data-testid": "readout" });
  const scoresEl = h("div", { class: "cam-scores", "data-testid": "scores" });
  const placeholder = h("div", { class: "cam-placeholder", "data-testid": "placeholder" }, "no image yet");

  const mainView = createView({ testid: "main-canvas", className: "cam-main", onPick: (p) => pickIn(p, view.axis, view.slice) });
  const mainBar = createColorbar("colorbar");
  const compareView = createView({ testid: "compare-canvas", className: "cam-compare-view", onPick: (p) => pickIn(p, view.axis, view.slice) });
  const compareBar = createColorbar("compare-colorbar");
  const orthoViews = VIEW_NAMES.map((name, axis) =>
    createView({ testid: `view-${name}`, title: name, className: `cam-ortho cam-${name}`, onPick: (p) => pickIn(p, axis, view.crosshair[axis]) }));

  const mainPanel = h("div", { class: "cam-panel", "data-testid": "main-panel" }, mainView.el, mainBar.el);
  const comparePanel = h("div", { class: "cam-panel", "data-testid": "compare-panel", hidden: true }, compareView.el, compareBar.el);
  const orthoRow = h("div", { class: "cam-ortho-row", "data-testid": "ortho-views", hidden: true }, ...orthoViews.map((v) => v.el));

  const root = h("div", { class: "cam-viewer", "data-testid": "cam-viewer" },
    h("div", { class: "cam-toolbar" },
      field("layer", layerSelect), field("method", methodSelect), field("compare", compareSelect),
      field("class", classSelect), sampleField, pngButton),
    h("div", { class: "cam-toolbar" },
      axisField, sliceField, field("opacity", opacitySlider), field("colormap", colormapSelect),
      field("relu", reluBox),
      h("span", { class: "cam-field cam-window" }, h("span", { class: "cam-field-label" }, "window"), windowLow, windowHigh, windowReset)),
    errorEl, noticeEl, placeholder,
    h("div", { class: "cam-panels" }, busyEl, mainPanel, comparePanel),
    orthoRow, readoutEl, scoresEl);
  el.append(root);

  // ---------------------------------------------------------------- drawing
  const scratch = new Map(); // per (view, role): reused slice buffers (never a view into the volume)
  function sliceOf(array, axis, index, key) {
    const s = extractSlice(array.data, array.shape, axis, index, scratch.get(key));
    if (s.buffer !== array.data.buffer) scratch.set(key, s);
    return { data: s, dtype: array.dtype, vmin: array.vmin, vmax: array.vmax };
  }
  function drawInto(target, overlay, signed, axis, index, key) {
    const { image } = arrays;
    const { rows, cols } = sliceDims(image.shape, axis);
    const base = sliceOf(image, axis, index, `${key}:base`);
    const over = overlay ? sliceOf(overlay, axis, index, `${key}:overlay`) : null;
    composeRGBA(base, over, {
      window: view.window, colormap: view.colormap, signed, opacity: view.opacity, relu: view.relu, fade: signed,
    }, target.pixels(cols, rows));
    target.flush();
    return { rows, cols };
  }

  /** Redraw every canvas from the cached arrays (synchronous; slider input lands here). */
  function redraw() {
    const { image, cam, compare } = arrays;
    show(placeholder, !image);
    show(mainPanel, !!image);
    const is3d = !!image && image.shape.length === 3;
    show(orthoRow, is3d);
    show(comparePanel, !!image && !!compare);
    if (!image) {
      readoutEl.textContent = "";
      return;
    }
    const signed = !!model.get("cam_signed");
    const { rows, cols } = drawInto(mainView, cam, signed, view.axis, view.slice, "main");
    const scale = displayScale(rows, cols, MAIN_SIZE);
    mainView.setScale(scale);
    mainBar.setHeight(rows * scale);
    const cross = crosshair(view.crosshair, image.shape, is3d ? view.axis : 0);
    mainView.setCrosshair(cross.fx, cross.fy);
    if (compare) {
      drawInto(compareView, compare, !!model.get("compare_signed"), view.axis, view.slice, "compare");
      compareView.setScale(scale);
      compareBar.setHeight(rows * scale);
      compareView.setCrosshair(cross.fx, cross.fy);
    }
    if (is3d) {
      const s = displayScale(Math.max(...image.shape), 1, ORTHO_SIZE);
      orthoViews.forEach((v, axis) => {
        const index = view.crosshair[axis];
        drawInto(v, cam, signed, axis, index, `ortho${axis}`);
        v.setScale(s);
        const c = crosshair(view.crosshair, image.shape, axis);
        v.setCrosshair(c.fx, c.fy);
        v.setTitle(`${VIEW_NAMES[axis]} ${AXIS_LETTERS[axis]}=${index}`);
      });
    }
    updateReadout();
  }

  function updateReadout() {
    const { image, cam, compare } = arrays;
    if (!image) return;
    const i = flatIndex(image.shape, view.crosshair);
    let text = `${formatVoxel(view.crosshair)}  input=${formatValue(valueAt(image, i))}`;
    if (cam) text += `  cam=${formatValue(valueAt(cam, i))}`;
    if (compare) text += `  ${model.get("compare_method") || "compare"}=${formatValue(valueAt(compare, i))}`;
    readoutEl.textContent = text;
  }

  function updateColorbars() {
    mainBar.update(arrays.cam, { colormap: view.colormap, signed: !!model.get("cam_signed"), relu: view.relu });
    compareBar.update(arrays.compare, { colormap: view.colormap, signed: !!model.get("compare_signed"), relu: view.relu });
    colormapSelect.disabled = !!model.get("cam_signed");
    colormapSelect.title = colormapSelect.disabled ? "Signed maps use RdBu (blue < 0 < red)" : "Colormap of the map";
  }

  function updateTitles() {
    const names = model.get("class_names") ?? [];
    const cls = Number(model.get("target_class"));
    const clsName = names[cls] ?? `class ${cls}`;
    mainView.setTitle(`${model.get("method") ?? ""} · ${model.get("layer") ?? ""} · ${clsName}`);
    compareView.setTitle(`${model.get("compare_method") ?? ""} · ${model.get("layer") ?? ""} · ${clsName}`);
  }

  // ---------------------------------------------------------------- view-state controls
  function syncViewControls() {
    const image = arrays.image;
    const is3d = !!image && image.shape.length === 3;
    show(axisField, is3d);
    show(sliceField, is3d);
    if (is3d) {
      axisSelect.value = String(view.axis);
      sliceSlider.max = String(image.shape[view.axis] - 1);
      sliceSlider.value = String(view.slice);
      sliceValue.textContent = `${view.slice}/${image.shape[view.axis] - 1}`;
    }
    opacitySlider.value = String(view.opacity);
    setSelectValue(colormapSelect, view.colormap);
    reluBox.checked = view.relu;
    const full = image ? [image.vmin, image.vmax] : ["", ""];
    const win = view.window.length === 2 ? view.window : ["", ""];
    windowLow.placeholder = formatValue(full[0]);
    windowHigh.placeholder = formatValue(full[1]);
    if (document.activeElement !== windowLow) windowLow.value = win[0] === "" ? "" : String(win[0]);
    if (document.activeElement !== windowHigh) windowHigh.value = win[1] === "" ? "" : String(win[1]);
  }

  /** Make crosshair and slice valid for the current image (centre when unset). Returns true if changed. */
  function normaliseView() {
    const image = arrays.image;
    if (!image) return false;
    const before = JSON.stringify([view.crosshair, view.slice]);
    const unset = view.crosshair.length !== image.shape.length; // [] or another ndim: start at the centre
    view.crosshair = clampVoxel(view.crosshair, image.shape);
    if (image.shape.length === 3) {
      const inRange = Number.isInteger(view.slice) && view.slice >= 0 && view.slice < image.shape[view.axis];
      if (unset || !inRange) view.slice = view.crosshair[view.axis];
      view.crosshair[view.axis] = view.slice;
    } else {
      view.slice = 0;
    }
    return JSON.stringify([view.crosshair, view.slice]) !== before;
  }

  /** A pick on a view that slices along `axis` at `index`: move the crosshair (and the main slice). */
  function pickIn({ row, col }, axis, index) {
    const image = arrays.image;
    if (!image) return;
    const ndim = image.shape.length;
    const voxel = pixelToVoxel(row, col, axis, index, ndim);
    if (JSON.stringify(voxel) === JSON.stringify(view.crosshair)) return;
    view.crosshair = voxel;
    const keys = ["crosshair"];
    if (ndim === 3 && view.slice !== voxel[view.axis]) {
      view.slice = voxel[view.axis];
      keys.push("slice");
    }
    syncViewControls();
    redraw();
    commit(keys);
  }

  const onSliceInput = () => {
    const image = arrays.image;
    if (!image || image.shape.length !== 3) return;
    view.slice = clampIndex(sliceSlider.value, image.shape[view.axis]);
    view.crosshair[view.axis] = view.slice;
    sliceValue.textContent = `${view.slice}/${image.shape[view.axis] - 1}`;
    redraw();
    commit(["slice", "crosshair"], { delay: COMMIT_DELAY });
  };
  const onAxisChange = () => {
    const image = arrays.image;
    view.axis = clampIndex(axisSelect.value, 3);
    if (image && image.shape.length === 3) view.slice = view.crosshair[view.axis];
    syncViewControls();
    redraw();
    commit(["axis", "slice"]);
  };
  const onOpacityInput = () => {
    view.opacity = Number(opacitySlider.value);
    redraw();
    commit(["opacity"], { delay: COMMIT_DELAY });
  };
  const onColormapChange = () => {
    view.colormap = colormapSelect.value;
    updateColorbars();
    redraw();
    commit(["colormap"]);
  };
  const onReluChange = () => {
    view.relu = reluBox.checked;
    updateColorbars();
    redraw();
    commit(["relu"]);
  };
  const onWindowInput = (event) => {
    const image = arrays.image;
    const lo = windowLow.value.trim();
    const hi = windowHigh.value.trim();
    let win;
    if (lo === "" && hi === "") win = [];
    else {
      const full = image ? [image.vmin, image.vmax] : [0, 1];
      win = [lo === "" ? full[0] : Number(lo), hi === "" ? full[1] : Number(hi)];
    }
    const valid = win.length === 0 || (Number.isFinite(win[0]) && Number.isFinite(win[1]) && win[1] > win[0]);
    windowLow.classList.toggle("invalid", !valid);
    windowHigh.classList.toggle("invalid", !valid);
    if (!valid) return;
    view.window = win;
    redraw();
    commit(["window"], { delay: event.type === "input" ? COMMIT_DELAY : 0 });
  };
  const onWindowReset = () => {
    view.window = [];
    windowLow.value = "";
    windowHigh.value = "";
    windowLow.classList.remove("invalid");
    windowHigh.classList.remove("invalid");
    redraw();
    commit(["window"]);
  };
  const onSliderChange = () => flushCommit();
  const onPng = () => {
    if (!arrays.image) return;
    const signed = !!model.get("cam_signed");
    const ticks = arrays.cam ? mainBar.update(arrays.cam, { colormap: view.colormap, signed, relu: view.relu }) : [];
    const canvas = panelCanvas({
      image: mainView.canvas,
      title: `${mainViewTitle()}${arrays.image.shape.length === 3 ? `  ${AXIS_LETTERS[view.axis]}=${view.slice}` : ""}`,
      colormap: arrays.cam ? (signed ? "RdBu" : view.colormap) : null,
      ticks,
    });
    const url = canvas.toDataURL("image/png");
    root.dataset.lastPng = String(url.length);
    downloadURL(url, `${safeName(`cam_${model.get("method")}_${model.get("layer")}_class${model.get("target_class")}`)}.png`);
  };
  const mainViewTitle = () => mainView.el.querySelector(".cam-view-title").textContent;

  // ---------------------------------------------------------------- recompute controls (last request wins)
  function syncChoices() {
    const layers = model.get("layers") ?? [];
    const methods = model.get("methods") ?? [];
    setOptions(layerSelect, layers.map((l) => ({ value: l, label: l })), shown("layer"));
    setOptions(methodSelect, methods.map((m) => ({ value: m, label: m })), shown("method"));
    setOptions(compareSelect, [{ value: "", label: "(off)" }, ...methods.map((m) => ({ value: m, label: m }))],
      shown("compare_method") ?? "");
    const names = model.get("class_names") ?? [];
    const n = Math.max(names.length, (model.get("class_scores") ?? []).length);
    setOptions(classSelect, Array.from({ length: n }, (_, i) => ({ value: String(i), label: `${i}: ${names[i] ?? `class ${i}`}` })),
      shown("target_class"));
    const samples = Number(model.get("n_samples") ?? 1);
    show(sampleField, samples > 1);
    sampleSlider.max = String(Math.max(samples - 1, 0));
    sampleSlider.value = String(shown("sample") ?? 0);
    sampleValue.textContent = `${sampleSlider.value}/${Math.max(samples - 1, 0)}`;
    updateTitles();
  }

  function syncScores() {
    const scores = model.get("class_scores") ?? [];
    show(scoresEl, scores.length > 0);
    renderScores(scoresEl, {
      scores, probs: model.get("class_probs") ?? [], names: model.get("class_names") ?? [],
      target: Number(shown("target_class")),
    }, (i) => requestChange("target_class", i));
  }

  function syncBusy() {
    const busy = !!model.get("busy");
    root.classList.toggle("busy", busy);
    busyEl.setAttribute("aria-hidden", String(!busy));
    const held = queue.pending();
    const n = Object.keys(held).length;
    busyEl.querySelector(".cam-busy-text").textContent = n ? `computing… (${n} queued)` : "computing…";
    busyEl.title = n ? `queued: ${Object.entries(held).map(([k, v]) => `${k}=${v}`).join(", ")}` : "";
  }

  /** A recompute trait chosen by the user: sent now, or held until Python is idle. */
  function requestChange(key, value) {
    queue.request(key, value);
    syncChoices();
    syncScores();
    syncBusy();
  }

  const onLayer = () => requestChange("layer", layerSelect.value);
  const onMethod = () => requestChange("method", methodSelect.value);
  const onCompare = () => requestChange("compare_method", compareSelect.value);
  const onClass = () => requestChange("target_class", Number(classSelect.value));
  const onSampleInput = () => {
    sampleValue.textContent = `${sampleSlider.value}/${sampleSlider.max}`;
  };
  const onSampleChange = () => requestChange("sample", Number(sampleSlider.value));

  // ---------------------------------------------------------------- errors and notices
  function syncMessages() {
    const messages = [model.get("error"), arrayErrors.image, arrayErrors.cam, arrayErrors.compare].filter(Boolean);
    errorEl.textContent = messages.join("\n");
    show(errorEl, messages.length > 0);
    const notice = model.get("notice") || "";
    noticeEl.textContent = notice;
    show(noticeEl, !!notice);
  }

  // ---------------------------------------------------------------- arrays
  function decode(name) {
    ({ array: arrays[name], error: arrayErrors[name] } = decodeTrait(model.get(name), name, arrays.image));
  }

  function onImage() {
    decode("image");
    decode("cam"); // re-check shapes against the new image
    decode("compare");
    root.dataset.ndim = arrays.image ? String(arrays.image.shape.length) : "";
    const changed = normaliseView();
    syncViewControls();
    syncMessages();
    updateColorbars();
    redraw();
    if (changed) commit(["crosshair", "slice"]);
  }
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

  // ---------------------------------------------------------------- model -> view
  const fromModel = {
    axis: () => clampIndex(model.get("axis") ?? 0, 3),
    slice: () => Number(model.get("slice_index") ?? 0),
    crosshair: () => [...(model.get("crosshair") ?? [])],
    opacity: () => Number(model.get("opacity") ?? 0.5),
    colormap: () => model.get("colormap") || "inferno",
    relu: () => !!model.get("relu"),
    window: () => [...(model.get("window") ?? [])],
  };
  function onViewTrait(key) {
    return () => {
      const v = fromModel[key]();
      if (JSON.stringify(v) === JSON.stringify(view[key])) return; // our own echo
      view[key] = v;
      dirty.delete(key);
      const image = arrays.image;
      if (image && image.shape.length === 3) {
        if (key === "slice") view.crosshair[view.axis] = clampIndex(v, image.shape[view.axis]);
        if (key === "crosshair" && view.crosshair.length === 3) view.slice = clampIndex(view.crosshair[view.axis], image.shape[view.axis]);
        if (key === "axis") view.slice = view.crosshair[view.axis] ?? view.slice;
      }
      normaliseView();
      syncViewControls();
      updateColorbars();
      redraw();
    };
  }

  const onBusy = () => {
    queue.setBusy(!!model.get("busy")); // may flush held requests (model.set + save_changes)
    syncBusy();
    syncChoices();
    syncScores();
  };
  const onChoices = () => {
    syncChoices();
    syncScores();
  };
  const onRecomputeTrait = () => {
    syncChoices();
    syncScores();
    updateReadout();
  };

  // ---------------------------------------------------------------- wiring
  const domListeners = [
    [sliceSlider, "input", onSliceInput], [sliceSlider, "change", onSliderChange],
    [axisSelect, "change", onAxisChange],
    [opacitySlider, "input", onOpacityInput], [opacitySlider, "change", onSliderChange],
    [colormapSelect, "change", onColormapChange], [reluBox, "change", onReluChange],
    [windowLow, "input", onWindowInput], [windowHigh, "input", onWindowInput],
    [windowLow, "change", onWindowInput], [windowHigh, "change", onWindowInput],
    [windowReset, "click", onWindowReset], [pngButton, "click", onPng],
    [layerSelect, "change", onLayer], [methodSelect, "change", onMethod], [compareSelect, "change", onCompare],
    [classSelect, "change", onClass], [sampleSlider, "input", onSampleInput], [sampleSlider, "change", onSampleChange],
  ];
  for (const [node, type, f] of domListeners) node.addEventListener(type, f);

  on("change:image", onImage);
  on("change:cam", onCam);
  on("change:cam_signed", onCam);
  on("change:compare", onCompareArray);
  on("change:compare_signed", onCompareArray);
  for (const key of Object.keys(fromModel)) on(`change:${VIEW_TRAITS[key]}`, onViewTrait(key));
  for (const name of ["layers", "methods", "class_names", "class_scores", "class_probs", "n_samples"]) on(`change:${name}`, onChoices);
  for (const name of RECOMPUTE_KEYS) on(`change:${name}`, onRecomputeTrait);
  on("change:busy", onBusy);
  on("change:error", syncMessages);
  on("change:notice", syncMessages);

  // ---------------------------------------------------------------- first draw
  syncChoices();
  syncScores();
  syncBusy();
  onImage();

  return () => {
    try {
      flushCommit(); // a slider drag still waiting to be synced
    } catch {
      // the model may already be closed
    }
    for (const [event, f] of listeners) model.off(event, f);
    for (const [node, type, f] of domListeners) node.removeEventListener(type, f);
    for (const v of [mainView, compareView, ...orthoViews]) v.destroy();
    root.remove();
  };
}

export default { render };
