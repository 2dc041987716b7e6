// The results panel renders each shape of result as people look at it, on files this test generates:
// a series as a plot that seeks the playing audio, segments whose click moves the <audio>'s currentTime,
// boxes in every bbox convention (nested too) over the image, a sortable table with thumbnails and open
// links, a JSON tree with its raw JSON one click away. Then the example plugins on the example files,
// whose screenshots are the README's (test-results/results-*.png).
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { examplePluginDirs, projectRoot } from '../../scripts/vscode-bench/bench';
import { openView, page, runCommand, screenshot, uiTest, useVsCode, workspaceFolder } from './helpers';
import { writePng, writeToneWav } from './generatedMedia';
import { evaluateIn, inResults, runFromExplorer, seekedTo, waitForRendered, waitForValue, watchSeeks } from './webview';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests-results');
useVsCode({ userSettings: { 'remotePluginProxy.pluginDirs': examplePluginDirs(fixtures) } });

function sidecar(file: string, items: unknown[]): void {
  fs.writeFileSync(path.join(workspaceFolder(), `${file}.items.json`), JSON.stringify(items));
}

async function closeEditors(): Promise<void> {
  await runCommand('View: Close All Editors');
}

/** Each test starts with no editor open (a failed test leaves its panel for the failure screenshot). */
function resultsTest(name: string, body: () => Promise<void>): void {
  uiTest(name, async () => {
    await closeEditors();
    await body();
  });
}

resultsTest('a series is a plot that grows, hides fields, and seeks the playing audio when clicked', async () => {
  // 3 s whose loudness rises: audio-levels yields an info item, 30 chunks and a summary.
  writeToneWav(path.join(workspaceFolder(), 'rising.wav'), 3, (t) => 0.05 + 0.3 * t);
  await runFromExplorer('rising.wav', 'Stream on Current File', 'audio-levels');
  await inResults('.series-view.plot canvas').first().waitFor();
  await waitForRendered(32);
  assert.equal(await inResults('.series-view').getAttribute('data-points'), '30', 'one point per 100 ms chunk');
  const legend = await inResults('.series-view .u-legend').innerText();
  for (const field of ['rms', 'dbfs', 'peak', 'peak_dbfs']) assert.match(legend, new RegExp(`\\b${field}\\b`), `legend shows ${field}`);
  assert.match(await inResults('.summary-area').innerText(), /summary[\s\S]*chunks\s*30/i, 'the final summary is shown first');
  const peak = inResults('.series-view .u-legend .u-series', { hasText: /^peak\b/ }).first();
  assert.doesNotMatch(await peak.getAttribute('class') ?? '', /u-off/);
  await peak.click();
  await waitForValue('the peak line to be hidden', async () => (await peak.getAttribute('class')) ?? '', (c) => c.includes('u-off'));
  // A click in the middle of the plot seeks the audio to about 1.5 s.
  await watchSeeks();
  const box = await evaluateIn('.series-view .u-over', (over) => { const r = over.getBoundingClientRect(); return { w: r.width, h: r.height }; });
  await (inResults('.series-view .u-over').first() as unknown as { click(o: { position: { x: number; y: number } }): Promise<void> })
    .click({ position: { x: box.w / 2, y: box.h / 2 } });
  const time = await seekedTo('the audio to seek', (t) => t > 0);
  assert.ok(time > 1.2 && time < 1.8, `clicked the middle of 0–3 s, the audio seeked to ${time} s`);
  await screenshot('results-series-generated');
  await closeEditors();
});

resultsTest('segments are a transcript: a click seeks the <audio> there and highlights the segment', async () => {
  writeToneWav(path.join(workspaceFolder(), 'talk.wav'), 6, (t) => (Math.floor(t) % 2 ? 0.4 : 0.1));
  sidecar('talk.wav', [
    { start: 0.2, end: 1.6, text: 'First sentence, <b>not bold</b>.', speaker: 'A' },
    { start: 2.0, end: 3.5, text: 'Second sentence.', speaker: 'B', words: [{ word: 'Second', start: 2.0, end: 2.6 }, { word: 'sentence.', start: 2.7, end: 3.5 }] },
    { start: 4.25, end: 5.75, text: 'Third sentence.', speaker: 'A' },
  ]);
  await runFromExplorer('talk.wav', 'Stream on Current File', 'rpp-shapes');
  await inResults('.segment').nth(2).waitFor();
  await waitForRendered(3);
  assert.equal(await inResults('audio.source-media').count(), 1, 'the input file plays in the panel');
  const src = await inResults('audio.source-media').getAttribute('src');
  assert.match(src ?? '', /talk\.wav/, 'the audio is the input file itself (through asWebviewUri)');
  assert.match(await inResults('.segment').first().innerText(), /<b>not bold<\/b>/, 'plugin output is text, never HTML');
  const before = await evaluateIn('audio.source-media', (audio) => audio.currentTime);
  await watchSeeks();
  await inResults('.segment').nth(2).locator('.time').click();
  const after = await seekedTo('the audio to seek to the third segment', (t) => t > 0);
  assert.ok(Math.abs(after - 4.25) < 0.1, `currentTime moved from ${before} to ${after}, the third segment's start (4.25)`);
  assert.ok(await evaluateIn('audio.source-media', (audio) => audio.currentTime) >= 4.25);
  await waitForValue('the third segment to be highlighted', async () => (await inResults('.segment').nth(2).getAttribute('class')) ?? '', (c) => c.includes('current'));
  // A word with its own times seeks to the word.
  await inResults('.segment .word', { hasText: 'sentence.' }).first().click();
  await seekedTo('the audio to seek to the word', (t) => Math.abs(t - 2.7) < 0.1);
  await screenshot('results-segments-generated');
  await closeEditors();
});

