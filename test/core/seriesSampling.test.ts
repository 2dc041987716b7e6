// A long series is drawn as each bucket's minimum and maximum: peaks survive, the point count is bounded,
// the visible range is sampled finely and the rest coarsely.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleSeries } from '../../src/core/seriesSampling';

const n = 100_000;
const xs = Array.from({ length: n }, (_, i) => i / 100);
const wave = xs.map((x, i) => (i === 54_321 ? 9 : Math.sin(x)));
const gappy = xs.map((_, i) => (i % 3 === 0 ? null : i));

test('100,000 points become about four thousand, and the one spike is kept', () => {
  const sampled = sampleSeries({ xs, ys: [wave, gappy] }, 2000);
  assert.ok(sampled.xs.length <= 2 * (2000 + 2 * 500) && sampled.xs.length >= 2000, `${sampled.xs.length} points`);
  assert.equal(Math.max(...(sampled.ys[0] as number[])), 9, 'the spike survives');
  assert.equal(Math.min(...(sampled.ys[0] as number[])), Math.min(...wave));
  assert.equal(sampled.xs[0], 0);
  assert.equal(sampled.xs.at(-1), xs.at(-1));
  assert.ok(sampled.xs.every((x, i) => i === 0 || x >= sampled.xs[i - 1]!), 'still ascending');
  assert.equal(sampled.ys[1]!.length, sampled.xs.length, 'every field stays aligned with x');
});

test('the visible range is sampled finely, the rest coarsely; short series are left alone', () => {
  const zoomed = sampleSeries({ xs, ys: [wave] }, 1000, { min: 100, max: 110 });
  const inside = zoomed.xs.filter((x) => x >= 100 && x <= 110).length;
  assert.equal(inside, 1001, 'the 1,001 points of the range, all of them (fewer than 2 × buckets)');
  assert.ok(zoomed.xs.length < 1001 + 2 * 2 * 250 + 1, `${zoomed.xs.length} points`);
  const short = { xs: [0, 1, 2], ys: [[1, null, 3]] };
  assert.equal(sampleSeries(short, 10), short);
});

test('a series kept in typed arrays samples the same, NaN being a missing value', () => {
  const typed = { xs: Float64Array.from(xs), ys: [Float64Array.from(wave), Float64Array.from(gappy, (value) => value ?? NaN)] };
  const fromTyped = sampleSeries(typed, 2000);
  const fromArrays = sampleSeries({ xs, ys: [wave, gappy] }, 2000);
  assert.deepEqual(Array.from(fromTyped.xs), Array.from(fromArrays.xs));
  assert.deepEqual(fromTyped.ys.map((column) => Array.from(column)), fromArrays.ys.map((column) => Array.from(column)));
  const allMissing = sampleSeries({ xs: Float64Array.from(xs), ys: [new Float64Array(n).fill(NaN)] }, 100);
  assert.ok(Array.from(allMissing.ys[0]!).every((value) => value === null), 'a bucket with no values is a gap (null), never NaN');
});
