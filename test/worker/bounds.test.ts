// Bounds (issue 11) against a real worker: large bodies are read in linear time and slow ones by a
// minimum data rate; a stream's unsent bytes are bounded (the generator waits for a slow reader) and
// a stream blocked that way still honours /cancel; deep JSON and exceptions whose str() raises are
// answered; strangers' silent connections take no threads; a thread that cannot be started costs
// one connection, not the worker; /stats' CPU figure and counters are right; cleanup() waits for a
// running call. Figures are printed, never asserted against time.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, request } from 'undici';
import { figure } from '../helpers/figure';
import { statusField, workerSocket } from '../helpers/proc';
import { python } from '../helpers/python';
import { waitFor } from '../helpers/waitFor';
import { head, ndjson, SECRET, startWorker, type RunningWorker } from './workerHarness';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rpp-worker-bounds-'));
const MB = 1024 * 1024;


/** Generous: the machine may be loaded. */
const WAIT_MS = 30_000;

async function busy(worker: RunningWorker): Promise<boolean> {
  return ((await worker.call('GET', '/health')).json as { busy: boolean }).busy;
}

/** VmRSS in MB, or Threads, of a running process. */
function procStatus(pid: number, field: 'VmRSS' | 'Threads'): number {
  const value = statusField(pid, field);
  if (value === undefined) throw new Error(`process ${pid} is gone`);
  return field === 'VmRSS' ? value / 1024 : value;
}

/** The worker's own message of an {"error": {"message"}} or `_job_error` body. */
function messageOf(json: unknown): string {
  const body = json as { error?: { message?: string }; _job_error?: { message?: string } };
  return body.error?.message ?? body._job_error?.message ?? '';
}

describe('bodies', () => {
  let worker: RunningWorker;
  before(async () => (worker = await startWorker({ module: 'bounds_plugin', cls: 'BoundsPlugin' })));
  after(() => worker.stop());

  test('a 120 MB JSON body is read whole (it was 408 after 10 s: quadratic reading)', { timeout: 120_000 }, async () => {
    const data = 'y'.repeat(120 * MB);
    const started = Date.now();
    const reply = await worker.call('POST', '/execute', { kwargs: { data } });
    figure('worker: 120 MB JSON body to /execute', `${Date.now() - started} ms`);
    assert.equal(reply.status, 200, reply.text.slice(0, 300));
    assert.deepEqual(reply.json, { args: 0, sizes: { data: 120 * MB } });
  });

  test('a body that keeps a fair rate may take longer than 10 s; one that trickles gets 408', { timeout: 60_000 }, async () => {
    const steady = sendPaced(worker.port, 24 * MB, 2 * MB, 1000); // 12 s at 2 MB/s
    const trickle = sendPaced(worker.port, 24 * MB, 8 * 1024, 1000); // 8 KB/s
    const [fair, slow] = await Promise.all([steady, trickle]);
    assert.match(fair.answer, /^HTTP\/1\.1 200 /, `a 12 s body at 2 MB/s: ${fair.answer.slice(0, 300)}`);
    assert.ok(fair.seconds > 10, `the fair body took ${fair.seconds} s, so it shows that 10 s is not a total limit`);
    assert.match(slow.answer, /^HTTP\/1\.1 408 [\s\S]*slower than 1024 KB\/s/, slow.answer.slice(0, 300));
    figure('worker: 24 MB at 2 MB/s answered after', `${fair.seconds.toFixed(1)} s (200)`);
    figure('worker: a body trickling at 8 KB/s cut off after', `${slow.seconds.toFixed(1)} s (408)`);
  });

  test('JSON nested 100,000 deep in a request: 400 that says so, and the worker goes on', async () => {
    const deep = `{"args": [${'['.repeat(100_000)}${']'.repeat(100_000)}]}`;
    const reply = await worker.call('POST', '/execute', deep);
    assert.equal(reply.status, 400, reply.text.slice(0, 300));
    assert.match(messageOf(reply.json), /nested deeper than Python's recursion limit/);
    assert.equal((await worker.call('GET', '/health')).status, 200);
  });
});

/**
 * Sends a POST /execute of `total` bytes (a JSON string argument) at `perSecond` bytes a second, in
 * `stepMs` steps, and resolves with the worker's answer and how long it took (the worker may cut it off).
 */
function sendPaced(port: number, total: number, perSecond: number, stepMs: number): Promise<{ answer: string; seconds: number }> {
  const prefix = '{"kwargs": {"data": "';
  const suffix = '"}}';
  const bodyLength = prefix.length + total + suffix.length;
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer, seconds: (Date.now() - started) / 1000 });
    };
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (/\r\n\r\n[\s\S]*\}$/.test(answer)) finish();
    });
    const step = (): void => {
      const size = Math.min(Math.round((perSecond * stepMs) / 1000), total - sent);
      socket.write('x'.repeat(size));
      sent += size;
      if (sent < total) timer = setTimeout(step, stepMs);
      else socket.write(suffix);
    };
    socket.on('connect', () => {
      socket.write(head('POST', '/execute', port, { 'Content-Length': String(bodyLength), 'Content-Type': 'application/json' }) + prefix);
      step();
    });
  });
}

