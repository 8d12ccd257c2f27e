// Pure pixel painting of the PixelSetPicker's input panel (no DOM), on top of an RGBA slice made by
// compose.js: the predicted labels as a colour overlay, and the pixel set M as a hatched tint with
// a solid outline.

/** Class colours (Tableau-like, qualitative; yellow is kept for M). Class 0 is background: transparent. */
export const LABEL_PALETTE = [
  [78, 121, 167], [242, 142, 43], [225, 87, 89], [118, 183, 178], [89, 161, 79],
  [176, 122, 161], [255, 157, 167], [156, 117, 95], [140, 209, 125], [31, 119, 180],
  [188, 189, 34], [23, 190, 207],
];
/** The colour of M. */
export const MASK_COLOR = [255, 230, 0];

/** [r, g, b] of class `c`, or null for the background class 0 (not drawn). */
export function labelColor(c) {
  if (!(c > 0)) return null;
  return LABEL_PALETTE[(c - 1) % LABEL_PALETTE.length];
}

/** CSS colour of class `c` for the legend ("transparent" for class 0). */
export function labelCss(c) {
  const rgb = labelColor(c);
  return rgb ? `rgb(${rgb.join(", ")})` : "transparent";
}

/**
 * For a decoded uint8 labels array ({ data, vmin, vmax }): the class id of every element
 * (round(vmin + q / 255 * (vmax - vmin)); with vmin = 0, vmax = 255 the bytes themselves).
 */
export function classIds(labels) {
  const table = new Uint8Array(256);
  for (let q = 0; q < 256; q++) {
    table[q] = Math.min(Math.max(Math.round(labels.vmin + (q / 255) * (labels.vmax - labels.vmin)), 0), 255);
  }
  if (table.every((v, q) => v === q)) return labels.data;
  const out = new Uint8Array(labels.data.length);
  for (let i = 0; i < out.length; i++) out[i] = table[labels.data[i]];
  return out;
}

/** Blend class colours over `rgba` in place: out = round((1 - alpha) * base + alpha * colour); class 0 untouched. */
export function paintLabels(rgba, classes, alpha = 0.4) {
  const keep = 1 - alpha;
  for (let i = 0, j = 0; i < classes.length; i++, j += 4) {
    const c = labelColor(classes[i]);
    if (!c) continue;
    rgba[j] = keep * rgba[j] + alpha * c[0];
    rgba[j + 1] = keep * rgba[j + 1] + alpha * c[1];
    rgba[j + 2] = keep * rgba[j + 2] + alpha * c[2];
  }
  return rgba;
}

/** How M is painted (render.py's paint_mask reproduces it): alpha of MASK_COLOR per pixel of M. */
export const MASK_STYLE = { border: 1, hatch: 0.6, tint: 0.2, hatchEvery: 6 };

/**
 * Paint M (a slice mask, rows x cols) over `rgba` in place, so that a large M (even "all pixels")
 * keeps the image readable: every pixel of M becomes round((1 - a) * base + a * MASK_COLOR) with
 *   a = 1    on M's border (a 4-neighbour outside M or outside the image): a solid outline,
 *   a = 0.6  on the hatch lines (row + col) % 6 == 0,
 *   a = 0.2  elsewhere in M (a light tint);
 * pixels outside M are untouched.
 */
export function paintMask(rgba, mask, rows, cols, style = MASK_STYLE) {
  const { border: aBorder, hatch: aHatch, tint: aTint, hatchEvery } = { ...MASK_STYLE, ...style };
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const i = row * cols + col;
      if (!mask[i]) continue;
      const border = row === 0 || col === 0 || row === rows - 1 || col === cols - 1 ||
        !mask[i - 1] || !mask[i + 1] || !mask[i - cols] || !mask[i + cols];
      const a = border ? aBorder : (row + col) % hatchEvery === 0 ? aHatch : aTint;
      const j = 4 * i;
      rgba[j] = (1 - a) * rgba[j] + a * MASK_COLOR[0];
      rgba[j + 1] = (1 - a) * rgba[j + 1] + a * MASK_COLOR[1];
      rgba[j + 2] = (1 - a) * rgba[j + 2] + a * MASK_COLOR[2];
    }
  }
  return rgba;
}
