// A card's bar chart: the mean R, G and B over the image's foreground on a 0..1 y axis with tick labels,
// each value written above its bar (the paper's Fig. 5); or, without a foreground, the reason instead.
// HTML + CSS (heights in %), so the chart follows the card's width. Python's twin of the ticks: bar_ticks.

import { formatValue } from "../compose.js";
import { h } from "../dom.js";

export const CHANNELS = ["R", "G", "B"];

/**
 * Round ticks from `low` to `high` with a step of 1, 2 or 5 x 10^k, at most `maxTicks` of them:
 * barTicks(0, 1, 3) -> [0, 0.5, 1].
 */
export function barTicks(low = 0, high = 1, maxTicks = 5) {
  const span = high - low;
  if (!(span > 0) || maxTicks < 2) return [low];
  const raw = span / (maxTicks - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9));
  const first = Math.ceil(low / step - 1e-9);
  const count = Math.floor(high / step + 1e-9) - first + 1;
  return Array.from({ length: count }, (_, k) => Number(((first + k) * step).toFixed(12)));
}

/** The bar's height in % of the axis (values outside 0..1 are clipped to it). */
export function barPercent(value) {
  return Math.min(Math.max(Number(value), 0), 1) * 100;
}

/** "foreground mean R 0.89, G 0.525, B 0.652" (the chart's accessible name). */
export function barsLabel(values) {
  return `foreground mean ${values.map((v, j) => `${CHANNELS[j]} ${formatValue(v)}`).join(", ")}`;
}

/** The chart of card `k` ({ bars, message } of the `cards` trait). */
export function renderBars(card, k) {
  if (!card.bars || card.bars.length === 0) {
    return h("div", { class: "pfv-no-foreground", "data-testid": `no-foreground-${k}`, role: "note" },
      card.message || "no foreground");
  }
  const ticks = barTicks(0, 1, 3);
  const plot = h("div", { class: "pfv-plot" },
    ...ticks.map((t) => h("span", { class: `pfv-gridline${t === 0 ? " pfv-baseline" : ""}`, style: `bottom: ${t * 100}%` })),
    ...ticks.map((t) => h("span", { class: "pfv-tick", style: `bottom: ${t * 100}%`, "data-value": t }, formatValue(t))),
    ...card.bars.map((v, j) => h("div", { class: "pfv-bar-slot" },
      h("div", { class: `pfv-bar pfv-${CHANNELS[j].toLowerCase()}`, style: `height: ${barPercent(v)}%`, "data-value": v,
        "data-testid": `bar-${k}-${CHANNELS[j].toLowerCase()}` },
      h("span", { class: "pfv-bar-value" }, formatValue(v))))));
  return h("div", { class: "pfv-chart", "data-testid": `bars-${k}`, role: "img", "aria-label": barsLabel(card.bars),
    title: `${barsLabel(card.bars)} (positions where A^b is above the batch median)` },
  plot, h("div", { class: "pfv-xlabels" }, ...CHANNELS.map((c) => h("span", {}, c))));
}
