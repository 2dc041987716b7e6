// Bounds (issue 11): large and hostile input must not stall or bloat a worker, the host or `rpp`.
// Each figure is measured in this run against a baseline of the same run (or the target).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Pool } from 'undici';
import type { PluginWorker } from '../src/core/pluginWorker';
import { projectRoot, python } from '../test/helpers/python';

export type RecordFigure = (name: string, value: number, unit: string, baseline: string, baselineValue: number) => void;

const here = import.meta.dirname;
const MB = 1024 * 1024;
const now = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** VmRSS or VmHWM of a process in MB; NaN once it is gone. */
async function memoryOf(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; resolves to the peak seen. */
function peakRss(pid: number, everyMs = 20): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const rss = await memoryOf(pid);
      if (rss > peak) peak = rss;
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

async function timeOnce(call: () => Promise<unknown>): Promise<number> {
  const t = now();
  await call();
  return now() - t;
}

async function best(n: number, call: () => Promise<unknown>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < n; i++) fastest = Math.min(fastest, await timeOnce(call));
  return fastest;
}

/** A JSON body of `mb` MB: one string argument, as a plugin that takes inline data gets it. */
function inlineData(mb: number): string {
  return 'x'.repeat(mb * MB);
}

/** POSTs `body` to `path` on a keep-alive pool and reads the answer; rejects on a status other than 200. */
async function post(pool: Pool, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<void> {
  const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}: ${text.slice(0, 200)}`);
}

/** The names of the large-body figures for these sizes (MB). */
export function largeBodyFigures(small: number, big: number): string[] {
  return [`large body: ${big} MB JSON to /execute`, `large body: ${big} MB vs ${big / small} × the ${small} MB time`];
}

/**
 * Sending a 100 MB JSON body to the worker's /execute (read, parsed, handed to the plugin) against the
 * raw loopback copy of the same bytes (a bare http.server that reads the body and answers a fixed
 * reply), both from the same client; and 100 MB against 10 × 10 MB (linear in size).
 */
export async function largeBodies(worker: PluginWorker, secret: string, record: RecordFigure, small: number, big: number): Promise<void> {
  const floorServer = spawn(python, [path.join(here, 'floor_server.py')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ours = new Pool(`http://127.0.0.1:${worker.port}`, { connections: 1 });
  try {
    const port = Number((await new Promise<Buffer>((resolve) => floorServer.stdout.once('data', resolve))).toString().trim());
    const copy = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
    const auth = { authorization: `Bearer ${secret}` };
    const times: Record<number, { ours: number; copy: number }> = {};
    for (const mb of [small, big]) {
      const body = Buffer.from(JSON.stringify({ args: [], kwargs: { mode: 'echo', data: inlineData(mb) } }));
      times[mb] = { copy: await best(3, () => post(copy, '/execute', body)), ours: await best(3, () => post(ours, '/execute', body, auth)) };
    }
    await copy.close();
    const parse = await jsonLoadsMs(big);
    const data = inlineData(big);
    const endToEnd = await best(2, () => worker.execute([], { mode: 'echo', data }));
    const factor = big / small;
    record(largeBodyFigures(small, big)[0], times[big].ours, 'ms', 'raw loopback copy of the same bytes', times[big].copy);
    record(largeBodyFigures(small, big)[0], times[big].ours, 'ms', 'that copy + json.loads of the bytes', times[big].copy + parse);
    record(largeBodyFigures(small, big)[1], times[big].ours, 'ms', `${factor} × the ${small} MB body`, factor * times[small].ours);
    console.log(`  (execute() with a ${big} MB string argument, the host's JSON.stringify included: ${Math.round(endToEnd)} ms)`);
  } finally {
    await ours.close();
    floorServer.kill('SIGKILL');
  }
}

/** Best of 3 of Python's json.loads of the same body (as bytes), in this interpreter: the parse every Python worker pays. */
async function jsonLoadsMs(mb: number): Promise<number> {
  const script = [
    'import json, time',
    `body = ('{"args": [], "kwargs": {"mode": "echo", "data": "' + 'x' * ${mb * MB} + '"}}').encode()`,
    'best = float("inf")',
    'for _ in range(3):',
    '    t = time.perf_counter(); json.loads(body); best = min(best, time.perf_counter() - t)',
    'print(best * 1000)',
  ].join('\n');
  return Number((await promisify(execFile)(python, ['-c', script])).stdout.trim());
}

/**
 * A 400 MB stream (20 KB items) to a reader that pauses: the worker's peak RSS above its idle RSS.
 * The reader takes an item, then sleeps 1 s every 50 MB, so the worker must hold back, not buffer.
 */
