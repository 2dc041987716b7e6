// Security: only the host that started a worker can talk to it. Requests without or with a wrong
// secret, with a foreign Host or an Origin, or from another process are refused; the secret is in
// no command line and no log; the worker listens on 127.0.0.1 only; temp inputs are private and
// removed; the results webview's code never parses text as HTML (its CSP is checked on the served HTML in
// test/vscode/results.test.ts). (Workspace trust is tested in a real VS Code:
// test/vscode/plugins.test.ts and test/ui/.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { PluginRegistry } from '../../src/core/registry';
import { projectRoot, python } from '../helpers/python';
import { allPids, listeningSockets, readProc, secretOf, workerPort, workerSocket } from '../helpers/proc';
import { waitFor } from '../helpers/waitFor';
import { figure, killMarked, makePluginFolder, openRegistry, type PluginFolder } from './helpers';

let folder: PluginFolder;
let registry: PluginRegistry;
const logLines: string[] = [];
let pid: number;
let port: number;
let secret: string;

before(async () => {
  folder = await makePluginFolder([{ name: 'guarded' }]);
  registry = await openRegistry(folder);
  registry.onLog((event) => logLines.push(event.message));
  await registry.start('guarded');
  pid = registry.get('guarded')?.pid as number;
  port = workerPort(pid);
  secret = secretOf(pid);
});

after(async () => {
  await registry.dispose();
  killMarked(folder.mark);
  await folder.remove();
});

async function get(headers: Record<string, string>, pathname = '/health'): Promise<number> {
  const response = await request(`http://127.0.0.1:${port}${pathname}`, { headers, headersTimeout: 5000, bodyTimeout: 5000 });
  await response.body.dump();
  return response.statusCode;
}

