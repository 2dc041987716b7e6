// Bad input: fuzzed NDJSON into the decoder, malformed HTTP into a real worker over raw sockets, and
// plugin results that are not JSON, NaN, huge, or printed to stdout. Each part prints its case count.
// Bounds (issue 11): bodies of 100+ MB, slow bodies, deep JSON, exceptions whose str() raises, items
// and results too large for one string, a consumer that stops reading, NUL bytes in a manifest's
// environment, and manifest "files" that are FIFOs, devices or folders.
// (Fuzzed manifests are in test/core/manifestFuzz.test.ts and are not repeated here.)
import assert from 'node:assert/strict';
import { constants } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { PluginError } from '../../src/core/errors';
import { MAX_LINE_BYTES, NdjsonDecoder, NdjsonError } from '../../src/core/ndjson';
import { request } from 'undici';
import { PluginRegistry } from '../../src/core/registry';
import { PluginWorker } from '../../src/core/pluginWorker';
import { fixturePlugins, python, workerScript } from '../helpers/python';
import { secretOf, workerPort } from '../helpers/proc';
import { waitFor, within } from '../helpers/waitFor';
import { figure, killMarked, makePluginFolder, openRegistry, type PluginFolder } from './helpers';

const encoder = new TextEncoder();

/** Decodes `bytes` fed in the given pieces; the decoder may only ever throw NdjsonError. */
function decodeInPieces(bytes: Uint8Array, cuts: number[], decoder = new NdjsonDecoder()): unknown[] {
  const out: unknown[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.push(bytes.subarray(from, cut), out);
    from = cut;
  }
  decoder.end(out);
  return out;
}

function sortedCuts(length: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: length }), { maxLength: 12 }).map((cuts) => cuts.sort((a, b) => a - b));
}

function assertDecoderError(error: unknown): void {
  assert.ok(error instanceof NdjsonError, `only NdjsonError may escape, got ${String(error)}`);
  assert.ok(error.message.length > 0 && error.line >= 1);
}

