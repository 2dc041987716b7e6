// The queue, the instances and the admission with real workers: N instances really run in parallel
// (their time windows, measured inside the plugin, overlap), calls keep FIFO order and leave the queue
// when cancelled, a declared need larger than what is free waits (the free memory is the budget the
// test sets, not the machine's), an idle worker of another plugin is evicted least recently used first,
// the measured peak is remembered across a restart of the registry, and GPU memory is read from a FAKE
// nvidia-smi (this machine has no GPU; the fake prints what a real one prints for the same queries).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { CallProgress } from '../../src/core/pluginCall';
import { PluginRegistry, type RegistryOptions } from '../../src/core/registry';
import { writeFakeNvidiaSmi } from '../helpers/fakeNvidiaSmi';
import { fixturePlugins, python } from '../helpers/python';

interface CallResult {
  pid: number;
  start: number;
  end: number;
  calls: number;
  tag: string | null;
}

const MB = 1024 * 1024;
let dir: string;
let registry: PluginRegistry | undefined;
const folders: string[] = [];

async function writeManifest(name: string, fields: Record<string, unknown> = {}): Promise<void> {
  const manifest = { name, version: '1.0.0', python_path: python, module: 'batch_plugin', class: 'BatchPlugin', env_vars: { PYTHONPATH: fixturePlugins }, ...fields };
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify(manifest));
}

async function open(options: Partial<RegistryOptions> = {}): Promise<PluginRegistry> {
  registry = await PluginRegistry.create({ pluginDirs: [dir], includeDefaultDir: false, watch: false, storageDir: path.join(dir, 'storage'), ...options });
  return registry;
}

/** Waits until the condition holds, or fails saying what it waited for. */
async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-instances-'));
  folders.push(dir);
});
afterEach(async () => {
  await registry?.dispose();
  registry = undefined;
});
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

describe('instances', () => {
  test('with max_instances 2, two workers run calls at the same time (overlapping windows, different pids)', async () => {
    await writeManifest('par', { max_instances: 2 });
    const reg = await open();
    const go = path.join(dir, 'go');
    const log = path.join(dir, 'entered.log');
    const calls = [1, 2, 3, 4].map((i) => reg.execute('par', { kwargs: { wait_for: go, log, tag: `c${i}` } }));
    // Both calls are inside the plugin before either may finish: their windows must overlap.
    await until('two calls to be inside the plugin at once', () => existsSync(log) && readFileSync(log, 'utf8').trim().split('\n').length === 2);
    assert.equal(reg.get('par')!.running, 2);
    assert.equal(reg.get('par')!.queued, 2, 'the other two wait in the queue');
    await writeFile(go, '');
    const results = (await Promise.all(calls)) as CallResult[];
    const pids = [...new Set(results.map((r) => r.pid))];
    assert.equal(pids.length, 2, 'two workers served the four calls');
    const [a, b] = pids.map((pid) => results.filter((r) => r.pid === pid));
    const overlaps = a!.some((x) => b!.some((y) => x.start < y.end && y.start < x.end));
    assert.ok(overlaps, `calls on different workers overlap in time: ${JSON.stringify(results.map((r) => [r.pid, r.start, r.end]))}`);
    const info = reg.get('par')!;
    assert.equal(info.maxInstances, 2);
    assert.equal(info.workers.length, 2);
    assert.equal(info.state, 'ready');
  });

  test('the setting overrides max_instances; extra workers stop after the idle time-out like the first', async () => {
    await writeManifest('over', { max_instances: 1, idle_timeout_s: 1.5 });
    const reg = await open({ maxInstances: { over: 3 } });
    const go = path.join(dir, 'go');
    const calls = [1, 2, 3].map(() => reg.execute('over', { kwargs: { wait_for: go } }));
    await until('three calls to run at once', () => reg.get('over')!.running === 3);
    await writeFile(go, '');
    const results = (await Promise.all(calls)) as CallResult[];
    assert.equal(new Set(results.map((r) => r.pid)).size, 3);
    assert.equal(reg.get('over')!.maxInstances, 3);
    await until('every worker to stop after 1.5 s idle', () => reg.get('over')!.workers.length === 0);
    await until('the processes to be gone', () => results.every((r) => !alive(r.pid)));
    assert.equal(reg.get('over')!.state, 'stopped');
  });

  test('calls run in FIFO order; a queued call cancelled before it starts leaves at once and never runs', async () => {
    await writeManifest('fifo');
    const reg = await open();
    const log = path.join(dir, 'calls.log');
    const first = reg.execute('fifo', { kwargs: { sleep_s: 1.0, log, tag: 'first' } });
    await until('the first call to run', () => reg.get('fifo')!.running === 1);
    const abort = new AbortController();
    const positions: Array<[string, number]> = [];
    const queued = ['q1', 'q2', 'q3', 'q4'].map((tag) =>
      reg.execute('fifo', {
        kwargs: { log, tag },
        signal: tag === 'q2' ? abort.signal : undefined,
        onProgress: (progress: CallProgress) => {
          if (progress.kind === 'queued') positions.push([tag, progress.position]);
        },
      }),
    );
    await until('four calls to wait in the queue', () => reg.get('fifo')!.queued === 4);
    abort.abort();
    await assert.rejects(queued[1]!, (error: PluginError) => error.kind === 'cancelled' && /before it started/.test(error.message));
    assert.equal(reg.get('fifo')!.queued, 3, 'the cancelled call left the queue at once');
    assert.equal(reg.get('fifo')!.running, 1, 'while the first call still runs');
    const done = (await Promise.all([first, queued[0], queued[2], queued[3]])) as CallResult[];
    const order = (await readFile(log, 'utf8')).trim().split('\n');
    assert.deepEqual(order, ['first', 'q1', 'q3', 'q4'], 'in arrival order, without the cancelled call');
    assert.ok(done.every((r, i) => i === 0 || r.start >= done[i - 1]!.end), 'one after another on the one worker');
    assert.deepEqual(positions.filter(([tag]) => tag === 'q4').map(([, position]) => position), [4, 3, 2, 1], 'q4 saw its place move up as calls left');
  });

  test('Stop cancels the calls still waiting in the queue', async () => {
    await writeManifest('stopq');
    const reg = await open();
    const running = reg.execute('stopq', { kwargs: { sleep_s: 30 } });
    await until('the call to run', () => reg.get('stopq')!.running === 1);
    const waiting = reg.execute('stopq', {});
    await until('the second call to wait', () => reg.get('stopq')!.queued === 1);
    const outcomes = Promise.all([
      assert.rejects(running, (error: PluginError) => error.kind === 'cancelled'),
      assert.rejects(waiting, (error: PluginError) => error.kind === 'cancelled' && /was stopped; the call did not run/.test(error.message)),
    ]);
    await reg.stop('stopq');
    await outcomes;
    assert.equal(reg.get('stopq')!.state, 'stopped');
  });
});

