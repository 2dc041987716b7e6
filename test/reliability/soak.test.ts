// Soak: 10,000 calls over 4 plugins from 8 concurrent callers, execute and execute_stream mixed,
// some through temp-file inputs, with random worker kills (SIGKILL from outside) and cancellations.
// Every call carries a unique token that the plugin echoes: each call must end exactly once, with
// its own result or a crash/cancel error; nothing may leak (processes, fds, temp files).
// RPP_SOAK_SEED repeats a run; RPP_SOAK_CALLS changes its size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { PluginCall, PluginRegistry } from '../../src/core/registry';
import { eventually, figure, killMarked, makePluginFolder, openFdCount, openRegistry, processesWithMark, readProc, tempInputFolders } from './helpers';

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

/** The process's start time (field 22 of /proc/PID/stat): with the pid, it names one process, never a reused pid. */
function startTimeOf(pid: number): string | undefined {
  const stat = readProc(pid, 'stat');
  // The fields after the command name (which may hold spaces and parentheses) start with field 3.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** SIGKILL, but only to the worker chosen earlier: by the time the timer fires it may be gone and its pid reused. */
function killIfSame(pid: number, started: string): void {
  if (startTimeOf(pid) !== started) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // exited between the check and the kill
  }
}

type Outcome = 'result' | 'crash' | 'cancelled';

interface Tally {
  result: number;
  crash: number;
  cancelled: number;
  streams: number;
  files: number;
  kills: number;
}

/** One call, checked: the answer must carry this call's token (and, for a stream, items 0..n-1 in order). */
async function oneCall(registry: PluginRegistry, token: string, random: () => number, tally: Tally): Promise<Outcome> {
  const plugin = PLUGINS[Math.floor(random() * PLUGINS.length)];
  const abort = new AbortController();
  if (random() < CANCEL_CHANCE) setTimeout(() => abort.abort(), Math.floor(random() * 5));
  if (random() < KILL_CHANCE) {
    const pid = registry.get(plugin)?.pid;
    const started = pid === undefined ? undefined : startTimeOf(pid);
    if (pid !== undefined && started !== undefined) {
      tally.kills++;
      setTimeout(() => killIfSame(pid, started), Math.floor(random() * 3));
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
    if (error.kind === 'cancelled') return 'cancelled';
    // A kill lands on whichever call is running; with restarts budgeted high, a crash is the only other end.
    if (error.kind === 'crash') return 'crash';
    throw error;
  }
}

test(`soak: ${CALLS} calls, ${CALLERS} callers, ${PLUGINS.length} plugins, random kills and cancels`, { timeout: 300_000 }, async () => {
  figure('soak: seed (RPP_SOAK_SEED)', SEED);
  const folder = await makePluginFolder(PLUGINS.map((name) => ({ name })));
  const fdsBefore = openFdCount();
  const tempBefore = tempInputFolders().length;
  const registry = await openRegistry(folder, { maxRestarts: 10_000 });
  const random = rng(SEED);
  const tally: Tally = { result: 0, crash: 0, cancelled: 0, streams: 0, files: 0, kills: 0 };
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
  } finally {
    await registry.dispose();
  }
  const seconds = (Date.now() - started) / 1000;
  await eventually(() => processesWithMark(folder.mark).length === 0, 2000);
  const leftProcesses = processesWithMark(folder.mark);
  killMarked(folder.mark);
  await folder.remove();
  const fdsAfter = openFdCount();
  const tempAfter = tempInputFolders().length;

  figure('soak: duration', `${seconds.toFixed(1)} s (${Math.round(CALLS / seconds)} calls/s)`);
  figure('soak: outcomes', `${tally.result} results, ${tally.crash} crash errors, ${tally.cancelled} cancelled; ${tally.streams} streams, ${tally.files} temp-file inputs, ${tally.kills} kills`);
  figure('soak: processes left', leftProcesses.length);
  figure('soak: open fds before / after', `${fdsBefore} / ${fdsAfter}`);
  figure('soak: rpp-input-* temp folders before / after', `${tempBefore} / ${tempAfter}`);

  assert.equal(endings.size, CALLS, 'every call ended');
  assert.ok([...endings.values()].every((n) => n === 1), 'no call ended twice');
  assert.equal(tally.result + tally.crash + tally.cancelled, CALLS);
  assert.ok(tally.result > CALLS * 0.8, 'most calls returned results');
  assert.ok(tally.kills > 0 && tally.cancelled > 0, 'the run did kill and cancel');
  assert.deepEqual(leftProcesses, []);
  assert.ok(fdsAfter <= fdsBefore, `fds leaked: ${fdsBefore} before, ${fdsAfter} after`);
  assert.ok(tempAfter <= tempBefore, `temp folders leaked: ${tempBefore} before, ${tempAfter} after`);
});
