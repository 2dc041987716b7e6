// Soak: 10,000 calls over 4 plugins from 8 concurrent callers, execute and execute_stream mixed,
// some through temp-file inputs, with random worker kills (SIGKILL from outside) and cancellations.
// Every call carries a unique token that the plugin echoes: each call must end exactly once, with
// its own result, or with a crash or cancel error that the test itself caused: a cancel only where
// the call was aborted, a crash only as SIGKILL where a worker of that plugin was killed since the
// call began; and every worker death the registry reports is one of the test's kills. Nothing may
// leak (processes, fds, temp files in a TMPDIR of the soak's own).
// RPP_SOAK_SEED repeats a run; RPP_SOAK_CALLS changes its size.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { PluginCall, PluginRegistry } from '../../src/core/registry';
import { openFdCount, processAlive, startTimeOf } from '../helpers/proc';
import { waitFor } from '../helpers/waitFor';
import { figure, killMarked, makePluginFolder, openRegistry, processesWithMark } from './helpers';

const CALLS = Number(process.env.RPP_SOAK_CALLS ?? 10_000);
const CALLERS = 8;
const PLUGINS = ['soak-a', 'soak-b', 'soak-c', 'soak-d'];
const KILL_CHANCE = 0.004; // ~40 kills in 10,000 calls
const CANCEL_CHANCE = 0.02;
const STREAM_CHANCE = 0.4;
const FILE_CHANCE = 0.1;
const SEED = Number(process.env.RPP_SOAK_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: small, seedable, good enough to pick actions. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The kills the test delivered (the pids), per plugin, in order: each call's outcome is matched against them. */
const kills = new Map<string, number[]>(PLUGINS.map((name) => [name, []]));
/** The worker deaths the registry reported ("Worker pid N died (signal SIGKILL)": the how), per plugin. */
const deaths = new Map<string, string[]>(PLUGINS.map((name) => [name, []]));
/** Kill timers not yet fired: the registry is disposed only after them. */
const pendingKills = new Set<Promise<void>>();

/**
 * SIGKILL, but only to the worker chosen earlier (by the time the timer fires it may be gone and its
 * pid reused: the start time tells), and only while it runs. Returns whether the signal was sent.
 */
function killIfSame(pid: number, started: string): boolean {
  if (startTimeOf(pid) !== started || !processAlive(pid)) return false;
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // exited between the check and the kill
    return false;
  }
}

type Outcome = 'result' | 'crash' | 'cancelled';

interface Tally {
  result: number;
  crash: number;
  cancelled: number;
  streams: number;
  files: number;
  /** Kills planned, and kills delivered to a running worker. */
  killsPlanned: number;
  kills: number;
  aborts: number;
}

/**
 * A crash error is the test's own doing only if it is a SIGKILL, and a worker of that plugin was killed
 * after the call began or before the registry had reported that death (a call made meanwhile still
 * reaches the dead worker).
 */
function assertCausedCrash(error: PluginError, plugin: string, token: string, deathsAtStart: number): void {
  const killed = kills.get(plugin)?.length ?? 0;
  assert.equal(error.options.signal, 'SIGKILL', `call ${token} failed with a crash the test did not cause: ${error.message}`);
  assert.ok(killed > deathsAtStart, `call ${token} failed with a crash of ${plugin}, but no kill of a ${plugin} worker was pending when it began (${killed} killed, ${deathsAtStart} deaths reported): ${error.message}`);
}

/** One call, checked: the answer must carry this call's token (and, for a stream, items 0..n-1 in order). */
async function oneCall(registry: PluginRegistry, token: string, random: () => number, tally: Tally): Promise<Outcome> {
  const plugin = PLUGINS[Math.floor(random() * PLUGINS.length)];
  const deathsAtStart = deaths.get(plugin)?.length ?? 0;
  const abort = new AbortController();
  if (random() < CANCEL_CHANCE) {
    tally.aborts++;
    setTimeout(() => abort.abort(), Math.floor(random() * 5));
  }
  if (random() < KILL_CHANCE) {
    const pid = registry.get(plugin)?.pid;
    const started = pid === undefined ? undefined : startTimeOf(pid);
    if (pid !== undefined && started !== undefined) {
      tally.killsPlanned++;
      const fired = new Promise<void>((resolve) => setTimeout(resolve, Math.floor(random() * 3))).then(() => {
        pendingKills.delete(fired);
        if (!killIfSame(pid, started)) return;
        tally.kills++;
        kills.get(plugin)?.push(pid);
      });
      pendingKills.add(fired);
    }
  }
  const call: PluginCall = { signal: abort.signal, kwargs: { token } };
  if (random() < FILE_CHANCE) {
    tally.files++;
    call.file = { content: token, name: `${token}.txt` };
    call.kwargs = { token, action: 'stat_input' };
  }
  try {
    if (random() < STREAM_CHANCE && !call.file) {
      tally.streams++;
      const count = 1 + Math.floor(random() * 5);
      call.kwargs = { token, count };
      let i = 0;
      for await (const item of registry.executeStream(plugin, call)) assert.deepEqual(item, { token, i: i++ });
      assert.equal(i, count, `stream ${token} ended early without an error`);
    } else {
      const result = (await registry.execute(plugin, call)) as { token: string; content?: string };
      assert.equal(result.token, token, 'a result delivered to the wrong caller');
      if (call.file) assert.equal(result.content, token);
    }
    return 'result';
  } catch (error) {
    if (!(error instanceof PluginError)) throw error;
    if (error.kind === 'cancelled') {
      assert.ok(abort.signal.aborted, `call ${token} was cancelled, but the test did not abort it: ${error.message}`);
      return 'cancelled';
    }
    // A kill lands on whichever call is running; with restarts budgeted high, a crash is the only other end.
    if (error.kind === 'crash') {
      assertCausedCrash(error, plugin, token, deathsAtStart);
      return 'crash';
    }
    throw error;
  }
}

