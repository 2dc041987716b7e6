// Shape detection on results of the kinds plugins really return (whisper-like segments, audio-level
// chunks, tesseract lines with nested words, pytesseract's column dict, detector boxes, image tables).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  boxOf, boxesAreRelative, childRegionsOf, kindOf, regionBoxOf, resultsHintOf, scalesOf, segmentOf,
  seriesFieldsOf, shapeOf, unwrapSingle, type JsonObject,
} from '../../src/core/resultShapes';
import { isImagePath, looksLikePath, mediaKindOf } from '../../src/core/mediaFiles';
import { formatDuration, formatSeconds, itemAsText, plural } from '../../src/core/resultText';

test('every documented box convention gives the same box', () => {
  const expected = { x: 10, y: 20, width: 30, height: 40 };
  for (const value of [
    [10, 20, 30, 40],
    { x: 10, y: 20, width: 30, height: 40 },
    { x: 10, y: 20, w: 30, h: 40 },
    { left: 10, top: 20, width: 30, height: 40 },
    { x0: 10, y0: 20, x1: 40, y1: 60 },
    { x1: 40, y1: 60, x2: 10, y2: 20 },
    { xmin: 10, ymin: 20, xmax: 40, ymax: 60 },
  ]) {
    assert.deepEqual(boxOf(value), expected, JSON.stringify(value));
  }
  for (const key of ['bbox', 'box', 'bounding_box', 'boundingBox', 'rect']) {
    assert.deepEqual(regionBoxOf({ [key]: [10, 20, 30, 40], text: 'a' }), expected, key);
  }
  assert.deepEqual(regionBoxOf({ left: 10, top: 20, width: 30, height: 40, conf: 96, text: 'Hello' }), expected, "tesseract's TSV row as a dict");
});

test('things that are not boxes are not taken for boxes', () => {
  for (const value of [[1, 2, 3], [1, 2, 3, 'x'], [1, 2, -3, 4], { width: 640, height: 480 }, { x: 1, y: 2 }, 'box', null, [1, 2, 3, NaN]]) {
    assert.equal(boxOf(value), undefined, JSON.stringify(value));
  }
  assert.equal(regionBoxOf({ file: 'a.png', width: 640, height: 480, format: 'png' }), undefined, 'an image-info row has a size, not a box');
});

test('nested regions: words inside a line', () => {
  const line = { text: 'Hello world', box: { left: 0, top: 0, width: 100, height: 20 },
    words: [{ text: 'Hello', box: { left: 0, top: 0, width: 45, height: 20 } }, { text: 'world', bbox: [55, 0, 45, 20] }] };
  assert.equal(kindOf(line), 'region');
  assert.deepEqual(childRegionsOf(line).map((word) => word.text), ['Hello', 'world']);
});

test('segments: start/end in seconds with a label from text, label, word, name or speaker', () => {
  assert.deepEqual(segmentOf({ start: 1.5, end: 2, text: 'open file' }), { start: 1.5, end: 2, label: 'open file' });
  assert.deepEqual(segmentOf({ start: 0, end: 4, speaker: 'SPEAKER_01' }), { start: 0, end: 4, label: 'SPEAKER_01' });
  assert.deepEqual(segmentOf({ start_time: 3, end_time: 5 }), { start: 3, end: 5, label: undefined });
  assert.equal(segmentOf({ start: 3, end: 1, text: 'backwards' }), undefined);
  assert.equal(segmentOf({ start: '0', end: '1' }), undefined);
});

test('the kind of each item, and summaries', () => {
  assert.equal(kindOf('a token'), 'text');
  assert.equal(kindOf(42), 'other');
  assert.equal(kindOf({ type: 'chunk', index: 3, time: 0.3, end: 0.4, rms: 0.25, dbfs: null }), 'point');
  assert.equal(kindOf({ type: 'done', chunks: 10, rms: 0.25 }), 'summary');
  assert.equal(kindOf({ event: 'Summary', total: 3 }), 'summary');
  assert.equal(kindOf({ type: 'command', index: 0, text: 'next slide', start: 0.5, end: 1.2, words: [{ word: 'next' }] }), 'segment');
  assert.equal(kindOf({ file: 'a.png', width: 3, height: 4, animated: false, note: null }), 'row');
  assert.equal(kindOf({ file: 'a.png', tags: ['x'] }), 'other');
  assert.equal(kindOf({ time: 3, label: 'only a time' }), 'row', 'a time without a number is no point');
});

test('a file takes the shape most of its items have; stray items do not change it', () => {
  const info = { type: 'info', channels: 1, sample_rate: 16000 };
  const chunks = Array.from({ length: 15 }, (_, i) => ({ type: 'chunk', index: i, time: i / 10, end: (i + 1) / 10, rms: 0.1, dbfs: -20 }));
  assert.equal(shapeOf([info, ...chunks, { type: 'done', rms: 0.1 }]), 'series');
  assert.equal(shapeOf([{ start: 0, end: 1, text: 'a' }, { start: 1, end: 2, text: 'b' }, { note: ['x'] }]), 'segments');
  assert.equal(shapeOf([{ bbox: [1, 2, 3, 4], label: 'cat', score: 0.9 }]), 'regions');
  assert.equal(shapeOf([{ a: 1, b: 'x' }, { a: 2, b: 'y' }]), 'table');
  assert.equal(shapeOf([{ time: 1, value: 2 }]), 'table', 'one point is a row, not a plot');
  assert.equal(shapeOf(['Hel', 'lo ', 'world']), 'text');
  assert.equal(shapeOf([{ deep: { nested: [1, 2] } }, [1, 2]]), 'json');
  assert.equal(shapeOf([{ type: 'done' }]), 'empty');
  assert.equal(shapeOf([]), 'empty');
});