describe('streams to a reader that stops reading', () => {
  let worker: RunningWorker;
  before(async () => (worker = await startWorker({ module: 'bounds_plugin', cls: 'BoundsPlugin' })));
  after(() => worker.stop());

  async function yielded(): Promise<number> {
    const message = ((await worker.call('GET', '/progress')).json as { message: string | null }).message ?? '';
    return Number(/yielded (\d+)/.exec(message)?.[1] ?? 0);
  }

  /** How many items the generator yielded once it stopped advancing (it waits for room), read 0.5 s apart. */
  async function untilGeneratorWaits(onReading: () => void = () => undefined): Promise<number> {
    let previous = -1;
    const reading = await waitFor(
      async () => {
        const count = await yielded();
        onReading();
        const stalled = count === previous;
        previous = count;
        return { count, stalled };
      },
      { what: 'the generator to stop advancing (to wait for room) although nobody reads', timeoutMs: WAIT_MS, everyMs: 500, until: (r) => r.stalled },
    );
    return reading.count;
  }

  test('the generator waits: what is not yet sent stays within a few MB, not thousands of items', { timeout: 60_000 }, async () => {
    const idle = procStatus(worker.pid, 'VmRSS');
    const itemBytes = 20 * 1024;
    const res = await request(`${worker.base}/execute_stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ kwargs: { size: itemBytes } }),
    });
    const chunks = res.body[Symbol.asyncIterator]();
    let text = String((await chunks.next()).value); // the stream runs; from here on nobody reads
    let peak = 0;
    const count = await untilGeneratorWaits(() => (peak = Math.max(peak, procStatus(worker.pid, 'VmRSS'))));
    const heldMb = (count * itemBytes) / MB;
    // 4 MB in the worker plus what the kernel's socket buffers took (a few MB on loopback).
    assert.ok(heldMb < 64, `the generator ran ${count} items (${heldMb.toFixed(1)} MB) ahead of a reader that stopped`);
    assert.ok(peak - idle < 64, `the worker grew by ${(peak - idle).toFixed(1)} MB`);
    figure('worker: items yielded ahead of a stopped reader (20 KB each)', `${count} (${heldMb.toFixed(1)} MB, worker RSS +${(peak - idle).toFixed(1)} MB)`);

    // The reader goes on: what was held back arrives, in order, and then the generator resumes.
    let next = 0;
    for (let chunk: IteratorResult<unknown> | undefined; next < count + 100; ) {
      const lines = text.split('\n');
      text = lines.pop() ?? '';
      for (const line of lines) assert.equal((JSON.parse(line) as { i: number }).i, next++);
      chunk = await chunks.next();
      if (chunk.done) break;
      text += String(chunk.value);
    }
    assert.ok(next >= count + 100, `the stream ended after ${next} items`);
    await chunks.return?.();
  });

  test('a stream blocked on a stopped reader ends on /cancel, with Cancelled as its last line', { timeout: 60_000 }, async () => {
    const res = await request(`${worker.base}/execute_stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'x-rpp-call-id': 'blocked' },
      body: JSON.stringify({ kwargs: { size: 64 * 1024 } }),
    });
    const count = await untilGeneratorWaits();
    assert.deepEqual((await worker.call('POST', '/cancel', { call_id: 'blocked' })).json, { cancelled: 1 });
    await waitFor(() => busy(worker), { what: 'the plugin to be free after /cancel', timeoutMs: WAIT_MS, until: (b) => !b });
    const lines = ndjson(await res.body.text()) as Record<string, unknown>[];
    const last = lines.at(-1) as { _job_error?: { type: string } };
    assert.equal(last._job_error?.type, 'Cancelled', JSON.stringify(last).slice(0, 300));
    // The generator is suspended in its yield of item `count` (it counts after the yield returns).
    assert.equal(lines.length - 1, count + 1, 'every item yielded before the cancel was delivered');
  });
});

