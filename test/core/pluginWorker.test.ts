// PluginWorker against the real worker (worker/rpp_worker.py) and a real plugin process.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import { PluginWorker } from '../../src/core/pluginWorker';
import { defaultWorkerScript } from '../../src/core/workerScript';
import { workerScript } from '../helpers/python';
import { describeIndices, PAD_BEYOND_UNSENT_BOUND, assertOnlyLastMayBeLost, streamLosses } from '../helpers/streamLedger';
import { waitFor } from '../helpers/waitFor';
import { makeFixturePlugin, processExists } from './pluginWorkerFixture';

const fixture = makeFixturePlugin();
after(() => fixture.remove());

function isKind(kind: PluginError['kind'], pattern?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof PluginError, `expected a PluginError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (pattern) assert.match(error.message + '\n' + (error.detail ?? ''), pattern);
    return true;
  };
}

/** Generous: the machine may be loaded. */
const WAIT_MS = 30_000;

test('the bundled worker script is found by walking up from the code', () => {
  assert.equal(defaultWorkerScript(), workerScript);
  assert.throws(() => defaultWorkerScript('file:///'), /worker\/rpp_worker.py was not found.*reinstall/);
});

describe('a warm worker', () => {
  let worker: PluginWorker;
  before(async () => {
    worker = await PluginWorker.start(fixture.options());
  });
  after(() => worker.dispose());

  test('starts with its own pid and a loopback port', () => {
    assert.equal(worker.name, 'proxy-test');
    assert.ok(worker.pid > 0 && worker.pid !== process.pid);
    assert.ok(worker.port > 0);
    assert.ok(worker.alive);
    assert.ok(processExists(worker.pid));
  });

  test('execute returns the plugin result', async () => {
    const result = (await worker.execute(['a', 1], { k: [true, null] })) as Record<string, unknown>;
    assert.deepEqual(result.args, ['a', 1]);
    assert.deepEqual(result.kwargs, { k: [true, null] });
    assert.equal(result.pid, worker.pid);
    assert.equal(worker.activeCalls, 0);
  });

  test('initialize, config, configSchema, stats, health, progress', async () => {
    await worker.initialize({ level: 3 });
    assert.deepEqual(await worker.config(), { level: 3 });
    assert.equal((await worker.configSchema()).type, 'object');
    const stats = await worker.stats();
    assert.equal(stats.pid, worker.pid);
    assert.ok((stats.rss_bytes ?? 0) > 1_000_000, `rss_bytes ${stats.rss_bytes}`);
    assert.ok(stats.calls >= 1);
    const health = await worker.health({ timeoutMs: 2000 });
    assert.equal(health.status, 'ok');
    assert.equal((await worker.progress()).busy, false);
  });

  test('a rejected configuration is the plugin error', async () => {
    await assert.rejects(worker.initialize({ reject: true }), isKind('plugin', /ValueError: config rejected/));
  });

  test('a plugin that raises gives its message and traceback', async () => {
    await assert.rejects(worker.execute([], { action: 'raise', why: 'no audio' }), (error: unknown) => {
      isKind('plugin')(error);
      const failure = error as PluginError;
      assert.equal(failure.message, 'ValueError: bad input: no audio');
      assert.equal(failure.job?.category, 'user_input');
      assert.match(failure.detail ?? '', /Traceback[\s\S]*proxy_test_plugin\.py", line \d+, in execute/);
      return true;
    });
    assert.ok(worker.alive);
  });

  test('stream items arrive before the stream ends', async () => {
    const gate = `${fixture.dir}/gate-${Date.now()}`;
    const stream = worker.executeStream([], { count: 3, gate })[Symbol.asyncIterator]();
    const first = await stream.next();
    assert.deepEqual(first, { value: { i: 0 }, done: false });
    // The plugin is still blocked after its first item: the stream is not over.
    assert.equal(existsSync(gate), false);
    assert.equal(worker.activeCalls, 1);
    writeFileSync(gate, '');
    const rest: unknown[] = [];
    for (let item = await stream.next(); !item.done; item = await stream.next()) rest.push(item.value);
    assert.deepEqual(rest, [{ i: 1 }, { i: 2 }]);
    assert.equal(worker.activeCalls, 0);
  });

  test('a stream error comes after the items before it', async () => {
    const items: unknown[] = [];
    await assert.rejects(async () => {
      for await (const item of worker.executeStream([], { count: 5, raise_at: 2 })) items.push(item);
    }, isKind('plugin', /RuntimeError: stream broke at 2/));
    assert.deepEqual(items, [{ i: 0 }, { i: 1 }]);
    assert.equal(worker.activeCalls, 0);
  });

  test('a consumer that stops early releases the call', async () => {
    for await (const item of worker.executeStream([], { count: 100_000 })) {
      assert.deepEqual(item, { i: 0 });
      break;
    }
    assert.equal(worker.activeCalls, 0);
    assert.deepEqual(((await worker.execute([1], {})) as { args: unknown[] }).args, [1]);
  });

  test('aborting the signal cancels the call in the worker', async () => {
    const controller = new AbortController();
    const call = worker.execute([], { action: 'wait_cancel' }, { signal: controller.signal });
    const progress = await waitFor(() => worker.progress(), { what: 'the worker to report the call busy', timeoutMs: WAIT_MS, until: (p) => p.busy === true });
    assert.equal(worker.activeCalls, 1);
    assert.equal(progress.progress, 0.25);
    assert.equal(progress.message, 'waiting to be cancelled');
    controller.abort();
    await assert.rejects(call, isKind('cancelled'));
    await waitFor(() => worker.activeCalls, { what: 'the call to be released', timeoutMs: WAIT_MS, until: (n) => n === 0 });
    // The plugin saw the cancel and returned.
    await waitFor(() => worker.progress(), { what: 'the worker to be idle after the cancel', timeoutMs: WAIT_MS, until: (p) => p.busy === false });
  });

  test('aborting a stream ends it with cancelled, no hang', async () => {
    const controller = new AbortController();
    const items: unknown[] = [];
    await assert.rejects(async () => {
      for await (const item of worker.executeStream([], { count: 1_000_000, slow: true }, { signal: controller.signal })) {
        items.push(item);
        if (items.length === 3) controller.abort();
      }
    }, isKind('cancelled'));
    assert.ok(items.length >= 3);
    await waitFor(() => worker.activeCalls, { what: 'the stream to be released', timeoutMs: WAIT_MS, until: (n) => n === 0 });
  });

  test('an already aborted signal never sends the call', async () => {
    await assert.rejects(worker.execute([], {}, { signal: AbortSignal.abort() }), isKind('cancelled'));
  });

  test('2 x 200 concurrent calls: none lost, each answer to its caller', async () => {
    for (let round = 0; round < 2; round++) {
      const calls = Array.from({ length: 200 }, (_, i) => worker.execute([round, i], {}));
      const results = (await Promise.all(calls)) as { args: number[] }[];
      results.forEach((result, i) => assert.deepEqual(result.args, [round, i]));
    }
    assert.equal(worker.activeCalls, 0);
  });
});

describe('crashes', () => {
  test('a crash mid-call rejects with the exit code and stderr tail', async () => {
    const worker = await PluginWorker.start(fixture.options());
    await assert.rejects(worker.execute([], { action: 'crash' }), (error: unknown) => {
      isKind('crash', /exited with code 7/)(error);
      assert.match((error as PluginError).detail ?? '', /plugin is about to die/);
      assert.equal((error as PluginError).options.exitCode, 7);
      return true;
    });
    const exit = await worker.exited;
    assert.deepEqual([exit.code, exit.expected], [7, false]);
    assert.equal(worker.alive, false);
    await assert.rejects(worker.execute([], {}), isKind('crash'));
    await worker.dispose();
  });

  test('a crash mid-stream delivers every item the worker sent, then the crash', async (t) => {
    const worker = await PluginWorker.start(fixture.options());
    const ledger = `${fixture.dir}/ledger-${Date.now()}`;
    const items: Array<{ i: number; pad: string }> = [];
    // The plugin dies the moment it is resumed after item 2; each item is larger than what the worker
    // may hold unsent, so items 0 and 1 were sent by then and only item 2 may be lost.
    await assert.rejects(async () => {
      for await (const item of worker.executeStream([], { count: 10, crash_at: 3, ledger, pad: PAD_BEYOND_UNSENT_BOUND })) items.push(item as { i: number; pad: string });
    }, isKind('crash', /exited with code 7[\s\S]*stream dies at 3/));
    const { yielded, lost } = streamLosses(items, ledger);
    t.diagnostic(`yielded ${describeIndices(yielded)}, lost ${describeIndices(lost)}`);
    assert.deepEqual(yielded, [0, 1, 2]);
    assertOnlyLastMayBeLost(lost);
    assert.ok(items.every((item) => item.pad.length === PAD_BEYOND_UNSENT_BOUND), 'every delivered item is whole');
    await worker.dispose();
  });

  test('a worker killed by a signal names the signal', async () => {
    const worker = await PluginWorker.start(fixture.options());
    const call = worker.execute([], { action: 'wait_cancel' });
    await waitFor(() => worker.progress(), { what: 'the worker to report the call busy', timeoutMs: WAIT_MS, until: (p) => p.busy === true });
    process.kill(worker.pid, 'SIGKILL');
    await assert.rejects(call, isKind('crash', /killed by SIGKILL/));
    await worker.dispose();
  });
});

describe('dispose', () => {
  test('is idempotent and leaves no process', async () => {
    const worker = await PluginWorker.start(fixture.options());
    const { pid } = worker;
    await Promise.all([worker.dispose(), worker.dispose()]);
    await worker.dispose();
    assert.equal(existsSync(`/proc/${pid}`), false);
    const exit = await worker.exited;
    assert.equal(exit.expected, true);
    await assert.rejects(worker.execute([], {}), isKind('cancelled'));
  });

  test('kills a hung plugin and its children (the whole process group)', async () => {
    const worker = await PluginWorker.start(fixture.options());
    const pidfile = `${fixture.dir}/child-${Date.now()}.pid`;
    const call = worker.execute([], { action: 'hang', pidfile });
    call.catch(() => undefined); // it rejects during dispose(), before assert.rejects looks at it
    const child = Number(await waitFor(() => existsSync(pidfile) && readFileSync(pidfile, 'utf8'), { what: `the plugin to write its child's pid into ${pidfile}`, timeoutMs: WAIT_MS }));
    assert.ok(processExists(child));
    await worker.dispose();
    await assert.rejects(call, isKind('cancelled', /stopped while the call was running/));
    assert.equal(existsSync(`/proc/${worker.pid}`), false);
    await waitFor(() => !existsSync(`/proc/${child}`), { what: `the plugin's child ${child} to be gone`, timeoutMs: WAIT_MS });
  });
});