export async function pausedReader(worker: PluginWorker, record: RecordFigure, totalMb: number): Promise<void> {
  const itemBytes = 20 * 1024;
  const count = (totalMb * MB) / itemBytes;
  await sleep(200);
  const idle = await memoryOf(worker.pid);
  const sampler = peakRss(worker.pid);
  let received = 0;
  let bytes = 0;
  let nextPause = 50 * MB;
  const t = now();
  for await (const item of worker.executeStream([], { count, size: itemBytes })) {
    received++;
    bytes += (item as { pad: string }).pad.length;
    if (bytes >= nextPause) {
      nextPause += 50 * MB;
      await sleep(1000);
    }
  }
  const seconds = (now() - t) / 1000;
  const peak = await sampler.stop();
  if (received !== count) throw new Error(`the stream delivered ${received} of ${count} items`);
  record(pausedReaderFigure(totalMb), peak - idle, 'MB', 'target', 64);
  console.log(`  (idle ${idle.toFixed(1)} MB, peak ${peak.toFixed(1)} MB, ${count} items in ${seconds.toFixed(1)} s with a 1 s pause every 50 MB)`);
}

export const pausedReaderFigure = (totalMb: number): string => `paused reader, ${totalMb} MB stream: worker RSS above idle`;

/** The worker's /health through a fresh connection and through the host's pool, median of `n`. */
async function answerTimes(worker: PluginWorker, secret: string, n: number): Promise<{ fresh: number; pooled: number }> {
  const fresh: number[] = [];
  const pooled: number[] = [];
  for (let i = 0; i < n; i++) {
    fresh.push(
      await timeOnce(async () => {
        const client = new Client(`http://127.0.0.1:${worker.port}`, { pipelining: 0, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const res = await client.request({ method: 'GET', path: '/health', headers: { authorization: `Bearer ${secret}` } });
        await res.body.text();
        await client.close();
      }),
    );
    pooled.push(await timeOnce(() => worker.execute([], {})));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { fresh: median(fresh), pooled: median(pooled) };
}

/** 300 silent connections (a stranger without the secret): how long the host's own requests take. */
export async function silentConnections(worker: PluginWorker, secret: string, record: RecordFigure): Promise<void> {
  const quiet = await answerTimes(worker, secret, 20);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 300; i++) {
    const socket = net.connect(worker.port, '127.0.0.1');
    socket.on('error', () => undefined); // the worker may close silent connections: that is the point
    sockets.push(socket);
  }
  await sleep(500);
  const threads = Number(/Threads:\s+(\d+)/.exec(await readFile(`/proc/${worker.pid}/status`, 'utf8'))?.[1]);
  const crowded = await answerTimes(worker, secret, 20);
  for (const socket of sockets) socket.destroy();
  if (!worker.alive) throw new Error('the worker died while 300 silent connections were open');
  record('300 silent connections: /health, new connection', crowded.fresh, 'ms', 'target', 100);
  record('300 silent connections: execute, host pool', crowded.pooled, 'ms', 'the same with none open', quiet.pooled);
  console.log(`  (/health on a new connection with none open: ${quiet.fresh.toFixed(1)} ms; worker threads with 300 silent connections open: ${threads})`);
}

export function cliIntoPipeFigures(count: number): string[] {
  const items = count.toLocaleString('en-US');
  return [`rpp stream ${items} items into a pipe: lines`, `rpp stream ${items} items into a pipe: CLI peak RSS`];
}

/**
 * `rpp stream` of 1,000,000 items into a pipe whose reader waits 3 s before reading: every line
 * must arrive, and the CLI's peak RSS stays bounded (backpressure to the worker, not buffering).
 */
export async function cliIntoPipe(record: RecordFigure, count: number): Promise<void> {
  await promisify(execFile)(process.execPath, ['esbuild.mjs', '--only=cli'], { cwd: projectRoot });
  const folder = await mkdtemp(path.join(os.tmpdir(), 'rpp-bench-cli-'));
  try {
    const manifest = { name: 'bench', version: '1.0.0', python_path: python, module: 'bench_plugin', class: 'BenchPlugin', env_vars: { PYTHONPATH: here } };
    await writeFile(path.join(folder, 'bench.json'), JSON.stringify(manifest));
    const cli = spawn(process.execPath, [path.join(projectRoot, 'dist', 'cli.js'), 'stream', 'bench', path.join(folder, 'bench.json'), '--arg', `count=${count}`, '--plugins-dir', folder], {
      env: { ...process.env, HOME: folder, RPP_PLUGIN_DIRS: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const sampler = peakRss(cli.pid!);
    cli.stdout.pause();
    await sleep(3000);
    let lines = 0;
    const t = now();
    cli.stdout.on('data', (chunk: Buffer) => {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
    });
    cli.stdout.resume();
    const code = await new Promise<number | null>((resolve) => cli.on('close', resolve));
    const peak = await sampler.stop();
    const seconds = (now() - t) / 1000;
    const [linesFigure, rssFigure] = cliIntoPipeFigures(count);
    record(linesFigure, lines, 'lines', 'items yielded', count);
    record(rssFigure, peak, 'MB', 'target', 150);
    console.log(`  (exit code ${code}, ${seconds.toFixed(1)} s after the reader started)`);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
