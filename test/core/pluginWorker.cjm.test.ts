// Seed-compatible mode: the seed's command line (`python -m cjm_plugin_system.core.worker`), made
// ready by polling /health, driven over the same wire. The seed's package is not installable here,
// so test/fixtures/cjm_plugin_system rebuilds its worker on FastAPI/uvicorn (see its docstring).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import { execa } from 'execa';
import { Pool } from 'undici';
import { PluginError } from '../../src/core/errors';
import { withFileInput } from '../../src/core/fileInput';
import { PluginWorker } from '../../src/core/pluginWorker';
import { cjmOptions, cjmPython, cjmPythonPath } from './cjmWorkerFixture';
import { makeFixturePlugin, processExists } from './pluginWorkerFixture';

const fixture = makeFixturePlugin();
after(() => fixture.remove());
const pythonPath = cjmPythonPath(fixture.dir);

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

  test('100 sequential calls over fresh connections all answer', async () => {
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

// Why CJM_KEEP_ALIVE is false in src/core/pluginWorker.ts: this measures both against the stand-in.
test('measure: keep-alive vs a new connection per call against the seed-style server', async (t) => {
  const port = await getPort({ host: '127.0.0.1' });
  const server = execa(cjmPython, ['-m', 'cjm_plugin_system.core.worker', '--module', 'proxy_test_plugin', '--class', 'ProxyTestPlugin', '--port', String(port)], {
    env: { PYTHONPATH: pythonPath },
    reject: false,
  });
  try {
    const medians: Record<string, number> = {};
    for (const [mode, pipelining] of [['keep-alive', 1], ['new connection', 0]] as const) {
      const pool = new Pool(`http://127.0.0.1:${port}`, { pipelining });
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const started = performance.now();
        let response;
        try {
          response = await pool.request({ method: 'POST', path: '/execute', body: JSON.stringify({ args: [i], kwargs: {} }) });
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 20)); // not listening yet
          i--;
          continue;
        }
        assert.deepEqual((await response.body.json()) as unknown, { args: [i], kwargs: {}, pid: server.pid });
        times.push(performance.now() - started);
      }
      await pool.close();
      medians[mode] = times.sort((a, b) => a - b)[15];
    }
    t.diagnostic(`median per call: keep-alive ${medians['keep-alive'].toFixed(2)} ms, new connection ${medians['new connection'].toFixed(2)} ms`);
  } finally {
    server.kill('SIGKILL');
    await server;
  }
});
