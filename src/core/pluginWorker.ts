// One running worker process and its wire: the only owner of the process, its secret, its
// connection pools and its timers, all released by dispose(). See docs/protocol.md.
import { randomBytes } from 'node:crypto';
import type { Pool } from 'undici';
import { CallStream, type StreamSource } from './callStream';
import { PluginError, fromDetailAnswer, fromJobError, isJobError, messageOf } from './errors';
import { MAX_LINE_BYTES, NdjsonError } from './ndjson';
import { launchWorker, type LaunchedWorker, type WorkerStartOptions } from './workerLaunch';
import type { WorkerHealth, WorkerProgress } from './workerProtocol';
import { normaliseStats, type HostFacts, type WorkerStats } from './workerStats';

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
 * After a worker exits, what it sent before dying is still read for this long: the kernel closes its
 * socket at once, but a child that inherited the socket could hold it open for ever.
 */
const EXIT_DRAIN_MS = 500;
/**
 * Both kinds of worker are driven over keep-alive connections. For cjm's worker that was measured:
 * against test/fixtures/cjm_plugin_system (FastAPI on uvicorn, whose asyncio transports set
 * TCP_NODELAY) a reused connection answers a warm /execute faster than a new connection per call,
 * at the median and at p99; `npm run bench` prints both ("cjm warm execute", and the ratio).
 * uvicorn closes a connection that is idle for 5 s (its timeout_keep_alive): the host lets go of an
 * idle one well before, so that a call is never written to a socket the worker is closing.
 */
