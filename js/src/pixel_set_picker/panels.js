// The picker's panels: the pick view (the input, the predicted labels and M) beside the CAM and
// the compare map, all slicing along `axis`; for volumes also two pick views of the other axes
// through the crosshair (drawing works on every pick view), and a strip that marks the slices
// holding part of M.

import { h, show } from "../dom.js";
import { paintLabels, paintMask } from "../label_overlay.js";
import { VIEW_NAMES, sliceDims } from "../slicing.js";
import { createSliceDrawer, isZeroMap, mapTitle, viewTitle, zeroMessage } from "../shared/draw.js";
import { className } from "../shared/explain_controls.js";
import { panelSide } from "../shared/layout.js";
import { displayScale } from "../shared/map_panel.js";
import { layerText } from "../shared/methods.js";
import { otherAxes } from "../shared/navigation.js";

const LABEL_ALPHA = 0.4;
export const PICK_TITLE = "input · predicted labels · M";

export function createPickerPanels(sync, nav, { arrays, labels, masks, strokes, pointer }) {
  const { model } = sync;
  const { view } = nav;
  const drawer = createSliceDrawer();
  let side = 320;

  const make = (testid, className, axis, colorbar = null) => nav.panel({ testid, className, colorbar }, axis, pointer);
  const pick = make("pick-canvas", "cam-pick-view", () => view.axis);
  pick.setTitle(PICK_TITLE);
  const cam = make("cam-canvas", "cam-main", () => view.axis, "colorbar");
  const compare = make("compare-canvas", "cam-compare-view", () => view.axis, "compare-colorbar");
  const ortho = [0, 1].map((k) => make(`pick-ortho-${k}`, `cam-pick-view cam-ortho cam-ortho-${k}`, () => otherAxes(view.axis)[k]));
  pick.el.dataset.testid = "pick-panel";
  cam.el.dataset.testid = "cam-panel";
  compare.el.dataset.testid = "compare-panel";
  // a strip under the slice slider with a tick at each slice holding part of M, and its count
  const sliceMarks = h("span", { class: "cam-mask-slices", "data-testid": "mask-slices", "aria-hidden": "true" });
  const sliceMarksLabel = h("span", { class: "cam-mask-slices-label", "data-testid": "mask-slices-label", title: "Slices that hold part of M (ticks under the slider)" });
  const row = h("div", { class: "cam-panels", "data-testid": "panels" }, pick.el, cam.el, compare.el);
  const orthoRow = h("div", { class: "cam-ortho-row", "data-testid": "ortho-views", hidden: true }, ...ortho.map((p) => p.el));

  const pickPaint = (axis, index) => (rgba, rows, cols) => {
    if (view.showLabels && labels()) paintLabels(rgba, drawer.slice(labels(), arrays.image.shape, axis, index, `labels${axis}`), LABEL_ALPHA);
    paintMask(rgba, strokes.preview(masks.slice(axis, index), axis, index), rows, cols);
  };
  const mapOptions = (signed) => ({ colormap: view.colormap, signed, opacity: view.opacity, fade: signed });

  /** Only the pick views (a stroke in progress). */
  function drawPick() {
    const { image } = arrays;
    if (!image) return;
    drawer.draw(pick, image, null, {}, view.axis, nav.displaySlice(view.axis, view.slice), "pick", pickPaint(view.axis, view.slice));
    if (nav.is3d()) {
      otherAxes(view.axis).forEach((axis, k) => {
        const index = view.crosshair[axis];
        drawer.draw(ortho[k], image, null, {}, axis, index, `ortho${k}`, pickPaint(axis, index));
      });
    }
  }

  function titles() {
    const tc = Number(model.get("target_class"));
    const cls = tc < 0 ? "no class yet" : className(model.get("class_names"), tc);
    const info = model.get("method_info");
    const layer = (name) => layerText(info, name, model.get("layer") ?? ""); // FullGrad: "all biases"
    const where = nav.is3d() ? viewTitle(view.axis, view.slice) : "";
    cam.setTitle(mapTitle(model.get("method"), layer(model.get("method")), cls, where));
    compare.setTitle(mapTitle(model.get("compare_method"), layer(model.get("compare_method")), cls, where));
    const empty = Number(model.get("n_selected") ?? 0) === 0;
    const zero = (method) => (tc < 0 ? "" : empty ? `M is empty, so the ${method} map is zero everywhere (the sanity check): pick pixels`
      : zeroMessage(method, cls, layer(method)));
    cam.setMessage(isZeroMap(arrays.cam) ? zero(model.get("method")) : "");
    compare.setMessage(isZeroMap(arrays.compare) ? zero(model.get("compare_method")) : "");
  }

  function marks() {
    show(sliceMarks, nav.is3d());
    show(sliceMarksLabel, nav.is3d());
    if (!nav.is3d()) return;
    const slices = masks.slices(view.axis);
    const n = nav.sliceCount();
    const key = JSON.stringify([slices, n, view.slice]);
    if (sliceMarks.dataset.key === key) return;
    sliceMarks.dataset.key = key;
    sliceMarks.dataset.slices = slices.join(",");
    // at the slider thumb's centre for slice s: s / (n - 1) of the track
    const at = (s) => (n > 1 ? (s / (n - 1)) * 100 : 50);
    sliceMarks.replaceChildren(...slices.map((s) => h("span", {
      class: `cam-mask-slice${s === view.slice ? " current" : ""}`, style: `left: ${at(s)}%`,
    })));
    sliceMarksLabel.textContent = slices.length ? `M on ${slices.length} slice${slices.length > 1 ? "s" : ""}` : "M on no slice";
  }

  function draw() {
    const { image } = arrays;
    show(row, !!image);
    show(compare.el, !!image && !!arrays.compare);
    show(orthoRow, !!image && nav.is3d());
    if (!image || !nav.shown) return;
    const { rows, cols } = sliceDims(image.shape, view.axis);
    const scale = displayScale(rows, cols, side);
    drawPick();
    pick.setScale(scale);
    const index = nav.displaySlice(view.axis, view.slice);
    drawer.draw(cam, image, arrays.cam, mapOptions(!!model.get("cam_signed")), view.axis, index, "cam");
    cam.setScale(scale);
    cam.colorbar.update(arrays.cam, { colormap: view.colormap, signed: !!model.get("cam_signed") });
    if (arrays.compare) {
      drawer.draw(compare, image, arrays.compare, mapOptions(!!model.get("compare_signed")), view.axis, index, "compare");
      compare.setScale(scale);
      compare.colorbar.update(arrays.compare, { colormap: view.colormap, signed: !!model.get("compare_signed") });
    }
    if (nav.is3d()) {
      otherAxes(view.axis).forEach((axis, k) => {
        const d = sliceDims(image.shape, axis);
        ortho[k].setScale(displayScale(d.rows, d.cols, side)); // the main view's voxel size when the sides match
        ortho[k].setTitle(viewTitle(axis, view.crosshair[axis]));
        ortho[k].canvas.dataset.testid = `pick-${VIEW_NAMES[axis]}`;
      });
    }
    titles();
    marks();
    nav.place();
  }

  /** Size for three panels in a row (pick, map, compare), whether compare is on or not. */
  /** Size the three panels for `width`; `reserved`: px the pick view's legend takes beyond a colour bar. */
  function layout(width, reserved = 0) {
    const next = panelSide(width - reserved, 3, { max: 400 });
    if (next === side) return false;
    side = next;
    return true;
  }

  return { pick, cam, compare, ortho, row, orthoRow, sliceMarks, sliceMarksLabel, draw, drawPick, titles, marks, layout };
}
