// The worker's lifetime: it dies with its host (SIGKILLed host, via PR_SET_PDEATHSIG and via the
// --ppid poll) taking the plugin's children with it, runs cleanup() on SIGTERM and on /cleanup.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { fixturePlugins, python, workerScript } from '../helpers/python';
import { figure } from '../helpers/figure';
import { processAlive } from '../helpers/proc';
import { waitFor } from '../helpers/waitFor';
import { killGroup, SECRET, startWorker } from './workerHarness';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rpp-worker-life-'));
/**
 * Generous: the protocol promises the worker and its children end within about 1.5 s of the host's
 * death, but on a loaded machine a test checks only that they end; how fast is a bench figure.
 */
const DEATH_WAIT_MS = 30_000;

/** Waits until none of `pids` runs; returns how long that took (printed, never asserted). */
async function allGone(pids: number[], what: string): Promise<number> {
  const started = Date.now();
  await waitFor(() => pids.filter(processAlive), {
    what, timeoutMs: DEATH_WAIT_MS, everyMs: 25, until: (alive) => alive.length === 0,
  });
  return Date.now() - started;
}

/** Starts a plugin call that spawns `sleep 300` and hangs; returns the child's pid. */
async function childOf(port: number): Promise<number> {
  const dispatcher = new Agent();
  const headers = { authorization: `Bearer ${SECRET}` };
  void request(`http://127.0.0.1:${port}/execute`, { method: 'POST', headers, body: '{}', dispatcher }).catch(() => undefined);
  const message = await waitFor(async () => {
    const res = await request(`http://127.0.0.1:${port}/progress`, { headers, dispatcher });
    return ((await res.body.json()) as { message: string | null }).message;
  }, { what: 'the plugin to report its child\'s pid in /progress', timeoutMs: 30_000 });
  return Number(message);
}

// A host process like VS Code's extension host: starts the worker as its own child in a new
// process group with --ppid = itself, passes the ready line on, then just lives until killed.
const HOST = `
import os, subprocess, sys, time
worker = subprocess.Popen([sys.executable, ${JSON.stringify(workerScript)}, "--module", "faulty_plugin",
    "--class", "SpawnsChildPlugin", "--sys-path", ${JSON.stringify(fixturePlugins)}, "--ppid", str(os.getpid())],
    stdout=subprocess.PIPE, start_new_session=True)
sys.stdout.write(worker.stdout.readline().decode()); sys.stdout.flush()
time.sleep(300)
`;

test('a SIGKILLed host takes its worker and the plugin’s child with it', async (t) => {
  const host = spawn(python, ['-c', HOST], { env: { ...process.env, RPP_WORKER_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => host.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  const ready = JSON.parse(line) as { port: number; pid: number };
  const child = await childOf(ready.port);
  assert.ok(processAlive(child));
  try {
    host.kill('SIGKILL');
    const tookMs = await allGone([ready.pid, child], 'the worker and the plugin\'s child to end after the host\'s SIGKILL');
    t.diagnostic(`worker and child gone ${tookMs} ms after the host's SIGKILL`);
  } finally {
    killGroup(ready.pid);
    for (const pid of [child, ready.pid]) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('the --ppid poll alone (host is not the parent, so no PDEATHSIG) ends the worker', async () => {
  const fakeHost = spawn('sleep', ['300'], { stdio: 'ignore' }); // a real process that only plays the host's part
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'SpawnsChildPlugin', args: ['--ppid', String(fakeHost.pid)] });
  const child = await childOf(worker.port);
  try {
    fakeHost.kill('SIGKILL');
    const tookMs = await allGone([worker.pid, child], 'the worker and the plugin\'s child to end after the fake host\'s SIGKILL');
    assert.match(worker.stderr(), new RegExp(`host process ${fakeHost.pid} is gone`));
    figure('worker and child gone after the --ppid host\'s SIGKILL', `${tookMs} ms`);
  } finally {
    await worker.stop();
    if (processAlive(child)) process.kill(child, 'SIGKILL');
  }
});

test('SIGTERM runs the plugin’s cleanup(), exits 0', async () => {
  const marker = path.join(tmp, 'sigterm');
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'CleanupMarkerPlugin', env: { CLEANUP_MARKER: marker } });
  worker.proc.kill('SIGTERM');
  assert.equal((await worker.exited).code, 0);
  assert.equal(readFileSync(marker, 'utf8'), 'cleaned');
});

test('SIGTERM during a hung call kills the plugin’s child process too', async () => {
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'SpawnsChildPlugin' });
  const child = await childOf(worker.port);
  try {
    worker.proc.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0);
    await allGone([child], 'the plugin\'s child to end after the worker\'s SIGTERM');
  } finally {
    if (processAlive(child)) process.kill(child, 'SIGKILL');
  }
});

test('/cleanup answers, runs cleanup() and the worker exits 0', async () => {
  const marker = path.join(tmp, 'cleanup-endpoint');
  const worker = await startWorker({ module: 'faulty_plugin', cls: 'CleanupMarkerPlugin', env: { CLEANUP_MARKER: marker } });
  const reply = await worker.call('POST', '/cleanup');
  assert.deepEqual([reply.status, reply.json], [200, { status: 'ok' }]);
  assert.equal((await worker.exited).code, 0);
  assert.ok(existsSync(marker));
  await worker.stop();
});
