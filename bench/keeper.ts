// The keeper (worker/rpp_keeper.py) sits between host and worker: what it adds to a start (same run,
// alternating with the worker spawned directly), what it holds in memory, and how fast it ends a
// worker's tree when the host dies (its lifeline closes) against the host SIGKILLing the group itself.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { PluginWorker } from '../src/core/pluginWorker';
import { python, workerScript } from '../test/helpers/python';
import { type Section, median, now, round } from './figures';

const here = import.meta.dirname;
const keeperScript = path.join(path.dirname(workerScript), 'rpp_keeper.py');
/** Nothing here may wait for ever: a process that never says what it is waited for fails the section. */
const OUTPUT_DEADLINE_MS = 30_000;

const SPAWN = 'keeper: spawn to ready through the keeper';
const CPU = 'keeper: CPU until ready (keeper + worker)';
const MEMORY = 'keeper: private memory';
const TREE_END = 'keeper: host death to tree gone (median ms)';

type Piped = ChildProcessByStdio<Writable, Readable, null>;

/** CPU time a process has used so far, all its threads (/proc/<pid>/task/<tid>/schedstat, in ns). */
function cpuMsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).reduce((sum, task) => sum + Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'latin1').split(' ')[0]) / 1e6, 0);
}

/** Everything the process wrote on stdout until `text` appeared; rejects after OUTPUT_DEADLINE_MS saying what it waited for. */
function stdoutUntil(child: Piped, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${text} did not appear on stdout within ${OUTPUT_DEADLINE_MS} ms (got: ${out.slice(0, 200)})`)), OUTPUT_DEADLINE_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (!out.includes(text)) return;
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function exited(child: Piped): Promise<unknown> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)));
}

/**
 * Spawn to ready line of the bundled worker, through the keeper or directly (how it was before), and
 * the CPU used until then (keeper and worker together): wall time on a busy machine mostly measures
 * the other processes, CPU time measures what the keeper costs.
 */
async function spawnToReady(throughKeeper: boolean): Promise<{ ms: number; cpuMs: number }> {
  const worker = [workerScript, '--module', 'bench_plugin', '--class', 'BenchPlugin', '--sys-path', here];
  const t = now();
  const child = spawn(python, throughKeeper ? [keeperScript, '--host-pid', String(process.pid), '--', ...worker] : worker, {
    env: { ...process.env, RPP_WORKER_SECRET: randomBytes(16).toString('hex'), RPP_KEEPER_TOKEN: 'bench' },
    stdio: ['pipe', 'pipe', 'ignore'],
    detached: true,
  });
  try {
    const out = await stdoutUntil(child, '"rpp_worker"');
    const ms = now() - t;
    const forked = throughKeeper ? Number(/"worker": (\d+)/.exec(out)?.[1]) : undefined;
    const cpuMs = cpuMsOf(child.pid!) + (forked === undefined ? 0 : cpuMsOf(forked));
    return { ms, cpuMs };
  } finally {
    child.stdin.destroy(); // the keeper ends its worker; without one, the group is killed here
    if (!throughKeeper) process.kill(-child.pid!, 'SIGKILL');
    await exited(child);
  }
}

/** Memory only this process holds (its private pages; the keeper shares the rest with the worker it forked). */
async function privateMb(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = [...rollup.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  return kb / 1024;
}

function isRunning(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** A keeper with a worker that started two children; then its lifeline closes (or the host kills the group). */
async function treeEndMs(viaLifeline: boolean): Promise<number> {
  const keeper = spawn(python, [keeperScript, '--host-pid', String(process.pid), '--', '-c',
    'import subprocess, time; [subprocess.Popen(["sleep", "60"]) for _ in range(2)]; print("ready", flush=True); time.sleep(60)'], {
    env: { ...process.env, RPP_KEEPER_TOKEN: 'bench' },
    stdio: ['pipe', 'pipe', 'ignore'],
    detached: true,
  });
  try {
    const out = await stdoutUntil(keeper, '\nready');
    const worker = Number(/"worker": (\d+)/.exec(out)?.[1]);
    const tree = [worker, ...(await readFile(`/proc/${worker}/task/${worker}/children`, 'utf8')).trim().split(' ').map(Number)];
    const t = now();
    if (viaLifeline) keeper.stdin.end();
    else process.kill(-worker, 'SIGKILL');
    const deadline = t + OUTPUT_DEADLINE_MS;
    while (tree.some((pid) => isRunning(pid))) {
      if (now() > deadline) throw new Error(`the tree ${tree.join(', ')} was not gone within ${OUTPUT_DEADLINE_MS} ms`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return now() - t;
  } finally {
    keeper.stdin.destroy();
    await exited(keeper);
  }
}

/** The keeper's section; `startWorker` starts the bench's plugin as the extension does (through the keeper). */
export function keeperCost(startWorker: () => Promise<PluginWorker>): Section {
  return {
    title: 'keeper',
    figures: () => [SPAWN, CPU, MEMORY, TREE_END],
    async run(bench) {
      const kept: { ms: number; cpuMs: number }[] = [];
      const direct: { ms: number; cpuMs: number }[] = [];
      const starts = bench.quick ? 5 : 30;
      for (let i = 0; i < starts; i++) {
        direct.push(await spawnToReady(false));
        kept.push(await spawnToReady(true));
      }
      const paired = (key: 'ms' | 'cpuMs') => round(median(kept.map((k, i) => k[key] - direct[i][key])));
      bench.record(SPAWN, median(kept.map((k) => k.ms)), 'ms', 'the worker spawned directly, no keeper', median(direct.map((d) => d.ms)));
      bench.record(CPU, median(kept.map((k) => k.cpuMs)), 'ms', 'CPU of the worker spawned directly', median(direct.map((d) => d.cpuMs)));
      bench.note(`medians of ${starts} paired differences: ${paired('ms')} ms wall, ${paired('cpuMs')} ms CPU; the keeper's own set-up after the fork runs beside the worker`);

      const worker = await startWorker();
      try {
        const keeperPid = Number((await readFile(`/proc/${worker.pid}/stat`, 'utf8')).split(') ')[1].split(' ')[1]);
        bench.record(MEMORY, await privateMb(keeperPid), 'MB', 'the idle worker it keeps (private)', await privateMb(worker.pid));
      } finally {
        await worker.dispose();
      }

      const byKeeper: number[] = [];
      const byHost: number[] = [];
      for (let i = 0; i < (bench.quick ? 3 : 10); i++) {
        byKeeper.push(await treeEndMs(true));
        byHost.push(await treeEndMs(false));
      }
      bench.record(TREE_END, median(byKeeper), 'ms', 'host SIGKILLs the process group itself', median(byHost));
    },
  };
}
