// One running worker process and its wire: the only owner of the process, its secret, its
// connection pools and its timers, all released by dispose(). See docs/protocol.md.
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { CallStream, type StreamSource } from './callStream';
import { PluginError, fromJobError, isJobError } from './errors';
import { NdjsonError } from './ndjson';
import { launchWorker, type LaunchedWorker, type WorkerStartOptions } from './workerLaunch';

/** GET /stats (docs/protocol.md). */
export interface WorkerStats {
  pid: number;
  rss_bytes: number;
  rss_children_bytes: number;
  cpu_percent: number;
  threads: number;
  children: number;
  uptime_s: number;
  calls: number;
  errors: number;
  busy: boolean;
  [other: string]: unknown;
}

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** The last lines of stderr, for the error message. */
  stderrTail: string;
  /** True when the host asked it to stop (dispose), false for a crash. */
  expected: boolean;
  /** Stopped because a cancelled call did not stop: the owner starts a new worker. */
  restart: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** One call in flight: its id, and whether its cancel had to be escalated to a restart. */
interface CallTicket {
  callId: string;
  escalated: boolean;
  released: boolean;
  release(): void;
}

/** Short limits for the control endpoints; calls themselves have none (a call may run 10 minutes). */
const CONTROL_TIMEOUT_MS = 5000;
/**
 * Stopping: ask (/cleanup, which runs the plugin's cleanup() for up to 1 s), then SIGTERM to the
 * whole tree, then SIGKILL. Every step is bounded and the keeper always ends with SIGKILL, so a
 * stop takes at most CLEANUP_TIMEOUT_MS + TERM_GRACE_MS (+ 1 s if the keeper itself is stuck),
 * within VS Code's 5 s for deactivate, whatever the plugin does (a GIL held in C included).
 */
const CLEANUP_TIMEOUT_MS = 1500;
const TERM_GRACE_MS = 1500;
/** Default for how long a cancelled call may take to stop before its worker is restarted. */
export const DEFAULT_CANCEL_GRACE_MS = 3000;
/** A failed request waits this long for the exit event, to report a crash rather than a socket error. */
const CRASH_CONFIRM_MS = 1000;
/**
 * Keep-alive for the seed's worker: measured against test/fixtures/cjm_plugin_system (http.server
 * without TCP_NODELAY, headers and body written separately, like many seed-style servers), a reused
 * connection stalls on Nagle + delayed ACK (median 5.8 ms per call here) while a new connection per
 * call takes 0.9 ms; see the "measure" test in test/core/pluginWorker.cjm.test.ts. So a fresh one.
 */
const CJM_KEEP_ALIVE = false;

export class PluginWorker {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly exited: Promise<WorkerExit>;

  private readonly secret: string;
  private readonly launched: LaunchedWorker;
  /** Calls get their own pool so that a hung call can never queue /cancel or /health behind it. */
  private readonly callPool: Pool;
  private readonly controlPool: Pool;
  private readonly callIdPrefix = randomBytes(6).toString('hex');
  private callCounter = 0;
  private running = 0;
  private exit: WorkerExit | undefined;
  private stopping = false;
  private restartWanted = false;
  private disposal: Promise<void> | undefined;
  private readonly cancelGraceMs: number;
  /** The seed's worker (`"worker": "cjm"`): no /cancel, no /progress. */
  private readonly seedWorker: boolean;
  /** Pending requests that must fail at once when the process exits. */
  private readonly exitListeners = new Set<(exit: WorkerExit) => void>();

  private constructor(options: WorkerStartOptions, launched: LaunchedWorker) {
    this.name = options.manifest.name;
    this.pid = launched.pid;
    this.port = launched.port;
    this.secret = launched.secret;
    this.launched = launched;
    this.cancelGraceMs = options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
    this.seedWorker = options.manifest.worker === 'cjm';
    const origin = `http://127.0.0.1:${launched.port}`;
    const keepAlive = !this.seedWorker || CJM_KEEP_ALIVE;
    this.callPool = new Pool(origin, {
      connections: 32,
      pipelining: keepAlive ? 1 : 0, // 0 = a new connection per request
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 60_000,
    });
    this.controlPool = new Pool(origin, {
      connections: 4,
      pipelining: keepAlive ? 1 : 0,
      headersTimeout: CONTROL_TIMEOUT_MS,
      bodyTimeout: CONTROL_TIMEOUT_MS,
    });
    this.exited = launched.ended.then((end) => this.onExit(end));
  }