describe('results and errors that used to close the connection without an answer', () => {
  let worker: RunningWorker;
  before(async () => (worker = await startWorker({ module: 'bounds_plugin', cls: 'BoundsPlugin' })));
  after(() => worker.stop());

  test('a result nested 100,000 deep (beyond every Python encoder): a fatal _job_error that says why', async () => {
    const reply = await worker.call('POST', '/execute', { kwargs: { action: 'deep', depth: 100_000 } });
    assert.equal(reply.status, 500, reply.text.slice(0, 300));
    assert.match(messageOf(reply.json), /recursion/i);
    const stream = await worker.call('POST', '/execute_stream', { kwargs: { action: 'deep', depth: 100_000 } });
    const lines = ndjson(stream.text) as { _job_error?: { message: string } }[];
    assert.deepEqual(lines[0], { i: 0 });
    assert.match(lines[1]._job_error?.message ?? '', /recursion/i);
  });

  test('an exception whose str() and repr() raise: 500 naming its type, in a call and mid-stream', async () => {
    const reply = await worker.call('POST', '/execute', { kwargs: { action: 'unprintable' } });
    assert.equal(reply.status, 500, reply.text.slice(0, 300));
    const error = (reply.json as { _job_error: { type: string; message: string; original_exc_repr: string } })._job_error;
    assert.equal(error.type, 'Unprintable');
    assert.match(error.message, /Unprintable \(its str\(\) raised RuntimeError\)/);
    assert.match(error.original_exc_repr, /its repr\(\) raised RuntimeError/);
    const stream = await worker.call('POST', '/execute_stream', { kwargs: { action: 'unprintable' } });
    const lines = ndjson(stream.text) as { _job_error?: { type: string } }[];
    assert.equal(lines.at(-1)?._job_error?.type, 'Unprintable');
  });
});

