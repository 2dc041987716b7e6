// Seed-compatible mode: the seed's command line (`python -m cjm_plugin_system.core.worker`), made
// ready by polling /health, driven over the same wire. The seed's package is not installable here,
// so test/fixtures/cjm_plugin_system rebuilds its worker on FastAPI/uvicorn (see its docstring).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { PluginError } from '../../src/core/errors';
import { withFileInput } from '../../src/core/fileInput';
import { PluginWorker } from '../../src/core/pluginWorker';
import { assertMatchesSchema } from '../helpers/protocol';
import { waitFor } from '../helpers/waitFor';
import { cjmOptions, cjmPythonPath, writeCjmStylePlugin, type CjmGeneration } from './cjmWorkerFixture';
import { makeFixturePlugin, processExists } from './pluginWorkerFixture';

const fixture = makeFixturePlugin();
writeCjmStylePlugin(fixture.dir);
after(() => fixture.remove());
const pythonPath = cjmPythonPath(fixture.dir);
const cjmStyle = { module: 'cjm_style_plugin', class: 'CjmStylePlugin' };

describe('a cjm worker', () => {
  let worker: PluginWorker;
  before(async () => {
    worker = await PluginWorker.start(cjmOptions(fixture, 'early'));
  });
  after(() => worker.dispose());

  test('starts with the seed command line and answers on its port', async () => {
    assert.ok(processExists(worker.pid));
    const cmdline = readFileSync(`/proc/${worker.pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(1, 5), ['-m', 'cjm_plugin_system.core.worker', '--module', 'proxy_test_plugin']);
    assert.ok(cmdline.includes('--port') && cmdline.includes(String(worker.port)));
    assert.ok(!cmdline.join(' ').match(/[0-9a-f]{64}/), 'the secret is never on the command line');
    assert.equal((await worker.health()).status, 'running');
  });

  test('execute, stream, initialize, config, schema, stats', async () => {
    assert.deepEqual(((await worker.execute([1, 'x'], {})) as { args: unknown[] }).args, [1, 'x']);
    const items: unknown[] = [];
    for await (const item of worker.executeStream([], { count: 4 })) items.push(item);
    assert.deepEqual(items, [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
    await worker.initialize({ level: 2 });
    assert.deepEqual(await worker.config(), { level: 2 });
    assert.equal((await worker.configSchema()).type, 'object');
    assert.equal((await worker.stats()).pid, worker.pid);
  });

  test('a plugin error (FastAPI-style 500 detail) is the plugin message', async () => {
    await assert.rejects(
      worker.execute([], { action: 'raise', why: 'seed' }),
      (error: unknown) => error instanceof PluginError && error.kind === 'plugin' && error.message === 'bad input: seed',
    );
  });

  test('100 sequential calls all answer', async () => {
    for (let i = 0; i < 100; i++) assert.deepEqual(((await worker.execute([i], {})) as { args: unknown[] }).args, [i]);
  });
});

test('cjm dispose leaves no process', async () => {
  const worker = await PluginWorker.start(cjmOptions(fixture, 'early'));
  await worker.dispose();
  await worker.dispose();
  assert.equal(existsSync(`/proc/${worker.pid}`), false);
  assert.equal((await worker.exited).expected, true);
});

test('a cjm worker whose module is missing fails to start with the hint', async () => {
  await assert.rejects(
    PluginWorker.start(cjmOptions(fixture, 'early', { module: 'nope_module' })),
    (error: unknown) => error instanceof PluginError && error.kind === 'start' && /No module named 'nope_module'.*Check "module"/.test(error.message),
  );
});

test('an in-memory file reaches the plugin through a private temp file, removed after the call even when it fails', async () => {
  const worker = await PluginWorker.start(cjmOptions(fixture, 'early'));
  try {
    let seen = '';
    const result = await withFileInput({ content: 'unsaved text ✓', name: 'Untitled-1.txt' }, async (filePath) => {
      seen = filePath;
      assert.equal(statSync(filePath).mode & 0o777, 0o600);
      assert.equal(statSync(path.dirname(filePath)).mode & 0o777, 0o700);
      return worker.execute([filePath], { action: 'read' });
    });
    assert.deepEqual(result, { path: seen, text: 'unsaved text ✓' });
    assert.equal(existsSync(path.dirname(seen)), false);
    await assert.rejects(
      withFileInput({ content: 'x', name: 'a.wav' }, async (filePath) => {
        seen = filePath;
        return worker.execute([filePath], { action: 'raise', why: 'bad wav' });
      }),
      /bad wav/,
    );
    assert.equal(existsSync(path.dirname(seen)), false);
  } finally {
    await worker.dispose();
  }
});

/** A request straight to a worker's port (cjm's worker checks no secret): status and parsed body. */
async function raw(worker: PluginWorker, method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; text: string; json: unknown }> {
  const response = await request(`http://127.0.0.1:${worker.port}${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // NDJSON: the caller reads text
  }
  return { status: response.statusCode, text, json };
}

function lines(text: string): unknown[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);
}

async function collect(stream: AsyncIterable<unknown>): Promise<{ items: unknown[]; error?: unknown }> {
  const items: unknown[] = [];
  try {
    for await (const item of stream) items.push(item);
    return { items };
  } catch (error) {
    return { items, error };
  }
}

const isPluginError = (kind: string, message: string | RegExp) => (error: unknown) =>
  error instanceof PluginError && error.kind === kind && (typeof message === 'string' ? error.message === message : message.test(error.message));

for (const generation of ['early', 'current'] as const satisfies readonly CjmGeneration[]) {
  describe(`a plugin written for cjm-plugin-system on cjm's ${generation} worker`, () => {
    let worker: PluginWorker;
    before(async () => {
      worker = await PluginWorker.start(cjmOptions(fixture, generation, cjmStyle));
    });
    after(() => worker.dispose());

    test('its /health and /stats answers are the cjm variants of schemas/protocol; stats() is the one shape', async () => {
      assertMatchesSchema('cjm-health', (await raw(worker, 'GET', '/health')).json);
      assertMatchesSchema('cjm-health', await worker.health());
      const answer = (await raw(worker, 'GET', '/stats')).json as Record<string, unknown>;
      assertMatchesSchema('cjm-stats', answer);
      assert.equal('subtree_pids' in answer, generation === 'current');
      const stats = await worker.stats();
      assertMatchesSchema('stats', stats);
      assert.equal(stats.pid, worker.pid);
      assert.ok(stats.rss_bytes !== null && stats.rss_bytes > 1_000_000, `tree memory from memory_rss_mb: ${stats.rss_bytes}`);
      assert.equal(stats.busy, false);
      assert.ok(stats.uptime_s > 0, 'uptime from the host');
      assert.equal(stats.children, generation === 'current' ? 0 : null, 'children only where the worker lists its subtree');
      assert.equal(stats.threads, null, 'a figure the worker does not give is null, not invented');
    });

    test('a rejected configuration (HTTP 400 {"detail"}) is a plugin error with the plugin\'s message', async () => {
      const answer = await raw(worker, 'POST', '/initialize', { model: 'huge' });
      assert.equal(answer.status, 400);
      assertMatchesSchema('cjm-detail', answer.json);
      await assert.rejects(worker.initialize({ model: 'huge' }), isPluginError('plugin', "unknown model 'huge': choose tiny or base"));
      await worker.initialize({ model: 'base' });
      assert.deepEqual(await worker.config(), { model: 'base' });
    });

    test('a failed execute (HTTP 500 {"detail"}) is a plugin error with the plugin\'s message', async () => {
      const answer = await raw(worker, 'POST', '/execute', { args: [], kwargs: { action: 'raise', why: 'speaker' } });
      assert.equal(answer.status, 500);
      assertMatchesSchema('cjm-detail', answer.json);
      await assert.rejects(worker.execute([], { action: 'raise', why: 'speaker' }), isPluginError('plugin', "'speaker'"));
    });

    test('a failed stream delivers the items before the failure, then the plugin error', async () => {
      const kwargs = { items: [{ i: 0 }, { i: 1 }], fail: 'decoder lost sync' };
      const wire = lines((await raw(worker, 'POST', '/execute_stream', { args: [], kwargs })).text);
      assert.deepEqual(wire.slice(0, 2), [{ i: 0 }, { i: 1 }]);
      assertMatchesSchema(generation === 'early' ? 'cjm-stream-error' : 'cjm-job-error', wire[2]);
      const { items, error } = await collect(worker.executeStream([], kwargs));
      assert.deepEqual(items, [{ i: 0 }, { i: 1 }]);
      if (generation === 'early') {
        assert.ok(isPluginError('plugin', 'decoder lost sync')(error), `got ${String(error)}`);
      } else {
        // The current worker's _job_error: the type from original_exc_repr, the traceback kept.
        assert.ok(isPluginError('plugin', 'RuntimeError: decoder lost sync')(error), `got ${String(error)}`);
        assert.match((error as PluginError).detail ?? '', /Traceback[\s\S]*RuntimeError: decoder lost sync/);
      }
    });

    test('an {"error": ...} item that more items follow is the plugin\'s item, not a failure', async () => {
      const yielded = [{ i: 0 }, { error: 'low confidence' }, { i: 2 }];
      assert.deepEqual((await collect(worker.executeStream([], { items: yielded }))).items, yielded);
    });

    test('calls and errors are counted by the host where the worker does not count them', async () => {
      const before = await worker.stats();
      await worker.execute([1], {});
      await worker.execute([], { action: 'raise', why: 'x' }).catch(() => undefined);
      await collect(worker.executeStream([], { fail: 'x' }));
      const after = await worker.stats();
      assert.equal(after.calls - before.calls, 3);
      assert.equal(after.errors - before.errors, 2);
    });
  });
}

describe("cjm's early worker runs a synchronous call on its event loop", () => {
  test('stats() during such a call says busy with the figures it cannot know as null, not unresponsive', async () => {
    const worker = await PluginWorker.start(cjmOptions(fixture, 'early', cjmStyle));
    try {
      const gate = path.join(fixture.dir, 'early-gate');
      const call = worker.execute([], { action: 'block_until', gate });
      await waitFor(() => worker.activeCalls === 1, { what: 'the call to reach the worker', timeoutMs: 30_000 });
      const stats = await worker.stats({ timeoutMs: 300 });
      assertMatchesSchema('stats', stats);
      assert.equal(stats.busy, true);
      assert.equal(stats.rss_bytes, null);
      writeFileSync(gate, '');
      assert.deepEqual(await call, { gate: true });
      assert.equal((await worker.stats()).busy, false);
    } finally {
      await worker.dispose();
    }
  });
});

describe("cjm's current worker", () => {
  let worker: PluginWorker;
  before(async () => {
    worker = await PluginWorker.start(cjmOptions(fixture, 'current', cjmStyle));
  });
  after(() => worker.dispose());

  test('reports progress while a call runs, and a cancel stops the plugin through its own cancel()', async () => {
    const started = path.join(fixture.dir, 'current-started');
    const abort = new AbortController();
    const call = worker.execute([], { action: 'work_until_cancelled', started }, { signal: abort.signal });
    await waitFor(() => existsSync(started), { what: 'the plugin to start working', timeoutMs: 30_000 });
    const progress = await worker.progress();
    assertMatchesSchema('cjm-progress', progress);
    assert.deepEqual(progress, { progress: 0.5, message: 'halfway' });
    abort.abort();
    await assert.rejects(call, isPluginError('cancelled', /cancelled/));
    // Ran to its 30 s deadline, the plugin would say so; it says cancel() stopped it.
    assert.deepEqual(await worker.execute([], { action: 'last_outcome' }), { outcome: 'cancelled through cancel()' });
  });

  test('a PluginCancelledError is answered 409 {"detail"}, which is a cancelled call', async () => {
    const started = path.join(fixture.dir, 'current-started-409');
    const call = worker.execute([], { action: 'work_until_cancelled', started });
    await waitFor(() => existsSync(started), { what: 'the plugin to start working', timeoutMs: 30_000 });
    await worker.cancel();
    await assert.rejects(call, isPluginError('cancelled', /cancelled by operator/));
  });

  test("the usage the plugin reported for its last call is in stats()", async () => {
    await worker.execute([], { action: 'usage', tokens: 42 });
    const stats = await worker.stats();
    assertMatchesSchema('stats', stats);
    assert.deepEqual(stats.usage, { tokens: 42 });
  });
});

test('a cjm worker, which stays up after /cleanup, is stopped: its cleanup() ran and the process is gone', async () => {
  const worker = await PluginWorker.start(cjmOptions(fixture, 'early', cjmStyle));
  const marker = path.join(fixture.dir, 'cleanup-marker');
  await worker.execute([], { action: 'mark_cleanup', marker });
  await worker.dispose();
  assert.equal(readFileSync(marker, 'utf8'), 'cleaned');
  assert.equal((await worker.exited).expected, true);
  assert.equal(processExists(worker.pid), false);
});

describe('a plugin written for cjm-plugin-system on the bundled worker', () => {
  let worker: PluginWorker;
  before(async () => {
    worker = await PluginWorker.start(fixture.options({ manifest: { ...cjmStyle, env_vars: { PYTHONPATH: pythonPath } } }));
  });
  after(() => worker.dispose());

  test("a cancel calls the plugin's own cancel(), from another thread while the call runs, and the next call runs", async () => {
    const started = path.join(fixture.dir, 'bundled-started');
    const abort = new AbortController();
    const call = worker.execute([], { action: 'work_until_cancelled', started }, { signal: abort.signal });
    await waitFor(() => existsSync(started), { what: 'the plugin to start working', timeoutMs: 30_000 });
    abort.abort();
    await assert.rejects(call, isPluginError('cancelled', /cancelled/));
    assert.deepEqual(await worker.execute([], { action: 'last_outcome' }), { outcome: 'cancelled through cancel()' });
  });

  test('a cancel flag left by cancel() does not leak into the next call', async () => {
    assert.deepEqual(((await worker.execute(['after'], {})) as { args: unknown[] }).args, ['after']);
  });

  test('its stream error is a _job_error; an {"error": ...} last item is an item here', async () => {
    const failed = await collect(worker.executeStream([], { items: [{ i: 0 }], fail: 'boom' }));
    assert.deepEqual(failed.items, [{ i: 0 }]);
    assert.ok(isPluginError('plugin', 'RuntimeError: boom')(failed.error), `got ${String(failed.error)}`);
    const yielded = [{ i: 0 }, { error: 'low confidence' }];
    assert.deepEqual(await collect(worker.executeStream([], { items: yielded })), { items: yielded });
  });
});
