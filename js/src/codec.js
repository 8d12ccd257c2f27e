// The array codec shared by every widget (see docs/widget_protocol.md, "Arrays: one codec").
//
// Python sends { buffer, dtype: "uint8" | "float32", shape, vmin, vmax }. A uint8 value q stands
// for vmin + q / 255 * (vmax - vmin); float32 values are real values. `{}` means "nothing yet".

const ITEM_SIZE = { uint8: 1, float32: 4 };

/** A Uint8Array view of a DataView, ArrayBuffer or typed array (no copy). */
export function toBytes(buffer) {
  if (buffer instanceof Uint8Array) return buffer;
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (buffer instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer)) {
    return new Uint8Array(buffer);
  }
  throw new TypeError(`array buffer must be a DataView, ArrayBuffer or typed array, got ${Object.prototype.toString.call(buffer)}`);
}

/** Number of elements of a shape. */
export function sizeOf(shape) {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** True for the "nothing yet" value ({} or null). */
export function isEmptyArray(dict) {
  return !dict || typeof dict !== "object" || dict.buffer == null || !Array.isArray(dict.shape);
}

/**
 * Decode an array dict into { data: Uint8Array | Float32Array, shape, vmin, vmax, dtype },
 * or null for the empty dict. Throws with a readable message on a malformed dict.
 */
export function decodeArray(dict) {
  if (isEmptyArray(dict)) return null;
  const dtype = dict.dtype ?? "uint8";
  const itemSize = ITEM_SIZE[dtype];
  if (!itemSize) throw new Error(`unsupported dtype "${dtype}" (expected uint8 or float32)`);
  const shape = dict.shape.map(Number);
  const n = sizeOf(shape);
  const bytes = toBytes(dict.buffer);
  if (bytes.byteLength !== n * itemSize) {
    throw new Error(`buffer has ${bytes.byteLength} bytes, shape [${shape}] of ${dtype} needs ${n * itemSize}`);
  }
  let data;
  if (dtype === "uint8") {
    data = bytes;
  } else if (bytes.byteOffset % 4 === 0) {
    data = new Float32Array(bytes.buffer, bytes.byteOffset, n);
  } else {
    data = new Float32Array(n); // unaligned view: copy once
    new Uint8Array(data.buffer).set(bytes);
  }
  let vmin = dict.vmin;
  let vmax = dict.vmax;
  if (vmin == null || vmax == null) {
    const r = dtype === "uint8" ? { lo: 0, hi: 255 } : finiteRange(data);
    vmin = vmin ?? r.lo;
    vmax = vmax ?? r.hi;
  }
  return { data, shape, vmin: Number(vmin), vmax: Number(vmax), dtype };
}

/** { scale, offset } with real = offset + scale * stored, for any decoded array. */
export function linearParams(array) {
  if (array.dtype === "uint8") return { scale: (array.vmax - array.vmin) / 255, offset: array.vmin };
  return { scale: 1, offset: 0 };
}

/** The real value of element `flatIndex` (C order). */
export function valueAt(array, flatIndex) {
  const raw = array.data[flatIndex];
  if (array.dtype === "uint8") return array.vmin + (raw / 255) * (array.vmax - array.vmin);
  return raw;
}

/** Half a quantisation step: values this close to 0 cannot be told from 0 (0 for float32). */
export function zeroTolerance(array) {
  if (array.dtype !== "uint8") return 0;
  return (Math.abs(array.vmax - array.vmin) / 510) * (1 + 1e-9);
}

function finiteRange(data) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? { lo, hi } : { lo: 0, hi: 0 };
}
