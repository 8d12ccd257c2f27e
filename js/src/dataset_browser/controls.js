// DatasetBrowser's controls: the filters (prediction, label, correct, the histogram's column and range),
// what the thumbnails show (stored map method / layer / target, colormap), the disagreement column's two
// methods and measure, and the pager. Every one is a trait Python checks; the selects show held requests.

import { OVERLAY_COLORMAPS } from "../colormaps.js";
import { formatValue } from "../compose.js";
import { field, h, setOptions } from "../dom.js";

const CORRECT = [{ value: "all", label: "all" }, { value: "correct", label: "correct" }, { value: "incorrect", label: "incorrect" }];
const MEASURES = [{ value: "pearson", label: "1 − Pearson" }, { value: "spearman", label: "1 − Spearman" }];
const PAGE_SIZES = [10, 25, 50, 100, 200];

const parts = (keys, i) => [...new Set((keys ?? []).map((k) => k.split("/")[i]))];
const options = (list) => list.map((v) => ({ value: v, label: v }));

export function createControls(sync) {
  const { model } = sync;
  const select = (testid, title) => h("select", { "data-testid": testid, title });
  const s = {
    prediction: select("db-filter-prediction", "Show only this predicted class"),
    label: select("db-filter-label", "Show only this true label"),
    correct: select("db-filter-correct", "Correctly / incorrectly classified (samples with a known label)"),
    column: select("db-histogram-column", "The histogram's column (its range filter applies to it)"),
    method: select("db-map-method", "Method of the stored map the thumbnails show"),
    layer: select("db-map-layer", "Layer of the stored map"),
    target: select("db-map-target", "Target of the stored map"),
    colormap: select("db-colormap", "Colormap of the thumbnails"),
    a: select("db-disagreement-a", "Disagreement column: first method (off: no column)"),
    b: select("db-disagreement-b", "Disagreement column: second method"),
    measure: select("db-disagreement-measure", "1 − correlation of the two raw maps, flattened"),
    size: select("db-page-size", "Rows per page"),
  };
  const clear = h("button", { type: "button", "data-testid": "db-clear-range", title: "Clear the range filter" }, "✕ range");
  const first = h("button", { type: "button", "data-testid": "db-first", title: "First page" }, "«");
  const prev = h("button", { type: "button", "data-testid": "db-prev", title: "Previous page" }, "‹");
  const next = h("button", { type: "button", "data-testid": "db-next", title: "Next page" }, "›");
  const last = h("button", { type: "button", "data-testid": "db-last", title: "Last page" }, "»");
  const pageInput = h("input", { type: "number", min: 1, step: 1, "data-testid": "db-page", title: "Page" });
  const pageCount = h("span", { class: "cam-value", "data-testid": "db-page-count" });
  const summary = h("span", { class: "cam-db-summary", "data-testid": "db-summary" });

  const filters = h("div", { class: "cam-toolbar" }, field("predicted", s.prediction), field("label", s.label),
    field("classified", s.correct), field("histogram", s.column), clear);
  const maps = h("div", { class: "cam-toolbar" }, field("map", s.method, s.layer, s.target), field("colormap", s.colormap),
    field("disagreement", s.a, h("span", { class: "cam-field-label" }, "vs"), s.b, s.measure));
  const pager = h("div", { class: "cam-toolbar cam-db-pager" }, first, prev, field("page", pageInput, pageCount), next, last,
    field("rows per page", s.size), summary);

  const req = (changes) => sync.request(changes);
  const classList = (v) => (v === "" ? [] : [Number(v)]);
  sync.listen(s.prediction, "change", () => req({ filter_prediction: classList(s.prediction.value) }));
  sync.listen(s.label, "change", () => req({ filter_label: classList(s.label.value) }));
  sync.listen(s.correct, "change", () => req({ filter_correct: s.correct.value }));
  sync.listen(s.column, "change", () => req({ histogram_column: s.column.value }));
  sync.listen(clear, "click", () => req({ filter_range: [] }));
  sync.listen(s.method, "change", () => req({ map_method: s.method.value }));
  sync.listen(s.layer, "change", () => req({ map_layer: s.layer.value }));
  sync.listen(s.target, "change", () => req({ map_target: s.target.value }));
  sync.listen(s.colormap, "change", () => req({ colormap: s.colormap.value }));
  const pair = () => (s.a.value && s.b.value && s.a.value !== s.b.value ? [s.a.value, s.b.value] : []);
  sync.listen(s.a, "change", () => { if (!s.a.value || s.b.value) req({ disagreement_methods: pair() }); });
  sync.listen(s.b, "change", () => req({ disagreement_methods: pair() }));
  sync.listen(s.measure, "change", () => req({ disagreement_measure: s.measure.value }));
  sync.listen(s.size, "change", () => req({ page_size: Number(s.size.value) }));
  const goto = (p) => {
    const n = Number(model.get("n_pages") ?? 1);
    const page = Math.min(Math.max(Math.round(p), 0), n - 1);
    if (page !== Number(sync.shown("page"))) req({ page });
  };
  sync.listen(first, "click", () => goto(0));
  sync.listen(prev, "click", () => goto(Number(sync.shown("page")) - 1));
  sync.listen(next, "click", () => goto(Number(sync.shown("page")) + 1));
  sync.listen(last, "click", () => goto(Number(model.get("n_pages")) - 1));
  sync.listen(pageInput, "change", () => goto(Number(pageInput.value) - 1));

  function update() {
    const names = model.get("class_names") ?? [];
    const classes = names.map((n, i) => ({ value: String(i), label: `${i}: ${n}` }));
    const one = (list) => (list?.length === 1 ? String(list[0]) : "");
    setOptions(s.prediction, [{ value: "", label: "any" }, ...classes], one(sync.shown("filter_prediction")));
    setOptions(s.label, [{ value: "", label: "any" }, { value: "-1", label: "unknown" }, ...classes], one(sync.shown("filter_label")));
    setOptions(s.correct, CORRECT, sync.shown("filter_correct"));
    const columns = model.get("columns") ?? [];
    const numeric = columns.filter((c) => c.kind === "float").map((c) => ({ value: c.name, label: c.sub ? `${c.label} (${c.sub})` : c.label }));
    setOptions(s.column, numeric, sync.shown("histogram_column"));
    const range = sync.shown("filter_range") ?? [];
    clear.hidden = range.length !== 2;
    clear.title = range.length === 2 ? `Clear ${sync.shown("histogram_column")} in [${formatValue(range[0])}, ${formatValue(range[1])}]` : "";
    const keys = model.get("map_keys") ?? [];
    setOptions(s.method, options(parts(keys, 0)), sync.shown("map_method"));
    setOptions(s.layer, options(parts(keys, 1)), sync.shown("map_layer"));
    setOptions(s.target, options(parts(keys, 2)), sync.shown("map_target"));
    setOptions(s.colormap, options(OVERLAY_COLORMAPS), sync.shown("colormap"));
    const here = parts(keys.filter((k) => k.endsWith(`/${sync.shown("map_layer")}/${sync.shown("map_target")}`)), 0);
    const [a, b] = sync.shown("disagreement_methods") ?? [];
    setOptions(s.a, [{ value: "", label: "(off)" }, ...options(here)], a ?? "");
    setOptions(s.b, [{ value: "", label: "–" }, ...options(here)], b ?? "");
    setOptions(s.measure, MEASURES, sync.shown("disagreement_measure"));
    s.b.disabled = !s.a.value;
    s.measure.disabled = !a;
    maps.hidden = !keys.length;
    const n = Number(model.get("n_pages") ?? 1);
    const page = Number(sync.shown("page") ?? 0);
    pageInput.max = n;
    pageInput.value = String(page + 1);
    pageCount.textContent = `of ${n}`;
    first.disabled = prev.disabled = page <= 0;
    next.disabled = last.disabled = page >= n - 1;
    setOptions(s.size, PAGE_SIZES.map((v) => ({ value: String(v), label: String(v) })), String(sync.shown("page_size")));
    const rows = Number(model.get("n_rows") ?? 0);
    const size = Number(sync.shown("page_size"));
    const from = rows ? page * size + 1 : 0;
    const to = Math.min((page + 1) * size, rows);
    const total = Number(model.get("n_samples") ?? 0);
    summary.textContent = `rows ${from}–${to} of ${rows}${rows !== total ? ` (of ${total} samples)` : " samples"}`;
  }

  return { filters, maps, pager, update, selects: s };
}
