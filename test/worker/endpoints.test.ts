// Every endpoint of the worker, the refusals (401/403/400/404/405/408), error shapes, result
// encoding and a burst of concurrent connections, against a real worker and real plugins.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { head, rawExchange, SECRET, startWorker, type RunningWorker } from './workerHarness';

interface JobErrorShape {
  category: string;
  type: string;
  message: string;
  retriable: boolean;
  original_exc_repr: string;
  traceback: string;
  plugin_name: string;
  occurred_at: string;
}

function jobError(value: unknown): JobErrorShape {
  assert.ok(typeof value === 'object' && value !== null && '_job_error' in value, `not a _job_error: ${JSON.stringify(value)}`);
  return (value as { _job_error: JobErrorShape })._job_error;
}

function errorMessage(value: unknown): string {
  const message = (value as { error?: { message?: unknown } }).error?.message;
  assert.equal(typeof message, 'string', `not an {"error":{"message"}} body: ${JSON.stringify(value)}`);
  return message as string;
}

describe('echo plugin endpoints', () => {
  let worker: RunningWorker;
  before(async () => (worker = await startWorker({ module: 'echo_plugin', cls: 'EchoPlugin', args: ['--name', 'echo'] })));
  after(() => worker.stop());

  test('/execute returns the plugin result for args and kwargs', async () => {
    const reply = await worker.call('POST', '/execute', { args: [1, 'two', [3]], kwargs: { four: { five: 5 } } });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /application\/json/);
    assert.deepEqual(reply.json, { args: [1, 'two', [3]], kwargs: { four: { five: 5 } }, config: { greeting: 'hello' } });
  });

  test('/execute with an empty body calls with no arguments', async () => {
    const reply = await worker.call('POST', '/execute', '');
    assert.deepEqual(reply.json, { args: [], kwargs: {}, config: { greeting: 'hello' } });
  });

  test('/config_schema, /initialize and /config', async () => {
    const schema = await worker.call('GET', '/config_schema');
    assert.deepEqual(schema.json, { type: 'object', properties: { greeting: { type: 'string', default: 'hello' } } });
    const init = await worker.call('POST', '/initialize', { greeting: 'hi' });
    assert.deepEqual([init.status, init.json], [200, { status: 'ok' }]);
    assert.deepEqual((await worker.call('GET', '/config')).json, { greeting: 'hi' });
    await worker.call('POST', '/initialize', { greeting: 'hello' });
  });

  test('/progress when idle, /cancel with nothing running', async () => {
    assert.deepEqual((await worker.call('GET', '/progress')).json, { busy: false, call_id: null, progress: null, message: null });
    assert.deepEqual((await worker.call('POST', '/cancel', {})).json, { cancelled: 0 });
    assert.deepEqual((await worker.call('POST', '/cancel', { call_id: 'nope' })).json, { cancelled: 0 });
  });

  test('/stats has sane figures for this process', async () => {
    await worker.call('POST', '/execute', {});
    const stats = (await worker.call('GET', '/stats')).json as Record<string, unknown>;
    assert.equal(stats.pid, worker.pid);
    assert.ok(Number(stats.rss_bytes) > 1_000_000, `rss_bytes ${stats.rss_bytes}`);
    assert.ok(Number(stats.rss_bytes) < 500_000_000, `rss_bytes ${stats.rss_bytes}`);
    assert.equal(stats.rss_children_bytes, 0);
    assert.equal(stats.children, 0);
    assert.ok(Number(stats.threads) >= 2, 'the accept loop and this connection');
    assert.ok(Number(stats.cpu_percent) >= 0);
    assert.ok(Number(stats.uptime_s) > 0);
    assert.ok(Number(stats.calls) >= 1);
    assert.equal(stats.errors, 0);
    assert.equal(stats.busy, false);
    assert.equal(stats.platform, 'linux');
  });

  describe('refusals', () => {
    test('no secret → 401 JSON', async () => {
      const reply = await worker.call('GET', '/health', undefined, { authorization: '' });
      assert.equal(reply.status, 401);
      assert.match(errorMessage(reply.json), /Authorization: Bearer/);
    });

    test('wrong secret → 401, also with the right length', async () => {
      const wrong = SECRET.replace(/./, (c) => (c === 'a' ? 'b' : 'a'));
      for (const secret of ['nope', wrong]) {
        const reply = await worker.call('POST', '/execute', {}, { authorization: `Bearer ${secret}` });
        assert.equal(reply.status, 401);
      }
    });

    test('foreign Host → 403; localhost:<port> is accepted', async () => {
      const reply = await worker.call('GET', '/health', undefined, { host: 'evil.example:80' });
      assert.equal(reply.status, 403);
      assert.match(errorMessage(reply.json), /foreign Host/);
      const ok = await worker.call('GET', '/health', undefined, { host: `localhost:${worker.port}` });
      assert.equal(ok.status, 200);
    });

    test('a missing Host header → 403', async () => {
      const answer = await rawExchange(worker.port, `GET /health HTTP/1.1\r\nAuthorization: Bearer ${SECRET}\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 403 /);
    });

    test('any Origin → 403', async () => {
      const reply = await worker.call('GET', '/health', undefined, { origin: `http://127.0.0.1:${worker.port}` });
      assert.equal(reply.status, 403);
      assert.match(errorMessage(reply.json), /Origin/);
    });

    test('malformed JSON → 400 with the parser message', async () => {
      const reply = await worker.call('POST', '/execute', '{"args": [1,');
      assert.equal(reply.status, 400);
      assert.match(errorMessage(reply.json), /not valid JSON/);
    });

    test('wrong shapes → 400', async () => {
      for (const body of ['[1,2]', '{"args": {"a": 1}}', '{"kwargs": [1]}', '"text"']) {
        const reply = await worker.call('POST', '/execute', body);
        assert.equal(reply.status, 400, body);
        errorMessage(reply.json);
      }
      const cancel = await worker.call('POST', '/cancel', { call_id: 3 });
      assert.equal(cancel.status, 400);
    });

    test('unknown path → 404, wrong method → 405 with Allow', async () => {
      const missing = await worker.call('GET', '/nope');
      assert.equal(missing.status, 404);
      assert.match(errorMessage(missing.json), /unknown path/);
      const wrong = await worker.call('GET', '/execute');
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.allow, 'POST');
      assert.equal((await worker.call('PUT', '/health')).status, 405);
    });

    test('a truncated body → 400 when the client gives up, never a hang', async () => {
      const request = head('POST', '/execute', worker.port, { 'Content-Length': '100' }) + '{"args": [';
      const answer = await rawExchange(worker.port, request, { endAfterWrite: true });
      assert.match(answer, /^HTTP\/1\.1 400 [\s\S]*closed in the middle of a request/);
    });

    test('a garbage request line → 400 and the connection closes', async () => {
      const answer = await rawExchange(worker.port, 'HELLO\r\n\r\n');
      assert.match(answer, /^HTTP\/1\.1 400 [\s\S]*malformed request line/);
    });

    test('a chunked request body is accepted', async () => {
      const body = '{"args": ["chunked"]}';
      const request = head('POST', '/execute', worker.port, { 'Transfer-Encoding': 'chunked', Connection: 'close' }) + `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      const answer = await rawExchange(worker.port, request);
      assert.match(answer, /^HTTP\/1\.1 200 [\s\S]*"args": \["chunked"\]/);
    });

    test('keep-alive: several requests answered on one connection', async () => {
      const one = head('GET', '/health', worker.port);
      const answer = await rawExchange(worker.port, one + one + head('GET', '/health', worker.port, { Connection: 'close' }));
      assert.equal(answer.match(/HTTP\/1\.1 200 OK/g)?.length, 3);
    });
  });

  test('a burst of 200 concurrent connections: none dropped', async () => {
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => rawExchange(worker.port, head('POST', '/execute', worker.port, { 'Content-Length': String(`{"args":[${i}]}`.length), Connection: 'close' }) + `{"args":[${i}]}`)),
    );
    replies.forEach((answer, i) => {
      assert.match(answer, /^HTTP\/1\.1 200 /);
      assert.ok(answer.includes(`"args": [${i}]`), `reply ${i}: ${answer}`);
    });
  });
});

describe('plugin errors and results that are not JSON', () => {
  test('a raising plugin → 500 _job_error with category, traceback; stderr has the traceback', async () => {
    const worker = await startWorker({ module: 'faulty_plugin', cls: 'RaisesPlugin', args: ['--name', 'raiser'] });
    try {
      const reply = await worker.call('POST', '/execute', { args: ['x'] });
      assert.equal(reply.status, 500);
      const job = jobError(reply.json);
      assert.equal(job.category, 'user_input');
      assert.equal(job.type, 'ValueError');
      assert.equal(job.message, "bad input: ('x',)");
      assert.equal(job.retriable, false);
      assert.equal(job.original_exc_repr, `ValueError("bad input: ('x',)")`);
      assert.match(job.traceback, /^Traceback[\s\S]*faulty_plugin\.py[\s\S]*ValueError: bad input/);
      assert.equal(job.plugin_name, 'raiser');
      assert.match(job.occurred_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(worker.stderr(), /ValueError: bad input/);
      const stats = (await worker.call('GET', '/stats')).json as { calls: number; errors: number };
      assert.deepEqual([stats.calls, stats.errors], [1, 1]);
      assert.equal((await worker.call('GET', '/health')).status, 200, 'the worker survives');
    } finally {
      await worker.stop();
    }
  });

  test('NaN, an arbitrary object and bytes → fatal _job_error naming what could not be encoded', async () => {
    const worker = await startWorker({ module: 'faulty_plugin', cls: 'NonJsonPlugin' });
    try {
      const expected: Record<string, RegExp> = { nan: /NaN or Infinity/, object: /type object/, bytes: /bytes[\s\S]*file path/ };
      for (const [kind, pattern] of Object.entries(expected)) {
        const reply = await worker.call('POST', '/execute', { kwargs: { kind } });
        assert.equal(reply.status, 500, kind);
        const job = jobError(reply.json);
        assert.equal(job.category, 'fatal', kind);
        assert.match(job.message, pattern);
      }
    } finally {
      await worker.stop();
    }
  });

  test('a huge result (20 MB) arrives whole', async () => {
    const worker = await startWorker({ module: 'faulty_plugin', cls: 'HugePlugin' });
    try {
      const size = 20_000_000;
      const reply = await worker.call('POST', '/execute', { kwargs: { size } });
      assert.equal(reply.status, 200);
      assert.equal((reply.json as string).length, size);
    } finally {
      await worker.stop();
    }
  });

  test('a plugin that exits mid-call (os._exit(7)) fails the request and the exit code is 7', async () => {
    const worker = await startWorker({ module: 'faulty_plugin', cls: 'ExitsPlugin' });
    await assert.rejects(worker.call('POST', '/execute', {}));
    assert.equal((await worker.exited).code, 7);
    await worker.stop();
  });

  test('a plugin that SIGKILLs itself fails the request and the worker ends by that signal', async () => {
    const worker = await startWorker({ module: 'faulty_plugin', cls: 'SelfKillPlugin' });
    await assert.rejects(worker.call('POST', '/execute', {}));
    assert.equal((await worker.exited).signal, 'SIGKILL');
    await worker.stop();
  });
});