describe('NDJSON fuzz (src/core/ndjson.ts)', () => {
  test('JSON values, with or without a final newline, split anywhere, decode to themselves', () => {
    let cases = 0;
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 8 }), fc.boolean(), fc.nat(), (values, finalNewline, cutSeed) => {
        cases++;
        const text = values.map((v) => JSON.stringify(v)).join('\n') + (finalNewline ? '\n' : '');
        const bytes = encoder.encode(text);
        const expected = values.map((v) => JSON.parse(JSON.stringify(v)) as unknown);
        // Every single split point for short streams, a seeded handful for long ones.
        const points = bytes.length <= 300 ? Array.from({ length: bytes.length + 1 }, (_, i) => i) : [cutSeed % (bytes.length + 1)];
        for (const cut of points) assert.deepEqual(decodeInPieces(bytes, [cut]), expected);
        assert.deepEqual(decodeInPieces(bytes, Array.from({ length: bytes.length }, (_, i) => i)), expected, 'one byte at a time');
      }),
      { numRuns: 300 },
    );
    figure('bad input: NDJSON value streams split at every byte', `${cases} cases`);
  });

  test('arbitrary bytes (invalid UTF-8 included) never crash the reader: values or an NdjsonError', () => {
    let cases = 0;
    let errors = 0;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }).chain((bytes) => fc.tuple(fc.constant(bytes), sortedCuts(bytes.length))),
        ([bytes, cuts]) => {
          cases++;
          try {
            decodeInPieces(bytes, cuts);
          } catch (error) {
            errors++;
            assertDecoderError(error);
          }
        },
      ),
      { numRuns: 2000 },
    );
    figure('bad input: NDJSON arbitrary byte streams', `${cases} cases (${errors} clear errors, the rest decoded)`);
  });

  test('mutated valid streams (bytes flipped, inserted, cut) give values or an NdjsonError', () => {
    let cases = 0;
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 6 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (values, flips) => {
        cases++;
        const bytes = encoder.encode(values.map((v) => JSON.stringify(v)).join('\n') + '\n');
        for (const [at, byte] of flips) bytes[at % bytes.length] = byte;
        try {
          decodeInPieces(bytes, [bytes.length >> 1]);
        } catch (error) {
          assertDecoderError(error);
        }
      }),
      { numRuns: 1000 },
    );
    figure('bad input: NDJSON mutated streams', `${cases} cases`);
  });

  // The limit is checked on the unfinished part of a line, so a line may pass it by up to one chunk
  // (a socket read); it bounds memory, not the exact length. Here the unfinished part passes it.
  test('the default limit is the longest string V8 can make; a line over a limit is "too large", not an internal error', () => {
    assert.equal(MAX_LINE_BYTES, constants.MAX_STRING_LENGTH);
    assert.throws(
      () => decodeInPieces(encoder.encode(`"${'a'.repeat(3000)}"\n{}\n`), [100, 2500], new NdjsonDecoder({ maxLineBytes: 2048 })),
      (e: unknown) => e instanceof NdjsonError && e.reason === 'too-large' && e.line === 1 && /longer than 2048 bytes: the item is too large/.test(e.message),
    );
    // One chunk larger than the limit, with the long line inside it (not across chunks).
    assert.throws(
      () => decodeInPieces(encoder.encode(`{}\n"${'a'.repeat(3000)}"\n{}\n`), [], new NdjsonDecoder({ maxLineBytes: 2048 })),
      (e: unknown) => e instanceof NdjsonError && e.reason === 'too-large' && e.line === 2,
    );
  });

  test('a 64 MB line decodes; a line over the limit is an error that says what to do', () => {
    const big = 'y'.repeat(64 * 1024 * 1024);
    const bytes = encoder.encode(`${JSON.stringify({ big })}\n{"after":1}`);
    const chunk = 1 << 20;
    const cuts = Array.from({ length: Math.floor(bytes.length / chunk) }, (_, i) => (i + 1) * chunk);
    const values = decodeInPieces(bytes, cuts) as [{ big: string }, unknown];
    assert.equal(values[0].big.length, big.length);
    assert.deepEqual(values[1], { after: 1 });
    assert.throws(
      () => decodeInPieces(encoder.encode(`{"a":"${'z'.repeat(5000)}"}\n`), [1000, 3000, 4500], new NdjsonDecoder({ maxLineBytes: 4096 })),
      (e: unknown) => e instanceof NdjsonError && /longer than 4096 bytes.*pass large data by file path/.test(e.message),
    );
  });
});

let folder: PluginFolder;
let registry: PluginRegistry;

before(async () => {
  folder = await makePluginFolder([{ name: 'target' }, { name: 'outputs' }, { name: 'bounds', module: 'bounds_plugin', class: 'BoundsPlugin' }]);
  registry = await openRegistry(folder);
});

after(async () => {
  await registry.dispose();
  killMarked(folder.mark);
  await folder.remove();
});

interface RawOutcome {
  status?: number;
  closed: boolean;
  ms: number;
}

/**
 * Sends raw bytes (in timed pieces) and waits for the first response or the close, at most `limitMs`.
 * A response is read only up to its status line: the point is that there is one, not what follows.
 */
function rawExchange(port: number, pieces: { data: Buffer | string; afterMs?: number }[], limitMs: number): Promise<RawOutcome | 'hang'> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timers: NodeJS.Timeout[] = [];
    const finish = (outcome: RawOutcome | 'hang'): void => {
      timers.forEach(clearTimeout);
      socket.destroy();
      resolve(outcome);
    };
    timers.push(setTimeout(() => finish('hang'), limitMs));
    socket.on('error', () => undefined); // a reset is a closed connection, reported by 'close'
    socket.on('data', (data) => {
      received += data.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(received);
      if (status && Number(status[1]) !== 100) finish({ status: Number(status[1]), closed: false, ms: Date.now() - started });
    });
    socket.on('close', () => finish({ closed: true, ms: Date.now() - started }));
    socket.on('connect', () => {
      let at = 0;
      for (const piece of pieces) {
        at += piece.afterMs ?? 0;
        timers.push(setTimeout(() => socket.writable && socket.write(piece.data), at));
      }
    });
  });
}

