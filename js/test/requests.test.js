import { test } from "node:test";
import assert from "node:assert/strict";
import { LastRequestWins, RECOMPUTE_KEYS } from "../src/requests.js";

function setup(busy = false) {
  const sent = [];
  const q = new LastRequestWins((changes) => sent.push(changes), { busy });
  return { q, sent };
}

test("idle: every request is sent at once and nothing is held", () => {
  const { q, sent } = setup();
  assert.equal(q.request("layer", "conv1"), true);
  assert.equal(q.request("layer", "conv2"), true);
  assert.deepEqual(sent, [{ layer: "conv1" }, { layer: "conv2" }]);
  assert.deepEqual(q.pending(), {});
  assert.equal(q.setBusy(false), null);
  assert.equal(sent.length, 2);
});

test("busy: only the last value per key is held and flushed in one batch when busy turns false", () => {
  const { q, sent } = setup();
  q.setBusy(true);
  assert.equal(q.request("layer", "conv1"), false);
  q.request("method", "gradcampp");
  q.request("layer", "conv2");
  q.request("target_class", 3);
  q.request("layer", "conv3");
  q.request("target_class", 5);
  assert.deepEqual(sent, []);
  assert.equal(q.has("layer"), true);
  assert.equal(q.get("layer"), "conv3");
  assert.equal(q.setBusy(true), null); // still busy: nothing sent
  assert.deepEqual(sent, []);
  const flushed = q.setBusy(false);
  assert.deepEqual(flushed, { layer: "conv3", method: "gradcampp", target_class: 5 });
  assert.deepEqual(sent, [{ layer: "conv3", method: "gradcampp", target_class: 5 }]);
  assert.deepEqual(q.pending(), {});
  q.setBusy(false);
  assert.equal(sent.length, 1); // nothing sent twice
});

test("starting busy holds from the first request; clear drops without sending", () => {
  const { q, sent } = setup(true);
  q.request("sample", 2);
  q.clear();
  assert.equal(q.setBusy(false), null);
  assert.deepEqual(sent, []);
});

test("the recompute keys are the protocol's", () => {
  assert.deepEqual(RECOMPUTE_KEYS, ["layer", "method", "target_class", "sample", "compare_method"]);
});