test("a manifest's renderer wins when some item fits it (or none has arrived yet)", () => {
  const rows = [{ time: 1, value: 2 }, { time: 2, value: 3 }];
  assert.equal(shapeOf(rows), 'series');
  assert.equal(shapeOf(rows, 'table'), 'table');
  assert.equal(shapeOf(rows, 'json'), 'json');
  assert.equal(shapeOf([], 'segments'), 'segments');
  assert.equal(shapeOf(rows, 'segments'), 'series', 'no item is a segment: the hint cannot apply');
  assert.equal(resultsHintOf('regions'), 'regions');
  assert.equal(resultsHintOf('pie-chart'), undefined);
  assert.equal(resultsHintOf(3), undefined);
});

test('a single result is opened up to the list it holds', () => {
  const words = [{ text: 'Hi', box: { left: 1, top: 2, width: 3, height: 4 } }];
  assert.deepEqual(unwrapSingle({ text: 'Hi', lines: 1, words }), { items: words, rest: { text: 'Hi', lines: 1 } });
  assert.deepEqual(unwrapSingle([1, 2]), { items: [1, 2] });
  assert.equal(unwrapSingle({ file: 'a', width: 3 }), undefined);
  assert.equal(unwrapSingle({ tags: ['a', 'b'] }), undefined, 'a list of strings has no shape to render');
  const columns = { level: [5, 5], left: [1, 10], top: [2, 2], width: [8, 9], height: [5, 5], conf: [90, 80], text: ['a', 'b'] };
  const unwrapped = unwrapSingle(columns);
  assert.deepEqual(unwrapped?.items, [
    { level: 5, left: 1, top: 2, width: 8, height: 5, conf: 90, text: 'a' },
    { level: 5, left: 10, top: 2, width: 9, height: 5, conf: 80, text: 'b' },
  ], "pytesseract's Output.DICT becomes rows");
  assert.equal(shapeOf(unwrapped!.items), 'regions');
});

test('series fields: measurements shown, counters hidden at first, scales by magnitude', () => {
  const points: JsonObject[] = [{ type: 'chunk', index: 0, time: 0, end: 0.1, rms: 0.1, dbfs: -20 }, { index: 1, time: 0.1, end: 0.2, rms: 0.2, dbfs: -14, peak: 0.5 }];
  assert.deepEqual(seriesFieldsOf(points), [
    { key: 'index', hidden: true }, { key: 'end', hidden: true }, { key: 'rms', hidden: false }, { key: 'dbfs', hidden: false }, { key: 'peak', hidden: false },
  ]);
  assert.deepEqual(seriesFieldsOf([{ t: 0, index: 1 }, { t: 1, index: 2 }]), [{ key: 'index', hidden: false }], 'counters are shown when nothing else is');
  assert.deepEqual(scalesOf([{ key: 'rms', min: 0, max: 0.3 }, { key: 'dbfs', min: -60, max: -3 }, { key: 'peak', min: 0, max: 0.9 }]), { rms: 'y', dbfs: 'y2', peak: 'y' });
  assert.deepEqual(scalesOf([{ key: 'index', min: 0, max: 29, hidden: true }, { key: 'rms', min: 0, max: 0.3 }, { key: 'dbfs', min: -60, max: -3 }]),
    { index: 'y2', rms: 'y', dbfs: 'y2' }, 'a hidden counter does not choose the left scale');
});

test('relative boxes are recognised (all within 0..1, some fractional)', () => {
  assert.equal(boxesAreRelative([{ x: 0.1, y: 0.2, width: 0.3, height: 0.1 }]), true);
  assert.equal(boxesAreRelative([{ x: 0, y: 0, width: 1, height: 1 }]), false, 'a 1-pixel box at the origin');
  assert.equal(boxesAreRelative([{ x: 10, y: 0.2, width: 0.3, height: 0.1 }]), false);
});

test('media kinds and strings that may be paths', () => {
  assert.equal(mediaKindOf('/a/b/Talk.MP3'), 'audio');
  assert.equal(mediaKindOf('clip.webm'), 'video');
  assert.equal(mediaKindOf('C:\\scans\\page.tiff'), undefined, 'Chromium cannot show TIFF');
  assert.equal(isImagePath('x/y.jpeg'), true);
  for (const yes of ['/tmp/out.png', '~/a.txt', 'C:\\x\\y.png', 'masks/0001.png', 'thumb.jpg', 'My Photos/a b.png']) assert.ok(looksLikePath(yes), yes);
  for (const no of ['hello world', '1.0.0', '3.14', 'https://example.com/a.png', 'a\nb.png', 'no-extension', 'x', 'e.g. this']) assert.ok(!looksLikePath(no), no);
});

test('one line of text per item, times as people write them', () => {
  assert.equal(itemAsText('plain'), 'plain');
  assert.equal(itemAsText({ start: 61.25, end: 63, text: 'hi' }), '[1:01.3 → 1:03.0] hi');
  assert.equal(itemAsText({ a: 1 }), '{"a":1}');
  assert.equal(formatSeconds(3725.5), '1:02:05.5');
  assert.equal(formatSeconds(0.04), '0:00.0');
  assert.equal(formatDuration(950), '950 ms');
  assert.equal(formatDuration(1500), '1.5 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
  assert.equal(plural(1, 'item'), '1 item');
  assert.equal(plural(100000, 'item'), '100,000 items');
});