const CJM_IDLE_SOCKET_MS = 2000;
const IDLE_SOCKET_MS = 60_000;

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
  /** cjm-plugin-system's own worker (manifest "worker": "cjm") rather than the bundled one. */
  private readonly cjm: boolean;
  private readonly startedAt = performance.now();
  private callCounter = 0;
  private running = 0;
  /** The host's own count of plugin calls and failed ones, for a worker whose /stats has none (cjm). */
  private callsMade = 0;
  private callsFailed = 0;
  private exit: WorkerExit | undefined;
  private stopping = false;
  private restartWanted = false;
  private disposal: Promise<void> | undefined;
  private readonly cancelGraceMs: number;
  /** Pending requests that must fail at once when the process exits. */
  private readonly exitListeners = new Set<(exit: WorkerExit) => void>();
  /** When the process exited (performance clock): reading what it sent before ends EXIT_DRAIN_MS later. */
  private exitedAt = 0;

  private constructor(options: WorkerStartOptions, launched: LaunchedWorker, PoolClass: typeof Pool) {
    this.name = options.manifest.name;
    this.pid = launched.pid;
    this.port = launched.port;
    this.secret = launched.secret;
    this.launched = launched;
    this.cancelGraceMs = options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
    const origin = `http://127.0.0.1:${launched.port}`;
    this.cjm = options.manifest.worker === 'cjm';
    const keepAliveTimeout = this.cjm ? CJM_IDLE_SOCKET_MS : IDLE_SOCKET_MS;
    this.callPool = new PoolClass(origin, {
      connections: 32,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout,
    });
    this.controlPool = new PoolClass(origin, {
      connections: 4,
      pipelining: 1,
      headersTimeout: CONTROL_TIMEOUT_MS,
      bodyTimeout: CONTROL_TIMEOUT_MS,
      ...(this.cjm ? { keepAliveTimeout } : {}), // undici's default (4 s) suits the bundled worker
    });
    this.exited = launched.ended.then((end) => this.onExit(end));
  }

  /** Spawns the worker and resolves once it takes requests; rejects with a PluginError of kind 'start'. */
  static async start(options: WorkerStartOptions): Promise<PluginWorker> {
    const launched = await launchWorker(options);
    const { Pool } = await import('undici'); // loaded on first use (launchWorker loads it while the interpreter starts)
    return new PluginWorker(options, launched, Pool);
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
    return new CallStream(this.openStream({ args, kwargs }, options.signal), this.name, this.cjm);
  }

  configSchema(): Promise<Record<string, unknown>> {
    return this.control('GET', '/config_schema') as Promise<Record<string, unknown>>;
  }

  config(): Promise<Record<string, unknown>> {
    return this.control('GET', '/config') as Promise<Record<string, unknown>>;
  }

  /** The worker's figures in the project's one shape (src/core/workerStats.ts). */
  async stats(options: { timeoutMs?: number } = {}): Promise<WorkerStats> {
    try {
      return normaliseStats(await this.control('GET', '/stats', undefined, options.timeoutMs), this.hostFacts());
    } catch (error) {
      // cjm's early worker serves nothing while a synchronous call runs: busy, not unresponsive.
      const busyCjm = this.cjm && this.running > 0 && error instanceof PluginError && error.kind === 'unresponsive';
      if (busyCjm && this.alive) return normaliseStats(undefined, this.hostFacts());
      throw error;
    }
  }

  private hostFacts(): HostFacts {
    const uptimeS = Math.round(performance.now() - this.startedAt) / 1000;
    return { pid: this.pid, uptimeS, calls: this.callsMade, errors: this.callsFailed, busy: this.running > 0 };
  }

  health(options: { timeoutMs?: number } = {}): Promise<WorkerHealth> {
    return this.control('GET', '/health', undefined, options.timeoutMs) as Promise<WorkerHealth>;
  }

  progress(): Promise<WorkerProgress> {
    return this.control('GET', '/progress') as Promise<WorkerProgress>;
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
    this.exitedAt = performance.now();
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
    const json = this.serialize(path, body);
    const ticket = this.beginCall(signal);
    try {
      // One race for the whole exchange: a call is on the hot path (the benchmark's warm round trip).
      const [status, text] = await this.untilExit(this.exchange(path, json, ticket.callId));
      if (signal?.aborted) throw this.cancelled(); // it finished anyway: the caller no longer wants it
      return this.resultOf(path, status, text);
    } catch (error) {
      this.callsFailed++;
      throw await this.failure(error, path, signal, ticket);
    } finally {
      ticket.release();
    }
  }

  /** The request body as JSON; arguments that JSON cannot carry (nested too deep, circular, BigInt) are the caller's error. */
  private serialize(path: string, body: unknown): string {
    try {
      return JSON.stringify(body);
    } catch (error) {
      throw new PluginError('usage', `The arguments for plugin "${this.name}" (${path}) cannot be sent as JSON: ${messageOf(error)}. Pass plain data (objects, lists, strings, numbers), not nested thousands deep.`, {
        plugin: this.name,
        cause: error,
      });
    }
  }

  private async exchange(path: string, json: string, callId: string): Promise<[number, string]> {
    const response = await this.callPool.request({ method: 'POST', path, headers: this.headers(callId), body: json });
    const length = Number(response.headers['content-length']);
    if (length > MAX_LINE_BYTES) {
      response.body.on('error', () => undefined).destroy(); // not read: it could not be held as text anyway
      throw this.tooLarge(path, `a result of ${Math.round(length / (1024 * 1024))} MB`);
    }
    try {
      return [response.statusCode, await response.body.text()];
    } catch (error) {
      // Without a Content-Length (a seed-style worker) the limit shows only while reading.
      if ((error as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG' || error instanceof RangeError) throw this.tooLarge(path, 'a result');
      throw error;
    }
  }

  /** A result or item longer than the longest string V8 can make: the plugin must pass such data by path. */
  private tooLarge(path: string, what: string): PluginError {
    const limit = Math.floor(MAX_LINE_BYTES / (1024 * 1024));
    return new PluginError(
      'plugin',
      `Plugin "${this.name}" sent ${what} on ${path}, larger than ${limit} MB, the longest text this host can hold: the result is too large. Return a file path instead of the data (write it to a file and return the path).`,
      { plugin: this.name },
    );
  }

  private async openStream(body: unknown, signal: AbortSignal | undefined): Promise<StreamSource> {
    this.assertAlive();
    const json = this.serialize('/execute_stream', body);
    const ticket = this.beginCall(signal);
    let response;
    try {
      response = await this.untilExit(
        this.callPool.request({ method: 'POST', path: '/execute_stream', headers: this.headers(ticket.callId), body: json }),
      );
      // Not 200: resultOf throws the worker's error (a _job_error before the first item, a 4xx).
      if (response.statusCode !== 200) this.resultOf('/execute_stream', response.statusCode, await response.body.text());
    } catch (error) {
      this.callsFailed++;
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
      finished: (early, failed) => {
        // A consumer that stops early closes the connection (the worker then closes the generator);
        // the /cancel also reaches a plugin busy between two yields.
        if (early && this.alive) {
          void this.cancel(ticket.callId).catch(() => undefined);
          this.watchAbandoned(ticket.callId);
        }
        if (failed) this.callsFailed++;
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
   * cjm's worker has no /progress that names the call (the early one has none), so there the
   * closed connection is all there is.
   */
  private watchAbandoned(callId: string): void {
    if (this.cjm) return;
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
    this.callsMade++;
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

  /**
   * Races a request step against the process exit, so a crash fails the call within EXIT_DRAIN_MS. Until
   * then the step may still complete: what the worker sent before it died is in the socket, and is read.
   */
  private untilExit<T>(step: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onExit = (exit: WorkerExit): void => {
        timer = setTimeout(() => reject(this.exitError(exit)), Math.max(0, this.exitedAt + EXIT_DRAIN_MS - performance.now()));
      };
      if (this.exit) onExit(this.exit);
      else this.exitListeners.add(onExit);
      const settled = (): void => {
        this.exitListeners.delete(onExit);
        clearTimeout(timer);
      };
      step.then(
        (value) => {
          settled();
          resolve(value);
        },
        (error: unknown) => {
          settled();
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
    // cjm's FastAPI worker: 400 {"detail"} for a rejected configuration, 500 for /execute, 409 cancelled.
    const pluginSaid = this.cjm ? fromDetailAnswer(status, parsed, this.name) : undefined;
    if (pluginSaid) throw pluginSaid;
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
    // Stopping asks the worker to cancel its running calls before cleanup(): that is a stop, not the user's cancel.
    if (this.stopping && !signal?.aborted && error instanceof PluginError && error.kind === 'cancelled') return this.stoppedDuringCall();
    if (error instanceof PluginError && error.kind !== 'protocol') return error;
    if (signal?.aborted) return this.cancelled();
    if (error instanceof NdjsonError && error.reason === 'too-large') {
      return new PluginError('plugin', `Plugin "${this.name}" streamed an item that is too large to receive: ${error.message}.`, { plugin: this.name, cause: error });
    }
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
    if (exit.expected) return this.stoppedDuringCall();
    const lastLine = exit.stderrTail.trim().split('\n').pop();
    const said = lastLine ? ` Last output: ${lastLine}` : '';
    return new PluginError('crash', `Plugin "${this.name}" crashed: its worker ${how}.${said} The next call restarts it; the log has the full output.`, {
      plugin: this.name,
      detail: exit.stderrTail,
      exitCode: exit.code,
      signal: exit.signal,
    });
  }

  /** A call that was running when its worker was stopped: by the user, or to restart it after an escalated cancel. */
  private stoppedDuringCall(): PluginError {
    if (this.restartWanted) {
      return new PluginError(
        'unresponsive',
        `Plugin "${this.name}" was restarted because a cancelled call did not stop; this call did not finish. Run it again.`,
        { plugin: this.name },
      );
    }
    return new PluginError('cancelled', `Plugin "${this.name}" was stopped while the call was running.`, { plugin: this.name });
  }

  private cancelled(): PluginError {
    return new PluginError('cancelled', `The call to plugin "${this.name}" was cancelled.`, { plugin: this.name });
  }

  private assertAlive(): void {
    if (this.exit) throw this.exitError(this.exit);
    if (this.stopping) throw new PluginError('cancelled', `Plugin "${this.name}" is stopping; the call was not sent.`, { plugin: this.name });
  }
}