describe('admission', () => {
  test('a declared need above what is free (under the budget) waits with the reason, and starts when room is made', async () => {
    await writeManifest('big-a', { resources: { memory_mb: 400 } });
    await writeManifest('big-b', { resources: { memory_mb: 400 } });
    const reg = await open({ memoryBudgetMb: 600, evictIdleWorkers: false });
    const a = reg.execute('big-a', { kwargs: { sleep_s: 0.2 } });
    await a;
    const waits: string[] = [];
    const b = reg.execute('big-b', { onProgress: (p) => p.kind === 'waiting' && waits.push(p.reason) });
    await until('big-b to wait for memory', () => reg.get('big-b')!.waitingFor !== undefined);
    assert.equal(reg.get('big-b')!.waitingFor, 'waiting for 400 MB of memory; 200 MB free');
    assert.deepEqual(waits, ['waiting for 400 MB of memory; 200 MB free'], 'the call is told why it waits');
    assert.equal(reg.get('big-b')!.state, 'starting');
    assert.equal(reg.get('big-b')!.workers.length, 0, 'no worker started');
    await reg.stop('big-a'); // room is made
    const result = (await b) as CallResult;
    assert.ok(result.pid > 0);
    assert.equal(reg.get('big-b')!.waitingFor, undefined);
  });

  test('a need above the whole budget fails at once, naming the budget', async () => {
    await writeManifest('huge', { resources: { memory_mb: 2048 } });
    const reg = await open({ memoryBudgetMb: 1000 });
    await assert.rejects(reg.execute('huge', {}), (error: PluginError) => error.kind === 'start' && /needs 2\.0 GB of memory to start, but the memory budget is 1000 MB/.test(error.message));
    assert.match(reg.get('huge')!.lastError?.message ?? '', /memory budget/);
  });

  test('an idle worker of another plugin is evicted, least recently used first, to admit a worker', async () => {
    await writeManifest('old', { resources: { memory_mb: 300 } });
    await writeManifest('recent', { resources: { memory_mb: 100 } });
    await writeManifest('newcomer', { resources: { memory_mb: 300 } });
    const reg = await open({ memoryBudgetMb: 600 });
    const oldPid = ((await reg.execute('old', {})) as CallResult).pid;
    const recentPid = ((await reg.execute('recent', {})) as CallResult).pid;
    const logs: string[] = [];
    reg.onLog((event) => logs.push(event.message));
    const result = (await reg.execute('newcomer', {})) as CallResult;
    assert.ok(result.pid > 0, 'the newcomer ran');
    assert.equal(reg.get('old')!.state, 'stopped', 'the least recently used idle worker was stopped');
    assert.ok(!alive(oldPid));
    assert.equal(reg.get('recent')!.state, 'ready', 'the more recently used one was enough to keep');
    assert.ok(alive(recentPid));
    assert.ok(logs.some((line) => /stopping idle "old"/.test(line)), logs.join('\n'));
  });

  test('with eviction off, an idle worker is not stopped: the newcomer waits', async () => {
    await writeManifest('keep', { resources: { memory_mb: 500 } });
    await writeManifest('late', { resources: { memory_mb: 300 } });
    const reg = await open({ memoryBudgetMb: 600, evictIdleWorkers: false });
    await reg.execute('keep', {});
    const abort = new AbortController();
    const late = reg.execute('late', { signal: abort.signal });
    await until('late to wait', () => reg.get('late')!.waitingFor !== undefined);
    assert.equal(reg.get('keep')!.state, 'ready');
    abort.abort();
    await assert.rejects(late, (error: PluginError) => error.kind === 'cancelled');
    await until('the withdrawn start to clear', () => reg.get('late')!.state === 'stopped');
  });

  test('the measured peak of a worker is remembered per plugin and configuration across a restart, and counts instead of the manifest', async () => {
    await writeManifest('grow', { resources: { memory_mb: 10 } });
    const first = await open();
    await first.execute('grow', { kwargs: { hold_mb: 120 } });
    await until('the worker to be measured', () => (first.get('grow')!.workers[0]?.memoryBytes ?? 0) > 120 * MB);
    await first.dispose(); // the worker's life ends: its peak is recorded and saved
    registry = undefined;
    const stored = JSON.parse(await readFile(path.join(dir, 'storage', 'resources.json'), 'utf8')) as { records: Record<string, { peaks: number[][] }> };
    const [key, record] = Object.entries(stored.records)[0]!;
    assert.match(key, /^grow@1\.0\.0#/);
    assert.ok(record.peaks[0]![0]! > 120 * MB, `peak ${Math.round(record.peaks[0]![0]! / MB)} MB`);
    const second = await open({ memoryBudgetMb: 100 });
    await assert.rejects(second.execute('grow', {}), (error: PluginError) => {
      const needed = /needs (\d+) MB/.exec(error.message);
      assert.ok(needed && Number(needed[1]) > 120, `the measured need (not the declared 10 MB) counts: ${error.message}`);
      return true;
    });
  });
});

describe('GPU (FAKE nvidia-smi on PATH: this machine has no GPU)', () => {
  let savedPath: string | undefined;
  beforeEach(() => {
    savedPath = process.env.PATH;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  test("a worker's GPU memory comes from --query-compute-apps, and a GPU need waits for room on a GPU", async () => {
    const fake = path.join(dir, 'fake-gpu');
    await writeFakeNvidiaSmi(fake, '0, GPU-aaaa-1111, 24576, 20000\n', '');
    process.env.PATH = `${fake}${path.delimiter}${savedPath}`;
    await writeManifest('cuda', { resources: { memory_mb: 50, gpu_memory_mb: 8000 } });
    await writeManifest('vision', { resources: { gpu_memory_mb: 8000 } });
    const reg = await open();
    await reg.start('cuda');
    const pid = reg.get('cuda')!.pid!;
    await writeFile(path.join(fake, 'apps.csv'), `${pid}, GPU-aaaa-1111, 1234\n99999999, GPU-aaaa-1111, 4000\n`);
    await reg.execute('cuda', {});
    await until('the GPU memory of the worker to be read', () => reg.get('cuda')!.workers[0]?.gpuMemoryBytes === 1234 * MB);

    // The GPU now has 2 GB free: a second plugin that needs 8000 MB waits. The idle "cuda" worker may still
    // grow into its declared 8000 MB, so it is stopped first (eviction); then "vision" waits for 2 GB more.
    await writeFile(path.join(fake, 'gpus.csv'), '0, GPU-aaaa-1111, 24576, 2048\n');
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the monitor's figures are fresh for 1 s
    const vision = reg.execute('vision', {});
    await until('vision to wait for the GPU memory that is free', () => reg.get('vision')!.waitingFor === 'waiting for 7.8 GB of GPU memory; 2.0 GB free');
    assert.equal(reg.get('cuda')!.state, 'stopped', 'the idle worker holding GPU room was evicted');
    await writeFile(path.join(fake, 'gpus.csv'), '0, GPU-aaaa-1111, 24576, 20480\n');
    assert.ok(((await vision) as CallResult).pid > 0, 'started once the GPU had room');
  });
});
