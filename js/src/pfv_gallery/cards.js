// The gallery's grid: one card per shown sample (title, image canvas, bar chart). The grid's columns follow
// the width (CSS grid auto-fill); the canvases hold the slice at data resolution and CSS scales them.
// Clicking an image asks Python for a CAMViewer of that sample (`onOpen(position)`).

import { h } from "../dom.js";
import { renderBars } from "./bars.js";
import { blendRGBA, sampleSlice } from "./pixels.js";

export function createCards(sync, { onOpen }) {
  const grid = h("div", { class: "pfv-grid", "data-testid": "pfv-grid" });
  let cards = []; // { el, canvas, ctx, pixels, scratch }
  let key = "";

  function card(data, k) {
    const canvas = h("canvas", { class: "pfv-canvas", "data-testid": `pfv-canvas-${k}`, width: 1, height: 1 });
    const open = h("button", { type: "button", class: "pfv-open", "data-testid": `open-${k}`,
      title: `Open a CAMViewer of ${data.title} below the gallery` }, canvas);
    sync.listen(open, "click", () => onOpen(k));
    const el = h("figure", { class: "pfv-card", "data-testid": `card-${k}`, "data-index": data.index },
      h("figcaption", { class: `pfv-card-title${data.wrong ? " wrong" : ""}`, title: data.title,
        "data-testid": `card-title-${k}` }, data.title),
      open, renderBars(data, k));
    return { el, canvas, ctx: canvas.getContext("2d"), pixels: null, scratch: {} };
  }

  /** Rebuild the cards when the `cards` trait changed (the same list keeps its elements). */
  function build(list) {
    const next = JSON.stringify(list);
    if (next === key) return;
    key = next;
    cards = list.map(card);
    grid.replaceChildren(...cards.map((c) => c.el));
  }

  /** Draw every card's image: `images` from checkImages, `view` = { opacity, axis, slice }. */
  function draw(images, view) {
    if (!images) return;
    const axis = images.spatial.length === 3 ? view.axis : 0;
    cards.forEach((c, k) => {
      if (k >= images.n) return;
      const grey = sampleSlice(images.grey.data, images.grey.shape, 1, k, axis, view.slice, c.scratch.grey);
      const rgb = sampleSlice(images.rgb.data, images.rgb.shape, 3, k, axis, view.slice, c.scratch.rgb);
      c.scratch = { grey: grey.data, rgb: rgb.data };
      if (c.canvas.width !== grey.cols || c.canvas.height !== grey.rows || !c.pixels) {
        c.canvas.width = grey.cols;
        c.canvas.height = grey.rows;
        c.pixels = c.ctx.createImageData(grey.cols, grey.rows);
      }
      blendRGBA(grey.data, rgb.data, view.opacity, c.pixels.data);
      c.ctx.putImageData(c.pixels, 0, 0);
    });
  }

  /** Mark the card of batch index `opened` (the sample in the CAMViewer below). */
  function mark(opened) {
    for (const c of cards) c.el.classList.toggle("opened", Number(c.el.dataset.index) === opened);
  }

  return { grid, build, draw, mark, count: () => cards.length };
}
