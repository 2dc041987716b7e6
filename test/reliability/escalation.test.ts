// Stopping a plugin that does not want to stop: a cancelled call the plugin ignores (or cannot see,
// holding the GIL in C) ends with its worker restarted and says so; a stream left stuck is noticed;
// Stop works during a call in C and during a minute-long import; a crash takes its children along
// at once; a keeper killed from outside still takes the worker with it.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { PluginRegistry } from '../../src/core/registry';
import { SITUATIONS, type Situation } from './situations';
import { readProc } from '../helpers/proc';
import { waitFor } from '../helpers/waitFor';
import { figure, killMarked, makePluginFolder, openRegistry, processesWithMark, stillRunning, type PluginFolder } from './helpers';

/** A short grace keeps the suite quick; the default (3 s) is only longer. */
const GRACE_MS = 1000;
/** dispose() and Stop promise 5 s (VS Code's deactivate budget). */
const STOP_BOUND_MS = 5000;
const ESCALATED = /was cancelled \(the plugin did not stop, so its worker was restarted\)/;
const PLUGIN = { module: 'supervision_plugin', class: 'SupervisionPlugin' };
/** The same plugin on the seed's own worker (test/fixtures/cjm_plugin_system), which has no /cancel. */
const cjmSituation = SITUATIONS.find((s) => s.name === 'cjm') as Situation;

let folder: PluginFolder;
let registry: PluginRegistry;
const figures: string[] = [];

before(async () => {
  folder = await makePluginFolder([
    { name: 'stubborn', ...PLUGIN },
    await cjmSituation.plugin(),
    { name: 'slowimport', module: 'supervision_slow_import', class: 'SlowImportPlugin', fields: { startup_timeout_s: 120 } },
  ]);
  registry = await openRegistry(folder, { cancelGraceMs: GRACE_MS });
});

after(async () => {
  await registry.dispose();
  killMarked(folder.mark);
  await folder.remove();
  for (const line of figures) figure('escalation', line);
});

/** Resolves when the plugin logs `marker` (the call is where the test wants it). */
function logged(name: string, marker: string, withinMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`${name} did not log "${marker}" within ${withinMs} ms`));
    }, withinMs);
    const subscription = registry.onLog((event) => {
      if (event.plugin !== name || !event.message.startsWith(marker)) return;
      clearTimeout(timer);
      subscription.dispose();
      resolve();
    });
  });
}

function settle(promise: Promise<unknown>): Promise<{ error?: PluginError; at: number }> {
  return promise.then(
    () => ({ at: Date.now() }),
    (error: unknown) => {
      assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
      return { error, at: Date.now() };
    },
  );
}

/** The worker is a new one, ready, and answers a call. */
async function restartedAndWorking(name: string, oldPid: number): Promise<void> {
  await waitFor(() => registry.get(name)?.state === 'ready' && registry.get(name)?.pid !== oldPid, { what: `${name} to be ready again with a new worker`, timeoutMs: 30_000 });
  assert.equal(readProc(oldPid, 'stat'), undefined, 'the old worker is gone');
  assert.deepEqual(await registry.execute(name, { kwargs: { action: 'cooperative', seconds: 0 } }), { cancelled: false });
}

