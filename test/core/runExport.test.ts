// Export of a run: JSON (the whole run), JSON Lines (items, with their file when there are several)
// and CSV (table and series results only, RFC 4180 quoting, formulas defused).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asCsv, canExportCsv, exportFileName, exportRun, formatOfFileName, tableOf, type ExportedRun } from '../../src/core/runExport';

const levels: ExportedRun = {
  plugin: 'audio-levels', pluginVersion: '1.0.0', mode: 'stream', status: 'done', startedAt: Date.UTC(2025, 0, 2, 3, 4), durationMs: 12,
  files: [{ path: '/data/tone.wav', items: [
    { type: 'info', channels: 1 },
    { type: 'chunk', index: 0, time: 0, rms: 0.25, dbfs: -12.04 },
    { type: 'chunk', index: 1, time: 0.1, rms: 0, dbfs: null },
    { type: 'done', rms: 0.2 },
  ] }],
};

test('JSON keeps the whole run: what ran, how, and every file with its items', () => {
  const parsed = JSON.parse(exportRun(levels, 'json'));
  assert.equal(parsed.plugin, 'audio-levels');
  assert.equal(parsed.version, '1.0.0');
  assert.equal(parsed.started, '2025-01-02T03:04:00.000Z');
  assert.deepEqual(parsed.files[0].items, levels.files[0]!.items);
  assert.equal(parsed.files[0].file, '/data/tone.wav');
});

test('JSON Lines: one item per line; with several files each line says its file', () => {
  assert.deepEqual(exportRun(levels, 'jsonl').trimEnd().split('\n').map((line) => JSON.parse(line)), levels.files[0]!.items);
  const two: ExportedRun = { ...levels, files: [{ path: '/a.wav', items: [1, 'two'] }, { path: '/b.wav', items: [{ three: 3 }] }] };
  assert.deepEqual(exportRun(two, 'jsonl').trimEnd().split('\n').map((line) => JSON.parse(line)), [
    { file: '/a.wav', item: 1 }, { file: '/a.wav', item: 'two' }, { file: '/b.wav', item: { three: 3 } },
  ]);
  assert.equal(exportRun({ ...levels, files: [{ path: '/a', items: [] }] }, 'jsonl'), '');
});

test('CSV of a series: the points, every column, gaps empty', () => {
  assert.equal(exportRun(levels, 'csv'), 'type,index,time,rms,dbfs\r\nchunk,0,0,0.25,-12.04\r\nchunk,1,0.1,0,\r\n');
});

test('CSV of a table from several files gets a source_file column; quoting and formulas', () => {
  const run: ExportedRun = { plugin: 'image-info', mode: 'execute', files: [
    { path: '/a.png', items: [{ file: '/a.png', width: 3, note: 'say "hi", then\nleave' }] },
    { path: '/b.png', items: [{ file: '/b.png', width: 4, extra: '=HYPERLINK("x")' }] },
  ] };
  const table = tableOf(run)!;
  assert.deepEqual(table.columns, ['source_file', 'file', 'width', 'note', 'extra']);
  assert.equal(asCsv(table).split('\r\n')[1], '/a.png,/a.png,3,"say ""hi"", then\nleave",');
  assert.equal(asCsv(table).split('\r\n')[2], `/b.png,/b.png,4,,"'=HYPERLINK(""x"")"`);
});

test('CSV of a single result that holds a list (e.g. a folder of images) exports the list', () => {
  const run: ExportedRun = { plugin: 'image-info', mode: 'execute', files: [{ path: '/photos', items: [[{ file: 'a.png', width: 1 }, { file: 'b.png', width: 2 }]] }] };
  assert.equal(exportRun(run, 'csv'), 'file,width\r\na.png,1\r\nb.png,2\r\n');
});

test('CSV is refused for shapes that are not tables, with a message that says what to do', () => {
  const segments: ExportedRun = { plugin: 'whisper', mode: 'stream', files: [{ path: '/a.wav', items: [{ start: 0, end: 1, text: 'hi' }] }] };
  assert.equal(canExportCsv(segments), false);
  assert.throws(() => exportRun(segments, 'csv'), /CSV needs table-shaped or series results; save this run as JSON or JSON Lines/);
  assert.equal(canExportCsv(levels), true);
});

test('file names name the run, and the format follows the name', () => {
  assert.match(exportFileName(levels, 'csv'), /^audio-levels - tone 2025-01-0\d \d\d\.04\.csv$/);
  assert.equal(exportFileName({ plugin: 'ocr', files: [{ path: '/a.png', items: [] }, { path: '/b.png', items: [] }] }, 'jsonl'), 'ocr - 2 files.jsonl');
  assert.equal(formatOfFileName('x.JSONL'), 'jsonl');
  assert.equal(formatOfFileName('x.ndjson'), 'jsonl');
  assert.equal(formatOfFileName('x.csv'), 'csv');
  assert.equal(formatOfFileName('x.json'), 'json');
  assert.equal(formatOfFileName('x'), 'json');
});
