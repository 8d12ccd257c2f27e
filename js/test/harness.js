// Browser harness: mounts a built widget (/cam_widgets/static/cam_viewer.js, or
// /cam_widgets/static/pixel_set_picker.js) on a fake anywidget model, so that Playwright tests
// can drive it without a kernel.
//
//   window.__initialState = {...}   (set before load, e.g. page.add_init_script) mounts at load
//                                   (the widget named by ?widget=..., or window.__initialWidget)
//   window.__mount(state, widget)   mounts (replacing a previous mount); returns the model.
//                                   widget: "cam_viewer" (default), "pixel_set_picker" ("picker") or
//                                   "pfv_gallery" ("gallery"):
//                                   loads /cam_widgets/static/<widget>.js and its .css, and fills
//                                   the state up with that widget's defaults (Python's, see traitDefaults)
//   ?widget=picker&demo=2d          the PixelSetPicker on a synthetic labelled image
//                                   (&demo=3d, &size=64, &compare=1, &python=1 as below)
//   window.__unmount()              runs render's cleanup; returns the listeners left on the model
//   window.__model                  the FakeModel: get / set / on / off / save_changes / send,
//                                   .saves (one object per save_changes), .sets, .sent,
//                                   .update(k, v) to set a trait as Python would (not logged as a save)
//   window.__setArray(name, arr)    Python-style update of an array trait from { b64, dtype, ... }
//   window.__demoState(options)     a synthetic state ({ kind: "3d" | "2d", size, signed, compare })
//   window.__pickerDemoState(opts)  a synthetic PixelSetPicker state ({ kind, size, compare }):
//                                   labels 0 background, 1 disc, 2 square, 3 bar; target_class -1
//   window.__emulatePickerPython(model, delay)  busy -> cam of the mask -> n_selected, as Python would
//   window.__measureSliceRedraw(n)  times n slider "input" events (ms: median, p95, max, mean)
//   window.__mounted                a promise resolved after the first mount
// Arrays in a state are { b64, dtype, shape, vmin, vmax } (or already { buffer: DataView, ... }):
// they are turned into { buffer: DataView, dtype, shape, vmin, vmax } as anywidget delivers them.

import { FakeModel } from "./fake_model.js";

const WIDGET_URL = "/cam_widgets/static/cam_viewer.js";
const WIDGETS = {
  cam_viewer: "cam_viewer", viewer: "cam_viewer", pixel_set_picker: "pixel_set_picker", picker: "pixel_set_picker",
  pfv_gallery: "pfv_gallery", gallery: "pfv_gallery",
};

/**
 * The traits each widget starts from: Python's own defaults (cam_widgets.widgets.schema.trait_defaults),
 * injected by the test fixture as window.__traitDefaults = { cam_viewer: {...}, pixel_set_picker: {...} },
 * so that the harness has no copy of them that could drift.
 */
export function traitDefaults(name) {
  const all = typeof window !== "undefined" ? window.__traitDefaults : undefined;
  if (!all || !all[name]) throw new Error(`no trait defaults for ${name}: the test fixture injects window.__traitDefaults`);
  return all[name];
}

