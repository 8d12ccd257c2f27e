// Class-score bar chart: pure geometry (scoreBars) and an SVG renderer (renderScores).

const SVG_NS = "http://www.w3.org/2000/svg";

/** Index of the largest value (first one on ties); -1 for an empty list. */
export function argmax(values) {
  let best = -1;
  for (let i = 0; i < values.length; i++) {
    if (best < 0 || values[i] > values[best]) best = i;
  }
  return best;
}

/**
 * Which classes get a bar: all of them in class order when there are at most `maxBars`,
 * else the `maxBars` highest scores in descending order, plus `include` (the target) if missing.
 */
export function selectClasses(scores, maxBars = 10, include = -1) {
  const n = scores.length;
  const all = Array.from({ length: n }, (_, i) => i);
  if (n <= maxBars) return all;
  const top = all.sort((a, b) => scores[b] - scores[a] || a - b).slice(0, maxBars);
  if (include >= 0 && include < n && !top.includes(include)) top.push(include);
  return top;
}

/**
 * Bar geometry. Bars are horizontal rows of height `barHeight` separated by `gap`; a bar starts at
 * `labelWidth` and its length is prob * `barWidth` (or, without probabilities, the score scaled
 * min..max onto 0.05..1 of `barWidth`).
 * Returns { bars: [{ index, name, score, prob, x, y, width, height, predicted, target, text }],
 *           width, height, predicted }.
 */
export function scoreBars({ scores = [], probs = [], names = [], target = -1, maxBars = 10,
  labelWidth = 110, barWidth = 180, valueWidth = 110, barHeight = 16, gap = 4 } = {}) {
  const predicted = argmax(scores);
  const hasProbs = probs.length === scores.length && probs.length > 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of scores) { lo = Math.min(lo, s); hi = Math.max(hi, s); }
  const frac = (i) => {
    if (hasProbs) return Math.min(Math.max(probs[i], 0), 1);
    return hi > lo ? 0.05 + (0.95 * (scores[i] - lo)) / (hi - lo) : 1;
  };
  const bars = selectClasses(scores, maxBars, target).map((index, row) => {
    const prob = hasProbs ? probs[index] : null;
    const score = scores[index];
    return {
      index,
      name: names[index] ?? `class ${index}`,
      score,
      prob,
      x: labelWidth,
      y: row * (barHeight + gap),
      width: frac(index) * barWidth,
      height: barHeight,
      predicted: index === predicted,
      target: index === target,
      text: prob === null ? fmt(score) : `${fmt(score)}  ${(100 * prob).toFixed(1)}%`,
    };
  });
  const height = bars.length ? bars.length * (barHeight + gap) - gap : 0;
  return { bars, width: labelWidth + barWidth + valueWidth, height, predicted, labelWidth, barWidth, valueWidth };
}

function fmt(v) {
  return Number.isFinite(v) ? v.toFixed(2) : String(v);
}

/**
 * Draw the chart into `container` (replacing its content) as an SVG; clicking a bar row calls
 * onSelect(classIndex). The predicted class is marked with "★" and the class `predicted`, the
 * current target with the class `target`.
 */
export function renderScores(container, data, onSelect, geometry = {}) {
  const g = scoreBars({ ...data, ...geometry });
  container.replaceChildren();
  if (!g.bars.length) return g;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("width", String(g.width));
  svg.setAttribute("height", String(g.height));
  svg.setAttribute("viewBox", `0 0 ${g.width} ${g.height}`);
  svg.setAttribute("class", "cam-scores-svg");
  svg.setAttribute("role", "list");
  for (const bar of g.bars) {
    const row = el("g", {
      class: `cam-bar${bar.predicted ? " predicted" : ""}${bar.target ? " target" : ""}`,
      "data-testid": `score-bar-${bar.index}`,
      "data-class-index": bar.index,
      role: "listitem",
    });
    const title = el("title");
    title.textContent = `${bar.name}: score ${bar.score}${bar.prob === null ? "" : `, probability ${bar.prob}`}` +
      `${bar.predicted ? " (predicted)" : ""} - click to explain this class`;
    row.append(
      title,
      el("rect", { class: "cam-bar-hit", x: 0, y: bar.y, width: g.width, height: bar.height }),
      el("rect", { class: "cam-bar-track", x: bar.x, y: bar.y, width: g.barWidth, height: bar.height }),
      el("rect", { class: "cam-bar-fill", x: bar.x, y: bar.y, width: Math.max(bar.width, 1), height: bar.height }),
      text(`${bar.predicted ? "★ " : ""}${bar.name}`, { class: "cam-bar-label", x: bar.x - 6, y: bar.y + bar.height / 2, "text-anchor": "end" }, bar.x - 10),
      text(bar.text, { class: "cam-bar-value", x: bar.x + g.barWidth + 6, y: bar.y + bar.height / 2 }),
    );
    row.addEventListener("click", () => onSelect(bar.index));
    svg.append(row);
  }
  container.append(svg);
  return g;
}

function el(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function text(content, attrs, maxChars) {
  const node = el("text", { "dominant-baseline": "central", ...attrs });
  // Long class names are shortened to fit the label column (about 6.5 px per character).
  const limit = maxChars ? Math.max(4, Math.floor(maxChars / 6.5)) : Infinity;
  node.textContent = content.length > limit ? `${content.slice(0, limit - 1)}…` : content;
  return node;
}
