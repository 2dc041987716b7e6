// The process tree of one worker, and its one owner on the host side. On Linux and macOS the
// interpreter runs worker/rpp_keeper.py, which forks the worker and keeps it: the keeper ends the
// worker's whole tree when our end of its stdin (the lifeline) closes, however this process ended
// (even SIGKILL), or when we ask (`stop MS`, `kill`). So a worker cannot outlive its host even when
// the plugin holds the GIL, is still importing, or python_path is a wrapper that does not exec.
// Windows has no fork and no process groups: there the worker is our direct child, and its own
// --ppid watch is all that ends it with us (docs/reliability.md says what that means).
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface ProcessEnd {
  code: number | null;
  signal: string | null;
}

export interface WorkerSpawn {
  pythonExecutable: string;
  /** What follows the interpreter on its command line: a script and its arguments, or `-m module ...`. */
  pythonArgs: string[];
  env: Record<string, string>;
  /** Absolute path of worker/rpp_keeper.py. */
  keeperScript: string;
  /** Every stdout line that is not the keeper's (the ready line; a seed worker's prints). */
  onStdoutLine: (line: string) => void;
  onStderrText: (text: string) => void;
}

/** How long the keeper may take beyond what it was asked, before we end what we can reach ourselves. */
const KEEPER_SLACK_MS = 500;
/** Output that arrives after the exit event still belongs to the process: wait this long for it. */
const DRAIN_MS = 200;
/** A stdout line longer than this is handed on in pieces (a seed worker's prints are only logged). */
const LINE_MAX = 64 * 1024;
const KEEPER_PREFIX = 'rpp-keeper';

/** Windows has no fork and no process groups: there the worker is started directly (see the header). */
const usesKeeper = process.platform !== 'win32';

type Execa = typeof import('execa').execa;
type ExecaResult = import('execa').Result;

export class WorkerProcess {
  /** Settles once the tree is gone: the worker's exit as the keeper saw it, else the process's own. */
  readonly ended: Promise<ProcessEnd>;
  /** Resolves with the worker's pid once it is known (never rejects; see `ended` for failures). */
  readonly started: Promise<number>;

  private readonly subprocess: ChildProcess;
  /** execa's result: settles even when spawning fails without an 'exit' or 'error' event. */
  private readonly result: Promise<ExecaResult>;
  private readonly lifeline: Writable | null;
  private readonly token = randomBytes(16).toString('hex');
  private workerPid: number | undefined;
  private report: ProcessEnd | undefined;
  private exited = false;
  private resolveStarted: (pid: number) => void = () => undefined;
  private spawnError: string | undefined;

  /** Starts the tree; execa is loaded here, on first use (the extension and `rpp --help` never load it). */
  static async spawn(spawn: WorkerSpawn): Promise<WorkerProcess> {
    const { execa } = await import('execa');
    return new WorkerProcess(spawn, execa);
  }

  private constructor(spawn: WorkerSpawn, execa: Execa) {
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    const args = usesKeeper ? [spawn.keeperScript, '--host-pid', String(process.pid), '--', ...spawn.pythonArgs] : spawn.pythonArgs;
    const subprocess = execa(spawn.pythonExecutable, args, {
      detached: true, // a session of its own: a terminal's Ctrl-C is the host's to handle, not the worker's
      cleanup: false, // the keeper ends the tree when we are gone; no signal-exit hooks inside VS Code
      buffer: false, // output is consumed here as it comes; execa must not keep it
      reject: false, // failures are read from the exit event; no unhandled rejection
      stdin: usesKeeper ? 'pipe' : 'ignore',
      env: usesKeeper ? { ...spawn.env, RPP_KEEPER_TOKEN: this.token } : spawn.env,
    });
    this.subprocess = subprocess;
    this.result = subprocess;
    this.lifeline = this.subprocess.stdin;
    // A keeper that is already gone makes a write fail with EPIPE: that is an answer, not an error.
    this.lifeline?.on('error', () => undefined);
    if (!usesKeeper && this.subprocess.pid !== undefined) this.knowWorker(this.subprocess.pid);
    const stdout = this.subprocess.stdout as Readable;
    const stderr = this.subprocess.stderr as Readable;
    stderr.setEncoding('utf8');
    stderr.on('data', spawn.onStderrText);
    stdout.setEncoding('utf8');
    splitLines(stdout, (line) => this.onStdoutLine(line, spawn.onStdoutLine));
    this.ended = this.whenEnded(stdout, stderr);
  }

  /** The worker's pid, once known (at once without a keeper; from the keeper's first line with one). */
  get pid(): number | undefined {
    return this.workerPid;
  }

  /** Why the interpreter could not be run at all (set once `ended` settled after a failed spawn). */
  get spawnFailure(): string | undefined {
    return this.spawnError;
  }

