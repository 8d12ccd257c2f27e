// DatasetBrowser front end (anywidget): the table of a run's samples, its filters, the histogram and the
// pager, from the shared parts (sync, status, layout). Python owns the data: it sorts, filters and pages,
// and sends one page of rows and thumbnails (docs/widget_protocol.md, "DatasetBrowser"). A click on a row
// sets `selected`; the CAMViewer Python opens is a widget of its own, right below this one.

import { h } from "../dom.js";
import { observeWidth } from "../shared/layout.js";
import { createSync } from "../shared/model_sync.js";
import { createStatus } from "../shared/status.js";
import { watchTheme } from "../shared/theme.js";
import { createControls } from "./controls.js";
import { createHistogram } from "./histogram.js";
import { createTable } from "./table.js";

export const NARROW = 1100; // px: below this the histogram sits above the table, full width
const HIST_WIDTH = 300;

function render({ model, el }) {
  const sync = createSync(model);
  const status = createStatus(sync);
  const controls = createControls(sync);
  const table = createTable(sync);
  const histogram = createHistogram(sync);
  const aside = h("div", { class: "cam-db-aside" }, histogram.el);
  const main = h("div", { class: "cam-db-main" }, table.el, aside);
  const root = h("div", { class: "cam-viewer cam-dataset-browser", "data-testid": "dataset-browser" },
    controls.filters, controls.maps, status.error, status.notice,
    h("div", { class: "cam-stack" }, status.busy, main), controls.pager);
  el.append(root);
  status.attach(root);
  const stopTheme = watchTheme(root, (theme) => { root.dataset.theme = theme; });
  sync.onDispose(stopTheme);

  const measure = observeWidth(sync, root, (width) => {
    const narrow = width < NARROW;
    root.classList.toggle("narrow", narrow);
    histogram.resize(narrow ? width - 8 : HIST_WIDTH, narrow ? 80 : 120);
  });

  const all = () => {
    controls.update();
    table.header();
    table.rows();
    histogram.draw();
  };
  sync.on("change:busy", () => {
    sync.queue.setBusy(!!model.get("busy"));
    status.syncBusy();
    controls.update();
  });
  for (const name of ["error", "notice"]) sync.on(`change:${name}`, () => status.messages());
  for (const name of ["rows", "thumbnails", "selected", "class_names"]) sync.on(`change:${name}`, () => table.rows());
  for (const name of ["columns", "sort_by", "sort_descending"]) sync.on(`change:${name}`, () => { table.header(); table.rows(); controls.update(); });
  for (const name of ["histogram", "filter_range", "histogram_column"]) sync.on(`change:${name}`, () => { histogram.draw(); controls.update(); });
  for (const name of ["filter_prediction", "filter_label", "filter_correct", "page", "page_size", "n_pages", "n_rows",
    "map_method", "map_layer", "map_target", "map_keys", "colormap", "disagreement_methods", "disagreement_measure"]) {
    sync.on(`change:${name}`, () => { controls.update(); if (name.startsWith("map_")) table.header(); });
  }

  measure();
  all();
  status.messages();
  model.send({ type: "thumbnails" }); // the pictures are made only for a front end that shows them
  return () => {
    sync.dispose();
    root.remove();
  };
}

export default { render };
