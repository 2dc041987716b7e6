// Starts the real universal worker (worker/rpp_worker.py) with real fixture plugins, for the worker tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Agent, request } from 'undici';
import { python, workerScript, fixturePlugins } from '../helpers/python';

export const SECRET = randomBytes(32).toString('hex');

export interface ReadyLine {
  rpp_worker: number;
  protocol: number;
  port: number;
  pid: number;
  plugin: string;
  python: string;
}

export interface LaunchOptions {
  module: string;
  cls: string;
  python?: string;
  env?: Record<string, string>;
  /** Extra arguments, e.g. ['--name', 'x']. */
  args?: string[];
  /** Leave out RPP_WORKER_SECRET (to test that the worker refuses to start). */
  noSecret?: boolean;
}

export interface Launched {
  proc: ChildProcess;
  /** The first stdout line, or null when stdout closed without one. */
  readyLine: Promise<string | null>;
  /** Everything on stdout (must be the ready line only). */
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns the worker in its own process group, as the host does; it is killed when the test process ends. */
export function launchWorker(options: LaunchOptions): Launched {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
  if (options.noSecret) delete env.RPP_WORKER_SECRET;
  else env.RPP_WORKER_SECRET = SECRET;
  const args = [workerScript, '--module', options.module, '--class', options.cls, '--ppid', String(process.pid), '--sys-path', fixturePlugins, ...(options.args ?? [])];
  const proc = spawn(options.python ?? python, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => (err += chunk));
  const readyLine = new Promise<string | null>((resolve) => {
    proc.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    proc.stdout!.on('close', () => resolve(null));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  liveGroups.add(proc);
  void exited.then(() => liveGroups.delete(proc));
  return { proc, readyLine, stdout: () => out, stderr: () => err, exited };
}

const liveGroups = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of liveGroups) killGroup(proc.pid!);
});

export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export interface RunningWorker extends Launched {
  ready: ReadyLine;
  port: number;
  pid: number;
  base: string;
  /** A request with the secret (unless headers override it), on a keep-alive connection. */
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  stop(): Promise<void>;
}

export async function startWorker(options: LaunchOptions): Promise<RunningWorker> {
  const launched = launchWorker(options);
  const line = await launched.readyLine;
  if (line === null) {
    const exit = await launched.exited;
    throw new Error(`worker did not start (exit ${exit.code}, signal ${exit.signal}):\n${launched.stderr()}`);
  }
  const ready = JSON.parse(line) as ReadyLine;
  const base = `http://127.0.0.1:${ready.port}`;
  const dispatcher = new Agent({ connections: 256, pipelining: 0 });
  return {
    ...launched,
    ready,
    port: ready.port,
    pid: ready.pid,
    base,
    async call(method, path, body, headers = {}) {
      const res = await request(base + path, {
        method,
        dispatcher,
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.body.text();
      let json: unknown = undefined;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined; // NDJSON or empty: the test reads `text`
      }
      return { status: res.statusCode, headers: res.headers, text, json };
    },
    async stop() {
      await dispatcher.destroy();
      killGroup(launched.proc.pid!);
      await launched.exited;
    },
  };
}

/** Sends raw bytes on a fresh connection and returns everything the worker answers until it closes or `idleMs` pass. */
export function rawExchange(port: number, data: string, options: { endAfterWrite?: boolean; idleMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.setTimeout(options.idleMs ?? 15_000, () => {
      socket.destroy();
      resolve(received);
    });
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.write(data, () => {
      if (options.endAfterWrite) socket.end();
    });
  });
}

/** The request head a well-behaved host sends. */
export function head(method: string, path: string, port: number, extra: Record<string, string> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${SECRET}`];
  for (const [name, value] of Object.entries(extra)) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Parses NDJSON text into values. */
export function ndjson(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as unknown);
}

export const interpreters = [...new Set([python, '/usr/bin/python3'])];
