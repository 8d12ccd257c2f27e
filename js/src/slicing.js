// 2D slices of C-order 2D/3D arrays, click <-> voxel mapping, and crosshair geometry.
//
// Conventions: a 3D array has shape [D, H, W] = (z, y, x). Slicing along axis 0 (axial) shows
// rows = y, cols = x; along axis 1 (coronal) rows = z, cols = x; along axis 2 (sagittal)
// rows = z, cols = y. Row 0 is drawn at the top. A 2D array [H, W] is its own slice.

export const VIEW_NAMES = ["axial", "coronal", "sagittal"];
export const AXIS_LETTERS = ["z", "y", "x"];

/** The array axes shown as rows and columns when slicing along `axis`. */
export function viewAxes(ndim, axis) {
  if (ndim === 2) return { rowAxis: 0, colAxis: 1 };
  if (ndim !== 3) throw new Error(`expected a 2D or 3D array, got ${ndim}D`);
  if (axis === 0) return { rowAxis: 1, colAxis: 2 };
  if (axis === 1) return { rowAxis: 0, colAxis: 2 };
  if (axis === 2) return { rowAxis: 0, colAxis: 1 };
  throw new Error(`axis must be 0, 1 or 2, got ${axis}`);
}

/** { rows, cols, depth } of the slice along `axis` (depth = number of slices; 1 in 2D). */
export function sliceDims(shape, axis) {
  const { rowAxis, colAxis } = viewAxes(shape.length, axis);
  return { rows: shape[rowAxis], cols: shape[colAxis], depth: shape.length === 3 ? shape[axis] : 1 };
}

/** Clamp an integer into [0, n - 1]. */
export function clampIndex(i, n) {
  i = Math.round(Number(i));
  if (!Number.isFinite(i)) return 0;
  return Math.min(Math.max(i, 0), Math.max(n - 1, 0));
}

/**
 * The slice of `data` (C order, `shape`) along `axis` at `index`, as a typed array of
 * rows * cols values. 2D input is returned as is; axis 0 is a zero-copy subarray; the other
 * axes copy into `out` when given (reuse it between redraws), else into a new array.
 */
export function extractSlice(data, shape, axis, index, out) {
  if (shape.length === 2) return data;
  const [D, H, W] = shape;
  if (axis === 0) {
    const z = clampIndex(index, D);
    return data.subarray(z * H * W, (z + 1) * H * W);
  }
  if (axis === 1) {
    const y = clampIndex(index, H);
    const n = D * W;
    const dst = out && out.length === n && out.constructor === data.constructor ? out : new data.constructor(n);
    for (let z = 0; z < D; z++) {
      const src = z * H * W + y * W;
      dst.set(data.subarray(src, src + W), z * W);
    }
    return dst;
  }
  if (axis === 2) {
    const x = clampIndex(index, W);
    const n = D * H;
    const dst = out && out.length === n && out.constructor === data.constructor ? out : new data.constructor(n);
    let k = 0;
    for (let z = 0; z < D; z++) {
      let src = z * H * W + x;
      for (let y = 0; y < H; y++, src += W) dst[k++] = data[src];
    }
    return dst;
  }
  throw new Error(`axis must be 0, 1 or 2, got ${axis}`);
}

/** Flat C-order index of a voxel ([z, y, x] or [y, x]). */
export function flatIndex(shape, voxel) {
  let i = 0;
  for (let k = 0; k < shape.length; k++) i = i * shape[k] + voxel[k];
  return i;
}

/**
 * A point on a canvas in CSS pixels (relative to its top-left corner) -> { row, col } of the
 * data pixel under it. `cssWidth`/`cssHeight` are the displayed size (getBoundingClientRect),
 * `cols`/`rows` the canvas' data resolution. Points outside give null.
 */
export function cssToPixel(cssX, cssY, cssWidth, cssHeight, cols, rows) {
  if (!(cssWidth > 0 && cssHeight > 0)) return null;
  if (cssX < 0 || cssY < 0 || cssX > cssWidth || cssY > cssHeight) return null;
  const col = Math.min(Math.floor((cssX / cssWidth) * cols), cols - 1);
  const row = Math.min(Math.floor((cssY / cssHeight) * rows), rows - 1);
  return { row, col };
}

/** The CSS position of the centre of data pixel (row, col): the inverse of cssToPixel. */
export function pixelToCss(row, col, cssWidth, cssHeight, cols, rows) {
  return { x: ((col + 0.5) / cols) * cssWidth, y: ((row + 0.5) / rows) * cssHeight };
}

/** Pixel (row, col) of the slice along `axis` at `index` -> voxel ([z, y, x], or [y, x] in 2D). */
export function pixelToVoxel(row, col, axis, index, ndim) {
  if (ndim === 2) return [row, col];
  const { rowAxis, colAxis } = viewAxes(3, axis);
  const v = [0, 0, 0];
  v[axis] = index;
  v[rowAxis] = row;
  v[colAxis] = col;
  return v;
}

/** Voxel -> { row, col, index }: where it appears in the slice along `axis`, and that slice. */
export function voxelToPixel(voxel, axis, ndim) {
  if (ndim === 2) return { row: voxel[0], col: voxel[1], index: 0 };
  const { rowAxis, colAxis } = viewAxes(3, axis);
  return { row: voxel[rowAxis], col: voxel[colAxis], index: voxel[axis] };
}

/** The centre voxel of a shape. */
export function centreVoxel(shape) {
  return shape.map((n) => Math.floor(n / 2));
}

/** A valid voxel for `shape`: `voxel` clamped, or the centre when it has the wrong length. */
export function clampVoxel(voxel, shape) {
  if (!Array.isArray(voxel) || voxel.length !== shape.length) return centreVoxel(shape);
  return voxel.map((v, k) => clampIndex(v, shape[k]));
}

/**
 * The crosshair on the slice along `axis` through `voxel`: the vertical line at x = col + 0.5 and
 * the horizontal line at y = row + 0.5 in data pixels, also as fractions of the canvas size
 * (fx, fy) so that a CSS overlay can place them at any scale.
 */
export function crosshair(voxel, shape, axis) {
  const { rows, cols } = sliceDims(shape, axis);
  const { row, col, index } = voxelToPixel(voxel, axis, shape.length);
  return { row, col, index, rows, cols, x: col + 0.5, y: row + 0.5, fx: (col + 0.5) / cols, fy: (row + 0.5) / rows };
}

/** The three orthogonal views through `voxel` of a 3D `shape`: name, axis, slice index, crosshair. */
export function orthogonalViews(shape, voxel) {
  return [0, 1, 2].map((axis) => ({ name: VIEW_NAMES[axis], axis, ...crosshair(voxel, shape, axis) }));
}

/** "z=3 y=4 x=5" (or "y=4 x=5" in 2D). */
export function formatVoxel(voxel) {
  const letters = voxel.length === 3 ? AXIS_LETTERS : AXIS_LETTERS.slice(1);
  return voxel.map((v, k) => `${letters[k]}=${v}`).join(" ");
}
