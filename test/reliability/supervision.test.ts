// Supervision: no worker, nor anything its plugin started, outlives its host, whatever the plugin or
// its interpreter does. Each situation of situations.ts (a wrapper that does not exec, a 60 s import,
// a call holding the GIL in C, a crash that leaves children, helpers in a new session) × (the host
// SIGKILLed, Ctrl-C on `rpp`, dispose()). Processes are found by the marker in their environment, so a
// re-parented one is found wherever it went; the keeper and the wrapper carry it too.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { projectRoot, python } from '../helpers/python';
import { waitFor } from '../helpers/waitFor';
import { figure, killMarked, makePluginFolder, openRegistry, processesWithMark, sleep, stillRunning, type PluginFolder } from './helpers';
import { reachSituation, SITUATIONS, type Situation } from './situations';

/** Tries per situation with a SIGKILLed host (RPP_SUPERVISION_TRIES to change). */
const SIGKILL_TRIES = Number(process.env.RPP_SUPERVISION_TRIES ?? 20);
/** Tries run at once: a host mostly waits, so 4 fit on 2 shared cores. */
const AT_ONCE = 4;
const CTRL_C_TRIES = 2;
const DISPOSE_TRIES = 2;
/** The promise for dispose() and for Ctrl-C on `rpp` (VS Code gives deactivate 5 s). */
const STOP_BOUND_MS = 5000;
/** Leftovers are counted this long after the host's death, when everything must long be gone. */
const COUNT_AFTER_MS = 5000;
const CLI = path.join(projectRoot, 'dist', 'cli.js');
/**
 * supervisionHost.ts, bundled once: 120 hosts start in this file, and a bundle starts in about a third
 * of the time tsx takes. Two folders below the root, as its sources are, so that the paths they
 * derive from their own place (the project root, worker/) stay right.
 */
const HOST_BUNDLE = path.join(projectRoot, 'out', 'reliability', 'supervisionHost.mjs');

interface Outcome {
  /** Marked processes still alive when counted. */
  leftovers: number;
  /** From the host's death (or the Ctrl-C, or the dispose() call) until no marked process was left. */
  goneMs: number;
  /** How long dispose() took, or `rpp` after the Ctrl-C until it said its worker was stopped. */
  tookMs?: number;
  /** How long `rpp` took after the Ctrl-C until it had exited (Node's own exit included). */
  exitedMs?: number;
}

const table: string[] = [];

before(async () => {
  execFileSync(process.execPath, ['esbuild.mjs', '--only=cli'], { cwd: projectRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  await build({
    entryPoints: [path.join(import.meta.dirname, 'supervisionHost.ts')],
    outfile: HOST_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // Bundled CommonJS dependencies (undici) require Node's own modules.
    banner: { js: "import { createRequire as hostRequire } from 'node:module'; const require = hostRequire(import.meta.url);" },
  });
});

after(() => {
  for (const row of table) figure('supervision', row);
});

/** The marked processes now, to time their end cheaply (a full look at /proc is slow on a busy machine). */
function markedPids(folder: PluginFolder): number[] {
  return processesWithMark(folder.mark).map((p) => p.pid);
}

/**
 * Waits until the `known` processes have ended (at most COUNT_AFTER_MS after `since`), then counts
 * every process that carries the mark, known or not (one forked meanwhile, one re-parented).
 */
async function untilGone(folder: PluginFolder, since: number, known: number[]): Promise<Outcome> {
  // Counted below either way: a survivor is a failure there, with its details.
  await waitFor(() => stillRunning(known).length === 0, { what: 'the known processes to end', timeoutMs: Math.max(1, since + COUNT_AFTER_MS - Date.now()), everyMs: 2 }).catch(() => undefined);
  const goneMs = Date.now() - since;
  if (stillRunning(known).length > 0) await sleep(Math.max(0, since + COUNT_AFTER_MS - Date.now()));
  const left = processesWithMark(folder.mark);
  if (left.length > 0) console.log('left behind:', left);
  return { leftovers: left.length, goneMs: left.length === 0 ? goneMs : Number.NaN };
}

async function withFolder<T>(situation: Situation, use: (folder: PluginFolder) => Promise<T>): Promise<T> {
  const folder = await makePluginFolder([await situation.plugin()]);
  try {
    return await use(folder);
  } finally {
    killMarked(folder.mark); // a failed try must not leave anything for the next one
    await folder.remove();
  }
}

/** Starts supervisionHost.ts and resolves with its pid once the situation is in place. */
function startHost(folder: PluginFolder, situation: Situation, extra: string[] = []): Promise<{ host: number; worker: number | null }> {
  const host = spawn(process.execPath, [HOST_BUNDLE, folder.dir, situation.name, ...extra], {
    cwd: projectRoot,
    env: { ...process.env, RPP_TEST_PYTHON: python }, // the host need not look for the interpreter again
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  host.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      host.kill('SIGKILL');
      reject(new Error(`host not in place within 90 s; stderr: ${err}`));
    }, 90_000);
    host.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as { host: number; worker: number | null });
    });
    host.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`host exited (${code}) before it was in place; stderr: ${err}`));
    });
  });
}

