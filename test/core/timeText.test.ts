// Times as the UI prints them (uptime in the Plugins tree, segment times in the results): rounding
// near a minute boundary must carry into the minute ("1 min 0 s", "1:00.0"), never "60 s" or "0:60.0".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatSeconds } from '../../src/core/resultText';
import { statsRows, type WorkerStats } from '../../src/core/workerStats';

/** The Uptime row the Plugins view shows for a worker up `seconds`. */
function formatUptime(seconds: number): string {
  const stats: WorkerStats = { pid: 1, rss_bytes: 0, rss_children_bytes: 0, cpu_percent: 0, threads: 1, children: 0, uptime_s: seconds, calls: 0, errors: 0, busy: false };
  return statsRows(stats).find(([label]) => label === 'Uptime')?.[1] ?? '';
}

test('uptime: whole seconds, carried into minutes and hours', () => {
  const cases: [number, string][] = [
    [0, '0 s'],
    [59.4, '59 s'],
    [59.6, '1 min 0 s'],
    [60, '1 min 0 s'],
    [119.5, '2 min 0 s'],
    [125.2, '2 min 5 s'],
    [3599.4, '59 min 59 s'],
    [3599.6, '1 h 0 min'],
    [7325, '2 h 2 min'],
  ];
  for (const [seconds, text] of cases) assert.equal(formatUptime(seconds), text, `${seconds} s`);
});

test('segment times: tenths, carried into minutes and hours (one copy, shared with the webview)', () => {
  const cases: [number, string][] = [
    [0, '0:00.0'],
    [0.04, '0:00.0'],
    [9.96, '0:10.0'],
    [59.94, '0:59.9'],
    [59.96, '1:00.0'],
    [61.25, '1:01.3'],
    [119.99, '2:00.0'],
    [3599.96, '1:00:00.0'],
    [3600, '1:00:00.0'],
  ];
  for (const [seconds, text] of cases) {
    assert.equal(formatSeconds(seconds), text, `${seconds} s`);
  }
  for (let tenths = 0; tenths < 20_000; tenths += 7) {
    const seconds = tenths / 10 + 0.049;
    assert.doesNotMatch(formatSeconds(seconds), /:6\d\./, `${seconds} s`);
  }
});

test('durations: tenths under a minute, then whole seconds carried into minutes', () => {
  const cases: [number, string][] = [
    [0, '0 ms'],
    [999.4, '999 ms'],
    [1000, '1.0 s'],
    [59_940, '59.9 s'],
    [59_960, '1 min 0 s'],
    [119_600, '2 min 0 s'],
    [125_200, '2 min 5 s'],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `${ms} ms`);
  for (let ms = 0; ms < 400_000; ms += 37) assert.doesNotMatch(formatDuration(ms), /\b60(\.0)? s/, `${ms} ms`);
});
