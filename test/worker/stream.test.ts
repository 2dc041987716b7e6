// Streams, cancellation and progress against a real worker: NDJSON items, a mid-stream error as
// the last line, /cancel of a stream and of a cooperative call, a client that goes away, and
// /health, /progress answering while a long call runs.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { waitFor } from '../helpers/waitFor';
import { ndjson, SECRET, startWorker, type RunningWorker } from './workerHarness';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rpp-worker-stream-'));

/** Waits (generously: the machine may be loaded) until `condition` holds; fails saying `what`. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await waitFor(condition, { what, timeoutMs: 30_000 });
}

async function busy(worker: RunningWorker): Promise<boolean> {
  return ((await worker.call('GET', '/health')).json as { busy: boolean }).busy;
}

test('a stream of 10,000 items arrives complete and in order as NDJSON, chunked', async () => {
  const worker = await startWorker({ module: 'echo_plugin', cls: 'EchoPlugin' });
  try {
    const reply = await worker.call('POST', '/execute_stream', { kwargs: { count: 10_000 } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/x-ndjson');
    assert.equal(reply.headers['transfer-encoding'], 'chunked');
    const items = ndjson(reply.text) as { i: number }[];
    assert.equal(items.length, 10_000);
    items.forEach((item, i) => assert.equal(item.i, i));
    // the connection is still good for the next call
    assert.equal((await worker.call('POST', '/execute_stream', { kwargs: { count: 2 } })).text, '{"i": 0}\n{"i": 1}\n');
  } finally {
    await worker.stop();
  }
});

test('a paused generator’s items arrive before it continues (not held back for batching)', async () => {
  const worker = await startWorker({ module: 'echo_plugin', cls: 'EchoPlugin' });
  try {
    const res = await request(`${worker.base}/execute_stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ kwargs: { count: 3, delay_s: 2 } }),
    });
    const started = Date.now();
    const chunks = res.body[Symbol.asyncIterator]();
    const first = (await chunks.next()).value as Buffer;
    // generous bound: the first item is yielded after 2 s, the last after 6 s
    assert.ok(Date.now() - started < 5_000, 'the first item waited for later ones');
    assert.equal(first.toString(), '{"i": 0}\n');
    let rest = '';
    for (let chunk = await chunks.next(); !chunk.done; chunk = await chunks.next()) rest += String(chunk.value);
    assert.equal(rest, '{"i": 1}\n{"i": 2}\n');
  } finally {
    await worker.stop();
  }
});

test('a plugin without execute_stream streams its one execute result', async () => {
  const worker = await startWorker({ module: 'echo_plugin', cls: 'ExecuteOnlyPlugin' });
  try {
    const reply = await worker.call('POST', '/execute_stream', { args: [1, 2] });
    assert.deepEqual(ndjson(reply.text), [{ only: [1, 2] }]);
  } finally {
    await worker.stop();
  }
});

test('an error mid-stream is the last line, a _job_error with its traceback', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'RaisesPlugin' });
  try {
    const reply = await worker.call('POST', '/execute_stream', {});
    assert.equal(reply.status, 200);
    const lines = ndjson(reply.text) as Record<string, unknown>[];
    assert.deepEqual(lines.slice(0, 2), [{ i: 0 }, { i: 1 }]);
    assert.equal(lines.length, 3);
    const job = (lines[2] as { _job_error: { type: string; message: string; category: string; traceback: string } })._job_error;
    assert.deepEqual([job.type, job.message, job.category], ['ValueError', 'bad input: item 2', 'user_input']);
    assert.match(job.traceback, /execute_stream/);
  } finally {
    await worker.stop();
  }
});

test('a non-JSON item mid-stream ends the stream with a fatal _job_error', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'NonJsonPlugin' });
  try {
    const lines = ndjson((await worker.call('POST', '/execute_stream', { kwargs: { kind: 'nan' } })).text) as Record<string, { category: string }>[];
    assert.deepEqual(lines[0], { ok: 1 });
    assert.equal(lines[1]._job_error.category, 'fatal');
    assert.equal(lines.length, 2);
  } finally {
    await worker.stop();
  }
});

test('a plugin that exits mid-stream: the client sees the stream break, the worker exits 7', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'ExitsPlugin' });
  await assert.rejects(worker.call('POST', '/execute_stream', {}));
  assert.equal((await worker.exited).code, 7);
  await worker.stop();
});

test('/cancel with a call id stops a stream: GeneratorExit in the plugin, Cancelled as the last line', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'CooperativePlugin' });
  try {
    const marker = path.join(tmp, 'cancelled-stream');
    const streaming = worker.call('POST', '/execute_stream', { kwargs: { marker } }, { 'x-rpp-call-id': 'stream-1' });
    await until(() => busy(worker), 'the stream to start');
    assert.deepEqual((await worker.call('POST', '/cancel', { call_id: 'other' })).json, { cancelled: 0 });
    assert.deepEqual((await worker.call('POST', '/cancel', { call_id: 'stream-1' })).json, { cancelled: 1 });
    const lines = ndjson((await streaming).text) as Record<string, unknown>[];
    const last = lines.at(-1) as { _job_error: { type: string; category: string; retriable: boolean } };
    assert.deepEqual([last._job_error.type, last._job_error.category, last._job_error.retriable], ['Cancelled', 'transient', true]);
    assert.ok(lines.length >= 2);
    assert.equal(readFileSync(marker, 'utf8'), 'closed');
    assert.equal(await busy(worker), false);
  } finally {
    await worker.stop();
  }
});

test('a client that goes away mid-stream closes the generator', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'CooperativePlugin' });
  try {
    const marker = path.join(tmp, 'abandoned-stream');
    const controller = new AbortController();
    const res = await request(`${worker.base}/execute_stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ kwargs: { marker, step_s: 0.05 } }),
      signal: controller.signal,
    });
    await res.body[Symbol.asyncIterator]().next();
    controller.abort();
    await until(() => existsSync(marker), 'the generator to be closed');
    await until(async () => !(await busy(worker)), 'the worker to be idle again');
  } finally {
    await worker.stop();
  }
});

test('/health and /progress answer during a long call; /cancel stops a cooperative execute', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'CooperativePlugin' });
  try {
    const running = worker.call('POST', '/execute', { kwargs: { steps: 100_000, step_s: 0.01 } }, { 'x-rpp-call-id': 'job-7' });
    await until(async () => ((await worker.call('GET', '/progress')).json as { progress: number | null }).progress !== null, 'progress');
    const progress = (await worker.call('GET', '/progress')).json as { busy: boolean; call_id: string; progress: number; message: string };
    assert.equal(progress.busy, true);
    assert.equal(progress.call_id, 'job-7');
    assert.ok(progress.progress >= 0 && progress.progress < 1);
    assert.match(progress.message, /^step \d+$/);
    const stats = (await worker.call('GET', '/stats')).json as { busy: boolean };
    assert.equal(stats.busy, true);
    assert.deepEqual((await worker.call('POST', '/cancel', {})).json, { cancelled: 1 });
    const reply = await running;
    assert.equal(reply.status, 500);
    assert.equal((reply.json as { _job_error: { type: string } })._job_error.type, 'Cancelled');
    assert.equal(await busy(worker), false);
  } finally {
    await worker.stop();
  }
});

test('calls are serialized: a second call waits for the first, and a queued call can be cancelled', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'CooperativePlugin' });
  try {
    const first = worker.call('POST', '/execute', { kwargs: { steps: 30, step_s: 0.01 } }, { 'x-rpp-call-id': 'a' });
    await until(() => busy(worker), 'the first call');
    const second = worker.call('POST', '/execute', { kwargs: { steps: 1000, step_s: 0.01 } }, { 'x-rpp-call-id': 'b' });
    // b is cancelled once the worker has it (queued behind a); until then /cancel finds nothing.
    const cancel = await waitFor(async () => (await worker.call('POST', '/cancel', { call_id: 'b' })).json, { what: 'the worker to have call b to cancel', timeoutMs: 30_000, until: (json) => (json as { cancelled: number }).cancelled === 1 });
    assert.deepEqual(cancel, { cancelled: 1 });
    assert.deepEqual((await first).json, { finished: 30 });
    const queued = await second;
    assert.equal((queued.json as { _job_error: { type: string } })._job_error.type, 'Cancelled');
  } finally {
    await worker.stop();
  }
});

test('a hung plugin that ignores cancel still lets /health and /cancel answer', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'HangsPlugin' });
  try {
    const hung = worker.call('POST', '/execute', {}).catch(() => 'killed');
    await until(() => busy(worker), 'the call to start');
    assert.deepEqual((await worker.call('POST', '/cancel', {})).json, { cancelled: 1 });
    assert.equal(await busy(worker), true, 'it ignores the cancel, as this plugin does');
    await worker.stop();
    assert.equal(await hung, 'killed');
  } finally {
    await worker.stop();
  }
});