function sigkillTry(situation: Situation): Promise<Outcome> {
  return withFolder(situation, async (folder) => {
    const { host } = await startHost(folder, situation);
    const known = markedPids(folder);
    if (!situation.endsByItself) assert.ok(known.length >= 1, 'the worker runs before the kill');
    process.kill(host, 'SIGKILL');
    return untilGone(folder, Date.now(), known);
  });
}

function ctrlCTry(situation: Situation): Promise<Outcome> {
  return withFolder(situation, async (folder) => {
    const input = path.join(folder.dir, 'input.txt');
    await writeFile(input, 'input');
    const args = Object.entries(situation.kwargs).flatMap(([key, value]) => ['--arg', `${key}=${String(value)}`]);
    const rpp = spawn(process.execPath, [CLI, 'run', situation.name, input, ...args, '--verbose', '--plugins-dir', folder.dir], {
      env: { ...process.env, HOME: folder.dir, RPP_PLUGIN_DIRS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => rpp.once('exit', (code) => resolve(code)));
    let err = '';
    let stoppedAt = 0; // when rpp said its worker (or its start) was stopped: its part of the Ctrl-C
    const there = new Promise<void>((resolve, reject) => {
      rpp.stderr.setEncoding('utf8').on('data', (text: string) => {
        err += text;
        if (/Worker (pid \d+ )?(stopped|died)|Start withdrawn/.test(text)) stoppedAt = Date.now();
        if (err.includes(situation.marker)) resolve();
      });
      void exited.then(() => (err.includes(situation.marker) ? resolve() : reject(new Error(`rpp exited before "${situation.marker}": ${err}`))));
      setTimeout(() => reject(new Error(`"${situation.marker}" not seen within 90 s: ${err}`)), 90_000).unref();
    });
    await there;
    const known = markedPids(folder);
    const since = Date.now();
    if (!situation.endsByItself) rpp.kill('SIGINT');
    const gone = untilGone(folder, since, known); // watched from the Ctrl-C on, not from rpp's exit
    const code = await exited;
    const exitedMs = Date.now() - since;
    const atExit = stillRunning(known).length;
    const outcome = await gone;
    assert.equal(code, situation.endsByItself ? 3 : 130, err);
    assert.ok(stoppedAt > 0, `rpp said its worker was stopped: ${err}`);
    return { ...outcome, leftovers: Math.max(atExit, outcome.leftovers), tookMs: Math.max(0, stoppedAt - since), exitedMs };
  });
}

function disposeTry(situation: Situation): Promise<Outcome> {
  return withFolder(situation, async (folder) => {
    const registry = await openRegistry(folder);
    await reachSituation(registry, situation);
    const known = markedPids(folder);
    const since = Date.now();
    await registry.dispose();
    const tookMs = Date.now() - since;
    const atReturn = stillRunning(known).length;
    const outcome = await untilGone(folder, since, known);
    return { ...outcome, leftovers: Math.max(atReturn, outcome.leftovers), tookMs };
  });
}

/** Runs `count` tries, `AT_ONCE` at a time. */
async function tries(count: number, one: () => Promise<Outcome>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      outcomes.push(await one());
    }
  };
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, count) }, lane));
  return outcomes;
}