resultsTest('regions are boxes over the image in every bbox convention, nested ones too; hovering a text highlights its box', async () => {
  writePng(path.join(workspaceFolder(), 'scan.png'), 400, 200, [
    { x: 20, y: 20, width: 160, height: 40, rgb: [40, 40, 200] },
    { x: 220, y: 120, width: 120, height: 50, rgb: [200, 60, 40] },
  ]);
  const expected = [[20, 20, 160, 40], [20, 20, 70, 40], [100, 20, 80, 40], [220, 120, 120, 50], [220, 120, 50, 50], [280, 120, 60, 50]];
  sidecar('scan.png', [
    { text: 'blue line', confidence: 91.5, box: { left: 20, top: 20, width: 160, height: 40 },
      words: [{ text: 'blue', bbox: [20, 20, 70, 40] }, { text: 'line', box: { x: 100, y: 20, width: 80, height: 40 } }] },
    { text: 'red line', confidence: 77, bbox: { x0: 220, y0: 120, x1: 340, y1: 170 },
      words: [{ text: 'red', rect: { x: 220, y: 120, w: 50, h: 50 } }, { text: 'line', bounding_box: { xmin: 280, ymin: 120, xmax: 340, ymax: 170 } }] },
  ]);
  await runFromExplorer('scan.png', 'Stream on Current File', 'rpp-shapes');
  await inResults('svg.regions-overlay rect.region').nth(5).waitFor();
  await waitForRendered(2);
  const rects = await evaluateIn('svg.regions-overlay', (svg) => [...svg.querySelectorAll('rect')].map((r) => ['x', 'y', 'width', 'height'].map((a) => Number(r.getAttribute(a)))));
  assert.deepEqual(rects, expected, 'lines and their words, each convention read right');
  const size = await evaluateIn('img.regions-image', (img) => [img.naturalWidth, img.naturalHeight]);
  assert.deepEqual(size, [400, 200], 'the boxes are drawn over the input image');
  assert.equal(await inResults('svg.regions-overlay').getAttribute('viewBox'), '0 0 400 200');
  await inResults('.region-row .word', { hasText: 'red' }).first().hover();
  const hot = () => evaluateIn('svg.regions-overlay', (svg) => [...svg.querySelectorAll('rect.hot')].map((r) => r.getAttribute('width')));
  await waitForValue('the word box (and its line) to light up', hot, (widths) => widths.sort().join() === '120,50');
  // The second line's box, at x = 275 (between its words, whose boxes lie on top of it).
  const lineBox = inResults('svg.regions-overlay rect.region.colour-0').nth(1);
  const scale = await evaluateIn('svg.regions-overlay', (svg) => svg.getBoundingClientRect().width / 400);
  await (lineBox as unknown as { hover(o: { position: { x: number; y: number } }): Promise<void> }).hover({ position: { x: 55 * scale, y: 25 * scale } });
  await waitForValue('the tip to show the box text', () => inResults('.regions-tip').innerText(), (text) => /^red line · confidence 77$/.test(text));
  await inResults('svg.regions-overlay rect.region.nested').first().hover();
  await waitForValue('the tip to show the word', () => inResults('.regions-tip').innerText(), (text) => text === 'blue');
  await screenshot('results-regions-generated');
  await closeEditors();
});

