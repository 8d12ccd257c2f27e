// Pure rasterisation of the PixelSetPicker's tools (no DOM), on Uint8Array masks (0/1).
//
// Coordinates: a point is { x, y } in data pixels of one slice (x along columns, y along rows;
// css -> data is x = cssX / cssWidth * cols). Pixel (row, col) has its centre at
// (x, y) = (col + 0.5, row + 0.5), and a tool takes a pixel when its centre is inside:
//   - brush: distance from the centre to the nearest segment of the polyline <= radius
//   - lasso: the polygon (closed polyline), even-odd rule (half-open crossing test)
//   - rectangle: the box spanned by two corners, boundary included
//   - region: the 4-connected component of equal labels containing the seed pixel
// A slice mask has rows * cols entries (C order); a volume mask [D, H, W] holds the slices one
// after the other, so slice z is volume.subarray(z * H * W, (z + 1) * H * W).

/** Set to 1 the pixels whose centre is within `radius` of the segment p0-p1 (p1 may equal p0). */
export function stampSegment(mask, rows, cols, p0, p1, radius) {
  const r = Math.max(Number(radius), 0);
  const r2 = r * r;
  const c0 = Math.max(Math.floor(Math.min(p0.x, p1.x) - r - 0.5), 0);
  const c1 = Math.min(Math.ceil(Math.max(p0.x, p1.x) + r - 0.5), cols - 1);
  const rr0 = Math.max(Math.floor(Math.min(p0.y, p1.y) - r - 0.5), 0);
  const rr1 = Math.min(Math.ceil(Math.max(p0.y, p1.y) + r - 0.5), rows - 1);
  const dx = p1.x - p0.x;
  const dy = p1.y - p0.y;
  const len2 = dx * dx + dy * dy;
  for (let row = rr0; row <= rr1; row++) {
    const cy = row + 0.5;
    for (let col = c0; col <= c1; col++) {
      const cx = col + 0.5;
      let t = len2 > 0 ? ((cx - p0.x) * dx + (cy - p0.y) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = cx - (p0.x + t * dx);
      const ey = cy - (p0.y + t * dy);
      if (ex * ex + ey * ey <= r2) mask[row * cols + col] = 1;
    }
  }
  return mask;
}

/** A brush stroke: discs of `radius` along the polyline `points` (one point = one disc). */
export function brushStroke(points, radius, rows, cols, out) {
  const mask = blank(rows * cols, out);
  if (points.length === 1) stampSegment(mask, rows, cols, points[0], points[0], radius);
  for (let i = 1; i < points.length; i++) stampSegment(mask, rows, cols, points[i - 1], points[i], radius);
  return mask;
}

/** Pixels whose centre is inside the polygon `points` (closed implicitly), even-odd rule. */
export function fillPolygon(points, rows, cols, out) {
  const mask = blank(rows * cols, out);
  const n = points.length;
  if (n < 3) return mask;
  const xs = [];
  for (let row = 0; row < rows; row++) {
    const y = row + 0.5;
    xs.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const a = points[j];
      const b = points[i];
      if ((a.y > y) !== (b.y > y)) xs.push(a.x + ((y - a.y) / (b.y - a.y)) * (b.x - a.x));
    }
    xs.sort((u, v) => u - v);
    // inside between crossings 0-1, 2-3, ...: centres with x0 <= col + 0.5 < x1, exactly the
    // point-in-polygon test that counts crossings strictly right of the centre (odd = inside)
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const first = Math.max(Math.ceil(xs[k] - 0.5), 0);
      const last = Math.min(Math.ceil(xs[k + 1] - 0.5) - 1, cols - 1);
      for (let col = first; col <= last; col++) mask[row * cols + col] = 1;
    }
  }
  return mask;
}