/** Sends `request` on one connection, idles `idleMs`, sends it again: the two status codes. */
function trustedConnectionSurvivesIdle(port: number, request: string, idleMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const statuses: number[] = [];
    const limit = setTimeout(() => finish(new Error(`no second answer; got ${statuses.join(', ')}`)), idleMs + 5000);
    const finish = (error?: Error): void => {
      clearTimeout(limit);
      socket.destroy();
      if (error) reject(error);
      else resolve(statuses);
    };
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`closed after ${statuses.length} answers`)));
    socket.on('data', (data) => {
      for (const match of data.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)) statuses.push(Number(match[1]));
      if (statuses.length === 1) setTimeout(() => socket.write(request), idleMs);
      if (statuses.length >= 2) finish();
    });
    socket.on('connect', () => socket.write(request));
  });
}

describe('malformed HTTP to a real worker', () => {
  test('garbage, huge, inconsistent, slow and binary requests get 4xx or a close, never a hang; the worker lives on', async () => {
    await registry.start('target');
    const pid = registry.get('target')?.pid as number;
    const port = workerPort(pid);
    const auth = `Authorization: Bearer ${secretOf(pid)}\r\nHost: 127.0.0.1:${port}\r\n`;
    const post = (headers: string, body: string): string => `POST /execute HTTP/1.1\r\n${auth}${headers}\r\n${body}`;
    const once = (data: string | Buffer): { data: string | Buffer }[] => [{ data }];
    const cases: { label: string; pieces: { data: Buffer | string; afterMs?: number }[]; limitMs: number }[] = [
      ...['GARBAGE\r\n\r\n', 'GET\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /health\r\n\r\n', '\r\n\r\n', 'G E T / HTTP/1.1\r\n\r\n', 'GET /health HTTP/1.1\r\nno colon here\r\n\r\n'].map(
        (data) => ({ label: `request line ${JSON.stringify(data.slice(0, 20))}`, pieces: once(data), limitMs: 3000 }),
      ),
      { label: 'a 100 KB header', pieces: once(`GET /health HTTP/1.1\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`), limitMs: 3000 },
      { label: '5,000 small headers', pieces: once(`GET /health HTTP/1.1\r\n${'X-A: b\r\n'.repeat(5000)}\r\n`), limitMs: 3000 },
      { label: 'Content-Length not a number', pieces: once(post('Content-Length: abc\r\n', '{}')), limitMs: 3000 },
      { label: 'negative Content-Length', pieces: once(post('Content-Length: -5\r\n', '{}')), limitMs: 3000 },
      { label: 'Content-Length of 1 TB', pieces: once(post('Content-Length: 999999999999\r\n', '{}')), limitMs: 3000 },
      { label: 'Content-Length shorter than the body', pieces: once(post('Content-Length: 1\r\n', '{}GARBAGE\r\n\r\n')), limitMs: 3000 },
      { label: 'Content-Length longer than the body, then silence', pieces: once(post('Content-Length: 100\r\n', '{}')), limitMs: 15_000 },
      { label: 'malformed chunk size', pieces: once(post('Transfer-Encoding: chunked\r\n', 'zz\r\n{}\r\n0\r\n\r\n')), limitMs: 3000 },
      { label: 'body that is not JSON', pieces: once(post('Content-Length: 5\r\n', '\xff\xfe{[')), limitMs: 3000 },
      { label: 'half a head, then silence', pieces: once('GET /health HTTP/1.1\r\nHost: 127.0.0.1'), limitMs: 15_000 },
      {
        label: 'a 1 MB body sent at 1 KB/s (below the minimum rate)',
        pieces: [{ data: post('Content-Length: 1048576\r\n', '') }, ...Array.from({ length: 14 }, () => ({ data: 'x'.repeat(1024), afterMs: 1000 }))],
        limitMs: 15_000,
      },
      { label: 'a connection that never sends a byte', pieces: [], limitMs: 15_000 },
      {
        label: 'slowloris: one byte every 400 ms, never finishing',
        pieces: Array.from({ length: 60 }, (_, i) => ({ data: 'GET /health HTTP/1.1\r\nX-Slow: '.concat('a'.repeat(60))[i] ?? 'a', afterMs: i === 0 ? 0 : 400 })),
        limitMs: 15_000,
      },
    ];
    const junk = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 4096 }), { numRuns: 200, seed: 7 });
    junk.forEach((bytes, i) => cases.push({ label: `binary junk #${i}`, pieces: once(Buffer.concat([Buffer.from(bytes), Buffer.from('\r\n\r\n')])), limitMs: 3000 }));

    const threadsBefore = (await registry.stats('target'))?.threads;
    const started = Date.now();
    const idleTrusted = trustedConnectionSurvivesIdle(port, `GET /health HTTP/1.1\r\n${auth}\r\n`, 11_000);
    const outcomes = await Promise.all(cases.map(async (c) => ({ label: c.label, outcome: await rawExchange(port, c.pieces, c.limitMs) })));
    assert.deepEqual(await idleTrusted, [200, 200], 'a keep-alive connection that showed the secret may idle past the 10 s request deadline');
    for (const { label, outcome } of outcomes) {
      assert.notEqual(outcome, 'hang', `${label}: no answer and no close`);
      if (outcome !== 'hang' && outcome.status !== undefined) assert.ok(outcome.status >= 400 && outcome.status < 500, `${label}: HTTP ${outcome.status}`);
    }
    const health = await registry.health('target');
    assert.equal(health.status, 'ok');
    assert.equal(registry.get('target')?.pid, pid, 'the same worker: it did not crash');
    const slowest = Math.max(...outcomes.map((o) => (o.outcome === 'hang' ? Infinity : o.outcome.ms)));
    const threadsAfter = (await registry.stats('target'))?.threads;
    figure('bad input: malformed HTTP requests', `${cases.length} cases (${junk.length} binary junk), all 4xx or closed, slowest ${slowest} ms, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    figure('bad input: worker threads before / after the malformed requests', `${threadsBefore} / ${threadsAfter}`);
  });
});

describe('plugin output', () => {
  test('a non-JSON object and NaN give clear errors; the plugin keeps working', async () => {
    await assert.rejects(registry.execute('outputs', { kwargs: { token: 't', action: 'object' } }), (e: PluginError) => {
      assert.equal(e.kind, 'plugin');
      assert.match(e.message, /cannot encode an object of type object as JSON/);
      return true;
    });
    await assert.rejects(registry.execute('outputs', { kwargs: { token: 't', action: 'nan' } }), (e: PluginError) => {
      assert.equal(e.kind, 'plugin');
      assert.match(e.message, /NaN or Infinity.*use null or a finite number/);
      return true;
    });
    assert.equal(((await registry.execute('outputs', { kwargs: { token: 'ok' } })) as { token: string }).token, 'ok');
  });

  test('a plugin printing to stdout: the result is right and the text is in the log', async () => {
    const lines: string[] = [];
    const subscription = registry.onLog((event) => event.plugin === 'outputs' && lines.push(event.message));
    const result = await registry.execute('outputs', { kwargs: { token: 'p', action: 'print' } });
    assert.deepEqual(result, { token: 'p', printed: true });
    await registry.stats('outputs'); // a round trip, so the stderr pipe has been read
    subscription.dispose();
    assert.ok(lines.some((line) => /plugin print\(\) to stdout for p/.test(line)), 'print() reached the log');
    assert.ok(lines.some((line) => /plugin fd-1 write/.test(line)), 'a write to fd 1 reached the log');
  });

  test('a 100 MB result arrives whole', { timeout: 120_000 }, async () => {
    const size = 100 * 1024 * 1024;
    const started = Date.now();
    const result = (await registry.execute('outputs', { kwargs: { token: 'h', action: 'huge', size } })) as { token: string; blob: string };
    figure('bad input: 100 MB result round trip', `${Date.now() - started} ms`);
    assert.equal(result.token, 'h');
    assert.equal(result.blob.length, size);
    assert.ok(/^x+$/.test(result.blob.slice(0, 1000)) && result.blob.endsWith('x'));
  });
});

describe('bounds: large, deep and unprintable', () => {
  test('a 120 MB JSON argument reaches the plugin whole (it was 408 after 10 s)', { timeout: 120_000 }, async () => {
    const data = 'z'.repeat(120 * 1024 * 1024);
    const started = Date.now();
    const result = (await registry.execute('bounds', { kwargs: { data } })) as { sizes: { data: number } };
    figure('bad input: execute() with a 120 MB string argument', `${Date.now() - started} ms`);
    assert.equal(result.sizes.data, data.length);
  });

  test('JSON nested thousands deep as an argument: a 400 that says why (or a usage error when not even JSON.stringify can); the worker lives on', async () => {
    const nested = (depth: number): unknown => {
      let value: unknown = [];
      for (let i = 0; i < depth; i++) value = [value];
      return value;
    };
    const pid = (await registry.health('bounds')).pid;
    await assert.rejects(registry.execute('bounds', { kwargs: { deep: nested(3000) } }), (e: PluginError) => {
      assert.match(e.message, /HTTP 400: the body is JSON nested deeper than Python's recursion limit/);
      return true;
    });
    await assert.rejects(registry.execute('bounds', { kwargs: { deep: nested(200_000) } }), (e: PluginError) => {
      assert.equal(e.kind, 'usage', e.message);
      assert.match(e.message, /cannot be sent as JSON: Maximum call stack size exceeded/);
      return true;
    });
    assert.equal((await registry.health('bounds')).pid, pid);
  });

  test('a result nested 100,000 deep and an exception whose str() raises: plugin errors that say so', async () => {
    await assert.rejects(registry.execute('bounds', { kwargs: { action: 'deep', depth: 100_000 } }), (e: PluginError) => e.kind === 'plugin' && /recursion/i.test(e.message));
    await assert.rejects(registry.execute('bounds', { kwargs: { action: 'unprintable' } }), (e: PluginError) => {
      assert.equal(e.kind, 'plugin', e.message);
      assert.match(e.message, /Unprintable \(its str\(\) raised RuntimeError\)/);
      return true;
    });
    const seen: unknown[] = [];
    await assert.rejects(async () => {
      for await (const item of registry.executeStream('bounds', { kwargs: { action: 'unprintable' } })) seen.push(item);
    }, (e: PluginError) => e.kind === 'plugin' && /Unprintable/.test(e.message));
    assert.deepEqual(seen, [{ i: 0 }]);
  });

  test('a result and a stream item longer than the longest string: "too large" plugin errors, not internal ones', { timeout: 180_000 }, async () => {
    const size = MAX_LINE_BYTES + 1024 * 1024;
    await assert.rejects(registry.execute('outputs', { kwargs: { action: 'huge', size } }), (e: PluginError) => {
      assert.equal(e.kind, 'plugin', e.message);
      assert.match(e.message, /too large\. Return a file path instead of the data/);
      return true;
    });
    await assert.rejects(async () => {
      for await (const item of registry.executeStream('bounds', { kwargs: { size, count: 1 } })) assert.fail(`an item arrived: ${JSON.stringify(item).length} chars`);
    }, (e: PluginError) => {
      assert.equal(e.kind, 'plugin', e.message);
      assert.match(e.message, /streamed an item that is too large to receive.*pass large data by file path/);
      return true;
    });
    assert.equal((await registry.execute('outputs', { kwargs: { token: 'after' } }) as { token: string }).token, 'after');
  });

  test('a consumer that stops reading slows the plugin down: the host does not read ahead', { timeout: 60_000 }, async () => {
    const stream = registry.executeStream('bounds', { kwargs: { size: 20 * 1024 } })[Symbol.asyncIterator]();
    await stream.next();
    const yielded = async (): Promise<number> => {
      const pid = registry.get('bounds')?.pid as number;
      const progress = await fetchProgress(pid);
      return Number(/yielded (\d+)/.exec(progress.message ?? '')?.[1] ?? 0);
    };
    // Read 0.5 s apart until the count stops moving: the plugin is waiting for room.
    let previous = -1;
    const { count } = await waitFor(async () => {
      const reading = { count: await yielded(), previous };
      previous = reading.count;
      return reading;
    }, { what: 'the plugin to stop yielding while nobody reads', timeoutMs: 60_000, everyMs: 500, until: (r) => r.count === r.previous });
    await stream.return?.(undefined);
    const aheadMb = (count * 20) / 1024;
    assert.ok(aheadMb < 64, `the plugin ran ${aheadMb.toFixed(1)} MB ahead of a consumer that stopped`);
    figure('bad input: a consumer that stopped reading; the plugin stopped after', `${count} items of 20 KB (${aheadMb.toFixed(1)} MB: worker 4 MB + socket buffers + undici's 64 KB)`);
  });
});

