// A batch over a folder with real workers: the plugin's file types pick the files, two instances run
// them, one failing file fails only itself, progress adds up, a re-run comes from the cache, the run
// can be cancelled (waiting files leave the queue), and results can be written beside the files or
// into a folder; results lines are read back for --resume.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { comparePaths, filesInFolder } from '../../src/core/batchFiles';
import { filesTaken } from '../../src/core/fileRule';
import { endWithNewline, resultFilePath, resultLine, succeededFiles, writeResultFile } from '../../src/core/batchOutput';
import { runBatch, type BatchItem, type BatchProgress } from '../../src/core/batchRun';
import { PluginRegistry } from '../../src/core/registry';
import { fixturePlugins, python } from '../helpers/python';

let dir: string;
let registry: PluginRegistry | undefined;
const folders: string[] = [];

async function setUp(fields: Record<string, unknown> = {}): Promise<{ reg: PluginRegistry; folder: string }> {
  const manifest = { name: 'reader', version: '1.0.0', python_path: python, module: 'batch_plugin', class: 'BatchPlugin', env_vars: { PYTHONPATH: fixturePlugins }, file_types: ['.txt'], max_instances: 2, ...fields };
  await mkdir(path.join(dir, 'plugins'));
  await writeFile(path.join(dir, 'plugins', 'reader.json'), JSON.stringify(manifest));
  const folder = path.join(dir, 'scans');
  await mkdir(path.join(folder, 'part 2'), { recursive: true });
  await mkdir(path.join(folder, '.hidden'));
  for (let i = 1; i <= 6; i++) await writeFile(path.join(folder, i <= 3 ? '' : 'part 2', `page ${i}.txt`), `page ${i}`);
  await writeFile(path.join(folder, 'page 10.txt'), 'page 10');
  await writeFile(path.join(folder, 'bad.txt'), 'this one says FAIL');
  await writeFile(path.join(folder, 'cover.png'), 'not text');
  await writeFile(path.join(folder, '.hidden', 'secret.txt'), 'hidden');
  registry = await PluginRegistry.create({ pluginDirs: [path.join(dir, 'plugins')], includeDefaultDir: false, watch: false, storageDir: path.join(dir, 'storage') });
  return { reg: registry, folder };
}

async function collect(items: AsyncIterable<BatchItem>): Promise<BatchItem[]> {
  const all: BatchItem[] = [];
  for await (const item of items) all.push(item);
  return all;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-batch-'));
  folders.push(dir);
});
afterEach(async () => {
  await registry?.dispose();
  registry = undefined;
});
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

describe('batch', () => {
  test('a folder with one failing file: every file has its outcome, the failure only its own', async () => {
    // A declared need lets both workers start at once; 0.3 s per file keeps both busy.
    const { reg, folder } = await setUp({ resources: { memory_mb: 50 } });
    const all = await filesInFolder(folder);
    assert.deepEqual(all.map((file) => path.relative(folder, file)), ['bad.txt', 'cover.png', 'page 1.txt', 'page 2.txt', 'page 3.txt', 'page 10.txt', 'part 2/page 4.txt', 'part 2/page 5.txt', 'part 2/page 6.txt'], 'sorted, numbers in order, hidden skipped');
    const files = filesTaken(reg.get('reader')!, all);
    assert.equal(files.length, 8, 'the .png is not for this plugin');
    const progress: BatchProgress[] = [];
    const items = await collect(runBatch(reg, 'reader', files, { kwargs: { sleep_s: 0.3 }, onProgress: (p) => progress.push(p) }));
    assert.equal(items.length, 8);
    const failed = items.filter((item) => !item.ok);
    assert.deepEqual(failed.map((item) => path.basename(item.file)), ['bad.txt']);
    assert.equal(failed[0]!.error!.kind, 'plugin');
    assert.match(failed[0]!.error!.message, /cannot read bad\.txt: it says FAIL/);
    const ok = items.filter((item) => item.ok);
    for (const item of ok) assert.equal((item.result as { content: string }).content, path.basename(item.file, '.txt'));
    assert.ok(items.every((item) => item.ms >= 0 && !item.cached));
    const last = progress.at(-1)!;
    assert.deepEqual(last, { total: 8, done: 8, failed: 1, cached: 0, running: 0, queued: 0 });
    assert.ok(progress.some((p) => p.running === 2), 'two files ran at once at some point');
    assert.equal(new Set(ok.map((item) => (item.result as { pid: number }).pid)).size, 2, 'on two workers');

    const again = await collect(runBatch(reg, 'reader', files, { kwargs: { sleep_s: 0.3 } }));
    assert.equal(again.filter((item) => item.cached).length, 7, 'a re-run takes every successful file from the cache');
    assert.equal(again.filter((item) => !item.ok).length, 1, 'the failure is tried again (failures are not cached)');
  });

  test('cancelling a batch: calls waiting in the queue leave at once, nothing is left running', async () => {
    const { reg, folder } = await setUp({ max_instances: 1 });
    const files = filesTaken(reg.get('reader')!, await filesInFolder(folder));
    const abort = new AbortController();
    const items: BatchItem[] = [];
    for await (const item of runBatch(reg, 'reader', files, { signal: abort.signal, kwargs: { sleep_s: 0.3 } })) {
      items.push(item);
      if (items.length === 2) abort.abort();
    }
    assert.equal(items.length, 2, 'cancelled files are not reported as results');
    assert.equal(reg.get('reader')!.queued, 0);
    assert.equal(reg.get('reader')!.running, 0);
  });

  test('results lines, --resume, and result files beside the files or in a folder', async () => {
    const ok: BatchItem = { file: '/data/a.wav', ok: true, result: { text: 'hi' }, ms: 12.345, cached: true };
    const bad: BatchItem = { file: '/data/b.wav', ok: false, error: { kind: 'plugin', message: 'no audio' }, ms: 3, cached: false };
    assert.deepEqual(JSON.parse(resultLine(ok, 'a.wav')), { file: 'a.wav', ok: true, result: { text: 'hi' }, ms: 12.3, cached: true });
    assert.deepEqual(JSON.parse(resultLine(bad)), { file: '/data/b.wav', ok: false, error: { kind: 'plugin', message: 'no audio' }, ms: 3 });

    const results = path.join(dir, 'results.jsonl');
    await writeFile(results, `${resultLine(ok, 'a.wav')}\n${resultLine(bad, 'b.wav')}\n{"file": "c.wav", "ok": tr`);
    const done = await succeededFiles(results, '/data');
    assert.deepEqual([...done], ['/data/a.wav'], 'failed files and the torn last line are not done');
    await endWithNewline(results);
    assert.ok((await readFile(results, 'utf8')).endsWith('tr\n'));
    assert.deepEqual([...(await succeededFiles(path.join(dir, 'none.jsonl'), '/'))], []);

    assert.equal(resultFilePath('/data/sub/take1.wav', 'whisper'), '/data/sub/take1.wav.whisper.json');
    assert.equal(resultFilePath('/data/sub/take1.wav', 'whisper', { folder: '/out', root: '/data' }), '/out/sub/take1.wav.whisper.json');
    assert.equal(resultFilePath('/elsewhere/take1.wav', 'whisper', { folder: '/out', root: '/data' }), '/out/take1.wav.whisper.json');
    const target = path.join(dir, 'out', 'x.wav.p.json');
    await writeResultFile(target, { words: ['a'] });
    assert.ok(existsSync(target));
    assert.deepEqual(JSON.parse(await readFile(target, 'utf8')), { words: ['a'] });
    assert.equal(comparePaths('track 2.wav', 'track 10.wav') < 0, true);
  });
});