export function fromBase64(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** { b64, ... } -> { buffer: DataView, ... }; anything else unchanged. */
export function toWireArray(value) {
  if (value && typeof value === "object" && typeof value.b64 === "string") {
    const { b64, ...rest } = value;
    const bytes = fromBase64(b64);
    return { ...rest, buffer: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  }
  return value;
}

let cleanup = null;
const widgets = new Map(); // name -> default export of its bundle
let resolveMounted;
const inBrowser = typeof window !== "undefined" && typeof document !== "undefined";
if (inBrowser) window.__mounted = new Promise((r) => { resolveMounted = r; });

async function loadWidget(name) {
  if (!widgets.has(name)) {
    if (name !== "cam_viewer") {
      // harness.html links cam_viewer.css; other widgets bring their own stylesheet
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = `/cam_widgets/static/${name}.css`;
      const loaded = new Promise((r) => { link.onload = r; link.onerror = r; });
      document.head.append(link);
      await loaded;
    }
    const url = name === "cam_viewer" ? WIDGET_URL : `/cam_widgets/static/${name}.js`;
    widgets.set(name, (await import(url)).default);
  }
  return widgets.get(name);
}

async function mount(state = {}, widgetName = "cam_viewer") {
  const name = WIDGETS[widgetName];
  if (!name) throw new Error(`unknown widget "${widgetName}" (known: ${Object.keys(WIDGETS).join(", ")})`);
  if (cleanup) unmount();
  const widget = await loadWidget(name);
  const full = { ...traitDefaults(name) };
  for (const [k, v] of Object.entries(state)) full[k] = toWireArray(v);
  const model = new FakeModel(full);
  window.__model = model;
  const el = document.getElementById("widget");
  el.replaceChildren();
  cleanup = await widget.render({ model, el });
  resolveMounted(model);
  return model;
}

function unmount() {
  if (cleanup) cleanup();
  cleanup = null;
  return window.__model ? window.__model.listenerCount() : 0;
}

if (inBrowser) {
  window.__mount = mount;
  window.__unmount = unmount;
  window.__setArray = (name, value) => window.__model.update(name, toWireArray(value));
}

// ------------------------------------------------------------------ synthetic data

function wire(data, shape, vmin, vmax, dtype = "uint8") {
  return { buffer: new DataView(data.buffer), dtype, shape, vmin, vmax };
}

/** Quantise real values to uint8 over [vmin, vmax] (as the Python codec does). */
function quantise(values, vmin, vmax) {
  const q = new Uint8Array(values.length);
  const s = vmax > vmin ? 255 / (vmax - vmin) : 0;
  for (let i = 0; i < values.length; i++) q[i] = Math.round(Math.min(Math.max((values[i] - vmin) * s, 0), 255));
  return q;
}

function range(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return [lo, hi];
}

/** A synthetic volume (a shell with a bright core, noise) or image, and CAM-like blobs. */
export function demoState({ kind = "3d", size = 128, signed = false, compare = false, classes = 6 } = {}) {
  const shape = kind === "3d" ? [size, size, size] : [size, Math.round(size * 1.25)];
  const n = shape.reduce((a, b) => a * b, 1);
  const img = new Float32Array(n);
  const map = new Float32Array(n);
  const cmp = new Float32Array(n);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const dims = shape.length;
  const c = shape.map((d) => d / 2);
  const blobA = shape.map((d, k) => d * (k === dims - 1 ? 0.62 : 0.45));
  const blobB = shape.map((d, k) => d * (k === dims - 1 ? 0.35 : 0.6));
  const r0 = Math.min(...shape) * 0.32;
  const idx = new Array(dims).fill(0);
  for (let i = 0; i < n; i++) {
    let d2 = 0, a2 = 0, b2 = 0;
    for (let k = 0; k < dims; k++) {
      d2 += (idx[k] - c[k]) ** 2;
      a2 += (idx[k] - blobA[k]) ** 2;
      b2 += (idx[k] - blobB[k]) ** 2;
    }
    const r = Math.sqrt(d2);
    img[i] = 2.5 * Math.exp(-((r - r0) ** 2) / 8) + (r < r0 * 0.4 ? 1.2 : 0) + 0.3 * (rand() - 0.5) - 0.5;
    const s2 = (0.12 * Math.min(...shape)) ** 2;
    const ga = Math.exp(-a2 / (2 * s2));
    const gb = Math.exp(-b2 / (2 * s2));
    map[i] = signed ? 3 * ga - 1.5 * gb : Math.max(3 * ga + 1.2 * gb - 0.15, 0);
    cmp[i] = Math.max(2 * gb + 0.8 * ga - 0.1, 0);
    for (let k = dims - 1; k >= 0; k--) { if (++idx[k] < shape[k]) break; idx[k] = 0; }
  }
  const [ilo, ihi] = range(img);
  let [mlo, mhi] = range(map);
  if (signed) { const m = Math.max(-mlo, mhi); mlo = -m; mhi = m; }
  const [clo, chi] = range(cmp);
  const names = ["ribosome", "proteasome", "TRiC", "membrane", "nucleosome", "actin", "GroEL", "apoferritin"].slice(0, classes);
  const scores = names.map((_, i) => [2.1, 4.7, -0.3, 1.2, 0.4, -1.5, 0.9, 0.1][i]);
  const ex = scores.map(Math.exp);
  const z = ex.reduce((a, b) => a + b, 0);
  return {
    image: wire(quantise(img, ilo, ihi), shape, ilo, ihi),
    cam: wire(quantise(map, mlo, mhi), shape, mlo, mhi),
    cam_signed: signed,
    compare: compare ? wire(quantise(cmp, clo, chi), shape, clo, chi) : {},
    compare_method: compare ? "layercam" : "",
    layers: ["features.conv1", "features.conv2", "features.maxpool2"],
    layer: "features.maxpool2",
    methods: ["gradcam", "gradcampp", "layercam", "hirescam", "respondcam"],
    method: signed ? "respondcam" : "gradcam",
    class_names: names,
    class_scores: scores,
    class_probs: ex.map((e) => e / z),
    target_class: 1,
    n_samples: 4,
    notice: kind === "3d" ? `synthetic ${size}^3 volume` : "",
  };
}

/**
 * A synthetic PixelSetPicker state: a noisy image with three labelled shapes (1 disc, 2 square,
 * 3 bar; 0 background), an all-zero cam (nothing picked yet), target_class -1.
 */
export function pickerDemoState({ kind = "2d", size = 64, compare = false } = {}) {
  const shape = kind === "3d" ? [Math.max(4, Math.round(size / 4)), size, size] : [size, size];
  const [D, H, W] = shape.length === 3 ? shape : [1, ...shape];
  const n = D * H * W;
  const img = new Uint8Array(n);
  const lab = new Uint8Array(n);
  let seed = 4321;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let z = 0; z < D; z++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (z * H + y) * W + x;
        let c = 0;
        if ((y - 0.3 * H) ** 2 + (x - 0.3 * W) ** 2 < (0.18 * H) ** 2) c = 1;
        else if (y > 0.55 * H && y < 0.85 * H && x > 0.5 * W && x < 0.8 * W) c = 2;
        else if (x > 0.1 * W && x < 0.35 * W && y > 0.6 * H && y < 0.9 * H) c = 3;
        lab[i] = c;
        img[i] = Math.round(Math.min(255, Math.max(0, [60, 200, 150, 110][c] + 40 * (rand() - 0.5))));
      }
    }
  }
  const zero = new Uint8Array(n);
  return {
    image: wire(img, shape, 0, 1),
    labels: wire(lab, shape, 0, 255),
    cam: wire(zero, shape, 0, 0),
    compare: compare ? wire(new Uint8Array(n), shape, 0, 0) : {},
    compare_method: compare ? "seg-hirescam" : "",
    class_names: ["background", "disc", "square", "bar"],
    layers: ["encoder.conv1", "encoder.conv2", "decoder.conv1"],
    layer: "encoder.conv2",
    methods: ["seg-gradcam", "seg-hirescam", "seg-respondcam"],
    method: "seg-gradcam",
    target_class: -1,
    notice: kind === "3d" ? `synthetic ${D}x${H}x${W} volume` : "",
  };
}

