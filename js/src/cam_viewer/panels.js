// CAMViewer's panels: the main map and the compare map (slicing along `axis`) and, for volumes,
// the two orthogonal views of the other axes (with their own colour bars; they show the map or
// the compare map). Drawing, titles, zero-map messages and sizes live here.

import { h, setOptions, show } from "../dom.js";
import { VIEW_NAMES } from "../slicing.js";
import { className } from "../shared/explain_controls.js";
import { createSliceDrawer, isZeroMap, mapTitle, viewTitle, zeroMessage } from "../shared/draw.js";
import { panelSide } from "../shared/layout.js";
import { displayScale } from "../shared/map_panel.js";
import { layerText, methodLabel } from "../shared/methods.js";
import { otherAxes } from "../shared/navigation.js";

export function createPanels(sync, nav, { arrays, pointer }) {
  const { model } = sync;
  const { view } = nav;
  const drawer = createSliceDrawer();
  const orthoSource = h("select", { class: "cam-ortho-source", "data-testid": "ortho-source", title: "Map shown in the orthogonal views" });
  let side = 420;

  const make = (testid, className, axis, colorbar) => nav.panel({ testid, className, colorbar }, axis, pointer);
  const main = make("main-canvas", "cam-main", () => view.axis, "colorbar");
  const compare = make("compare-canvas", "cam-compare-view", () => view.axis, "compare-colorbar");
  const ortho = [0, 1].map((k) => make(`ortho-${k}`, `cam-ortho cam-ortho-${k}`, () => otherAxes(view.axis)[k], `ortho-${k}-colorbar`));
  // stable test ids for the orthogonal views: view-axial / view-coronal / view-sagittal follow the axis
  const row = h("div", { class: "cam-panels", "data-testid": "panels" }, main.el, compare.el);
  const orthoRow = h("div", { class: "cam-ortho-row", "data-testid": "ortho-views", hidden: true },
    ...ortho.map((p) => p.el), h("label", { class: "cam-field cam-ortho-field" }, h("span", { class: "cam-field-label" }, "show"), orthoSource));
  main.el.dataset.testid = "main-panel";
  compare.el.dataset.testid = "compare-panel";
  sync.listen(orthoSource, "change", () => {
    view.orthoMap = orthoSource.value;
    nav.commit(["orthoMap"]);
    draw();
  });

  const signedOf = (name) => !!model.get(name === "cam" ? "cam_signed" : "compare_signed");
  const options = (name) => ({
    window: view.window, colormap: view.colormap, signed: signedOf(name), opacity: view.opacity, relu: view.relu,
    fade: signedOf(name), hideZero: true,
  });
  const bar = (panel, name) => {
    panel.colorbar.el.classList.toggle("zero", isZeroMap(arrays[name]));
    return panel.colorbar.update(arrays[name], { colormap: view.colormap, signed: signedOf(name), relu: view.relu });
  };

  function titles() {
    const cls = className(model.get("class_names"), Number(model.get("target_class")));
    const where = nav.is3d() ? viewTitle(view.axis, view.slice) : "";
    const info = model.get("method_info");
    const [method, other] = [model.get("method"), model.get("compare_method")];
    const layer = (name) => layerText(info, name, model.get("layer") ?? ""); // FullGrad: "all biases"
    main.setTitle(mapTitle(method, layer(method), cls, where));
    compare.setTitle(mapTitle(other, layer(other), cls, where));
    main.setMessage(isZeroMap(arrays.cam) ? zeroMessage(method, cls, layer(method)) : "");
    compare.setMessage(isZeroMap(arrays.compare) ? zeroMessage(other, cls, layer(other)) : "");
    return cls;
  }

  /** Redraw every visible panel from the decoded arrays (synchronous: slider input lands here). */
  function draw() {
    const { image, cam } = arrays;
    const compareMap = arrays.compare;
    show(main.el, !!image);
    show(compare.el, !!image && !!compareMap);
    show(orthoRow, !!image && nav.is3d());
    if (!image || !nav.shown) return;
    const { rows, cols } = drawer.draw(main, image, cam, options("cam"), view.axis, nav.displaySlice(view.axis, view.slice), "main");
    const scale = displayScale(rows, cols, side);
    main.setScale(scale);
    bar(main, "cam");
    if (compareMap) {
      drawer.draw(compare, image, compareMap, options("compare"), view.axis, nav.displaySlice(view.axis, view.slice), "compare");
      compare.setScale(scale);
      bar(compare, "compare");
    }
    if (nav.is3d()) {
      const info = model.get("method_info");
      setOptions(orthoSource, [{ value: "cam", label: methodLabel(info, model.get("method")) || "map" },
        ...(compareMap ? [{ value: "compare", label: methodLabel(info, model.get("compare_method")) }] : [])],
      compareMap ? view.orthoMap : "cam");
      show(orthoSource.parentElement, !!compareMap);
      const name = compareMap && view.orthoMap === "compare" ? "compare" : "cam";
      const orthoSide = Math.round(side * 0.72);
      otherAxes(view.axis).forEach((axis, k) => {
        const p = ortho[k];
        const index = view.crosshair[axis];
        const d = drawer.draw(p, image, arrays[name], options(name), axis, nav.displaySlice(axis, index), `ortho${k}`);
        p.setScale(displayScale(d.rows, d.cols, orthoSide));
        p.setTitle(viewTitle(axis, index));
        p.el.dataset.view = VIEW_NAMES[axis];
        p.canvas.dataset.testid = `view-${VIEW_NAMES[axis]}`;
        bar(p, name);
      });
    }
    titles();
    nav.place();
  }

  /** Size the panels for the widget's width (always for two panels in the main row). */
  function layout(width) {
    const next = panelSide(width, 2);
    if (next === side) return false;
    side = next;
    return true;
  }

  return { main, compare, ortho, row, orthoRow, draw, titles, layout };
}