describe('requests the worker refuses', () => {
  test('no secret, a wrong secret, a foreign Host, an Origin: 401/403; the right ones: 200', async () => {
    const host = `127.0.0.1:${port}`;
    const cases: [string, Record<string, string>, number][] = [
      ['no secret', { host }, 401],
      ['wrong secret of the right length', { host, authorization: `Bearer ${'0'.repeat(secret.length)}` }, 401],
      ['the secret without Bearer', { host, authorization: secret }, 401],
      ['a foreign Host (DNS rebinding)', { host: `evil.example:${port}`, authorization: `Bearer ${secret}` }, 403],
      ['Host on another port', { host: `127.0.0.1:${port + 1}`, authorization: `Bearer ${secret}` }, 403],
      ['an Origin header (a web page)', { host, authorization: `Bearer ${secret}`, origin: 'http://localhost:3000' }, 403],
      ['the host itself', { host, authorization: `Bearer ${secret}` }, 200],
      ['the host itself, as localhost', { host: `localhost:${port}`, authorization: `Bearer ${secret}` }, 200],
    ];
    for (const [label, headers, expected] of cases) assert.equal(await get(headers), expected, label);
    for (const [label, headers] of cases.slice(0, 6)) assert.equal(await get(headers, '/execute'), headers.authorization === `Bearer ${secret}` ? 403 : 401, `${label} on /execute`);
    figure('security: refused request kinds', `${cases.length - 2} kinds on /health and /execute`);
  });

  test('a second process that knows the port but not the secret is refused on every endpoint', async () => {
    const paths = ['/health', '/execute', '/execute_stream', '/stats', '/config', '/cancel', '/cleanup'];
    const script = `
      const paths = ${JSON.stringify(paths)};
      const guesses = Array.from({ length: 7 }, () => require('node:crypto').randomBytes(32).toString('hex'));
      (async () => {
        const answers = [];
        for (const p of paths) for (const g of guesses) {
          const get = p === '/health' || p === '/stats' || p === '/config';
          const r = await fetch('http://127.0.0.1:${port}' + p, { method: get ? 'GET' : 'POST', headers: { authorization: 'Bearer ' + g }, body: get ? undefined : '{}' });
          answers.push([p, r.status]);
        }
        console.log(JSON.stringify(answers));
      })();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 60_000 });
    const answers = JSON.parse(stdout) as [string, number][];
    assert.deepEqual([...new Set(answers.map(([p]) => p))], paths, 'every endpoint was tried');
    assert.deepEqual(answers.filter(([, status]) => status !== 401), [], 'every guess was refused with 401');
    assert.equal((await registry.health('guarded')).status, 'ok', 'the worker still runs: /cleanup was refused');
    const statuses = [...new Set(answers.map(([, status]) => status))].join(', ');
    figure('security: guesses from a second process', `${answers.length} requests on ${new Set(answers.map(([p]) => p)).size} endpoints, statuses: ${statuses}`);
  });
});

describe('where the secret is', () => {
  test('in no /proc/*/cmdline, in no log line, not in the environment of the plugin’s children', async () => {
    const spawned = (await registry.execute('guarded', { kwargs: { action: 'spawn_child' } })) as { child: number };
    await registry.execute('guarded', { kwargs: { action: 'print' } });
    let cmdlines = 0;
    for (const each of allPids()) {
      const cmdline = readProc(each, 'cmdline');
      if (cmdline === undefined) continue;
      cmdlines++;
      assert.ok(!cmdline.includes(secret), `the secret is on the command line of ${each}`);
    }
    assert.ok(logLines.length > 0);
    assert.ok(!logLines.some((line) => line.includes(secret)), 'the secret is in a log line');
    assert.ok(!(readProc(spawned.child, 'environ') ?? '').includes(secret), 'the plugin’s child inherited the secret');
    figure('security: command lines and log lines searched for the secret', `${cmdlines} cmdlines, ${logLines.length} log lines`);
    process.kill(spawned.child, 'SIGKILL');
  });

  test('the worker listens on 127.0.0.1 only', () => {
    const sockets = listeningSockets(pid);
    assert.deepEqual(sockets.map(({ file, address, port: listening }) => ({ file, address, port: listening })), [{ file: 'tcp', address: '127.0.0.1', port }]);
  });
});

describe('a stranger who opens many connections (no secret needed for that)', () => {
  let crowdFolder: PluginFolder;
  let crowdRegistry: PluginRegistry;
  let wrapperDir: string;
  before(async () => {
    // A machine with tight limits: the interpreter is started through a wrapper script (as conda does)
    // that caps its address space at 400 MB, so a handful of threads are all it can have (each takes an
    // 8 MB stack and a 64 MB malloc arena of address space).
    wrapperDir = await mkdtemp(path.join(os.tmpdir(), 'rpp-limited-'));
    const wrapper = path.join(wrapperDir, 'python');
    await writeFile(wrapper, `#!/bin/sh\nulimit -v 400000\nexec ${python} "$@"\n`, { mode: 0o755 });
    crowdFolder = await makePluginFolder([{ name: 'crowded', fields: { python_path: wrapper } }]);
    crowdRegistry = await openRegistry(crowdFolder);
  });
  after(async () => {
    await crowdRegistry.dispose();
    killMarked(crowdFolder.mark);
    await crowdFolder.remove();
    await rm(wrapperDir, { recursive: true, force: true });
  });

  /** Once every socket has connected (or been refused) and the worker has taken them all from its accept queue. */
  async function allAccepted(sockets: net.Socket[], pid: number): Promise<void> {
    await waitFor(() => sockets.filter((socket) => socket.connecting).length, { what: `${sockets.length} connections to be established`, timeoutMs: 30_000, until: (n) => n === 0 });
    await waitFor(() => workerSocket(pid).acceptQueue, { what: `the worker to accept the ${sockets.length} connections`, timeoutMs: 30_000, until: (n) => n === 0 });
  }

  test('300 silent connections: the worker lives on and answers its host, on pooled and on new connections', { timeout: 60_000 }, async () => {
    await crowdRegistry.start('crowded');
    const crowdedPid = crowdRegistry.get('crowded')?.pid as number;
    const crowdedPort = workerPort(crowdedPid);
    const sockets = Array.from({ length: 300 }, () => net.connect(crowdedPort, '127.0.0.1').on('error', () => undefined));
    try {
      await allAccepted(sockets, crowdedPid);
      const started = Date.now();
      const results: unknown[] = [];
      let statsAnswered = 0;
      for (let i = 0; i < 5; i++) {
        // The host's usual traffic: calls (a few at once) and telemetry.
        results.push(...(await Promise.all([0, 1, 2].map((j) => crowdRegistry.execute('crowded', { kwargs: { token: `t${i}-${j}` } })))));
        assert.equal((await crowdRegistry.stats('crowded'))?.pid, crowdedPid);
        statsAnswered++;
      }
      const ms = Date.now() - started;
      assert.deepEqual(results.map((r) => (r as { token: string }).token), [0, 1, 2, 3, 4].flatMap((i) => [0, 1, 2].map((j) => `t${i}-${j}`)));
      const fresh = await request(`http://127.0.0.1:${crowdedPort}/health`, { headers: { authorization: `Bearer ${secretOf(crowdedPid)}` }, headersTimeout: 10_000, bodyTimeout: 10_000 });
      assert.equal(fresh.statusCode, 200);
      await fresh.body.dump();
      assert.equal(crowdRegistry.get('crowded')?.pid, crowdedPid, 'the same worker: it did not die');
      assert.equal(crowdRegistry.get('crowded')?.lastError, undefined);
      const threads = Number(/Threads:\s+(\d+)/.exec(readProc(crowdedPid, 'status') ?? '')?.[1]);
      figure('security: 300 silent connections to a worker capped at 400 MB of address space', `${results.length} calls and ${statsAnswered} /stats answered in ${ms} ms; worker threads ${threads}`);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  test('connections that never show the secret are capped and closed, so they cannot exhaust file descriptors', { timeout: 60_000 }, async () => {
    const crowdedPid = crowdRegistry.get('crowded')?.pid ?? (await crowdRegistry.start('crowded'), crowdRegistry.get('crowded')?.pid as number);
    const crowdedPort = workerPort(crowdedPid);
    const fdsBefore = readdirSync(`/proc/${crowdedPid}/fd`).length;
    const answers: string[] = [];
    const sockets = Array.from({ length: 600 }, () => {
      const socket = net.connect(crowdedPort, '127.0.0.1').on('error', () => undefined);
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => answers.push(text.slice(9, 12) || 'closed'));
      return socket;
    });
    try {
      await allAccepted(sockets, crowdedPid);
      const fds = readdirSync(`/proc/${crowdedPid}/fd`).length;
      assert.ok(fds - fdsBefore <= 260, `the worker holds ${fds - fdsBefore} more descriptors for 600 silent connections`);
      // Every one is closed within the strangers' time-out (5 s), with 503 (crowded out) or 408 (silent).
      await waitFor(() => answers.length, { what: `the worker to close all ${sockets.length} silent connections`, timeoutMs: 60_000, until: (closed) => closed === sockets.length });
      const counts = Object.fromEntries([...new Set(answers)].map((a) => [a, answers.filter((x) => x === a).length]));
      assert.ok(answers.every((a) => a === '503' || a === '408'), JSON.stringify(counts));
      assert.equal(crowdRegistry.get('crowded')?.pid, crowdedPid);
      figure('security: 600 silent connections', `${fds - fdsBefore} descriptors held at most; closed with ${JSON.stringify(counts)}`);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

test('an unsaved input goes through a 0600 file in a 0700 folder that is gone after the call', async () => {
  const result = (await registry.execute('guarded', { file: { content: 'secret notes', name: 'notes.txt' }, kwargs: { action: 'stat_input' } })) as Record<string, unknown>;
  assert.equal(result.mode, 0o600);
  assert.equal(result.dir_mode, 0o700);
  assert.equal(result.content, 'secret notes');
  assert.ok(!existsSync(result.path as string) && !existsSync(path.dirname(result.path as string)), 'removed after the call');
});

// The CSP and resource roots of the HTML the real panel serves are checked in the extension host
// (test/vscode/results.test.ts); here, that the webview's code has no way to parse text as HTML.
test('the results webview never parses plugin output as HTML', () => {
  const webviewDir = path.join(projectRoot, 'src/webview');
  const script = readdirSync(webviewDir).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(path.join(webviewDir, f), 'utf8')).join('\n');
  assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, 'plugin output is never parsed as HTML');
});
