// `npm run bench`: the core's speed against baselines measured in the same run, on the real interpreter.
// Prints a table and writes bench/results.json ([{name, value, unit, baseline, baseline_value, ratio}]).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Pool, request } from 'undici';
import type { Manifest } from '../src/core/manifest';
import { PluginWorker } from '../src/core/pluginWorker';
import { materializeFileInput } from '../src/core/fileInput';
import { python, workerScript } from '../test/helpers/python';

const run = promisify(execFile);
const here = import.meta.dirname;

interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  ratio: number;
}
const figures: Figure[] = [];

function record(name: string, value: number, unit: string, baseline: string, baselineValue: number): void {
  const figure = { name, value: round(value), unit, baseline, baseline_value: round(baselineValue), ratio: round(value / baselineValue) };
  figures.push(figure);
  console.log(`${name.padEnd(44)} ${String(figure.value).padStart(12)} ${unit.padEnd(8)} vs ${baseline}: ${figure.baseline_value} (ratio ${figure.ratio})`);
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
const now = () => performance.now();

const manifest: Manifest = { name: 'bench', version: '1.0.0', python_path: python, module: 'bench_plugin', class: 'BenchPlugin', env_vars: {} };
const startWorker = () =>
  PluginWorker.start({ manifest, manifestPath: path.join(here, 'bench.json'), pythonExecutable: python, workerScript, startupTimeoutMs: 30_000 });

/** Spawn to exit of `python -c "import http.server"`: the least any Python HTTP worker can take. */
async function floorStartMs(): Promise<number> {
  const t = now();
  await run(python, ['-c', 'import http.server']);
  return now() - t;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The seed's start: a port chosen beforehand, then GET /health every 500 ms until it answers. */
async function seedStyleStartMs(): Promise<number> {
  const port = await freePort();
  const secret = randomBytes(16).toString('hex');
  const t = now();
  const child = spawn(python, [workerScript, '--module', 'bench_plugin', '--class', 'BenchPlugin', '--port', String(port), '--sys-path', here], {
    env: { ...process.env, RPP_WORKER_SECRET: secret },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      try {
        await request(`http://127.0.0.1:${port}/health`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.body.dump());
        return now() - t;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    child.kill('SIGKILL');
  }
}

async function coldStart(): Promise<void> {
  const ours: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < 15; i++) {
    floor.push(await floorStartMs());
    const t = now();
    const worker = await startWorker();
    ours.push(now() - t);
    await worker.dispose();
  }
  const seed = [await seedStyleStartMs(), await seedStyleStartMs(), await seedStyleStartMs()];
  record('cold start: spawn to ready (median ms)', median(ours), 'ms', 'python -c "import http.server"', median(floor));
  record('cold start: ours vs seed-style polling', median(ours), 'ms', 'seed: free port + /health every 500 ms', median(seed));
  console.log(`  (ours - floor = ${round(median(ours) - median(floor))} ms)`);
}

async function timeCalls(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await call();
    times.push(now() - t);
  }
  return times;
}

async function warmExecute(worker: PluginWorker): Promise<void> {
  const N = 2000;
  await timeCalls(200, () => worker.execute([], {})); // warm-up
  const ours = await timeCalls(N, () => worker.execute([], {}));

  // What the seed does: a new client (a new TCP connection) for every call.
  const secret = await secretOf(worker);
  const url = `http://127.0.0.1:${worker.port}`;
  const body = JSON.stringify({ args: [], kwargs: {} });
  const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
  const fresh = await timeCalls(N / 4, async () => {
    const client = new Client(url, { pipelining: 0 });
    const res = await client.request({ method: 'POST', path: '/execute', headers, body });
    await res.body.json();
    await client.close();
  });

  // The floor: the same request to a bare keep-alive http.server that answers a fixed reply.
  const floorServer = spawn(python, [path.join(here, 'floor_server.py')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number((await new Promise<Buffer>((resolve) => floorServer.stdout.once('data', resolve))).toString().trim());
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  const post = async () => {
    const res = await pool.request({ method: 'POST', path: '/execute', headers, body });
    await res.body.json();
  };
  await timeCalls(200, post);
  const floor = await timeCalls(N, post);
  await pool.close();
  floorServer.kill('SIGKILL');

  record('warm execute: median round trip', median(ours) * 1000, 'µs', 'raw keep-alive http.server floor', median(floor) * 1000);
  record('warm execute: p99 round trip', quantile(ours, 0.99) * 1000, 'µs', 'floor p99', quantile(floor, 0.99) * 1000);
  record('warm execute: median vs new connection per call', median(ours) * 1000, 'µs', 'seed: new connection per call', median(fresh) * 1000);
}

/** The bench reaches into the worker only for the secret, to drive the same worker with other clients. */
async function secretOf(worker: PluginWorker): Promise<string> {
  const environ = await readFile(`/proc/${worker.pid}/environ`, 'utf8');
  const line = environ.split('\0').find((l) => l.startsWith('RPP_WORKER_SECRET='));
  if (!line) throw new Error('worker secret not found in its environment');
  return line.slice('RPP_WORKER_SECRET='.length);
}

async function streamThroughput(worker: PluginWorker): Promise<void> {
  const N = 100_000;
  const ceilingScript = `import json, time\nt=time.perf_counter()\nfor i in range(${N}): json.dumps({"i": i, "text": "item"})\nprint(time.perf_counter()-t)`;
  const ceilingS = Number((await run(python, ['-c', ceilingScript])).stdout.trim());
  let count = 0;
  const t = now();
  for await (const _item of worker.executeStream([], { count: N })) count++;
  const seconds = (now() - t) / 1000;
  if (count !== N) throw new Error(`stream delivered ${count} of ${N} items`);
  record('stream: items/s end to end', N / seconds, 'items/s', 'python generate + json.dumps only (ceiling)', N / ceilingS);

  const latencies: number[] = [];
  for await (const item of worker.executeStream([], { count: 200, interval_s: 0.005 })) {
    const arrived = (performance.timeOrigin + performance.now()) / 1000;
    latencies.push((arrived - (item as { t: number }).t) * 1000);
  }
  record('stream: yield to arrival, median', median(latencies), 'ms', 'target', 1);
  record('stream: yield to arrival, p99', quantile(latencies, 0.99), 'ms', 'target', 1);
}

async function fileInputs(worker: PluginWorker): Promise<void> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'rpp-bench-'));
  try {
    for (const mb of [1, 100]) {
      const data = randomBytes(mb * 1024 * 1024);
      const file = path.join(folder, `input-${mb}.bin`);
      await writeFile(file, data);
      // What it costs to hand the plugin its input (the plugin only looks at the size): by path, through a
      // private temp file (an unsaved editor), or as base64 inside the JSON body (what files-as-bytes costs).
      const byPath = median(await timeCalls(5, () => worker.execute([file], { mode: 'stat_path' })));
      const byTemp = median(await timeCalls(3, async () => {
        const input = await materializeFileInput({ content: data, name: 'input.bin' });
        try {
          await worker.execute([input.path], { mode: 'stat_path' });
        } finally {
          await input.release();
        }
      }));
      const byBase64 = median(await timeCalls(3, () => worker.execute([], { mode: 'read_base64', data: data.toString('base64') })));
      const readByPath = median(await timeCalls(3, () => worker.execute([file], { mode: 'read_path' })));
      record(`input ${mb} MB: by path`, byPath, 'ms', 'base64 in JSON', byBase64);
      record(`input ${mb} MB: through a temp file`, byTemp, 'ms', 'base64 in JSON', byBase64);
      console.log(`  (a call whose plugin reads all ${mb} MB from that path: ${round(readByPath)} ms)`);
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

async function idleMemory(worker: PluginWorker): Promise<void> {
  const fresh = await startWorker();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const ours = await rssOf(fresh.pid);
  await fresh.dispose();
  const bare = spawn(python, ['-c', 'import http.server, time; print(1, flush=True); time.sleep(30)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => bare.stdout.once('data', resolve));
  const floor = await rssOf(bare.pid!);
  bare.kill('SIGKILL');
  record('idle worker RSS', ours, 'MB', 'python -c "import http.server"', floor);
  const stats = await worker.stats();
  console.log(`  (after the benchmark's calls the warm worker's tree RSS is ${round((stats.rss_bytes ?? NaN) / 1048576)} MB)`);
}

/**
 * A plugin on cjm-plugin-system's worker (test/fixtures/cjm_plugin_system: FastAPI on uvicorn) through
 * the project: the warm /execute round trip over the project's keep-alive connections, against a new
 * connection per call to the same worker (the alternative the project decided against, by this figure),
 * and how long the project takes to stop such a worker, against stopping the bundled one.
 */
async function cjmWorker(): Promise<void> {
  let fixture;
  try {
    fixture = await import('../test/core/cjmWorkerFixture');
  } catch (error) {
    console.log(`cjm worker: not measured: ${(error as Error).message}`);
    return;
  }
  const { makeFixturePlugin } = await import('../test/core/pluginWorkerFixture');
  const plugin = makeFixturePlugin();
  fixture.writeCjmStylePlugin(plugin.dir);
  const options = () => fixture.cjmOptions(plugin, 'current', { module: 'cjm_style_plugin', class: 'CjmStylePlugin' });
  try {
    const N = 1000;
    const worker = await PluginWorker.start(options());
    await timeCalls(200, () => worker.execute([], {})); // warm-up
    const ours = await timeCalls(N, () => worker.execute([], {}));
    const url = `http://127.0.0.1:${worker.port}`;
    const body = JSON.stringify({ args: [], kwargs: {} });
    const fresh = await timeCalls(N / 2, async () => {
      const client = new Client(url, { pipelining: 0 });
      const res = await client.request({ method: 'POST', path: '/execute', headers: { 'content-type': 'application/json' }, body });
      await res.body.json();
      await client.close();
    });
    let t = now();
    await worker.dispose();
    const cjmStop = now() - t;
    record('cjm warm execute: median round trip', median(ours) * 1000, 'µs', 'cjm: new connection per call, median', median(fresh) * 1000);
    record('cjm warm execute: p99 round trip', quantile(ours, 0.99) * 1000, 'µs', 'cjm: new connection per call, p99', quantile(fresh, 0.99) * 1000);
    const bundled = await startWorker();
    t = now();
    await bundled.dispose();
    record('cjm worker: stop (dispose)', cjmStop, 'ms', 'bundled worker: stop', now() - t);
  } finally {
    plugin.remove();
  }
}

async function main(): Promise<void> {
  console.log(`interpreter: ${python}\n`);
  await coldStart();
  const worker = await startWorker();
  try {
    await warmExecute(worker);
    await streamThroughput(worker);
    await fileInputs(worker);
    await idleMemory(worker);
  } finally {
    await worker.dispose();
  }
  await cjmWorker();
  await (await import('./batch')).benchBatch(record);
  await writeFile(path.join(here, 'results.json'), JSON.stringify(figures, null, 2) + '\n');
  console.log('\nwrote bench/results.json');
}

await main();
