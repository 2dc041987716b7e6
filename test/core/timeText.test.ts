// Times as the UI prints them (uptime in the Plugins tree, segment times in the results): rounding
// near a minute boundary must carry into the minute ("1 min 0 s", "1:00.0"), never "60 s" or "0:60.0".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { formatSeconds } from '../../src/extension/resultsView';
import { statsRows, type WorkerStats } from '../../src/core/workerStats';
import { projectRoot } from '../helpers/python';

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

/** formatSeconds of the results webview (media/results.js runs in the page, so its text is evaluated here). */
function webviewFormatSeconds(): (seconds: number) => string {
  const source = readFileSync(path.join(projectRoot, 'media', 'results.js'), 'utf8');
  const match = /\n( *)function formatSeconds\(seconds\) \{\n[\s\S]*?\n\1\}/.exec(source);
  assert.ok(match, 'media/results.js has a formatSeconds(seconds) function; if it moved, test it where it is now');
  return new Function(`${match[0]}\nreturn formatSeconds;`)() as (seconds: number) => string;
}

test('segment times: tenths, carried into minutes; the extension and the webview agree', () => {
  const cases: [number, string][] = [
    [0, '0:00.0'],
    [0.04, '0:00.0'],
    [9.96, '0:10.0'],
    [59.94, '0:59.9'],
    [59.96, '1:00.0'],
    [61.25, '1:01.3'],
    [119.99, '2:00.0'],
    [3600, '60:00.0'],
  ];
  const webview = webviewFormatSeconds();
  for (const [seconds, text] of cases) {
    assert.equal(formatSeconds(seconds), text, `extension, ${seconds} s`);
    assert.equal(webview(seconds), text, `webview, ${seconds} s`);
  }
  for (let tenths = 0; tenths < 20_000; tenths += 7) {
    const seconds = tenths / 10 + 0.049;
    assert.equal(webview(seconds), formatSeconds(seconds));
    assert.doesNotMatch(formatSeconds(seconds), /:6\d\./, `${seconds} s`);
  }
});
