// Progress as plugins report it: only fractions 0..1 count, anything else is "not reported".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { itemProgress, overallFraction, workerProgress } from '../../src/core/progress';

test('a progress field in an item', () => {
  assert.deepEqual(itemProgress({ progress: 0.25, text: 'a' }), { fraction: 0.25 });
  for (const value of [{ progress: 25 }, { progress: -0.1 }, { progress: Number.NaN }, { progress: '0.5' }, { text: 'x' }, 'progress', null, [0.5]]) {
    assert.equal(itemProgress(value), undefined, JSON.stringify(value));
  }
});

test("the worker's /progress answer", () => {
  assert.deepEqual(workerProgress({ busy: true, call_id: 'c', progress: 0.5, message: ' page 2 of 4 ' }), { fraction: 0.5, message: 'page 2 of 4' });
  assert.deepEqual(workerProgress({ busy: true, progress: null, message: 'loading' }), { message: 'loading' });
  assert.equal(workerProgress({ busy: true, progress: null, message: null }), undefined);
  assert.equal(workerProgress({ busy: false, progress: 0.5 }), undefined, 'an idle worker reports nothing');
  assert.equal(workerProgress(undefined), undefined);
});

test('several files: each one is its share of the bar', () => {
  assert.equal(overallFraction(0, 4, 0.5), 0.125);
  assert.equal(overallFraction(3, 4, 1), 1);
  assert.equal(overallFraction(0, 0, 1), 0);
});
