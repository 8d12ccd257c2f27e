import assert from "node:assert/strict";
import { test } from "node:test";

import { strokeClass } from "../src/pixel_set_picker/picking.js";

const stroke = (tool, mode = "replace") => ({ tool, mode });

test("a plain point or region click explains the class under it", () => {
  assert.equal(strokeClass(stroke("region"), 2, 1), 2);
  assert.equal(strokeClass(stroke("point"), 3, -1), 3);
  assert.equal(strokeClass(stroke("region"), 1, 1), null); // already that class: nothing to send
  assert.equal(strokeClass(stroke("point"), 0, 2), 0); // the background is a class too
});

test("shift / alt clicks and the drawing tools keep the class", () => {
  assert.equal(strokeClass(stroke("region", "add"), 3, 2), null);
  assert.equal(strokeClass(stroke("point", "subtract"), 3, 2), null);
  for (const tool of ["brush", "lasso", "rectangle", "erase"]) assert.equal(strokeClass(stroke(tool), 3, 2), null);
});

test("the first pick chooses a class, except with the eraser; no labels: no class", () => {
  assert.equal(strokeClass(stroke("brush"), 3, -1), 3);
  assert.equal(strokeClass(stroke("region", "add"), 2, -1), 2);
  assert.equal(strokeClass(stroke("erase"), 3, -1), null);
  assert.equal(strokeClass(stroke("region"), null, -1), null);
});