describe('a cancelled call', { timeout: 300_000 }, () => {
  for (const [plugin, action, what] of [
    ['stubborn', 'regex', 'holds the GIL in C'],
    ['stubborn', 'sleep', 'ignores the cancel'],
    ['cjm', 'sleep', 'runs on the seed’s worker (no /cancel, one request at a time)'],
  ] as const) {
    test(`that ${what} ends after the grace with its worker restarted, and says so`, async () => {
      const abort = new AbortController();
      const there = logged(plugin, 'supervision:');
      const call = settle(registry.execute(plugin, { kwargs: { action }, signal: abort.signal }));
      await there;
      const oldPid = registry.get(plugin)?.pid as number;
      const cancelledAt = Date.now();
      abort.abort();
      const { error, at } = await call;
      figures.push(`cancel of a call that ${what}: reported ${at - cancelledAt} ms after the cancel (grace ${GRACE_MS} ms)`);
      assert.equal(error?.kind, 'cancelled');
      assert.match(error?.message ?? '', ESCALATED);
      assert.ok(at - cancelledAt >= GRACE_MS, 'not before the grace was over');
      await restartedAndWorking(plugin, oldPid);
      assert.equal(registry.get(plugin)?.lastError, undefined, 'a restart after a cancel is not a failure');
    });
  }

  test('a call made while the worker is being replaced goes to the new worker', async () => {
    const abort = new AbortController();
    const there = logged('stubborn', 'supervision: holding the GIL');
    const stuck = settle(registry.execute('stubborn', { kwargs: { action: 'regex' }, signal: abort.signal }));
    await there;
    const oldPid = registry.get('stubborn')?.pid as number;
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 300)); // the stop (about 3 s for a GIL) is under way
    const next = await registry.execute('stubborn', { kwargs: { action: 'cooperative', seconds: 0 } });
    assert.deepEqual(next, { cancelled: false });
    assert.notEqual(registry.get('stubborn')?.pid, oldPid);
    assert.match((await stuck).error?.message ?? '', ESCALATED);
  });

  test('that the plugin honours ends as cancelled, on the same worker', async () => {
    const abort = new AbortController();
    const there = logged('stubborn', 'supervision: cooperating');
    const call = settle(registry.execute('stubborn', { kwargs: { action: 'cooperative' }, signal: abort.signal }));
    await there;
    const pid = registry.get('stubborn')?.pid;
    abort.abort();
    const { error } = await call;
    assert.equal(error?.kind, 'cancelled');
    assert.doesNotMatch(error?.message ?? '', ESCALATED);
    assert.equal(registry.get('stubborn')?.pid, pid, 'no restart');
  });

  test('a stream stuck in C after its first item: cancelled, worker restarted', async () => {
    const abort = new AbortController();
    const items: unknown[] = [];
    const there = logged('stubborn', 'supervision: holding the GIL');
    const stream = (async () => {
      for await (const item of registry.executeStream('stubborn', { kwargs: { action: 'regex_after_first' }, signal: abort.signal })) items.push(item);
    })();
    const ended = settle(stream);
    await there;
    const oldPid = registry.get('stubborn')?.pid as number;
    abort.abort();
    const { error } = await ended;
    assert.deepEqual(items, [{ i: 0 }]);
    assert.match(error?.message ?? '', ESCALATED);
    await restartedAndWorking('stubborn', oldPid);
  });

  test('a stream its consumer left while the plugin is stuck in C: the worker is restarted', async () => {
    const there = logged('stubborn', 'supervision: holding the GIL');
    for await (const item of registry.executeStream('stubborn', { kwargs: { action: 'regex_after_first' } })) {
      assert.deepEqual(item, { i: 0 });
      await there;
      break;
    }
    const oldPid = registry.get('stubborn')?.pid as number;
    await restartedAndWorking('stubborn', oldPid);
  });
});