/**
 * A stand-in for the Python side of the PixelSetPicker: on a saved recompute trait it sets busy,
 * counts M from mask_bits (n_selected), makes a cam that is the blurred M (zero for the empty set)
 * and clears busy after `delay` ms.
 */
export function emulatePickerPython(model, delay = 300) {
  const origSave = model.save_changes.bind(model);
  model.save_changes = () => {
    const before = model.saves.length;
    origSave();
    const keys = new Set(model.saves.slice(before).flatMap((s) => Object.keys(s)));
    if (!["mask_bits", "target_class", "layer", "method", "compare_method"].some((k) => keys.has(k))) return;
    model.update("busy", true);
    setTimeout(() => {
      const image = model.get("image");
      const shape = image.shape;
      const n = shape.reduce((a, b) => a * b, 1);
      const bits = model.get("mask_bits");
      const m = new Uint8Array(n);
      if (bits && bits.buffer) {
        const bytes = new Uint8Array(bits.buffer.buffer, bits.buffer.byteOffset, bits.buffer.byteLength);
        for (let i = 0; i < n; i++) m[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
      }
      const W = shape[shape.length - 1];
      const cam = new Float32Array(n);
      let count = 0;
      for (let i = 0; i < n; i++) {
        count += m[i];
        if (!m[i]) continue;
        for (let d = -4; d <= 4; d++) for (const j of [i + d, i + d * W]) if (j >= 0 && j < n) cam[j] += 1;
      }
      const [lo, hi] = range(cam);
      model.update("cam", wire(quantise(cam, 0, hi || 0), shape, 0, hi || 0));
      model.update("n_selected", count);
      model.update("notice", `recomputed: ${model.get("method")} / class ${model.get("target_class")} / ${count} px (min ${lo})`);
      model.update("busy", false);
    }, delay);
  };
}

/** Time `repeats` slice-slider input events (the redraw is synchronous inside the handler). */
export function measureSliceRedraw(repeats = 200) {
  const slider = document.querySelector('[data-testid="slice-slider"]');
  const max = Number(slider.max);
  const times = [];
  for (let i = 0; i < repeats; i++) {
    slider.value = String((i * 7) % (max + 1));
    const t0 = performance.now();
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { repeats, median: q(0.5), p95: q(0.95), max: times[times.length - 1], mean: times.reduce((a, b) => a + b, 0) / times.length };
}

/**
 * A stand-in for the Python side (opt-in, ?python=1): on a saved recompute trait it sets busy,
 * waits `delay` ms, shifts the map a little and clears busy, as CAMViewer would.
 */
export function emulatePython(model, delay = 400) {
  const origSave = model.save_changes.bind(model);
  model.save_changes = () => {
    const before = model.saves.length;
    origSave();
    const saved = model.saves.slice(before);
    const keys = new Set(saved.flatMap((s) => Object.keys(s)));
    if (!["layer", "method", "target_class", "sample", "compare_method"].some((k) => keys.has(k))) return;
    model.update("busy", true);
    setTimeout(() => {
      const cls = model.get("target_class");
      const st = demoState({ kind: model.get("image").shape.length === 3 ? "3d" : "2d", size: model.get("image").shape[0],
        signed: model.get("method") === "respondcam", compare: !!model.get("compare_method") });
      model.update("cam_signed", st.cam_signed);
      model.update("cam", st.cam);
      model.update("compare", st.compare);
      model.update("notice", `recomputed: ${model.get("method")} / ${model.get("layer")} / class ${cls}`);
      model.update("busy", false);
    }, delay);
  };
}

// ------------------------------------------------------------------ start

function start() {
  window.__demoState = demoState;
  window.__pickerDemoState = pickerDemoState;
  window.__measureSliceRedraw = measureSliceRedraw;
  window.__emulatePython = emulatePython;
  window.__emulatePickerPython = emulatePickerPython;
  const params = new URLSearchParams(location.search);
  if (params.get("theme") === "dark") document.body.classList.add("dark");
  const widgetName = window.__initialWidget || params.get("widget") || "cam_viewer";
  if (window.__initialState) {
    mount(window.__initialState, widgetName);
  } else if (params.has("demo") && WIDGETS[widgetName] === "pixel_set_picker") {
    const state = pickerDemoState({
      kind: params.get("demo") || "2d", size: Number(params.get("size") || 64), compare: params.get("compare") === "1",
    });
    mount(state, widgetName).then((model) => { if (params.get("python") === "1") emulatePickerPython(model); });
  } else if (params.has("demo")) {
    const state = demoState({
      kind: params.get("demo") || "3d",
      size: Number(params.get("size") || (params.get("demo") === "2d" ? 96 : 64)),
      signed: params.get("signed") === "1",
      compare: params.get("compare") === "1",
    });
    mount(state).then((model) => { if (params.get("python") === "1") emulatePython(model); });
  }
}

if (inBrowser) start();
