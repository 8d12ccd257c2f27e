import { test } from "node:test";
import assert from "node:assert/strict";
import { argmax, scoreBars, selectClasses } from "../src/scores.js";

test("argmax takes the first maximum; -1 when empty", () => {
  assert.equal(argmax([1, 5, 5, 2]), 1);
  assert.equal(argmax([-3, -1, -2]), 1);
  assert.equal(argmax([]), -1);
});

test("bar geometry from probabilities; argmax and target marked", () => {
  const g = scoreBars({ scores: [0.2, 2.0, 1.1], probs: [0.1, 0.6, 0.3], names: ["cat", "dog", "fox"], target: 2,
    labelWidth: 100, barWidth: 200, valueWidth: 50, barHeight: 10, gap: 5 });
  assert.equal(g.predicted, 1);
  assert.equal(g.width, 350);
  assert.equal(g.height, 40);
  assert.deepEqual(g.bars.map((b) => [b.index, b.name, b.x, b.y, b.width, b.height, b.predicted, b.target]), [
    [0, "cat", 100, 0, 20, 10, false, false],
    [1, "dog", 100, 15, 120, 10, true, false],
    [2, "fox", 100, 30, 60, 10, false, true],
  ]);
  assert.equal(g.bars[1].text, "2.00  60.0%");
});

test("without probabilities the scores are scaled min..max onto 5%..100%", () => {
  const g = scoreBars({ scores: [1, 3, 2], barWidth: 200 });
  assert.deepEqual(g.bars.map((b) => b.width), [10, 200, 105]);
  assert.equal(g.bars[0].name, "class 0");
  assert.equal(g.bars[0].text, "1.00");
});

test("many classes: the top scores in order, plus the target", () => {
  const scores = Array.from({ length: 12 }, (_, i) => i); // class 11 best, class 0 worst
  assert.deepEqual(selectClasses(scores, 10, 0), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 0]);
  assert.deepEqual(selectClasses(scores, 10, 5), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
  assert.deepEqual(selectClasses([3, 1, 2], 10, 0), [0, 1, 2]);
  const g = scoreBars({ scores, target: 0, maxBars: 3 });
  assert.deepEqual(g.bars.map((b) => [b.index, b.predicted, b.target]), [[11, true, false], [10, false, false], [9, false, false], [0, false, true]]);
});

test("no scores, no bars", () => {
  const g = scoreBars({ scores: [] });
  assert.deepEqual(g.bars, []);
  assert.equal(g.height, 0);
  assert.equal(g.predicted, -1);
});