  /**
   * SIGTERM to the worker's whole tree, SIGKILL to what is left after `graceMs` (or as soon as the
   * worker itself has exited). Resolves once everything is gone; bounded even if the keeper is stuck.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.exited) return;
    if (!usesKeeper) {
      this.subprocess.kill('SIGTERM');
      if (!(await this.endsWithin(graceMs))) this.subprocess.kill('SIGKILL');
      await this.endsWithin(KEEPER_SLACK_MS);
      return;
    }
    this.send(`stop ${Math.round(graceMs)}`);
    if (await this.endsWithin(graceMs + KEEPER_SLACK_MS)) return;
    await this.kill();
  }

  /** SIGKILL to the worker's whole tree now. Resolves once everything is gone (bounded). */
  async kill(): Promise<void> {
    if (this.exited) return;
    if (!usesKeeper) {
      this.subprocess.kill('SIGKILL');
      await this.endsWithin(KEEPER_SLACK_MS);
      return;
    }
    this.send('kill');
    if (this.lifeline && !this.lifeline.writableEnded) this.lifeline.end(); // end of file: the keeper kills at once
    if (await this.endsWithin(KEEPER_SLACK_MS)) return;
    // The keeper does not act (stopped, or killed from outside): end what we can reach ourselves.
    this.killReachable();
    await this.endsWithin(KEEPER_SLACK_MS);
  }

  private send(command: string): void {
    if (this.lifeline?.writable) this.lifeline.write(`${command}\n`);
  }

  /** The worker's group and the keeper's (the keeper, and a wrapper that leads its group). */
  private killReachable(): void {
    if (this.workerPid !== undefined) killGroup(this.workerPid);
    if (this.subprocess.pid !== undefined) killGroup(this.subprocess.pid);
  }

  private onStdoutLine(line: string, other: (line: string) => void): void {
    const at = usesKeeper ? line.indexOf(`${KEEPER_PREFIX} ${this.token} `) : -1;
    if (at === -1) return other(line);
    if (at > 0) other(line.slice(0, at)); // a seed worker's print without a newline, then our line
    let message: { worker?: unknown; code?: unknown; signal?: unknown };
    try {
      message = JSON.parse(line.slice(at + KEEPER_PREFIX.length + this.token.length + 2)) as typeof message;
    } catch {
      return other(line);
    }
    if (typeof message.worker === 'number') this.knowWorker(message.worker);
    else if ('code' in message) {
      this.report = { code: typeof message.code === 'number' ? message.code : null, signal: typeof message.signal === 'string' ? message.signal : null };
    }
  }

  private knowWorker(pid: number): void {
    this.workerPid = pid;
    this.resolveStarted(pid);
  }

  private whenEnded(stdout: Readable, stderr: Readable): Promise<ProcessEnd> {
    return new Promise((resolve) => {
      const finish = (own: ProcessEnd): void => {
        this.exited = true;
        // The exit event can come before the last output (and the keeper's report): let the pipes drain.
        void Promise.all([drained(stdout), drained(stderr)]).then(() => {
          if (usesKeeper && this.report === undefined) {
            // The keeper did not report: it never ran, or it was killed. The worker (if it started)
            // dies of PR_SET_PDEATHSIG; its group is ended here, in case something of it is left.
            if (this.workerPid !== undefined) killGroup(this.workerPid);
          }
          resolve(this.report ?? own);
        });
      };
      if (this.subprocess.pid !== undefined) {
        this.subprocess.once('exit', (code, signal) => finish({ code, signal }));
        return;
      }
      // Spawning failed. Node may say so with an 'error' event (and an 'exit' before the reason is
      // known) or only through execa's result (an argument it refuses, such as a NUL byte in the
      // environment, gives neither), so the result is what is awaited: it always settles.
      void this.result.then((result) => {
        this.spawnError = result.cause instanceof Error ? result.cause.message : (result.originalMessage ?? result.shortMessage ?? 'spawn failed');
        finish({ code: null, signal: null });
      });
    });
  }

  private async endsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
    const ended = await Promise.race([this.ended.then(() => true), timeout]);
    clearTimeout(timer);
    return ended;
  }
}

/** SIGKILL to a whole process group; a group that is already gone is not an error. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function drained(stream: Readable): Promise<void> {
  return new Promise((done) => {
    if (stream.readableEnded || stream.destroyed) return done();
    stream.once('end', done);
    stream.once('close', done);
    setTimeout(done, DRAIN_MS).unref();
  });
}

/** Calls `onLine` for each line of decoded text (without its newline); the unfinished rest at the end. */
function splitLines(stream: Readable, onLine: (line: string) => void): void {
  let partial = '';
  stream.on('data', (text: string) => {
    const pieces = (partial + text).split('\n');
    partial = pieces.pop() ?? '';
    for (const line of pieces) onLine(line);
    while (partial.length > LINE_MAX) {
      onLine(partial.slice(0, LINE_MAX));
      partial = partial.slice(LINE_MAX);
    }
  });
  stream.once('end', () => {
    if (partial !== '') onLine(partial);
    partial = '';
  });
}