describe('start failures', () => {
  test('a python_path that does not exist', async () => {
    const missing = '/nonexistent/bin/python3';
    await assert.rejects(
      PluginWorker.start(fixture.options({ pythonExecutable: missing })),
      isKind('start', /python_path "\/nonexistent\/bin\/python3" was not found.*Point "python_path"/),
    );
  });

  test('an import error names ModuleNotFoundError and what to check', async () => {
    await assert.rejects(
      PluginWorker.start(fixture.options({ manifest: { module: 'no_such_plugin_module' } })),
      isKind('start', /exited with code 3.*ModuleNotFoundError: No module named 'no_such_plugin_module'.*Check "module"/),
    );
  });

  test('a slow import beyond the start-up timeout is killed, with its stderr tail', async () => {
    const lines: string[] = [];
    await assert.rejects(
      PluginWorker.start(
        fixture.options({ startupTimeoutMs: 1500, manifest: { env_vars: { SLOW_IMPORT_S: '30' } }, onStderrLine: (line) => lines.push(line) }),
      ),
      isKind('start', /did not report ready within 1.5 s.*loading a big model.*startup_timeout_s/),
    );
    assert.ok(lines.includes('loading a big model...'));
  });

  test('a start aborted while the plugin imports rejects as cancelled', async () => {
    const controller = new AbortController();
    // Aborted once the worker is importing the plugin (it says so on stderr), not after a guessed delay.
    const onStderrLine = (line: string): void => {
      if (line === 'loading a big model...') controller.abort();
    };
    const start = PluginWorker.start(fixture.options({ signal: controller.signal, onStderrLine, manifest: { env_vars: { SLOW_IMPORT_S: '30' } } }));
    await assert.rejects(start, isKind('cancelled'));
    assert.ok(controller.signal.aborted, 'the start was aborted mid-import, not failed otherwise');
  });
});