describe('strangers and thread limits', () => {
  test('300 silent connections take no threads; the host is still answered on a new connection', { timeout: 60_000 }, async () => {
    const worker = await startWorker({ module: 'bounds_plugin', cls: 'BoundsPlugin' });
    const sockets: net.Socket[] = [];
    try {
      const threadsBefore = procStatus(worker.pid, 'Threads');
      for (let i = 0; i < 300; i++) sockets.push(net.connect(worker.port, '127.0.0.1').on('error', () => undefined));
      await waitFor(() => sockets.filter((s) => s.connecting).length, { what: '300 connections to be established', timeoutMs: WAIT_MS, until: (n) => n === 0 });
      // Counted once the worker has accepted them all: none waits in its listening socket's queue.
      await waitFor(() => workerSocket(worker.pid).acceptQueue, { what: 'the worker to accept the 300 connections', timeoutMs: WAIT_MS, until: (n) => n === 0 });
      const threads = procStatus(worker.pid, 'Threads');
      const client = new Client(worker.base, { pipelining: 0, headersTimeout: 10_000, bodyTimeout: 10_000 });
      const started = Date.now();
      const res = await client.request({ method: 'GET', path: '/health', headers: { authorization: `Bearer ${SECRET}` } });
      await res.body.text();
      const ms = Date.now() - started;
      await client.close();
      assert.equal(res.statusCode, 200);
      assert.ok(threads - threadsBefore < 10, `${threads - threadsBefore} more threads for 300 silent connections`);
      figure('worker: threads with 300 silent connections open', `${threads} (before: ${threadsBefore}); /health on a new connection in ${ms} ms`);
      // They are closed, with a 408 or a 503, within the time-out for strangers (5 s).
      const closedBy = await Promise.all(sockets.map((s) => new Promise<string>((resolve) => {
        let text = '';
        s.on('data', (d: Buffer) => (text += d.toString('latin1')));
        s.on('close', () => resolve(text.slice(9, 12) || 'closed'));
        if (s.destroyed) resolve('closed');
      })));
      assert.ok(closedBy.every((status) => status === '408' || status === '503' || status === 'closed'), [...new Set(closedBy)].join(', '));
    } finally {
      for (const socket of sockets) socket.destroy();
      await worker.stop();
    }
  });

  test('where threads run out (an address-space limit), the connection gets 503 and the worker lives on', { timeout: 60_000 }, async () => {
    // A wrapper script, as users start interpreters: a 400 MB address space fits a few dozen threads.
    const wrapper = path.join(tmp, 'limited-python');
    writeFileSync(wrapper, `#!/bin/sh\nulimit -v 400000\nexec ${python} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const worker = await startWorker({ module: 'bounds_plugin', cls: 'BoundsPlugin', python: wrapper });
    const sockets: net.Socket[] = [];
    try {
      // Keep-alive connections that showed the secret each hold a thread: open them until some are refused.
      const statuses = await Promise.all(
        Array.from({ length: 120 }, () => new Promise<string>((resolve) => {
          const socket = net.connect(worker.port, '127.0.0.1');
          sockets.push(socket);
          let text = '';
          socket.on('error', () => resolve('error'));
          socket.on('close', () => resolve(text.slice(9, 12) || 'closed'));
          socket.on('data', (d: Buffer) => {
            text += d.toString('latin1');
            if (/\r\n\r\n[\s\S]*\}$/.test(text)) resolve(text.slice(9, 12));
          });
          socket.write(head('GET', '/health', worker.port));
        })),
      );
      const counts = Object.fromEntries([...new Set(statuses)].map((s) => [s, statuses.filter((x) => x === s).length]));
      assert.ok(statuses.includes('503'), `no connection was refused; the limit did not bite: ${JSON.stringify(counts)}`);
      assert.ok(statuses.every((s) => s === '200' || s === '503'), JSON.stringify(counts));
      for (const socket of sockets) socket.destroy();
      await waitFor(async () => (await worker.call('GET', '/health')).status, { what: 'the worker to answer after the crowd left', timeoutMs: WAIT_MS, until: (status) => status === 200 });
      assert.equal(worker.proc.exitCode, null, 'the worker is still running');
      figure('worker: 120 keep-alive connections under a 400 MB address-space limit', JSON.stringify(counts));
    } finally {
      for (const socket of sockets) socket.destroy();
      await worker.stop();
    }
  });
});

describe('/stats and cleanup()', () => {
  test('cpu_percent of an idle worker stays within the cores, however often /stats is asked', async () => {
    const worker = await startWorker({ module: 'bounds_plugin', cls: 'BoundsPlugin' });
    try {
      const cores = os.availableParallelism();
      const readings: number[] = [];
      const cpu = async () => ((await worker.call('GET', '/stats')).json as { cpu_percent: number }).cpu_percent;
      for (let i = 0; i < 30; i++) readings.push(...(await Promise.all([cpu(), cpu(), cpu()]))); // pollers at once, as in VS Code
      assert.ok(readings.every((p) => p >= 0 && p <= 100 * cores), `readings above ${100 * cores}: ${readings.join(' ')}`);
      // A busy plugin is seen as busy, but never above the cores either. Its CPU time shows in the
      // reading whose window (at least 0.5 s) covers it, however late the machine lets it run.
      const burn = worker.call('POST', '/execute', { kwargs: { action: 'burn', seconds: 1.5 } });
      const busyReadings: number[] = [];
      await waitFor(async () => busyReadings[busyReadings.push(await cpu()) - 1], { what: 'a /stats reading above 0 % while the plugin burns CPU', timeoutMs: WAIT_MS, everyMs: 100, until: (p) => p > 0 });
      await burn;
      assert.ok(busyReadings.every((p) => p >= 0 && p <= 100 * cores), `readings above ${100 * cores}: ${busyReadings.join(' ')}`);
      figure('worker: idle cpu_percent over 90 quick /stats, 3 at a time', `max ${Math.max(...readings)} (cap ${100 * cores}); busy ${Math.max(...busyReadings)}`);
    } finally {
      await worker.stop();
    }
  });

  test('calls and errors counted exactly under 300 concurrent calls', { timeout: 60_000 }, async () => {
    const worker = await startWorker({ module: 'bounds_plugin', cls: 'BoundsPlugin' });
    try {
      const replies = await Promise.all(
        Array.from({ length: 300 }, (_, i) => worker.call('POST', '/execute', { kwargs: i % 3 === 0 ? { action: 'unprintable' } : {} })),
      );
      assert.equal(replies.filter((r) => r.status === 500).length, 100);
      const stats = (await worker.call('GET', '/stats')).json as { calls: number; errors: number };
      assert.deepEqual([stats.calls, stats.errors], [300, 100]);
    } finally {
      await worker.stop();
    }
  });

  test('/cleanup during a call: cleanup() runs after the call, never beside it', { timeout: 30_000 }, async () => {
    const note = path.join(tmp, 'cleanup-note');
    const worker = await startWorker({ module: 'bounds_plugin', cls: 'BoundsPlugin', env: { BOUNDS_CLEANUP_NOTE: note } });
    try {
      const call = worker.call('POST', '/execute', { kwargs: { action: 'sleep', seconds: 0.6 } });
      await waitFor(() => busy(worker), { what: 'the call to run', timeoutMs: WAIT_MS });
      const cleanup = await worker.call('POST', '/cleanup');
      assert.equal(cleanup.status, 200, cleanup.text);
      await call.catch(() => undefined); // cancelled by /cleanup; the worker may exit before answering it
      await worker.exited;
      assert.ok(existsSync(note), 'cleanup() ran');
      assert.equal(readFileSync(note, 'utf8'), 'alone');
    } finally {
      await worker.stop();
    }
  });
});
