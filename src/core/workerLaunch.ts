// Starting one worker process and waiting until it can take requests: the bundled worker announces
// itself on one stdout line (no port race, no polling); a seed-style `cjm` worker gets a port from
// get-port and is polled on /health. A start that fails says why, with the stderr tail and a hint.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import getPort from 'get-port';
import { request } from 'undici';
import { PluginError } from './errors';
import type { Manifest } from './manifest';
import { StderrTail } from './stderrTail';
import type { ReadyLine } from './workerProtocol';

export interface WorkerStartOptions {
  manifest: Manifest;
  manifestPath: string;
  pythonExecutable: string;
  /** Absolute path of worker/rpp_worker.py. */
  workerScript: string;
  startupTimeoutMs: number;
  signal?: AbortSignal;
  onStderrLine?: (line: string) => void;
}

export interface ProcessEnd {
  code: number | null;
  signal: string | null;
}

export interface LaunchedWorker {
  pid: number;
  port: number;
  secret: string;
  tail: StderrTail;
  /** Settles once the process has exited and its stderr is read (or 200 ms passed). */
  ended: Promise<ProcessEnd>;
}

/** The seed's worker may print to stdout; the bundled one prints exactly one ready line there. */
const READY_LINE_MAX = 64 * 1024;

export async function launchWorker(options: WorkerStartOptions): Promise<LaunchedWorker> {
  const { manifest } = options;
  await assertExecutable(options);
  const cjm = manifest.worker === 'cjm';
  const port = cjm ? await getPort({ host: '127.0.0.1' }) : 0;
  const secret = randomBytes(32).toString('hex');
  const tail = new StderrTail(options.onStderrLine);
  const subprocess = execa(options.pythonExecutable, workerArguments(options, port), {
    detached: true, // own process group, so dispose() can signal the worker and its children at once
    cleanup: false, // the worker's own --ppid watch and dispose() end it; no signal-exit hooks in VS Code
    buffer: false, // output is consumed here as it comes; execa must not keep it
    reject: false, // failures are read from the exit event; no unhandled rejection
    stdin: 'ignore',
    env: {
      ...manifest.env_vars,
      RPP_WORKER_SECRET: secret, // in the environment, never on the command line (/proc/*/cmdline)
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
    },
  });
  subprocess.stderr.setEncoding('utf8');
  subprocess.stderr.on('data', (text: string) => tail.push(text));
  const ended = processEnd(subprocess, subprocess.stderr, tail);
  const pid = subprocess.pid;
  if (pid === undefined) {
    const end = await ended;
    throw startError(options, `the interpreter could not be run (${end.code ?? end.signal})`, tail);
  }
  const startOver = new AbortController();
  try {
    if (cjm) logStdout(subprocess.stdout, tail);
    const ready = cjm ? pollHealth(port, secret, startOver.signal) : readReadyLine(subprocess.stdout);
    const readyPort = await raceStart(options, ready, ended, tail, pid);
    return { pid, port: readyPort, secret, tail, ended };
  } catch (error) {
    killGroup(pid, 'SIGKILL');
    await ended;
    throw error;
  } finally {
    startOver.abort();
  }
}

/** Signals the worker's whole process group; a group that is already gone is not an error. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function workerArguments(options: WorkerStartOptions, port: number): string[] {
  const { manifest } = options;
  const ppid = String(process.pid);
  if (manifest.worker === 'cjm') {
    // Exactly the seed's command line (RemotePluginProxy._start_process).
    return ['-m', 'cjm_plugin_system.core.worker', '--module', manifest.module, '--class', manifest.class, '--port', String(port), '--ppid', ppid];
  }
  return [
    options.workerScript,
    ...['--module', manifest.module, '--class', manifest.class, '--ppid', ppid],
    ...['--sys-path', path.dirname(options.manifestPath), '--name', manifest.name],
  ];
}

async function assertExecutable(options: WorkerStartOptions): Promise<void> {
  try {
    await access(options.pythonExecutable, fsConstants.X_OK);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new PluginError(
      'start',
      `Plugin "${options.manifest.name}" did not start: python_path "${options.pythonExecutable}" ${missing ? 'was not found' : 'is not executable'}. ` +
        `Point "python_path" in ${options.manifestPath} at a Python interpreter (e.g. the output of \`python3 -c "import sys; print(sys.executable)"\`).`,
      { plugin: options.manifest.name, manifestPath: options.manifestPath, cause: error },
    );
  }
}

function processEnd(subprocess: ChildProcess, stderr: Readable, tail: StderrTail): Promise<ProcessEnd> {
  return new Promise((resolve) => {
    const finish = (end: ProcessEnd): void => {
      // The exit event can come before the last stderr bytes: give the pipe a moment to drain.
      const drained = new Promise<void>((done) => {
        if (stderr.readableEnded) return done();
        stderr.once('end', done);
        stderr.once('close', done);
        setTimeout(done, 200).unref();
      });
      void drained.then(() => {
        tail.flush();
        resolve(end);
      });
    };
    subprocess.once('exit', (code, signal) => finish({ code, signal }));
    subprocess.once('error', () => {
      if (subprocess.pid === undefined) finish({ code: null, signal: null });
    });
  });
}

/** The first stdout line of the bundled worker: {"rpp_worker":1,"protocol":1,"port":...}. */
function readReadyLine(stdout: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: string): void => {
      text += chunk;
      const newline = text.indexOf('\n');
      if (newline === -1) {
        if (text.length > READY_LINE_MAX) fail(`its ready line is longer than ${READY_LINE_MAX} bytes`);
        return;
      }
      stdout.off('data', onData);
      stdout.resume(); // the worker closes it; drain anything left so it never blocks
      try {
        const ready = JSON.parse(text.slice(0, newline)) as Partial<Record<keyof ReadyLine, unknown>>;
        if (ready.rpp_worker !== 1 || typeof ready.port !== 'number') throw new Error('missing rpp_worker or port');
        resolve(ready.port);
      } catch (error) {
        fail(`its ready line is not the protocol's (${(error as Error).message}): ${text.slice(0, 200)}`);
      }
    };
    const fail = (why: string): void => reject(new Error(why));
    stdout.setEncoding('utf8');
    stdout.on('data', onData);
  });
}

