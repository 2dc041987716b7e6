// The run history's storage: runs recorded as they stream, listed newest first, read back exactly,
// capped (oldest finished runs dropped), interrupted runs kept with what had arrived, whether the host
// said goodbye (interruptAll) or was killed (a real child process recording, then SIGKILL).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { RunHistory, itemsFileName, type RunInit } from '../../src/core/runHistory';

const roots: string[] = [];
after(() => { for (const root of roots) fs.rmSync(root, { recursive: true, force: true }); });

function tempHistory(limits = { maxRuns: 100, maxBytes: 1e9 }): RunHistory {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rpp-history-test-'));
  roots.push(root);
  return new RunHistory(path.join(root, 'runs'), limits);
}

const init = (plugin = 'audio-levels', targets = ['/data/tone.wav']): RunInit => ({
  plugin, pluginVersion: '1.0.0', mode: 'stream', targets, config: { chunk_ms: 100 }, kwargs: { channel: 'mix' },
});

function record(history: RunHistory, items: unknown[][], status: 'done' | 'failed' | 'cancelled' = 'done', plugin?: string): string {
  const recorder = history.start(init(plugin, items.map((_, i) => `/data/file${i}.wav`)));
  items.forEach((fileItems, index) => {
    recorder.beginFile(`/data/file${index}.wav`);
    for (const item of fileItems) recorder.append(item);
    recorder.endFile(status === 'failed' ? { error: 'boom' } : {});
  });
  recorder.finish(status);
  return recorder.id;
}

test('a run is stored as it streams and read back exactly, with what ran and how', async () => {
  const history = tempHistory();
  const recorder = history.start(init());
  recorder.beginFile('/data/tone.wav');
  const items = [{ type: 'info', text: 'héllo 🎤' }, 'a string', [1, 2, { deep: null }], 42, null];
  for (const item of items) recorder.append(item);
  let listed = await history.list();
  assert.equal(listed[0]?.status, 'running');
  recorder.endFile({});
  recorder.finish('done');
  listed = await history.list();
  assert.equal(listed.length, 1);
  const run = listed[0]!;
  assert.equal(run.status, 'done');
  assert.equal(run.plugin, 'audio-levels');
  assert.equal(run.pluginVersion, '1.0.0');
  assert.deepEqual(run.config, { chunk_ms: 100 });
  assert.deepEqual(run.kwargs, { channel: 'mix' });
  assert.deepEqual(run.files, [{ path: '/data/tone.wav', items: 5, ended: true }]);
  assert.equal(run.items, 5);
  assert.ok(run.durationMs !== undefined && run.durationMs >= 0);
  assert.equal(run.owner, undefined);
  const stored = await history.readItems(run);
  assert.deepEqual(stored, { files: [items], unreadableLines: 0 });
  assert.equal(run.bytes, fs.statSync(path.join(history.dir, run.id, itemsFileName(0))).size);
});

test('several files, newest run first, failures and cancellations kept', async () => {
  const history = tempHistory();
  const first = record(history, [[{ a: 1 }], [{ a: 2 }, { a: 3 }]]);
  const second = record(history, [[{ b: 1 }]], 'failed');
  const third = record(history, [[]], 'cancelled');
  const runs = await history.list();
  assert.deepEqual(runs.map((run) => run.id), [third, second, first]);
  assert.deepEqual(runs.map((run) => run.status), ['cancelled', 'failed', 'done']);
  assert.equal(runs[1]!.files[0]!.error, 'boom');
  assert.equal(runs[1]!.errors, 1);
  assert.deepEqual((await history.readItems(runs[2]!)).files, [[{ a: 1 }], [{ a: 2 }, { a: 3 }]]);
});

test('100,000 items are stored and read back (the size a long stream reaches)', async () => {
  const history = tempHistory();
  const recorder = history.start(init());
  recorder.beginFile('/data/long.wav');
  for (let i = 0; i < 100_000; i++) recorder.append({ time: i / 10, rms: (i % 100) / 100 });
  recorder.endFile({});
  recorder.finish('done');
  const [run] = await history.list();
  const { files } = await history.readItems(run!);
  assert.equal(files[0]!.length, 100_000);
  assert.deepEqual(files[0]![99_999], { time: 9999.9, rms: 0.99 });
});