function recordDeaths(registry: PluginRegistry): void {
  registry.onLog((event) => {
    const how = /^Worker (?:pid \d+ )?died \((.*)\)/.exec(event.message)?.[1];
    if (event.source === 'event' && how !== undefined) deaths.get(event.plugin)?.push(how);
  });
}

test(`soak: ${CALLS} calls, ${CALLERS} callers, ${PLUGINS.length} plugins, random kills and cancels`, { timeout: 300_000 }, async () => {
  figure('soak: seed (RPP_SOAK_SEED)', SEED);
  // Temp-file inputs go into a TMPDIR of the soak's own (os.tmpdir() reads it), so that other
  // processes' rpp-input-* folders in the shared /tmp do not count.
  const tmpdir = mkdtempSync(path.join(os.tmpdir(), 'rpp-soak-tmp-'));
  process.env.TMPDIR = tmpdir;
  const folder = await makePluginFolder(PLUGINS.map((name) => ({ name })));
  const fdsBefore = openFdCount();
  const registry = await openRegistry(folder, { maxRestarts: 10_000 });
  recordDeaths(registry);
  const random = rng(SEED);
  const tally: Tally = { result: 0, crash: 0, cancelled: 0, streams: 0, files: 0, killsPlanned: 0, kills: 0, aborts: 0 };
  const endings = new Map<string, number>();
  let next = 0;
  const started = Date.now();
  const caller = async (id: number): Promise<void> => {
    while (next < CALLS) {
      const token = `c${id}-n${next++}`;
      const outcome = await oneCall(registry, token, random, tally);
      endings.set(token, (endings.get(token) ?? 0) + 1);
      tally[outcome]++;
    }
  };
  try {
    await Promise.all(Array.from({ length: CALLERS }, (_, id) => caller(id)));
    await Promise.all(pendingKills); // a kill during dispose() would be a stop, not a death
  } finally {
    await registry.dispose();
  }
  const seconds = (Date.now() - started) / 1000;
  // Processes end a moment after dispose() resolves: a killed one is reaped by its keeper or by us.
  const leftProcesses = await waitFor(() => processesWithMark(folder.mark), { what: 'every process of the soak to end', timeoutMs: 30_000, until: (left) => left.length === 0 })
    .catch(() => processesWithMark(folder.mark));
  killMarked(folder.mark);
  await folder.remove();
  const fdsAfter = openFdCount();
  const tempLeft = readdirSync(tmpdir);
  rmSync(tmpdir, { recursive: true, force: true });
  const deathsSeen = [...deaths.values()].flat();

  figure('soak: duration', `${seconds.toFixed(1)} s (${Math.round(CALLS / seconds)} calls/s)`);
  figure('soak: outcomes', `${tally.result} results, ${tally.crash} crash errors, ${tally.cancelled} cancelled; ${tally.streams} streams, ${tally.files} temp-file inputs`);
  figure('soak: faults caused', `${tally.kills} kills delivered (${tally.killsPlanned} planned; the others' worker was gone), ${tally.aborts} aborts; ${deathsSeen.length} worker deaths reported`);
  figure('soak: processes left', leftProcesses.length);
  figure('soak: open fds before / after', `${fdsBefore} / ${fdsAfter}`);
  figure('soak: files left in its TMPDIR', tempLeft.length);

  assert.equal(endings.size, CALLS, 'every call ended');
  assert.ok([...endings.values()].every((n) => n === 1), 'no call ended twice');
  assert.equal(tally.result + tally.crash + tally.cancelled, CALLS);
  assert.ok(tally.result > CALLS * 0.8, 'most calls returned results');
  assert.ok(tally.kills > 0 && tally.cancelled > 0, 'the run did kill and cancel');
  assert.ok(tally.cancelled <= tally.aborts, `${tally.cancelled} cancelled, ${tally.aborts} aborted`);
  // Each kill delivered to a running worker ends exactly that worker, and nothing else ends one.
  for (const plugin of PLUGINS) {
    const died = deaths.get(plugin) ?? [];
    const killed = kills.get(plugin) ?? [];
    assert.deepEqual(died, killed.map(() => 'signal SIGKILL'), `${plugin}: ${killed.length} workers killed (pids ${killed.join(', ')}), deaths reported: ${JSON.stringify(died)}`);
  }
  assert.deepEqual(leftProcesses, []);
  assert.ok(fdsAfter <= fdsBefore, `fds leaked: ${fdsBefore} before, ${fdsAfter} after`);
  assert.deepEqual(tempLeft, [], 'temp folders leaked');
});
