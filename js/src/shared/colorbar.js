// A vertical colour bar (canvas at 1 x 256 data pixels, stretched by CSS) with tick labels.

import { h } from "../dom.js";
import { colorbarPixels, colorbarTicks } from "../compose.js";
import { getColormap } from "../colormaps.js";

export function createColorbar(testid) {
  const canvas = h("canvas", { class: "cam-colorbar-canvas", width: 1, height: 256 });
  const ticks = h("div", { class: "cam-colorbar-ticks", "data-testid": `${testid}-ticks` });
  const el = h("div", { class: "cam-colorbar", "data-testid": testid }, canvas, ticks);
  const ctx = canvas.getContext("2d");
  let key = "";

  return {
    el,
    canvas,
    /** Show the bar of `colormap` for `overlay` ({ vmin, vmax }); null hides it. Returns the ticks. */
    update(overlay, { colormap, signed, relu } = {}) {
      el.hidden = !overlay;
      if (!overlay) return [];
      const name = signed ? "RdBu" : colormap;
      const list = colorbarTicks(overlay, signed);
      const k = JSON.stringify([name, list, !!relu]);
      if (k === key) return list;
      key = k;
      const img = ctx.createImageData(1, 256);
      img.data.set(colorbarPixels(getColormap(name), { length: 256, thickness: 1 }));
      ctx.putImageData(img, 0, 0);
      el.classList.toggle("relu", !!(signed && relu));
      ticks.replaceChildren(...list.map((t) =>
        h("span", { class: "cam-tick", style: `bottom: ${t.frac * 100}%`, "data-value": t.value }, t.label)));
      return list;
    },
    setHeight(px) {
      el.style.height = `${px}px`;
    },
  };
}
