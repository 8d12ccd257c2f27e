// DatasetBrowser's histogram: counts of `histogram_column` over the rows that pass the other filters
// (Python's `histogram` trait), drawn as SVG bars; dragging across it sets `filter_range` to the brushed
// values (the bars inside it are highlighted), a click without a drag clears it.

import { formatValue } from "../compose.js";
import { h } from "../dom.js";

const NS = "http://www.w3.org/2000/svg";
const AXIS = 18; // px below the bars for the range labels

function s(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** The data value at x (px) of a histogram of `width` px over `edges`. */
export function valueAt(x, width, edges) {
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  return lo + (Math.min(Math.max(x, 0), width) / width) * (hi - lo);
}

export function createHistogram(sync) {
  const { model } = sync;
  let HEIGHT = 120; // px of the bars (smaller when the histogram spans a narrow widget's width)
  const svg = s("svg", { class: "cam-db-hist-svg", "data-testid": "db-histogram", height: HEIGHT + AXIS });
  const caption = h("div", { class: "cam-db-hist-caption", "data-testid": "db-hist-caption" });
  const el = h("div", { class: "cam-db-hist" }, svg, caption);
  let width = 300;
  let drag = null; // { x0, x1 } in px while brushing

  function edges() {
    return model.get("histogram")?.edges ?? [];
  }

  function draw() {
    const hist = model.get("histogram") ?? {};
    const counts = hist.counts ?? [];
    const e = edges();
    const range = sync.shown("filter_range") ?? [];
    svg.setAttribute("width", width);
    svg.setAttribute("height", HEIGHT + AXIS);
    svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT + AXIS}`);
    svg.replaceChildren();
    const top = Math.max(1, ...counts);
    const barWidth = counts.length ? width / counts.length : 0;
    counts.forEach((count, i) => {
      const inside = range.length === 2 && e[i + 1] >= range[0] && e[i] <= range[1];
      const height = (count / top) * (HEIGHT - 4);
      const bar = s("rect", {
        x: i * barWidth + 0.5, y: HEIGHT - height, width: Math.max(barWidth - 1, 1), height,
        class: `cam-db-bar${range.length && inside ? " inside" : ""}`,
      });
      bar.append(s("title"));
      bar.firstChild.textContent = `${formatValue(e[i])} – ${formatValue(e[i + 1])}: ${count}`;
      svg.append(bar);
    });
    svg.append(s("line", { x1: 0, x2: width, y1: HEIGHT + 0.5, y2: HEIGHT + 0.5, class: "cam-db-axis" }));
    if (e.length) {
      const low = s("text", { x: 0, y: HEIGHT + 13, class: "cam-db-tick" });
      low.textContent = formatValue(e[0]);
      const high = s("text", { x: width, y: HEIGHT + 13, class: "cam-db-tick", "text-anchor": "end" });
      high.textContent = formatValue(e[e.length - 1]);
      svg.append(low, high);
    }
    const brushed = drag ? [Math.min(drag.x0, drag.x1), Math.max(drag.x0, drag.x1)]
      : range.length === 2 && e.length ? range.map((v) => ((v - e[0]) / (e[e.length - 1] - e[0])) * width) : null;
    if (brushed) {
      const [a, b] = brushed.map((x) => Math.min(Math.max(x, 0), width));
      svg.append(s("rect", { x: a, y: 0, width: Math.max(b - a, 1), height: HEIGHT, class: "cam-db-brush", "data-testid": "db-brush" }));
    }
    const column = hist.column ?? model.get("histogram_column");
    const missing = hist.missing ? ` · ${hist.missing} without a value` : "";
    const total = counts.reduce((a, b) => a + b, 0);
    caption.textContent = range.length === 2
      ? `${column} in [${formatValue(range[0])}, ${formatValue(range[1])}] (drag to change, click to clear)${missing}`
      : `${column}: ${total} rows${missing} · drag across the bars to filter a range`;
  }

  const local = (event) => event.clientX - svg.getBoundingClientRect().left;
  sync.listen(svg, "pointerdown", (event) => {
    if (!edges().length) return;
    drag = { x0: local(event), x1: local(event) };
    svg.setPointerCapture?.(event.pointerId);
    event.preventDefault();
  });
  sync.listen(svg, "pointermove", (event) => {
    if (!drag) return;
    drag.x1 = local(event);
    draw();
  });
  const finish = (event) => {
    if (!drag) return;
    drag.x1 = local(event);
    const [a, b] = [Math.min(drag.x0, drag.x1), Math.max(drag.x0, drag.x1)];
    drag = null;
    const e = edges();
    sync.request({ filter_range: b - a < 3 ? [] : [valueAt(a, width, e), valueAt(b, width, e)] });
    draw();
  };
  sync.listen(svg, "pointerup", finish);
  sync.listen(svg, "pointercancel", () => { drag = null; draw(); });

  return {
    el, draw,
    /** Set the drawing size (px). */
    resize(w, height = 120) {
      width = Math.max(160, Math.round(w));
      HEIGHT = height;
      draw();
    },
  };
}
