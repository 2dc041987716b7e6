// Mid-stream crash tests compare what the host delivered with what the plugin really yielded, instead of
// letting the plugin sleep before it dies and hoping everything arrived by then.
//
// The fixture plugins take `ledger` (a file: they append each item's index, one a line, just before they
// yield it) and `pad` (characters added to each item). docs/protocol.md promises: what is yielded but not
// yet sent is bounded by 4 MB (the generator is not resumed beyond that), and a plugin that dies loses
// only what the worker had not sent yet. So with items larger than that bound, when the plugin resumes
// after yielding item k, items 0..k-1 have been sent: if it dies then, at most item k may be lost.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** docs/protocol.md: "What is yielded but not yet sent is bounded by bytes (4 MB)". */
export const UNSENT_BOUND_BYTES = 4 * 1024 * 1024;

/** `pad` for items each larger than the unsent bound. */
export const PAD_BEYOND_UNSENT_BOUND = UNSENT_BOUND_BYTES + 64 * 1024;

export interface StreamLosses {
  /** Indices the plugin yielded (or was about to yield when it died), in order. */
  yielded: number[];
  /** Indices yielded but not delivered: always a tail of `yielded`. */
  lost: number[];
}

/**
 * Checks that `received` (items with their index in `i`) is exactly the start of what the plugin yielded:
 * in order, none twice, none invented, none skipped. Returns which items were lost, so a test can bound
 * them and say which they were.
 */
export function streamLosses(received: ReadonlyArray<{ i: number }>, ledgerFile: string): StreamLosses {
  const yielded = readFileSync(ledgerFile, 'utf8').split('\n').filter(Boolean).map(Number);
  const indices = received.map((item) => item.i);
  assert.deepEqual(indices, yielded.slice(0, indices.length), `the items delivered (${describeIndices(indices)}) are not the first ones the plugin yielded (${describeIndices(yielded)})`);
  return { yielded, lost: yielded.slice(indices.length) };
}

/** "0–2 (3 items)", "none". */
export function describeIndices(indices: readonly number[]): string {
  if (indices.length === 0) return 'none';
  const contiguous = indices.every((index, k) => k === 0 || index === indices[k - 1] + 1);
  const list = contiguous && indices.length > 2 ? `${indices[0]}–${indices[indices.length - 1]}` : indices.join(', ');
  return `${list} (${indices.length} item${indices.length === 1 ? '' : 's'})`;
}

/**
 * What the worker had sent before it died is delivered (docs/protocol.md): at most the last item
 * yielded, which the worker may not have sent yet, is lost.
 */
export function assertOnlyLastMayBeLost(lost: readonly number[]): void {
  assert.ok(lost.length <= 1, `items the worker had sent were lost: ${describeIndices(lost.slice(0, -1))} (and ${describeIndices(lost.slice(-1))}, which may be)`);
}