/** Pixels whose centre is inside the box spanned by corners p0 and p1 (boundary included). */
export function fillRect(p0, p1, rows, cols, out) {
  const mask = blank(rows * cols, out);
  const col0 = Math.max(Math.ceil(Math.min(p0.x, p1.x) - 0.5), 0);
  const col1 = Math.min(Math.floor(Math.max(p0.x, p1.x) - 0.5), cols - 1);
  const row0 = Math.max(Math.ceil(Math.min(p0.y, p1.y) - 0.5), 0);
  const row1 = Math.min(Math.floor(Math.max(p0.y, p1.y) - 0.5), rows - 1);
  for (let row = row0; row <= row1; row++) mask.fill(1, row * cols + col0, row * cols + col1 + 1);
  return mask;
}

/** The single pixel (row, col). */
export function pointMask(row, col, rows, cols, out) {
  const mask = blank(rows * cols, out);
  if (row >= 0 && row < rows && col >= 0 && col < cols) mask[row * cols + col] = 1;
  return mask;
}

/** The 4-connected component of pixels with the label of (row, col), on a slice of `labels`. */
export function regionGrow(labels, rows, cols, row, col, out) {
  const mask = blank(rows * cols, out);
  if (!(row >= 0 && row < rows && col >= 0 && col < cols)) return mask;
  const seed = row * cols + col;
  const value = labels[seed];
  const stack = [seed];
  mask[seed] = 1;
  while (stack.length) {
    const i = stack.pop();
    const r = Math.floor(i / cols);
    const c = i - r * cols;
    if (c > 0) visit(i - 1);
    if (c < cols - 1) visit(i + 1);
    if (r > 0) visit(i - cols);
    if (r < rows - 1) visit(i + cols);
  }
  return mask;

  function visit(j) {
    if (!mask[j] && labels[j] === value) {
      mask[j] = 1;
      stack.push(j);
    }
  }
}

/** The pixels equal to `value` (e.g. M = labels == target_class over the whole volume). */
export function equalMask(labels, value, out) {
  const mask = blank(labels.length, out);
  for (let i = 0; i < labels.length; i++) if (labels[i] === value) mask[i] = 1;
  return mask;
}

/**
 * How a stroke combines into M: "subtract" for the erase tool or with alt, "add" with shift,
 * else "replace".
 */
export function strokeMode({ shiftKey = false, altKey = false } = {}, tool = "") {
  if (tool === "erase" || altKey) return "subtract";
  if (shiftKey) return "add";
  return "replace";
}

/**
 * Combine a slice stroke into `mask` (in place) at element `offset` (z * H * W for slice z of a
 * volume, 0 in 2D): "replace" clears the whole mask (every slice) and sets the stroke's pixels,
 * "add" sets them, "subtract" clears them. Returns `mask`.
 */
export function combineStroke(mask, stroke, mode, offset = 0) {
  if (offset < 0 || offset + stroke.length > mask.length) {
    throw new RangeError(`stroke of ${stroke.length} at offset ${offset} does not fit a mask of ${mask.length}`);
  }
  if (mode === "replace") {
    mask.fill(0);
    mask.set(stroke, offset);
  } else if (mode === "add") {
    for (let i = 0; i < stroke.length; i++) if (stroke[i]) mask[offset + i] = 1;
  } else if (mode === "subtract") {
    for (let i = 0; i < stroke.length; i++) if (stroke[i]) mask[offset + i] = 0;
  } else {
    throw new Error(`mode must be "replace", "add" or "subtract", got "${mode}"`);
  }
  return mask;
}

/** Slice z of a C-order mask of `shape` ([H, W]: the mask itself), without a copy. */
export function sliceOfMask(mask, shape, z = 0) {
  if (shape.length === 2) return mask;
  const n = shape[1] * shape[2];
  return mask.subarray(z * n, (z + 1) * n);
}

function blank(n, out) {
  if (out instanceof Uint8Array && out.length === n) {
    out.fill(0);
    return out;
  }
  return new Uint8Array(n);
}
