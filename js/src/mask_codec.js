// The bit-packed pixel set M of the PixelSetPicker (docs/picker_protocol.md, trait `mask_bits`):
//   { buffer: bytes, shape: [H, W] | [D, H, W], encoding: "bits" }, `{}` = empty set.
// C order, 8 voxels per byte, most significant bit first: exactly NumPy's
// np.packbits(mask.ravel()) (the last byte is padded with zero bits), and
// np.unpackbits(buffer, count=n).reshape(shape) reads it back.

import { isEmptyArray, sizeOf, toBytes } from "./codec.js";

/** Pack a 0/1 Uint8Array (any non-zero counts as 1) into ceil(n / 8) bytes, MSB first. */
export function packBits(mask) {
  const n = mask.length;
  const bytes = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; i++) if (mask[i]) bytes[i >> 3] |= 0x80 >> (i & 7);
  return bytes;
}

/** Unpack the first `n` bits of `bytes` (MSB first) into a 0/1 Uint8Array (reused when `out` fits). */
export function unpackBits(bytes, n, out) {
  if (bytes.length < Math.ceil(n / 8)) {
    throw new Error(`mask_bits has ${bytes.length} bytes, ${n} voxels need ${Math.ceil(n / 8)}`);
  }
  const mask = out instanceof Uint8Array && out.length === n ? out : new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  return mask;
}

/** Number of set (non-zero) entries. */
export function countSet(mask) {
  let k = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) k++;
  return k;
}

/** The `mask_bits` dict of a mask of `shape` (buffer: a DataView, as anywidget sends binary). */
export function encodeMask(mask, shape) {
  const n = sizeOf(shape);
  if (mask.length !== n) throw new Error(`mask has ${mask.length} entries, shape [${shape}] needs ${n}`);
  const bytes = packBits(mask);
  return { buffer: new DataView(bytes.buffer), shape: shape.map(Number), encoding: "bits" };
}

/**
 * Decode a `mask_bits` dict (buffer: DataView / ArrayBuffer / typed array) into
 * { mask: Uint8Array of 0/1, shape }, or null for `{}`. Throws a readable error when the
 * encoding is not "bits", the buffer is too short, or the shape differs from `expectShape`.
 */
export function decodeMask(dict, expectShape, out) {
  if (isEmptyArray(dict)) return null;
  if ((dict.encoding ?? "bits") !== "bits") throw new Error(`mask_bits encoding must be "bits", got "${dict.encoding}"`);
  const shape = dict.shape.map(Number);
  if (expectShape && shape.join() !== expectShape.join()) {
    throw new Error(`mask_bits has shape [${shape}] but the image has [${expectShape}]`);
  }
  return { mask: unpackBits(toBytes(dict.buffer), sizeOf(shape), out), shape };
}