resultsTest('flat rows are a sortable table; image paths show thumbnails with an open link', async () => {
  const dir = workspaceFolder();
  writePng(path.join(dir, 'thumb-a.png'), 60, 40, [{ x: 0, y: 0, width: 30, height: 40, rgb: [0, 160, 0] }]);
  fs.mkdirSync(path.join(dir, 'masks'), { recursive: true });
  writePng(path.join(dir, 'masks', 'b.png'), 60, 40, [{ x: 30, y: 0, width: 30, height: 40, rgb: [160, 0, 0] }]);
  fs.writeFileSync(path.join(dir, 'rows.txt'), 'rows\n');
  sidecar('rows.txt', [
    { name: 'alpha', score: 3, image: path.join(dir, 'thumb-a.png') },
    { name: 'beta', score: 1, image: 'masks/b.png' },
    { name: 'gamma', score: 2, image: 'not-there.png' },
  ]);
  await runFromExplorer('rows.txt', 'Stream on Current File', 'rpp-shapes');
  await inResults('table.results-table tbody tr').nth(2).waitFor();
  await waitForRendered(3);
  const names = () => inResults('table.results-table tbody tr td:first-child').allInnerTexts();
  assert.deepEqual(await names(), ['alpha', 'beta', 'gamma']);
  await waitForValue('two thumbnails (the third file does not exist)', () => inResults('img.thumbnail').count(), (n) => n === 2);
  await inResults('th button.sort', { hasText: 'score' }).click();
  await waitForValue('rows sorted by score', names, (rows) => rows.join() === 'beta,gamma,alpha');
  await inResults('th button.sort', { hasText: 'score' }).click();
  await waitForValue('rows sorted by score, descending', names, (rows) => rows.join() === 'alpha,gamma,beta');
  await screenshot('results-table-generated');
  await inResults('a.open-link', { hasText: 'open' }).nth(1).click();
  await page().locator('.part.editor .tab', { hasText: /thumb-a\.png|b\.png/ }).first().waitFor();
  await closeEditors();
});

resultsTest('anything else is a collapsible JSON tree; raw JSON is one click away', async () => {
  fs.writeFileSync(path.join(workspaceFolder(), 'nested.txt'), 'x\n');
  sidecar('nested.txt', [{ model: 'demo', layers: Array.from({ length: 150 }, (_, i) => ({ id: i, weights: [i, i + 1] })), meta: { note: '<script>alert(1)</script>' } }]);
  await runFromExplorer('nested.txt', 'Run on Current File', 'rpp-shapes');
  await waitForRendered(1);
  const longArray = inResults('details.json-node:has(> summary:text-is("[ 150 items ]"))').first();
  await longArray.waitFor();
  assert.equal(await longArray.getAttribute('open'), null, 'a long nested array starts collapsed');
  await longArray.locator('summary').first().click();
  await inResults('button.link-button', { hasText: 'Show 50 more of 50' }).waitFor();
  assert.match(await inResults('body').innerText(), /<script>alert\(1\)<\/script>/, 'plugin output is shown as text');
  assert.equal(await evaluateIn('body', (b) => b.querySelectorAll('script').length), 1, 'no script came from the result');
  await inResults('button.raw-toggle').click();
  const raw = await inResults('pre.raw-json').innerText();
  assert.equal(JSON.parse(raw).layers.length, 150);
  await closeEditors();
});

resultsTest('the example plugins on the example files: levels plot, commands transcript, OCR boxes, image table', async () => {
  await openView('Plugins');
  await runFromExplorer('tone.wav', 'Stream on Current File', 'audio-levels');
  await inResults('.series-view.plot canvas').first().waitFor();
  await waitForRendered();
  await screenshot('results-series');
  await closeEditors();

  await runFromExplorer('speech-commands.wav', 'Stream on Current File', 'speech-commands');
  await inResults('.segment').first().waitFor({ timeout: 90_000 });
  await waitForRendered();
  assert.match(await inResults('.segments-view').innerText(), /next slide/);
  await watchSeeks();
  await inResults('.segment').nth(1).locator('.time').click();
  await seekedTo('the audio to seek to the second command', (t) => t > 1);
  await screenshot('results-segments');
  await closeEditors();

  await runFromExplorer('text.png', 'Stream on Current File', 'ocr');
  await inResults('svg.regions-overlay rect.region.nested').first().waitFor({ timeout: 90_000 });
  await waitForRendered();
  assert.match(await inResults('.region-rows').innerText(), /Remote Plugin Proxy/);
  await inResults('.region-row .word', { hasText: 'Plugin' }).first().hover();
  await screenshot('results-regions');
  await closeEditors();
  // Run (one result: the text, then every word with its box): the result's own text comes first.
  await runFromExplorer('text.png', 'Run on Current File', 'ocr');
  await inResults('svg.regions-overlay rect.region').first().waitFor({ timeout: 90_000 });
  await waitForRendered(1);
  assert.match(await inResults('.result-text').innerText(), /Remote Plugin Proxy\s+reads this text/);
  await closeEditors();

  await runFromExplorer('photo.jpg', 'Run on Current File', 'image-info');
  await inResults('table.property-table img.thumbnail').waitFor();
  assert.match(await inResults('table.property-table').innerText(), /width\s*64[\s\S]*height\s*48/);
  await screenshot('results-table');
  await closeEditors();
});
