// Worker start-up: the ready line, stdout isolation, and the exit codes of failed starts,
// with the project's interpreter and with Debian's /usr/bin/python3.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { interpreters, launchWorker, startWorker } from './workerHarness';

for (const interpreter of interpreters) {
  describe(`start-up with ${interpreter}`, () => {
    test('announces one JSON ready line with port, pid, protocol and plugin name', async () => {
      const worker = await startWorker({ module: 'echo_plugin', cls: 'EchoPlugin', python: interpreter, args: ['--name', 'echo-test'] });
      try {
        const ready = JSON.parse(await worker.readyLine as string) as Record<string, unknown>;
        assert.deepEqual(Object.keys(ready).sort(), ['pid', 'plugin', 'port', 'protocol', 'python', 'rpp_worker']);
        assert.equal(ready.rpp_worker, 1);
        assert.equal(ready.protocol, 1);
        assert.equal(ready.plugin, 'echo-test');
        assert.equal(ready.pid, worker.proc.pid);
        assert.match(String(ready.python), /^3\.\d+\.\d+$/);
        assert.ok(Number(ready.port) > 0 && Number(ready.port) < 65536);
        const health = await worker.call('GET', '/health');
        assert.deepEqual(health.json, { status: 'ok', plugin: 'echo-test', pid: worker.pid, busy: false, protocol: 1, streams: true });
      } finally {
        await worker.stop();
      }
    });

    test('plugin output on stdout (Python and fd 1) goes to stderr, never next to the ready line', async () => {
      const worker = await startWorker({ module: 'faulty_plugin', cls: 'PrintsPlugin', python: interpreter });
      try {
        const reply = await worker.call('POST', '/execute', { args: [], kwargs: {} });
        assert.deepEqual(reply.json, { printed: true });
        await worker.call('GET', '/health'); // a second request, so the plugin's writes are done
        assert.equal(worker.stdout(), `${await worker.readyLine}\n`);
        for (const text of ['plugin print at construction', 'plugin fd-1 write at construction', 'plugin print during execute', 'plugin fd-1 write during execute']) {
          assert.ok(worker.stderr().includes(text), `stderr lacks ${text}: ${worker.stderr()}`);
        }
      } finally {
        await worker.stop();
      }
    });

    test('an import error exits with code 3, the traceback on stderr and no ready line', async () => {
      const launched = launchWorker({ module: 'broken_import_plugin', cls: 'BrokenImportPlugin', python: interpreter });
      assert.equal(await launched.readyLine, null);
      assert.equal((await launched.exited).code, 3);
      assert.match(launched.stderr(), /Traceback[\s\S]*ModuleNotFoundError: No module named 'rpp_fixture_missing_dependency'/);
      assert.match(launched.stderr(), /cannot import broken_import_plugin\.BrokenImportPlugin/);
    });

    test('a missing class is an import error (code 3) naming it', async () => {
      const launched = launchWorker({ module: 'echo_plugin', cls: 'NoSuchClass', python: interpreter });
      assert.equal(await launched.readyLine, null);
      assert.equal((await launched.exited).code, 3);
      assert.match(launched.stderr(), /AttributeError[\s\S]*NoSuchClass/);
    });

    test('a constructor error exits with code 4 and the traceback', async () => {
      const launched = launchWorker({ module: 'faulty_plugin', cls: 'ConstructorFails', python: interpreter });
      assert.equal(await launched.readyLine, null);
      assert.equal((await launched.exited).code, 4);
      assert.match(launched.stderr(), /RuntimeError: cannot load the model: weights missing/);
    });
  });
}

test('a slow import delays the ready line but does not break it', async () => {
  const started = Date.now();
  const worker = await startWorker({ module: 'slow_import_plugin', cls: 'SlowImportPlugin', env: { SLOW_IMPORT_S: '1' } });
  try {
    assert.ok(Date.now() - started >= 1000, 'the ready line came before the import finished');
    assert.deepEqual((await worker.call('POST', '/execute', {})).json, { slow: true });
  } finally {
    await worker.stop();
  }
});

test('without RPP_WORKER_SECRET the worker refuses to start (code 2) and says why', async () => {
  const launched = launchWorker({ module: 'echo_plugin', cls: 'EchoPlugin', noSecret: true });
  assert.equal(await launched.readyLine, null);
  assert.equal((await launched.exited).code, 2);
  assert.match(launched.stderr(), /RPP_WORKER_SECRET is not set/);
});

test('bad arguments exit with code 2 and the usage', async () => {
  const launched = launchWorker({ module: 'echo_plugin', cls: 'EchoPlugin', args: ['--bogus', 'x'] });
  assert.equal((await launched.exited).code, 2);
  assert.match(launched.stderr(), /bad argument '--bogus'[\s\S]*usage: rpp_worker\.py/);
});