function summary(outcomes: Outcome[]): { leftovers: number; text: string } {
  const leftovers = outcomes.reduce((sum, o) => sum + o.leftovers, 0);
  const gone = outcomes.filter((o) => o.leftovers === 0).map((o) => o.goneMs).sort((a, b) => a - b);
  const goneText = gone.length ? `all gone after median ${gone[gone.length >> 1]} ms / max ${gone[gone.length - 1]} ms` : 'never all gone';
  const leaky = outcomes.length - gone.length;
  const leakyText = leaky ? ` (${leaky} tries left processes ${COUNT_AFTER_MS / 1000} s later)` : '';
  const took = outcomes.flatMap((o) => (o.tookMs === undefined ? [] : [o.tookMs]));
  const exited = outcomes.flatMap((o) => (o.exitedMs === undefined ? [] : [o.exitedMs]));
  const tookText = (took.length ? `; stopped after max ${Math.max(...took)} ms` : '') + (exited.length ? `, exited after max ${Math.max(...exited)} ms` : '');
  return { leftovers, text: `${outcomes.length} tries, ${leftovers} leftovers, ${goneText}${leakyText}${tookText}` };
}

for (const situation of SITUATIONS) {
  describe(situation.label, () => {
    test(`the host SIGKILLed, ${SIGKILL_TRIES} tries: nothing left`, { timeout: 600_000 }, async () => {
      const { leftovers, text } = summary(await tries(SIGKILL_TRIES, () => sigkillTry(situation)));
      table.push(`${situation.name} × host SIGKILLed: ${text}`);
      assert.equal(leftovers, 0);
    });

    test(`Ctrl-C on rpp: stops the worker within 5 s, exits 130, nothing left`, { timeout: 300_000 }, async () => {
      const outcomes = await tries(CTRL_C_TRIES, () => ctrlCTry(situation));
      const { leftovers, text } = summary(outcomes);
      table.push(`${situation.name} × ${situation.endsByItself ? 'rpp (exits by itself on the crash)' : 'Ctrl-C on rpp'}: ${text}`);
      assert.equal(leftovers, 0);
      // Bounded by construction (registry dispose); the exit after it is Node's and the machine's (a figure).
      for (const { tookMs } of outcomes) assert.ok((tookMs ?? 0) < STOP_BOUND_MS, `rpp stopped its worker ${tookMs} ms after Ctrl-C`);
    });

    test(`dispose(): returns within 5 s, nothing left`, { timeout: 300_000 }, async () => {
      const outcomes = await tries(DISPOSE_TRIES, () => disposeTry(situation));
      const { leftovers, text } = summary(outcomes);
      table.push(`${situation.name} × dispose(): ${text}`);
      assert.equal(leftovers, 0);
      for (const { tookMs } of outcomes) assert.ok((tookMs ?? 0) < STOP_BOUND_MS, `dispose() took ${tookMs} ms`);
    });
  });
}

test('the temp folder of an unsaved-buffer input of a SIGKILLed host is removed by the next host', { timeout: 300_000 }, async () => {
  const situation = SITUATIONS[0];
  await withFolder(situation, async (folder) => {
    const { host } = await startHost(folder, situation, ['--unsaved-input']);
    const ours = (): string[] => readdirSync(os.tmpdir()).filter((name) => name.startsWith(`rpp-input-${host}-`));
    assert.equal(ours().length, 1, 'the call’s temp folder exists while it runs');
    const known = markedPids(folder);
    process.kill(host, 'SIGKILL');
    assert.equal((await untilGone(folder, Date.now(), known)).leftovers, 0);
    assert.equal(ours().length, 1, 'nobody could remove it: the host was SIGKILLed');
    const next = await openRegistry(folder);
    await next.dispose();
    assert.deepEqual(ours(), [], 'the next host removed it');
  });
});
