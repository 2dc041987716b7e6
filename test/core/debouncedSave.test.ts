// DebouncedSave: changes share one save, flush() saves at once, and saves never overlap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DebouncedSave } from '../../src/core/debouncedSave';
import { waitFor } from '../helpers/waitFor';

/** A save that records how many ran, and how many ran at the same time at most. */
function countingSave(durationMs: number) {
  const counts = { saves: 0, running: 0, maxRunning: 0 };
  const save = async () => {
    counts.running++;
    counts.maxRunning = Math.max(counts.maxRunning, counts.running);
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    counts.running--;
    counts.saves++;
  };
  return { counts, save };
}

test('many changes before the delay share one save', async () => {
  const { counts, save } = countingSave(0);
  const saves = new DebouncedSave(save, 50);
  for (let change = 0; change < 100; change++) saves.schedule();
  await waitFor(() => counts.saves, { what: 'the scheduled save', timeoutMs: 10_000 });
  await saves.flush();
  assert.equal(counts.saves, 1);
});

test('flush() saves a scheduled change at once and waits for it; with nothing scheduled it saves nothing', async () => {
  const { counts, save } = countingSave(20);
  const saves = new DebouncedSave(save, 60 * 60 * 1000); // an hour: only flush() can save it within the test
  saves.schedule();
  await saves.flush();
  assert.equal(counts.saves, 1);
  await saves.flush();
  assert.equal(counts.saves, 1);
});

test('a save scheduled while one runs waits for it: saves never overlap', async () => {
  const { counts, save } = countingSave(50);
  const saves = new DebouncedSave(save, 1);
  saves.schedule();
  await waitFor(() => counts.running, { what: 'the first save to start', timeoutMs: 10_000 });
  saves.schedule();
  await saves.flush();
  await waitFor(() => counts.saves, { what: 'both saves', timeoutMs: 10_000, until: (done) => done === 2 });
  assert.equal(counts.maxRunning, 1);
});
