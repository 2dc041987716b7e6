// The batch section of `npm run bench` (bench/run.ts): 200 small files through a plugin that does 20 ms
// of CPU work per file with 1 vs 2 instances (warm), the queue's own cost per call (a call through the
// registry vs the same call straight to a worker), a cached re-run of the 200 files in a new registry (the
// hash check included), and the time to the first result of a cold batch. --quick: 40 files, fewer calls.
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBatch } from '../src/core/batchRun';
import { InstancePool } from '../src/core/instancePool';
import type { Manifest } from '../src/core/manifest';
import { PluginRegistry, type RegistryOptions } from '../src/core/registry';
import { PluginWorker } from '../src/core/pluginWorker';
import { fixturePlugins, python, workerScript } from '../test/helpers/python';
import { type BenchContext, type Section, median, now } from './figures';

type Record = BenchContext['record'];

const CPU_MS = 20;
const PLUGIN = 'batch-bench';

/** Files in the batch, calls timed through the queue, acquire/release rounds of the pool alone. */
function sizes(quick: boolean) {
  return quick ? { files: 40, queueCalls: 100, poolRounds: 2_000 } : { files: 200, queueCalls: 500, poolRounds: 20_000 };
}

const FIGURES = {
  speedUp: 'batch: speed-up of 2 instances',
  queueMedian: 'queue: call through the registry, median',
  queueCost: 'queue: cost per call (median difference)',
  queueCpu: 'queue: host CPU per call through the registry',
  queueCpuCost: 'queue: host CPU cost per call (difference)',
  poolAlone: 'queue: acquire + release alone (no call)',
  cachedPerFile: 'cached re-run: per file, hash check included',
  firstResultOne: 'batch: time to first result (cold, 1 instance)',
  firstResultTwo: 'batch: time to first result (cold, 2 instances)',
};
const twoInstancesFigure = (files: number) => `batch: ${files} files × ${CPU_MS} ms CPU, 2 instances`;
const cachedRerunFigure = (files: number) => `cached re-run: ${files} files`;

export const batchSection: Section = {
  title: 'batch',
  figures: (quick) => [twoInstancesFigure(sizes(quick).files), cachedRerunFigure(sizes(quick).files), ...Object.values(FIGURES)],
  run: (bench) => benchBatch(bench.record, sizes(bench.quick)),
};

async function benchBatch(record: Record, size: ReturnType<typeof sizes>): Promise<void> {
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
    const files = await smallFiles(dir, size.files);
    const open = (options: Partial<RegistryOptions>) =>
      PluginRegistry.create({ pluginDirs: [dir], includeDefaultDir: false, watch: false, storageDir: path.join(dir, 'storage'), idleTimeoutMs: 0, ...options });

    const one = await timeBatch(await open({ cache: false, maxInstances: { [PLUGIN]: 1 } }), files);
    const two = await timeBatch(await open({ cache: false, maxInstances: { [PLUGIN]: 2 } }), files);
    record(twoInstancesFigure(files.length), two.seconds, 's', '1 instance', one.seconds);
    record(FIGURES.speedUp, one.seconds / two.seconds, '×', 'target', 1.8);

    await queueOverhead(dir, open, files[0]!, record, size.queueCalls);
    await poolAlone(record, size.poolRounds);
    await cachedRerun(open, files, record);
    await firstResult(open, files, manifest as unknown as Manifest, dir, record);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Small text files, last written a minute ago (a folder of old recordings, not files being written). */
async function smallFiles(dir: string, count: number): Promise<string[]> {
  const folder = path.join(dir, 'files');
  const files = Array.from({ length: count }, (_, i) => path.join(folder, `file-${String(i).padStart(3, '0')}.txt`));
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
async function queueOverhead(dir: string, open: (o: Partial<RegistryOptions>) => Promise<PluginRegistry>, file: string, record: Record, N: number): Promise<void> {
  const registry = await open({ cache: false });
  const manifest: Manifest = { name: PLUGIN, version: '1.0.0', python_path: python, module: 'batch_plugin', class: 'BatchPlugin', env_vars: { PYTHONPATH: fixturePlugins } };
  const worker = await PluginWorker.start({ manifest, manifestPath: path.join(dir, `${PLUGIN}.json`), pythonExecutable: python, workerScript, startupTimeoutMs: 30_000 });
  const viaQueue: number[] = [];
  const direct: number[] = [];
  // The host's own CPU time per call is what the queue adds; wall time also carries the machine's load.
  const cpu = { viaQueue: 0, direct: 0 };
  try {
    for (let i = 0; i < N / 5; i++) {
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
  record(FIGURES.queueMedian, median(viaQueue), 'ms', 'worker.execute directly', median(direct));
  record(FIGURES.queueCost, median(viaQueue) - median(direct), 'ms', 'target', 0.5);
  record(FIGURES.queueCpu, cpu.viaQueue / N, 'ms', 'worker.execute directly', cpu.direct / N);
  record(FIGURES.queueCpuCost, (cpu.viaQueue - cpu.direct) / N, 'ms', 'target', 0.5);
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

/** The queue and pool by themselves (no process, no socket): what taking and giving back an instance costs. */
async function poolAlone(record: Record, N: number): Promise<void> {
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
  record(FIGURES.poolAlone, perCall * 1000, 'µs', 'target (0.5 ms)', 500);
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
  record(cachedRerunFigure(files.length), seconds, 's', 'first run (2 instances, cold)', firstSeconds);
  record(FIGURES.cachedPerFile, (seconds * 1000) / files.length, 'ms', 'target', 2);
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
  record(FIGURES.firstResultOne, await coldBatch(1), 'ms', 'start one worker + one call', floor);
  record(FIGURES.firstResultTwo, await coldBatch(2), 'ms', 'start one worker + one call', floor);
}