test('the history is capped: the oldest finished runs go first, by count and by size', async () => {
  const history = tempHistory({ maxRuns: 3, maxBytes: 1e9 });
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(record(history, [[{ i }]]));
  await history.prune();
  assert.deepEqual((await history.list()).map((run) => run.id), ids.slice(2).reverse());
  const running = history.start(init());
  running.beginFile('/data/x.wav');
  await history.setLimits({ maxRuns: 2, maxBytes: 1e9 });
  assert.deepEqual((await history.list()).map((run) => run.id), [running.id, ids[4]], 'a running run is never dropped, and counts');
  running.finish('done');
  const sized = tempHistory({ maxRuns: 100, maxBytes: 1e9 });
  record(sized, [[{ x: 'small' }]]);
  record(sized, [[{ x: 'small too' }]]);
  const newest = record(sized, [[{ x: 'y'.repeat(5000) }]]);
  await sized.setLimits({ maxRuns: 100, maxBytes: 4000 });
  assert.deepEqual((await sized.list()).map((run) => run.id), [newest], 'over the size cap: everything older than what fits goes');
  const fits = tempHistory({ maxRuns: 100, maxBytes: 1e9 });
  record(fits, [[{ x: 'a'.repeat(1000) }]]);
  const b = record(fits, [[{ x: 'b'.repeat(1000) }]]);
  const c = record(fits, [[{ x: 'c'.repeat(1000) }]]);
  await fits.setLimits({ maxRuns: 100, maxBytes: 2100 });
  assert.deepEqual((await fits.list()).map((run) => run.id), [c, b], 'the oldest run goes when the size cap is reached');
});

test('delete and Clear History remove runs; a run still recording stays', async () => {
  const history = tempHistory();
  const a = record(history, [[1]]);
  const b = record(history, [[2]]);
  assert.equal(await history.delete(a), true);
  assert.deepEqual((await history.list()).map((run) => run.id), [b]);
  assert.equal(await history.delete('../../etc'), false, 'only run folders can be deleted');
  const running = history.start(init());
  assert.equal(await history.delete(running.id), false);
  assert.equal(await history.clear(), 1);
  assert.deepEqual((await history.list()).map((run) => run.id), [running.id]);
  running.finish('done');
});

test('interruptAll keeps a streaming run as interrupted with every item that had arrived', async () => {
  const history = tempHistory();
  const recorder = history.start(init());
  recorder.beginFile('/data/tone.wav');
  for (let i = 0; i < 7; i++) recorder.append({ i });
  history.interruptAll();
  recorder.append({ i: 'after' });
  recorder.finish('failed');
  const [run] = await history.list();
  assert.equal(run!.status, 'interrupted');
  assert.equal(run!.items, 7);
  assert.deepEqual((await history.readItems(run!)).files[0], Array.from({ length: 7 }, (_, i) => ({ i })));
});

test('a run whose host was killed mid-stream is found and sealed as interrupted, a torn line counted', async () => {
  const history = tempHistory();
  // A real process records a run and is killed with SIGKILL while its items are on disk.
  const script = `
    import { RunHistory } from ${JSON.stringify(path.resolve('src/core/runHistory.ts'))};
    const history = new RunHistory(${JSON.stringify(history.dir)}, { maxRuns: 100, maxBytes: 1e9 });
    const recorder = history.start({ plugin: 'p', mode: 'stream', targets: ['/f.wav'] });
    recorder.beginFile('/f.wav');
    for (let i = 0; i < 1000; i++) recorder.append({ i });
    setTimeout(() => { console.log('written'); setInterval(() => {}, 1000); }, 400);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('the recording process did not report "written" within 60 s')), 60_000);
    child.stdout.on('data', (data: Buffer) => { if (data.toString().includes('written')) { clearTimeout(deadline); resolve(); } });
    child.once('exit', (code) => reject(new Error(`the recording process exited early (${code})`)));
  });
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const [before] = fs.readdirSync(history.dir);
  fs.appendFileSync(path.join(history.dir, before!, itemsFileName(0)), '{"i": 10');
  const [run] = await history.list();
  assert.equal(run!.status, 'interrupted');
  assert.equal(run!.owner, undefined);
  const stored = await history.readItems(run!);
  assert.equal(stored.files[0]!.length, 1000);
  assert.equal(stored.unreadableLines, 1);
  const again = await history.get(run!.id);
  assert.equal(again?.status, 'interrupted', 'sealed on disk, not only in the listing');
});

test('folders that are not runs, and runs of another format, are skipped', async () => {
  const history = tempHistory();
  const id = record(history, [[1]]);
  fs.mkdirSync(path.join(history.dir, 'not-a-run'));
  const future = '20990101T000000000Z-abcdef';
  fs.mkdirSync(path.join(history.dir, future));
  fs.writeFileSync(path.join(history.dir, future, 'run.json'), JSON.stringify({ format: 99, id: future }));
  assert.deepEqual((await history.list()).map((run) => run.id), [id]);
});

test('a history whose folder cannot be written loses the recording, never the run', async () => {
  const history = tempHistory();
  fs.mkdirSync(path.dirname(history.dir), { recursive: true });
  fs.writeFileSync(history.dir, 'a file where the folder should be');
  const recorder = history.start(init());
  recorder.beginFile('/data/x.wav');
  recorder.append({ a: 1 });
  recorder.endFile({});
  recorder.finish('done');
  assert.match(recorder.writeError ?? '', /EEXIST|ENOTDIR/);
});
