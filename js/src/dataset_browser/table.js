// DatasetBrowser's table: one page of rows as Python sends them (`columns`, `rows`, `thumbnails`), a
// header click sorts (again: the other direction), a row click selects the sample (Python opens it
// in a CAMViewer below). Cells are written as the static HTML table writes them.

import { formatValue } from "../compose.js";
import { h } from "../dom.js";
import { toBytes } from "../codec.js";
import { className } from "../shared/explain_controls.js";

/** A cell's text, as `cell_text` in dataset_browser_thumbs.py writes it. */
export function cellText(value, kind, names) {
  if (value === null || value === undefined) return "–";
  if (kind === "class") return value < 0 ? "unknown" : `${value}: ${className(names, value)}`;
  if (kind === "bool") return value ? "✓" : "✗";
  if (kind === "float") return formatValue(value);
  return String(value);
}

/** The request a click on the header of column `name` makes. */
export function sortRequest(name, sortBy, descending) {
  return name === sortBy ? { sort_by: name, sort_descending: !descending } : { sort_by: name, sort_descending: false };
}

export function createTable(sync) {
  const { model } = sync;
  const head = h("thead");
  const body = h("tbody");
  const table = h("table", { class: "cam-db-table", "data-testid": "db-table" }, head, body);
  const el = h("div", { class: "cam-db-table-wrap" }, table);
  let urls = [];

  sync.listen(head, "click", (event) => {
    const th = event.target.closest("th[data-column]");
    if (!th) return;
    sync.request(sortRequest(th.dataset.column, sync.shown("sort_by"), !!sync.shown("sort_descending")));
  });
  sync.listen(body, "click", (event) => {
    const tr = event.target.closest("tr[data-index]");
    if (tr) sync.request({ selected: Number(tr.dataset.index) });
  });
  sync.onDispose(() => urls.forEach((u) => URL.revokeObjectURL(u)));

  function header() {
    const columns = model.get("columns") ?? [];
    const sortBy = sync.shown("sort_by");
    const descending = !!sync.shown("sort_descending");
    const cells = columns.map((c) => {
      const sorted = c.name === sortBy;
      return h("th", {
        "data-column": c.name, "data-testid": `db-header-${c.name}`, class: `${c.kind}${sorted ? " sorted" : ""}`,
        title: `${c.sub ? `${c.name} (${c.sub})` : c.name}: click to sort`,
        "aria-sort": sorted ? (descending ? "descending" : "ascending") : "none",
      }, h("span", { class: "cam-db-label" }, c.label, sorted ? h("span", { class: "cam-db-arrow" }, descending ? " ▼" : " ▲") : null),
      c.sub ? h("span", { class: "cam-db-sub" }, c.sub) : null);
    });
    const map = ["map_method", "map_layer", "map_target"].map((k) => model.get(k)).join(" · ");
    head.replaceChildren(h("tr", {}, h("th", { class: "cam-db-thumb-head", title: `stored map: ${map}` }, "map"), ...cells));
  }

  function rows() {
    const columns = model.get("columns") ?? [];
    const names = model.get("class_names") ?? [];
    const selected = model.get("selected");
    urls.forEach((u) => URL.revokeObjectURL(u));
    urls = [];
    const thumbs = model.get("thumbnails") ?? [];
    const list = (model.get("rows") ?? []).map((row, i) => {
      let picture = h("span", { class: "cam-db-thumb empty" });
      if (thumbs[i]) {
        const url = URL.createObjectURL(new Blob([toBytes(thumbs[i])], { type: "image/png" }));
        urls.push(url);
        picture = h("img", { class: "cam-db-thumb", src: url, alt: `map of sample ${row.index}`, "data-testid": "db-thumb" });
      }
      return h("tr", { "data-index": row.index, class: row.index === selected ? "selected" : null, "data-testid": "db-row" },
        h("td", { class: "cam-db-thumb-cell" }, picture),
        ...columns.map((c) => h("td", { class: c.kind, "data-column": c.name }, cellText(row[c.name], c.kind, names))));
    });
    body.replaceChildren(...list);
    if (!list.length) {
      body.append(h("tr", {}, h("td", { class: "cam-db-empty", colspan: columns.length + 1 }, "no sample passes the filters")));
    }
  }

  return { el, header, rows };
}
