// The ocr example plugin through the real worker, running the real tesseract on a committed PNG.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { PluginWorker } from '../../src/core/pluginWorker';
import { childRegionsOf, shapeOf } from '../../src/core/resultShapes';
import { waitFor } from '../helpers/waitFor';
import { collect, missingProgram, startExample, workspaceDir } from './exampleWorker';

const skip = missingProgram('tesseract', 'tesseract-ocr tesseract-ocr-eng');
const image = path.join(workspaceDir, 'text.png'); // made by examples/make-samples.sh
const WORDS = ['Remote', 'Plugin', 'Proxy', 'reads', 'this', 'text'];

let worker: PluginWorker;
let dir: string;

before(async () => {
  ({ worker } = await startExample('ocr')); // the plugin itself starts without tesseract
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-ocr-'));
});

after(async () => {
  await worker.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

interface Word {
  text: string;
  confidence: number;
  box: { left: number; top: number; width: number; height: number };
  line: number;
}

test('execute returns the exact words with their boxes and confidences', { skip }, async () => {
  const result = (await worker.execute([image], {})) as { text: string; lines: number; words: Word[] };
  assert.equal(result.text, 'Remote Plugin Proxy\nreads this text');
  assert.equal(result.lines, 2);
  assert.deepEqual(result.words.map((word) => [word.text, word.line]), WORDS.map((word, i) => [word, i < 3 ? 0 : 1]));
  for (const word of result.words) {
    assert.ok(word.confidence > 50 && word.confidence <= 100, `${word.text}: confidence ${word.confidence}`);
    assert.ok(word.box.width > 0 && word.box.height > 0, `${word.text}: box ${JSON.stringify(word.box)}`);
  }
  const [first, second] = result.words;
  assert.ok(first.box.left + first.box.width <= second.box.left, 'words are in reading order, left to right');
});

test('execute_stream yields one item per line', { skip }, async () => {
  const lines = await collect(worker.executeStream([image], {}));
  assert.deepEqual(lines.map((line) => [line.type, line.index, line.text]), [
    ['line', 0, 'Remote Plugin Proxy'],
    ['line', 1, 'reads this text'],
  ]);
  assert.equal(shapeOf(lines), 'regions', 'lines with their words nested: boxes over the image in the panel');
  assert.deepEqual(childRegionsOf(lines[0]!).map((word) => word.text), ['Remote', 'Plugin', 'Proxy']);
  const boxes = lines.map((line) => line.box as Word['box']);
  assert.ok(boxes[0].top + boxes[0].height <= boxes[1].top, 'the second line is below the first');
});

async function pluginError(args: unknown[], kwargs: Record<string, unknown> = {}): Promise<PluginError> {
  const error = await worker.execute(args, kwargs).then(
    () => assert.fail('the call should fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof PluginError, String(error));
  return error;
}

test('a missing tesseract program says how to install it', async () => {
  const error = await pluginError([image], { tesseract_path: 'no-such-tesseract' });
  assert.match(error.message, /The tesseract program \(no-such-tesseract\) was not found\. Install it: `sudo apt-get install tesseract-ocr tesseract-ocr-eng`/);
});

test('a language without its data gets an error that says which package to install', { skip }, async () => {
  assert.match((await pluginError([image], { language: 'xyz' })).message, /no data for the language 'xyz'\. Install it \(`sudo apt-get install tesseract-ocr-xyz`\)/);
});

test('a file that is not an image gets a clear error before tesseract runs', async () => {
  const text = path.join(dir, 'names.txt');
  await fs.writeFile(text, 'a.png\nb.png\n'); // tesseract itself would take this for a list of images
  assert.match((await pluginError([text])).message, /names\.txt is not an image OCR can read; it reads PNG, JPEG/);
});

test('cancelling a call kills the tesseract process', async () => {
  // A stand-in that records its pid and never finishes, like tesseract on a huge scan.
  const pidFile = path.join(dir, 'tesseract.pid');
  const slow = path.join(dir, 'slow-tesseract');
  await fs.writeFile(slow, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 600\n`, { mode: 0o755 });
  const controller = new AbortController();
  const call = collect(worker.executeStream([image], { tesseract_path: slow }, { signal: controller.signal }));
  const pid = await waitForPid(pidFile);
  controller.abort();
  await assert.rejects(call, (error: unknown) => error instanceof PluginError && error.kind === 'cancelled');
  await waitUntilGone(pid);
});

async function waitForPid(file: string): Promise<number> {
  const text = await waitFor(() => fs.readFile(file, 'utf8'), { what: `the stand-in tesseract to write its pid to ${file}`, timeoutMs: 30_000, until: (t) => t.endsWith('\n') });
  return Number(text.trim());
}

/** Resolves once the process no longer exists (a zombie counts as gone). */
async function waitUntilGone(pid: number): Promise<void> {
  await waitFor(() => spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim(), {
    what: `the tesseract process ${pid} to end after the cancel`, timeoutMs: 30_000, until: (state) => state === '' || state.startsWith('Z'),
  });
}
