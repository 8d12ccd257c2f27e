// The array traits of a widget, decoded through one per-trait table (jupyter-scatter's way):
//   createArrays(sync, { image: {}, cam: {}, labels: { post: classIds } }, onChange)
// keeps `arrays[name]` decoded (null for {}), re-checks every array when the image changes, and
// reports each decoding problem in `errors[name]` for the status line.
//
// The image may carry three colour channels ({ rgb: true, shape: [3, ...spatial] }): it is then
// decoded as { shape: spatial, channels: [r, g, b], data: r, ... }; other arrays must have the
// image's spatial shape.

import { decodeArray, sizeOf } from "../codec.js";

/** A decoded image dict as drawn: the spatial shape and, for RGB, one data view per channel. */
export function asImage(array, rgb) {
  if (!array) return null;
  if (!rgb) return array;
  if (array.shape[0] !== 3) throw new Error(`an RGB image needs 3 channels first, got shape [${array.shape}]`);
  const shape = array.shape.slice(1);
  const n = sizeOf(shape);
  const channels = [0, 1, 2].map((c) => array.data.subarray(c * n, (c + 1) * n));
  return { ...array, shape, data: channels[0], channels, rgb: true };
}

/** Decode trait `name` ({} -> null); the image must be 2D/3D, other arrays shaped like it. */
export function decodeOne(dict, name, image) {
  let array;
  try {
    array = decodeArray(dict);
    if (name === "image") array = asImage(array, !!dict?.rgb);
  } catch (err) {
    return { array: null, error: `${name}: ${err.message}` };
  }
  if (name === "image" && array && ![2, 3].includes(array.shape.length)) {
    return { array: null, error: `image must be 2D or 3D, got shape [${array.shape}]` };
  }
  if (name !== "image" && array && image && array.shape.join() !== image.shape.join()) {
    return { array: null, error: `${name} has shape [${array.shape}] but the image has [${image.shape}]; not drawn` };
  }
  return { array, error: "" };
}

/**
 * createArrays(sync, table, onChange) -> { arrays, errors, decodeAll() }
 * table: { name: { post?(array) -> value } } in decoding order ("image" first). onChange(names)
 * is called after one or more arrays were decoded again (all of them when the image changed).
 */
export function createArrays(sync, table, onChange) {
  const arrays = {};
  const errors = {};
  const names = Object.keys(table);

  function decode(name) {
    const { array, error } = decodeOne(sync.model.get(name), name, name === "image" ? null : arrays.image);
    const post = table[name].post;
    arrays[name] = array && post ? post(array) : array;
    errors[name] = error;
  }

  function decodeAll() {
    for (const name of names) decode(name);
  }

  for (const name of names) {
    sync.on(`change:${name}`, () => {
      if (name === "image") decodeAll();
      else decode(name);
      onChange(name === "image" ? names : [name]);
    });
  }
  decodeAll();
  return { arrays, errors, decodeAll };
}
