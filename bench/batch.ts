// Batch figures for `npm run bench` (called from bench/run.ts): 200 small files through a plugin that
// does 20 ms of CPU work per file with 1 vs 2 instances (warm), the queue's own cost per call (a call
// through the registry vs the same call straight to a worker), a cached re-run of the 200 files in a new
// registry (the hash check included), and the time to the first result of a cold batch.
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBatch } from '../src/core/batchRun';
import { InstancePool } from '../src/core/instancePool';
import type { Manifest } from '../src/core/manifest';
import { PluginRegistry, type RegistryOptions } from '../src/core/registry';
import { PluginWorker } from '../src/core/pluginWorker';
import { fixturePlugins, python, workerScript } from '../test/helpers/python';

type Record = (name: string, value: number, unit: string, baseline: string, baselineValue: number) => void;

const FILES = 200;
const CPU_MS = 20;
const PLUGIN = 'batch-bench';

const now = () => performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchBatch(record: Record): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-bench-batch-'));
  try {
    const manifest = {
      name: PLUGIN,
      version: '1.0.0',
      python_path: python,
      module: 'batch_plugin',
      class: 'BatchPlugin',
      env_vars: { PYTHONPATH: fixturePlugins },
      resources: { memory_mb: 30 }, // known need: both workers may start at once
    };
    await writeFile(path.join(dir, `${PLUGIN}.json`), JSON.stringify(manifest));
    const files = await smallFiles(dir);
    const open = (options: Partial<RegistryOptions>) =>
      PluginRegistry.create({ pluginDirs: [dir], includeDefaultDir: false, watch: false, storageDir: path.join(dir, 'storage'), idleTimeoutMs: 0, ...options });

    const one = await timeBatch(await open({ cache: false, maxInstances: { [PLUGIN]: 1 } }), files);
    const two = await timeBatch(await open({ cache: false, maxInstances: { [PLUGIN]: 2 } }), files);
    record(`batch: ${FILES} files × ${CPU_MS} ms CPU, 2 instances`, two.seconds, 's', '1 instance', one.seconds);
    record('batch: speed-up of 2 instances', one.seconds / two.seconds, '×', 'target', 1.8);

    await queueOverhead(dir, open, files[0]!, record);
    await poolAlone(record);
    await cachedRerun(open, files, record);
    await firstResult(open, files, manifest as unknown as Manifest, dir, record);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** 200 small text files, last written a minute ago (a folder of old recordings, not files being written). */
async function smallFiles(dir: string): Promise<string[]> {
  const folder = path.join(dir, 'files');
  const files = Array.from({ length: FILES }, (_, i) => path.join(folder, `file-${String(i).padStart(3, '0')}.txt`));
  await mkdir(folder, { recursive: true });
  const then = new Date(Date.now() - 60_000);
  for (const [i, file] of files.entries()) {
    await writeFile(file, `small file ${i}\n`.repeat(20));
    await utimes(file, then, then);
  }
  return files;
}

/** Warms the workers with a few files, then times the whole batch; disposes the registry. */
async function timeBatch(registry: PluginRegistry, files: string[]): Promise<{ seconds: number }> {
  try {
    for await (const item of runBatch(registry, PLUGIN, files.slice(0, 8), { kwargs: { cpu_ms: CPU_MS } })) if (!item.ok) throw new Error(item.error?.message);
    const started = now();
    let count = 0;
    for await (const item of runBatch(registry, PLUGIN, files, { kwargs: { cpu_ms: CPU_MS } })) {
      if (!item.ok) throw new Error(`batch failed on ${item.file}: ${item.error?.message}`);
      count++;
    }
    if (count !== files.length) throw new Error(`batch delivered ${count} of ${files.length} results`);
    return { seconds: (now() - started) / 1000 };
  } finally {
    await registry.dispose();
  }
}

/**
 * The queue's own cost: the median call through the registry (queue, pool, counts) vs the same call
 * straight to a worker, interleaved call by call so that both see the same machine load.
 */
async function queueOverhead(dir: string, open: (o: Partial<RegistryOptions>) => Promise<PluginRegistry>, file: string, record: Record): Promise<void> {
  const N = 500;
  const registry = await open({ cache: false });
  const manifest: Manifest = { name: PLUGIN, version: '1.0.0', python_path: python, module: 'batch_plugin', class: 'BatchPlugin', env_vars: { PYTHONPATH: fixturePlugins } };
  const worker = await PluginWorker.start({ manifest, manifestPath: path.join(dir, `${PLUGIN}.json`), pythonExecutable: python, workerScript, startupTimeoutMs: 30_000 });
  const viaQueue: number[] = [];
  const direct: number[] = [];
  // The host's own CPU time per call is what the queue adds; wall time also carries the machine's load.
  const cpu = { viaQueue: 0, direct: 0 };
  try {
    for (let i = 0; i < 100; i++) {
      await registry.execute(PLUGIN, { file: { path: file } });
      await worker.execute([file], {});
    }
    for (let i = 0; i < N; i++) {
      let t = now();
      let c = process.cpuUsage();
      await registry.execute(PLUGIN, { file: { path: file } });
      viaQueue.push(now() - t);
      cpu.viaQueue += cpuMs(process.cpuUsage(c));
      t = now();
      c = process.cpuUsage();
      await worker.execute([file], {});
      direct.push(now() - t);
      cpu.direct += cpuMs(process.cpuUsage(c));
    }
  } finally {
    await Promise.all([registry.dispose(), worker.dispose()]);
  }
  record('queue: call through the registry, median', median(viaQueue), 'ms', 'worker.execute directly', median(direct));
  record('queue: cost per call (median difference)', median(viaQueue) - median(direct), 'ms', 'target', 0.5);
  record('queue: host CPU per call through the registry', cpu.viaQueue / N, 'ms', 'worker.execute directly', cpu.direct / N);
  record('queue: host CPU cost per call (difference)', (cpu.viaQueue - cpu.direct) / N, 'ms', 'target', 0.5);
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

/** The queue and pool by themselves (no process, no socket): what taking and giving back an instance costs. */
async function poolAlone(record: Record): Promise<void> {
  const N = 20_000;
  const pool = new InstancePool<object>({
    launch: async () => ({}),
    shutDown: async () => undefined,
    alive: () => true,
    maxInstances: () => 2,
    idleTimeoutMs: () => 0,
    parallelStarts: () => true,
    cancelledError: () => new Error('cancelled'),
    changed: () => undefined,
  });
  pool.release(await pool.acquire()); // the instance is started once
  const t = now();
  for (let i = 0; i < N; i++) pool.release(await pool.acquire());
  const perCall = (now() - t) / N;
  record('queue: acquire + release alone (no call)', perCall * 1000, 'µs', 'target (0.5 ms)', 500);
}

/** The 200 files again in a new registry (as a new rpp would): every result from the cache. */
async function cachedRerun(open: (o: Partial<RegistryOptions>) => Promise<PluginRegistry>, files: string[], record: Record): Promise<void> {
  const first = await open({ maxInstances: { [PLUGIN]: 2 } });
  const started = now();
  try {
    for await (const item of runBatch(first, PLUGIN, files, { kwargs: { cpu_ms: CPU_MS } })) if (!item.ok) throw new Error(item.error?.message);
  } finally {
    await first.dispose();
  }
  const firstSeconds = (now() - started) / 1000;
  const again = await open({ maxInstances: { [PLUGIN]: 2 } });
  const t = now();
  let cached = 0;
  try {
    for await (const item of runBatch(again, PLUGIN, files, { kwargs: { cpu_ms: CPU_MS } })) if (item.cached) cached++;
  } finally {
    await again.dispose();
  }
  const seconds = (now() - t) / 1000;
  if (cached !== files.length) throw new Error(`cached re-run: ${cached} of ${files.length} from the cache`);
  record(`cached re-run: ${FILES} files`, seconds, 's', 'first run (2 instances, cold)', firstSeconds);
  record('cached re-run: per file, hash check included', (seconds * 1000) / files.length, 'ms', 'target', 2);
}

/** A cold batch (no worker running): time until its first result, against starting a worker and making one call. */
async function firstResult(open: (o: Partial<RegistryOptions>) => Promise<PluginRegistry>, files: string[], manifest: Manifest, dir: string, record: Record): Promise<void> {
  const coldBatch = async (instances: number): Promise<number> => {
    const registry = await open({ cache: false, maxInstances: { [PLUGIN]: instances } });
    const started = now();
    let firstMs = 0;
    try {
      for await (const item of runBatch(registry, PLUGIN, files, { kwargs: { cpu_ms: CPU_MS } })) {
        if (!item.ok) throw new Error(item.error?.message);
        firstMs ||= now() - started;
      }
    } finally {
      await registry.dispose();
    }
    return firstMs;
  };
  const t = now();
  const worker = await PluginWorker.start({ manifest, manifestPath: path.join(dir, `${PLUGIN}.json`), pythonExecutable: python, workerScript, startupTimeoutMs: 30_000 });
  let floor: number;
  try {
    await worker.execute([files[0]!], { cpu_ms: CPU_MS });
    floor = now() - t;
  } finally {
    await worker.dispose();
  }
  record('batch: time to first result (cold, 1 instance)', await coldBatch(1), 'ms', 'start one worker + one call', floor);
  record('batch: time to first result (cold, 2 instances)', await coldBatch(2), 'ms', 'start one worker + one call', floor);
}