/** GET /progress of the worker `pid` with its own secret (the registry has no progress call). */
async function fetchProgress(pid: number): Promise<{ message: string | null }> {
  const port = workerPort(pid);
  const response = await request(`http://127.0.0.1:${port}/progress`, { headers: { authorization: `Bearer ${secretOf(pid)}` }, headersTimeout: 5000, bodyTimeout: 5000 });
  return (await response.body.json()) as { message: string | null };
}

describe('bounds: manifests', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-bad-manifests-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a NUL byte in an env_vars value: a broken plugin naming the field, not a start that never ends', async () => {
    const manifest = { name: 'nul', version: '1', python_path: python, module: 'bounds_plugin', class: 'BoundsPlugin', env_vars: { PYTHONPATH: fixturePlugins, TOKEN: 'ab\u0000cd' } };
    await writeFile(path.join(dir, 'nul.json'), JSON.stringify(manifest));
    const reg = await PluginRegistry.create({ pluginDirs: [dir], includeDefaultDir: false, watch: false });
    try {
      assert.equal(reg.get('nul')?.state, 'broken');
      assert.match(reg.get('nul')?.lastError?.message ?? '', /"env_vars\.TOKEN" contains a NUL character/);
      await assert.rejects(reg.execute('nul', {}), (e: PluginError) => e.kind === 'manifest');
    } finally {
      await reg.dispose();
      await rm(path.join(dir, 'nul.json'));
    }
  });

  test('a start that spawn refuses without an exit event (a NUL in the environment) fails loudly', async () => {
    const manifest = { name: 'nul', version: '1', python_path: python, module: 'bounds_plugin', class: 'BoundsPlugin', env_vars: { TOKEN: 'ab\u0000cd' } };
    const start = PluginWorker.start({ manifest, manifestPath: path.join(dir, 'nul.json'), pythonExecutable: python, workerScript, startupTimeoutMs: 10_000 });
    const outcome = await within(start.then(() => 'started', (e: unknown) => e), { what: 'the refused start to settle', timeoutMs: 60_000 });
    assert.ok(outcome instanceof PluginError, `the start ${String(outcome)}`);
    assert.equal(outcome.kind, 'start');
    assert.match(outcome.message, /did not start: the interpreter could not be run \(.*null bytes/);
  });

  test('*.json that are a FIFO, a link to /dev/zero or a folder: listed as broken at once; reloads go on', { timeout: 60_000 }, async () => {
    const plugins = path.join(dir, 'plugins');
    await mkdir(plugins);
    execFileSync('mkfifo', [path.join(plugins, 'fifo.json')]);
    await symlink('/dev/zero', path.join(plugins, 'zero.json'));
    await mkdir(path.join(plugins, 'folder.json'));
    const good = { name: 'good', version: '1', python_path: python, module: 'bounds_plugin', class: 'BoundsPlugin', env_vars: { PYTHONPATH: fixturePlugins } };
    await writeFile(path.join(plugins, 'good.json'), JSON.stringify(good));
    const reg = await within(PluginRegistry.create({ pluginDirs: [plugins], includeDefaultDir: false, watch: false }), { what: 'discovery', timeoutMs: 30_000 });
    try {
      for (let i = 0; i < 6; i++) await within(reg.reload(), { what: `reload ${i + 1}`, timeoutMs: 30_000 }); // more than libuv's 4 pool threads
      const states = Object.fromEntries(reg.list().map((p) => [p.name, p.state === 'broken' ? p.lastError?.message : p.state]));
      assert.equal(states.good, 'stopped');
      assert.match(String(states.fifo), /fifo\.json: is a named pipe \(FIFO\), not a regular file/);
      assert.match(String(states.zero), /zero\.json: is a device, not a regular file/);
      assert.match(String(states.folder), /folder\.json: is a folder, not a manifest file/);
      assert.ok(process.memoryUsage().rss < 2 * 1024 ** 3, 'reading /dev/zero did not grow the host');
    } finally {
      await reg.dispose();
    }
  });
});
