// One running worker process and its wire: the only owner of the process, its secret, its
// connection pools and its timers, all released by dispose(). See docs/protocol.md.
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { CallStream, type StreamSource } from './callStream';
import { PluginError, fromDetailAnswer, fromJobError, isJobError } from './errors';
import { NdjsonError } from './ndjson';
import { killGroup, launchWorker, type LaunchedWorker, type WorkerStartOptions } from './workerLaunch';
import type { WorkerHealth, WorkerProgress } from './workerProtocol';
import { normaliseStats, type HostFacts, type WorkerStats } from './workerStats';

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** The last lines of stderr, for the error message. */
  stderrTail: string;
  /** True when the host asked it to stop (dispose), false for a crash. */
  expected: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** Short limits for the control endpoints; calls themselves have none (a call may run 10 minutes). */
const CONTROL_TIMEOUT_MS = 5000;
const CLEANUP_TIMEOUT_MS = 2000;
/** How long a stopping worker gets after /cleanup, and after SIGTERM, before the next step. */
const GRACE_MS = 1000;
/** A failed request waits this long for the exit event, to report a crash rather than a socket error. */
const CRASH_CONFIRM_MS = 1000;
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
  private disposal: Promise<void> | undefined;
  /** Pending requests that must fail at once when the process exits. */
  private readonly exitListeners = new Set<(exit: WorkerExit) => void>();

  private constructor(options: WorkerStartOptions, launched: LaunchedWorker) {
    this.name = options.manifest.name;
    this.pid = launched.pid;
    this.port = launched.port;
    this.secret = launched.secret;
    this.launched = launched;
    const origin = `http://127.0.0.1:${launched.port}`;
    this.cjm = options.manifest.worker === 'cjm';
    const keepAliveTimeout = this.cjm ? CJM_IDLE_SOCKET_MS : IDLE_SOCKET_MS;
    this.callPool = new Pool(origin, {
      connections: 32,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout,
    });
    this.controlPool = new Pool(origin, {
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
    return new PluginWorker(options, await launchWorker(options));
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  get activeCalls(): number {
    return this.running;
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

  /** /cleanup (2 s), then SIGTERM to the process group, then SIGKILL; resolves when the process is gone. */
  dispose(): Promise<void> {
    this.disposal ??= this.shutDown();
    return this.disposal;
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    if (this.alive) {
      await this.control('POST', '/cleanup', undefined, CLEANUP_TIMEOUT_MS).catch(() => undefined);
      // cjm's worker stays up after /cleanup: once it has answered, SIGTERM at once (uvicorn exits).
      if (!(await this.exitsWithin(this.cjm ? 0 : GRACE_MS))) {
        killGroup(this.pid, 'SIGTERM');
        if (!(await this.exitsWithin(GRACE_MS))) killGroup(this.pid, 'SIGKILL');
      }
    }
    await this.exited;
    // The leader is gone; whatever the plugin spawned into its group must not outlive it.
    killGroup(this.pid, 'SIGKILL');
    await Promise.all([this.callPool.destroy(), this.controlPool.destroy()]);
  }

  private onExit(end: { code: number | null; signal: string | null }): WorkerExit {
    this.exit = { ...end, stderrTail: this.launched.tail.text(), expected: this.stopping };
    for (const listener of this.exitListeners) listener(this.exit);
    this.exitListeners.clear();
    // A crashed worker's pools are useless; a disposing one closes them itself.
    if (!this.stopping) void Promise.all([this.callPool.destroy(), this.controlPool.destroy()]).catch(() => undefined);
    return this.exit;
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
    const exited = await Promise.race([this.exited.then(() => true), timeout]);
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

  /** A plugin call (/initialize, /execute): no time-out; aborting the signal cancels it in the worker. */
  private async call(path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    this.assertAlive();
    const { callId, abort, release } = this.beginCall(signal);
    try {
      // One race for the whole exchange: a call is on the hot path (the benchmark's warm round trip).
      const [status, text] = await this.untilExit(this.exchange(path, body, callId, abort?.signal));
      return this.resultOf(path, status, text);
    } catch (error) {
      this.callsFailed++;
      throw await this.failure(error, path, signal);
    } finally {
      release();
    }
  }

  private async exchange(path: string, body: unknown, callId: string, signal: AbortSignal | undefined): Promise<[number, string]> {
    const response = await this.callPool.request({ method: 'POST', path, headers: this.headers(callId), body: JSON.stringify(body), signal });
    return [response.statusCode, await response.body.text()];
  }

  private async openStream(body: unknown, signal: AbortSignal | undefined): Promise<StreamSource> {
    this.assertAlive();
    const { callId, abort, release } = this.beginCall(signal);
    let response;
    try {
      response = await this.untilExit(
        this.callPool.request({
          method: 'POST',
          path: '/execute_stream',
          headers: this.headers(callId),
          body: JSON.stringify(body),
          signal: abort?.signal,
        }),
      );
      // Not 200: resultOf throws the worker's error (a _job_error before the first item, a 4xx).
      if (response.statusCode !== 200) this.resultOf('/execute_stream', response.statusCode, await response.body.text());
    } catch (error) {
      this.callsFailed++;
      release();
      throw await this.failure(error, '/execute_stream', signal);
    }
    const chunks = (response.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    return {
      chunks: { next: () => this.untilExit(chunks.next()), return: chunks.return?.bind(chunks) },
      failure: (error) => this.failure(error, '/execute_stream', signal),
      finished: (early, failed) => {
        // A consumer that stops early closes the connection (the worker then closes the generator);
        // the /cancel also reaches a plugin busy between two yields.
        if (early && this.alive) void this.cancel(callId).catch(() => undefined);
        if (failed) this.callsFailed++;
        release();
      },
    };
  }

  /** Counts the call and wires its signal: abort → POST /cancel {call_id} → abort the request. */
  private beginCall(signal: AbortSignal | undefined): { callId: string; abort: AbortController | undefined; release: () => void } {
    if (signal?.aborted) throw this.cancelled();
    const callId = `${this.callIdPrefix}-${++this.callCounter}`;
    this.callsMade++;
    // Only a call that can be cancelled pays for an AbortController of its own (the hot path).
    const abort = signal ? new AbortController() : undefined;
    const onAbort = (): void => {
      void this.cancel(callId)
        .catch(() => undefined)
        .finally(() => abort?.abort());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.running++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.running--;
      signal?.removeEventListener('abort', onAbort);
    };
    return { callId, abort, release };
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
    // cjm's FastAPI worker: 400 {"detail"} for a rejected configuration, 500 for /execute, 409 cancelled.
    const pluginSaid = this.cjm ? fromDetailAnswer(status, parsed, this.name) : undefined;
    if (pluginSaid) throw pluginSaid;
    const said = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? text.slice(0, 200);
    const hint = status === 401 || status === 403 ? ' The worker refused the host: restart the plugin.' : '';
    throw new PluginError('protocol', `Plugin "${this.name}" answered ${path} with HTTP ${status}: ${said}.${hint}`, { plugin: this.name });
  }

  /** What a failed request means: the call was cancelled, the process died, or the worker misbehaved. */
  private async failure(error: unknown, path: string, signal?: AbortSignal): Promise<Error> {
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