/** The seed's worker prints whatever the plugin prints to stdout: that is log, like stderr. */
function logStdout(stdout: Readable, tail: StderrTail): void {
  stdout.setEncoding('utf8');
  stdout.on('data', (text: string) => tail.push(text));
}

/** Seed-style readiness: GET /health until it answers, backing off from 10 ms to 100 ms (the seed waits 500 ms). */
async function pollHealth(port: number, secret: string, startOver: AbortSignal): Promise<number> {
  for (let wait = 10; !startOver.aborted; wait = Math.min(wait * 2, 100)) {
    try {
      const response = await request(`http://127.0.0.1:${port}/health`, {
        headers: { authorization: `Bearer ${secret}`, connection: 'close' },
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      await response.body.dump();
      if (response.statusCode === 200) return port;
    } catch {
      // Not listening yet: try again after the backoff.
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return new Promise(() => {}); // the start is over: raceStart has already reported why
}

/** Ready, or the process ended, or the start-up time ran out, or the caller aborted: whichever is first. */
function raceStart(
  options: WorkerStartOptions,
  ready: Promise<number>,
  ended: Promise<ProcessEnd>,
  tail: StderrTail,
  pid: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const seconds = Math.round(options.startupTimeoutMs / 100) / 10;
    const timer = setTimeout(() => {
      killGroup(pid, 'SIGKILL');
      done(startError(options, `it did not report ready within ${seconds} s`, tail, 'timeout'));
    }, options.startupTimeoutMs);
    const onAbort = (): void => done(new PluginError('cancelled', `Start of plugin "${options.manifest.name}" was cancelled.`, { plugin: options.manifest.name }));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    function done(outcome: number | Error): void {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (typeof outcome === 'number') resolve(outcome);
      else reject(outcome);
    }
    ready.then(done, (error: Error) => done(startError(options, error.message, tail)));
    void ended.then((end) => {
      const how = end.signal ? `it was killed by ${end.signal}` : `it exited with code ${end.code}`;
      done(startError(options, `${how} before it was ready`, tail, end.code === 4 ? 'constructor' : undefined));
    });
  });
}

function startError(options: WorkerStartOptions, reason: string, tail: StderrTail, cause?: 'timeout' | 'constructor'): PluginError {
  const { manifest } = options;
  const stderr = tail.text();
  const said = telling(stderr) ? ` Output: ${telling(stderr)}.` : '';
  return new PluginError('start', `Plugin "${manifest.name}" did not start: ${reason}.${said} ${hintFor(options, stderr, cause)}`, {
    plugin: manifest.name,
    manifestPath: options.manifestPath,
    detail: stderr,
  });
}

/** The stderr line that says most: the last Python exception line ("ModuleNotFoundError: ..."), else the last line. */
function telling(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const exception = lines.filter((line) => /^[\w.]+(Error|Exception)\b/.test(line)).pop();
  return exception ?? lines[lines.length - 1] ?? '';
}

function hintFor(options: WorkerStartOptions, stderr: string, cause?: 'timeout' | 'constructor'): string {
  const { manifest } = options;
  if (cause === 'timeout') {
    return `If its imports are slow (large models), raise "startup_timeout_s" in ${options.manifestPath}; otherwise see the log for where it hangs.`;
  }
  // cjm's worker prints only the message ("FATAL: Failed to load M:C - No module named 'x'").
  if (/ModuleNotFoundError|ImportError|No module named/.test(stderr)) {
    return `Check "module" (${manifest.module}) and "python_path" (${options.pythonExecutable}) in ${options.manifestPath}: the module and its packages must be importable by that interpreter.`;
  }
  if (/(AttributeError: |- )module .* has no attribute/.test(stderr)) {
    return `Check "class" (${manifest.class}) in ${options.manifestPath}: the module has no such class.`;
  }
  if (cause === 'constructor') return `The plugin class ${manifest.class}() raised while being constructed; the traceback is in the log.`;
  return 'See the log for the full output.';
}
