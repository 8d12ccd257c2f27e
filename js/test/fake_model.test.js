import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeModel, sameValue } from "./fake_model.js";
import { decodeArray, valueAt } from "../src/codec.js";
import { demoState, toWireArray } from "./harness.js";

test("set fires change listeners once per real change and save_changes logs what was set", () => {
  const m = new FakeModel({ layer: "a", crosshair: [1, 2] });
  const seen = [];
  const f = (v) => seen.push(v);
  m.on("change:layer", f);
  m.on("change:crosshair", f);
  m.set("layer", "b");
  m.set("layer", "b"); // unchanged: no event
  m.set("crosshair", [1, 2]); // deep-equal: no event, not saved
  assert.deepEqual(seen, ["b"]);
  m.save_changes();
  m.save_changes(); // nothing pending: not logged
  assert.deepEqual(m.saves, [{ layer: "b" }]);
  assert.deepEqual(m.sets, [["layer", "b"], ["layer", "b"], ["crosshair", [1, 2]]]);
  m.off("change:layer", f);
  m.set("layer", "c");
  assert.deepEqual(seen, ["b"]);
  assert.equal(m.listenerCount(), 1);
});

test("update (a Python-side change) fires listeners but is not saved", () => {
  const m = new FakeModel({ busy: true });
  let n = 0;
  m.on("change:busy", () => n++);
  m.update("busy", false);
  m.save_changes();
  assert.equal(n, 1);
  assert.deepEqual(m.saves, []);
  m.send({ type: "ping" });
  assert.deepEqual(m.sent, [{ content: { type: "ping" }, buffers: undefined }]);
  assert.ok(sameValue({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }));
  assert.ok(!sameValue([1, 2], [1, 2, 3]));
});

test("the harness turns { b64, ... } into anywidget's { buffer: DataView, ... }", () => {
  const wire = toWireArray({ b64: Buffer.from([0, 128, 255, 51]).toString("base64"), dtype: "uint8", shape: [2, 2], vmin: -1, vmax: 4 });
  assert.ok(wire.buffer instanceof DataView);
  const a = decodeArray(wire);
  assert.deepEqual([...a.data], [0, 128, 255, 51]);
  assert.ok(Math.abs(valueAt(a, 3) - 0) < 1e-12);
  const f = toWireArray({ b64: Buffer.from(new Float32Array([2.5, -1]).buffer).toString("base64"), dtype: "float32", shape: [2], vmin: -1, vmax: 2.5 });
  assert.deepEqual([...decodeArray(f).data], [2.5, -1]);
});

test("the harness' synthetic state follows the protocol (shapes, signed range)", () => {
  const s = demoState({ kind: "3d", size: 8, signed: true, compare: true });
  const image = decodeArray(s.image);
  const cam = decodeArray(s.cam);
  assert.deepEqual(image.shape, [8, 8, 8]);
  assert.deepEqual(cam.shape, [8, 8, 8]);
  assert.equal(cam.vmin, -cam.vmax);
  assert.equal(s.cam_signed, true);
  assert.equal(decodeArray(s.compare).data.length, 512);
  assert.equal(s.class_probs.length, s.class_names.length);
  assert.ok(Math.abs(s.class_probs.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.deepEqual(decodeArray(demoState({ kind: "2d", size: 8 }).image).shape, [8, 10]);
});