  /** Spawns the worker and resolves once it takes requests; rejects with a PluginError of kind 'start'. */
  static async start(options: WorkerStartOptions): Promise<PluginWorker> {
    return new PluginWorker(options, await launchWorker(options));
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  get activeCalls(): number {
    return this.running;
  }

  /** Being stopped because a cancelled call did not stop: its owner waits for the exit, then starts a new one. */
  get restarting(): boolean {
    return this.restartWanted && this.alive;
  }

  async initialize(config: Record<string, unknown>, options: CallOptions = {}): Promise<void> {
    await this.call('/initialize', config, options.signal);
  }

  execute(args: unknown[], kwargs: Record<string, unknown>, options: CallOptions = {}): Promise<unknown> {
    return this.call('/execute', { args, kwargs }, options.signal);
  }

  executeStream(args: unknown[], kwargs: Record<string, unknown>, options: CallOptions = {}): AsyncIterable<unknown> {
    return new CallStream(this.openStream({ args, kwargs }, options.signal), this.name);
  }

  configSchema(): Promise<Record<string, unknown>> {
    return this.control('GET', '/config_schema') as Promise<Record<string, unknown>>;
  }

  config(): Promise<Record<string, unknown>> {
    return this.control('GET', '/config') as Promise<Record<string, unknown>>;
  }

  stats(options: { timeoutMs?: number } = {}): Promise<WorkerStats> {
    return this.control('GET', '/stats', undefined, options.timeoutMs) as Promise<WorkerStats>;
  }

  health(options: { timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    return this.control('GET', '/health', undefined, options.timeoutMs) as Promise<Record<string, unknown>>;
  }

  progress(): Promise<Record<string, unknown>> {
    return this.control('GET', '/progress') as Promise<Record<string, unknown>>;
  }

  /** Cancels one call by id, or every running call. */
  async cancel(callId?: string): Promise<void> {
    await this.control('POST', '/cancel', callId === undefined ? {} : { call_id: callId });
  }

  /**
   * /cleanup (at most 1.5 s), then SIGTERM to the worker's whole tree, then SIGKILL to what is left
   * after 1.5 s; resolves when every process of the tree is gone. No step waits longer than it must:
   * SIGTERM follows the /cleanup answer at once, SIGKILL follows the worker's exit at once.
   */
  dispose(): Promise<void> {
    this.disposal ??= this.shutDown();
    return this.disposal;
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    if (this.alive) {
      // A timer of our own: a silent worker must cost CLEANUP_TIMEOUT_MS, not that plus undici's
      // coarse time-out clock plus the crash check of a failed request.
      await this.exitsWithin(CLEANUP_TIMEOUT_MS, this.control('POST', '/cleanup', undefined, CLEANUP_TIMEOUT_MS).catch(() => undefined));
      await this.launched.process.stop(TERM_GRACE_MS);
    }
    await this.exited;
    await Promise.all([this.callPool.destroy(), this.controlPool.destroy()]);
  }

  /** A cancelled call that did not stop in time: stop this worker; its owner starts a new one. */
  private escalate(): void {
    if (this.stopping) return;
    this.restartWanted = true;
    void this.dispose();
  }

  private onExit(end: { code: number | null; signal: string | null }): WorkerExit {
    this.exit = { ...end, stderrTail: this.launched.tail.text(), expected: this.stopping, restart: this.restartWanted };
    for (const listener of this.exitListeners) listener(this.exit);
    this.exitListeners.clear();
    // A crashed worker's pools are useless; a disposing one closes them itself.
    if (!this.stopping) void Promise.all([this.callPool.destroy(), this.controlPool.destroy()]).catch(() => undefined);
    return this.exit;
  }

  /** True when the process exits within `ms`; false when the time is up, or when `done` settles first. */
  private async exitsWithin(ms: number, done?: Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
    const racers = [this.exited.then(() => true), timeout];
    if (done) racers.push(done.then(() => false));
    const exited = await Promise.race(racers);
    clearTimeout(timer);
    return exited;
  }

  private headers(callId?: string): Record<string, string> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.secret}`, 'content-type': 'application/json' };
    if (callId) headers['x-rpp-call-id'] = callId;
    return headers;
  }

  /** A request to a control endpoint: short time-out, answers while calls run. */
  private async control(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = CONTROL_TIMEOUT_MS): Promise<unknown> {
    if (this.exit) throw this.exitError(this.exit); // a stopping worker still answers /cancel, /cleanup
    try {
      const response = await this.untilExit(
        this.controlPool.request({
          method,
          path,
          headers: this.headers(),
          body: body === undefined ? undefined : JSON.stringify(body),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
      );
      return this.resultOf(path, response.statusCode, await this.untilExit(response.body.text()));
    } catch (error) {
      throw await this.failure(error, path);
    }
  }

  /**
   * A plugin call (/initialize, /execute): no time-out. Aborting the signal cancels it in the worker
   * (POST /cancel); the call then ends when the worker says so, and if the plugin does not stop
   * within the cancel grace, the worker is stopped (and its owner starts a new one).
   */
  private async call(path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    this.assertAlive();
    const ticket = this.beginCall(signal);
    try {
      // One race for the whole exchange: a call is on the hot path (the benchmark's warm round trip).
      const [status, text] = await this.untilExit(this.exchange(path, body, ticket.callId));
      if (signal?.aborted) throw this.cancelled(); // it finished anyway: the caller no longer wants it
      return this.resultOf(path, status, text);
    } catch (error) {
      throw await this.failure(error, path, signal, ticket);
    } finally {
      ticket.release();
    }
  }

  private async exchange(path: string, body: unknown, callId: string): Promise<[number, string]> {
    const response = await this.callPool.request({ method: 'POST', path, headers: this.headers(callId), body: JSON.stringify(body) });
    return [response.statusCode, await response.body.text()];
  }

  private async openStream(body: unknown, signal: AbortSignal | undefined): Promise<StreamSource> {
    this.assertAlive();
    const ticket = this.beginCall(signal);
    let response;
    try {
      response = await this.untilExit(
        this.callPool.request({ method: 'POST', path: '/execute_stream', headers: this.headers(ticket.callId), body: JSON.stringify(body) }),
      );
      // Not 200: resultOf throws the worker's error (a _job_error before the first item, a 4xx).
      if (response.statusCode !== 200) this.resultOf('/execute_stream', response.statusCode, await response.body.text());
    } catch (error) {
      ticket.release();
      throw await this.failure(error, '/execute_stream', signal, ticket);
    }
    const chunks = (response.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    // A read that was under way when the call was cancelled still ends as cancelled, even if the
    // plugin stopped by simply ending its stream (only a cancellable call pays for the check).
    const read = signal
      ? () => this.untilExit(chunks.next()).then((chunk) => (signal.aborted ? this.untilCancelled(chunks, chunk) : chunk))
      : () => this.untilExit(chunks.next());
    return {
      chunks: {
        next: () => (signal?.aborted ? this.untilCancelled(chunks) : read()),
        return: chunks.return?.bind(chunks),
      },
      failure: (error) => this.failure(error, '/execute_stream', signal, ticket),
      finished: (early) => {
        // A consumer that stops early closes the connection (the worker then closes the generator);
        // the /cancel also reaches a plugin busy between two yields.
        if (early && this.alive) {
          void this.cancel(ticket.callId).catch(() => undefined);
          this.watchAbandoned(ticket.callId);
        }
        ticket.release();
      },
    };
  }

  /** After a cancel, a stream's remaining items are not the caller's: read them away until it ends. */
  private async untilCancelled(chunks: AsyncIterator<Uint8Array>, last?: IteratorResult<Uint8Array>): Promise<never> {
    if (!last?.done) while (!(await this.untilExit(chunks.next())).done);
    throw this.cancelled();
  }

  /**
   * A stream its consumer left without cancelling: if the plugin is still in it (or the worker does
   * not answer) when the cancel grace is over, it holds the plugin lock for nobody: restart.
   * The seed's worker has no /progress to ask, so there the closed connection is all there is.
   */
  private watchAbandoned(callId: string): void {
    if (this.seedWorker) return;
    setTimeout(() => {
      if (!this.alive || this.stopping) return;
      this.progress().then(
        (progress) => progress.call_id === callId && this.escalate(),
        (error: unknown) => error instanceof PluginError && error.kind === 'unresponsive' && this.escalate(),
      );
    }, this.cancelGraceMs).unref();
  }

  /** Counts the call and wires its signal: abort → POST /cancel {call_id}, and the cancel grace starts. */
  private beginCall(signal: AbortSignal | undefined): CallTicket {
    if (signal?.aborted) throw this.cancelled();
    let grace: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      void this.cancel(ticket.callId).catch(() => undefined);
      grace = setTimeout(() => {
        ticket.escalated = true;
        this.escalate();
      }, this.cancelGraceMs);
    };
    const ticket: CallTicket = {
      callId: `${this.callIdPrefix}-${++this.callCounter}`,
      escalated: false,
      release: () => {
        if (ticket.released) return;
        ticket.released = true;
        this.running--;
        clearTimeout(grace);
        signal?.removeEventListener('abort', onAbort);
      },
      released: false,
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.running++;
    return ticket;
  }

  /** Races a request step against the process exit, so a crash fails the call at once. */
  private untilExit<T>(step: Promise<T>): Promise<T> {
    if (this.exit) return Promise.reject(this.exitError(this.exit));
    return new Promise<T>((resolve, reject) => {
      const onExit = (exit: WorkerExit): void => reject(this.exitError(exit));
      this.exitListeners.add(onExit);
      step.then(
        (value) => {
          this.exitListeners.delete(onExit);
          resolve(value);
        },
        (error: unknown) => {
          this.exitListeners.delete(onExit);
          reject(error);
        },
      );
    });
  }

  private resultOf(path: string, status: number, text: string): unknown {
    if (status === 200) {
      try {
        return JSON.parse(text);
      } catch {
        throw new PluginError('protocol', `Plugin "${this.name}" answered ${path} with something that is not JSON: ${text.slice(0, 200)}`, { plugin: this.name });
      }
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (isJobError(parsed)) throw fromJobError(parsed._job_error, this.name);
    const detail = (parsed as { detail?: unknown } | undefined)?.detail;
    // The seed's FastAPI worker reports a plugin's exception as 500 {"detail": "..."}.
    if (status === 500 && typeof detail === 'string') throw new PluginError('plugin', detail, { plugin: this.name });
    const said = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? text.slice(0, 200);
    const hint = status === 401 || status === 403 ? ' The worker refused the host: restart the plugin.' : '';
    throw new PluginError('protocol', `Plugin "${this.name}" answered ${path} with HTTP ${status}: ${said}.${hint}`, { plugin: this.name });
  }

  /** What a failed request means: the call was cancelled, the process died, or the worker misbehaved. */
  private async failure(error: unknown, path: string, signal?: AbortSignal, ticket?: CallTicket): Promise<Error> {
    if (ticket?.escalated) {
      return new PluginError('cancelled', `The call to plugin "${this.name}" was cancelled (the plugin did not stop, so its worker was restarted).`, {
        plugin: this.name,
      });
    }
    if (error instanceof PluginError && error.kind !== 'protocol') return error;
    if (signal?.aborted) return this.cancelled();
    if (error instanceof NdjsonError) {
      return new PluginError('protocol', `Plugin "${this.name}" streamed an item that is not JSON: ${error.message}`, { plugin: this.name, cause: error });
    }
    if (error instanceof PluginError) return error;
    // The socket often closes a moment before the exit event: wait for it to name the real cause.
    if (this.exit || (await this.exitsWithin(CRASH_CONFIRM_MS))) return this.exitError(this.exit as WorkerExit);
    return new PluginError('unresponsive', `Plugin "${this.name}" did not answer ${path}: ${(error as Error).message}. Restart the plugin if this persists.`, {
      plugin: this.name,
      cause: error,
    });
  }

  private exitError(exit: WorkerExit): PluginError {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    if (exit.restart) {
      return new PluginError(
        'unresponsive',
        `Plugin "${this.name}" was restarted because a cancelled call did not stop; this call did not finish. Run it again.`,
        { plugin: this.name },
      );
    }
    if (exit.expected) {
      return new PluginError('cancelled', `Plugin "${this.name}" was stopped while the call was running.`, { plugin: this.name });
    }
    const lastLine = exit.stderrTail.trim().split('\n').pop();
    const said = lastLine ? ` Last output: ${lastLine}` : '';
    return new PluginError('crash', `Plugin "${this.name}" crashed: its worker ${how}.${said} The next call restarts it; the log has the full output.`, {
      plugin: this.name,
      detail: exit.stderrTail,
      exitCode: exit.code,
      signal: exit.signal,
    });
  }

  private cancelled(): PluginError {
    return new PluginError('cancelled', `The call to plugin "${this.name}" was cancelled.`, { plugin: this.name });
  }

  private assertAlive(): void {
    if (this.exit) throw this.exitError(this.exit);
    if (this.stopping) throw new PluginError('cancelled', `Plugin "${this.name}" is stopping; the call was not sent.`, { plugin: this.name });
  }
}