describe('Stop (the Plugins view, rpp) of a plugin that does not want to stop', { timeout: 300_000 }, () => {
  test('during a call holding the GIL: returns within 5 s, the call fails as stopped, nothing left', async () => {
    const there = logged('stubborn', 'supervision: holding the GIL');
    const call = settle(registry.execute('stubborn', { kwargs: { action: 'regex' } }));
    await there;
    const started = Date.now();
    await registry.stop('stubborn');
    const took = Date.now() - started;
    figures.push(`Stop during a call holding the GIL: ${took} ms`);
    assert.ok(took < STOP_BOUND_MS, `Stop took ${took} ms`);
    assert.match((await call).error?.message ?? '', /stopped while the call was running/);
    assert.equal(registry.get('stubborn')?.state, 'stopped');
    assert.deepEqual(processesWithMark(folder.mark).filter((p) => p.cmdline.includes('--name stubborn')), []);
  });

  test('during a 60 s import: returns at once, the waiting call is cancelled, no error is shown', async () => {
    const there = logged('slowimport', 'supervision: importing slowly');
    const call = settle(registry.execute('slowimport', {}));
    await there;
    assert.equal(registry.get('slowimport')?.state, 'starting');
    const started = Date.now();
    await registry.stop('slowimport');
    const took = Date.now() - started;
    figures.push(`Stop during a 60 s import: ${took} ms`);
    assert.ok(took < STOP_BOUND_MS, `Stop took ${took} ms`);
    assert.equal((await call).error?.kind, 'cancelled');
    assert.equal(registry.get('slowimport')?.state, 'stopped');
    assert.equal(registry.get('slowimport')?.lastError, undefined);
    assert.deepEqual(processesWithMark(folder.mark).filter((p) => p.cmdline.includes('--name slowimport')), []);
  });

  test('a call cancelled while its worker is still importing ends at once; the import goes on', async () => {
    const abort = new AbortController();
    const there = logged('slowimport', 'supervision: importing slowly');
    const call = settle(registry.execute('slowimport', { signal: abort.signal }));
    await there;
    const cancelledAt = Date.now();
    abort.abort();
    const { error, at } = await call;
    assert.equal(error?.kind, 'cancelled');
    assert.ok(at - cancelledAt < GRACE_MS, 'not after a grace: nothing runs in the plugin yet');
    assert.equal(registry.get('slowimport')?.state, 'starting', 'the start is for the next call; Stop ends it');
    await registry.stop('slowimport');
  });
});

test('a worker that crashes takes its children (in its group and in a new session) with it at once', async () => {
  const goFile = path.join(folder.dir, 'crash-now');
  let children: number[] = [];
  const there = new Promise<void>((resolve) => {
    const subscription = registry.onLog((event) => {
      const said = /^supervision: crashing with children ([\d ]+) \(/.exec(event.message);
      if (event.plugin !== 'stubborn' || !said) return;
      children = said[1].trim().split(' ').map(Number);
      subscription.dispose();
      resolve();
    });
  });
  const call = settle(registry.execute('stubborn', { kwargs: { action: 'crash_with_child', go_file: goFile } }));
  await there;
  assert.equal(stillRunning(children).length, 2, 'both children run before the crash');
  await writeFile(goFile, 'go');
  const toldAt = Date.now();
  const { error, at } = await call;
  assert.equal(error?.kind, 'crash');
  assert.match(error?.message ?? '', /exited with code 9/);
  assert.deepEqual(stillRunning(children), [], 'gone by the time the call reports the crash');
  figures.push(`crash leaving two children: call failed and children gone ${at - toldAt} ms after the plugin was told to crash (it pauses 50 ms, then os._exit)`);
});

test('a keeper killed from outside still takes its worker and the worker’s group along', async () => {
  await registry.restart('stubborn'); // a fresh worker, whatever the tests before left

  const worker = registry.get('stubborn')?.pid as number;
  const keeper = Number((readProc(worker, 'stat') ?? '').split(') ')[1]?.split(' ')[1]);
  assert.match(readProc(keeper, 'cmdline') ?? '', /rpp_keeper\.py/);
  const there = logged('stubborn', 'supervision: sleeping');
  const call = settle(registry.execute('stubborn', { kwargs: { action: 'sleep' } }));
  await there;
  process.kill(keeper, 'SIGKILL');
  const { error } = await call;
  assert.equal(error?.kind, 'crash');
  await waitFor(() => readProc(worker, 'stat') === undefined, { what: 'the worker to die with its keeper', timeoutMs: 15_000 });
  assert.equal(registry.get('stubborn')?.state, 'crashed');
});
