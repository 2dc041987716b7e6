// One plugin known to the registry: its manifest entry, its state, and at most one worker.
// The slot owns the worker, its idle timer and its restart budget; the registry only routes.
import { PluginError, messageOf } from './errors';
import { Emitter } from './emitter';
import type { ManifestEntry } from './manifest';
import { PluginWorker, type WorkerExit } from './pluginWorker';
import { RestartBudget } from './restartBudget';
import type { LogEvent } from './logEvent';
import type { PluginInfo, PluginState } from './pluginInfo';

/** The plugin rejected a configuration (its initialize raised): a 'config' error that says so, with the plugin's own words. */
export function configRejected(plugin: string, error: unknown): PluginError {
  const cause = error instanceof PluginError ? error : undefined;
  if (cause && cause.kind !== 'plugin') return cause;
  return new PluginError('config', `${plugin} rejected its configuration: ${cause?.message ?? messageOf(error)}`, {
    plugin,
    job: cause?.job,
    detail: cause?.detail,
    cause: error,
  });
}

export interface SlotSettings {
  workerScript: string;
  idleTimeoutMs: number;
  startupTimeoutMs: number;
  maxRestarts: number;
  restartWindowMs: number;
  /** How long a cancelled call may take to stop before its worker is restarted. */
  cancelGraceMs: number;
  configFor?: (plugin: string) => Record<string, unknown> | undefined;
}

export class PluginSlot {
  private worker: PluginWorker | undefined;
  private starting: Promise<PluginWorker> | undefined;
  /** Aborts the start in progress: a stop must not wait for a minute-long import. */
  private startAbort: AbortController | undefined;
  private stopping: Promise<void> | undefined;
  /** Set by close(): the owner is shutting down, so nothing starts again. */
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private state: PluginState;
  private lastError: PluginError | undefined;
  private running = 0;
  private startedAt: number | undefined;
  private readonly budget: RestartBudget;
  /** Set when the crash budget ran out: no automatic restart until restart(). */
  private crashLoop = false;

  constructor(
    readonly entry: ManifestEntry,
    private settings: SlotSettings,
    private readonly changed: Emitter<string | undefined>,
    private readonly log: Emitter<LogEvent>,
  ) {
    this.state = entry.ok ? 'stopped' : 'broken';
    this.lastError = entry.ok ? undefined : entry.error;
    this.budget = new RestartBudget(settings.maxRestarts, settings.restartWindowMs);
  }

  get name(): string {
    return this.entry.ok ? this.entry.manifest.name : this.entry.name;
  }

  get isRunning(): boolean {
    return this.worker !== undefined;
  }

  info(): PluginInfo {
    const entry = this.entry;
    return {
      name: this.name,
      version: entry.ok ? entry.manifest.version : '',
      description: entry.ok ? entry.manifest.description : undefined,
      manifestPath: entry.path,
      manifest: entry.ok ? entry.manifest : undefined,
      problems: entry.ok ? undefined : entry.problems,
      pythonExecutable: entry.ok ? entry.pythonExecutable : undefined,
      state: this.state,
      lastError: this.lastError,
      pid: this.worker?.pid,
      startedAt: this.startedAt,
      running: this.running,
      fileTypes: entry.ok ? (entry.manifest.file_types ?? []) : [],
    };
  }

  updateSettings(settings: SlotSettings): void {
    this.settings = settings;
    this.budget.setLimits(settings.maxRestarts, settings.restartWindowMs);
    if (this.worker && this.running === 0) this.armIdleTimer();
  }

  /** The running worker, starting it if needed; concurrent callers share one start. */
  async ensureWorker(): Promise<PluginWorker> {
    if (!this.entry.ok) throw this.entry.error;
    if (this.crashLoop) throw this.crashLoopError();
    if (this.stopping) await this.stopping;
    // A worker being replaced after an escalated cancel: the call goes to its successor.
    if (this.worker?.restarting) await this.worker.exited;
    if (this.closed) throw new PluginError('cancelled', `Plugin "${this.name}" is shutting down; the call was not sent.`, { plugin: this.name });
    // A start in progress first: its worker exists before the saved configuration is applied, and no
    // call may reach it until then.
    if (this.starting) return this.starting;
    if (this.worker) return this.worker;
    this.starting = this.launch().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /**
   * The worker for one call: a call cancelled while the worker is still starting (a slow import)
   * ends at once; the start goes on for the next call (Stop ends it).
   */
  private async workerFor(signal: AbortSignal | undefined): Promise<PluginWorker> {
    if (!signal) return this.ensureWorker();
    const cancelled = (): PluginError => new PluginError('cancelled', `The call to plugin "${this.name}" was cancelled.`, { plugin: this.name });
    if (signal.aborted) throw cancelled();
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(cancelled());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([this.ensureWorker(), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Runs one call on the worker, keeping the busy count, the state and the idle timer right. */
  async withWorker<T>(call: (worker: PluginWorker) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const worker = await this.workerFor(signal);
    this.beginCall();
    try {
      return await call(worker);
    } finally {
      this.endCall(worker);
    }
  }

  /** Same as withWorker for a stream: the call lasts until the consumer stops iterating. */
  async *streamWithWorker<T>(stream: (worker: PluginWorker) => AsyncIterable<T>, signal?: AbortSignal): AsyncGenerator<T> {
    const worker = await this.workerFor(signal);
    this.beginCall();
    try {
      yield* stream(worker);
    } finally {
      this.endCall(worker);
    }
  }

  /**
   * A control request to the running worker, or undefined when none runs (a probe never starts one).
   * One that goes unanswered while the process lives marks the plugin unresponsive (lastError,
   * change event); the next answer clears that again.
   */
  async probe<T>(ask: (worker: PluginWorker) => Promise<T>): Promise<T | undefined> {
    const worker = this.worker;
    if (!worker) return undefined;
    try {
      const answer = await ask(worker);
      if (this.lastError?.kind === 'unresponsive') {
        this.lastError = undefined;
        this.event('info', 'Worker answers again');
        this.changed.fire(this.name);
      }
      return answer;
    } catch (error) {
      if (error instanceof PluginError && error.kind === 'unresponsive' && this.worker === worker) {
        this.lastError = error;
        this.event('warn', error.message);
        this.changed.fire(this.name);
      }
      throw error;
    }
  }

  /** Stops the worker, or the start in progress; resolves when its processes are gone. */
  async stop(): Promise<void> {
    if (this.starting) {
      this.startAbort?.abort();
      await this.starting.catch(() => undefined);
    }
    const worker = this.worker;
    if (!worker) return;
    this.clearIdleTimer();
    this.stopping ??= this.disposeWorker(worker).finally(() => (this.stopping = undefined));
    return this.stopping;
  }

  /** Stops for good: the owner is shutting down, nothing starts again (an escalated cancel included). */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  /** Restart by the user: also forgives a crash loop. */
  async restart(): Promise<void> {
    await this.stop();
    this.crashLoop = false;
    this.budget.reset();
    await this.ensureWorker();
  }

  private async launch(): Promise<PluginWorker> {
    if (!this.entry.ok) throw this.entry.error;
    const { manifest, path: manifestPath, pythonExecutable } = this.entry;
    this.setState('starting');
    this.event('info', `Starting ${manifest.module}.${manifest.class} with ${pythonExecutable}`);
    const startAbort = new AbortController();
    this.startAbort = startAbort;
    let worker: PluginWorker;
    try {
      worker = await PluginWorker.start({
        manifest,
        manifestPath,
        pythonExecutable,
        workerScript: this.settings.workerScript,
        startupTimeoutMs: manifest.startup_timeout_s ? manifest.startup_timeout_s * 1000 : this.settings.startupTimeoutMs,
        cancelGraceMs: this.settings.cancelGraceMs,
        signal: startAbort.signal,
        onStderrLine: (line) => this.log.fire({ plugin: this.name, level: 'info', source: 'stderr', message: line }),
      });
    } catch (error) {
      const failure = error instanceof PluginError ? error : new PluginError('start', messageOf(error), { plugin: this.name, cause: error });
      if (startAbort.signal.aborted) {
        // Stopped while starting: what the user asked for, not a failure of the plugin.
        this.event('info', 'Start stopped');
        this.setState('stopped');
      } else {
        // A cancelled start is not a failure of the plugin; anything else stays visible until a start succeeds.
        this.fail(failure.kind === 'cancelled' ? 'stopped' : 'failed', failure);
      }
      throw failure;
    } finally {
      this.startAbort = undefined;
    }
    this.worker = worker;
    this.startedAt = Date.now();
    void worker.exited.then((exit) => this.onExit(worker, exit));
    this.event('info', `Worker ready: pid ${worker.pid}, port ${worker.port}`);
    this.lastError = undefined;
    await this.applySavedConfig(worker);
    this.setState(this.running > 0 ? 'busy' : 'ready');
    this.armIdleTimer();
    return worker;
  }

  private async applySavedConfig(worker: PluginWorker): Promise<void> {
    const config = this.settings.configFor?.(this.name);
    if (!config || Object.keys(config).length === 0) return;
    try {
      await worker.initialize(config);
      this.event('info', `Applied saved configuration: ${JSON.stringify(config)}`);
    } catch (error) {
      // The plugin rejected its saved configuration: it still runs with its defaults, and the user is told.
      const failure = configRejected(this.name, error);
      this.lastError = failure;
      // The traceback is already in the log: the worker wrote it to its stderr.
      this.event('error', `Saved configuration was rejected: ${failure.message}`);
    }
  }

  private onExit(worker: PluginWorker, exit: WorkerExit): void {
    const { expected, restart, code, signal, stderrTail } = exit;
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.startedAt = undefined;
    this.clearIdleTimer();
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (restart) {
      const seconds = Math.round(this.settings.cancelGraceMs / 100) / 10;
      this.event('warn', `A cancelled call did not stop within ${seconds} s, so the worker was stopped (${how}); starting a new one`);
      this.setState('stopped');
      if (!this.closed) void this.ensureWorker().catch(() => undefined); // a failed start is reported by launch()
      return;
    }
    if (expected) {
      this.event('info', `Worker stopped (${how})`);
      this.setState('stopped');
      return;
    }
    // Its last output is already in the log, line by line as the worker wrote it.
    this.event('error', `Worker died (${how})`);
    if (!this.budget.recordCrash()) {
      this.crashLoop = true;
      this.fail('crashed', this.crashLoopError(stderrTail));
      return;
    }
    this.fail('crashed', new PluginError('crash', `Plugin "${this.name}" crashed (${how}). The next call restarts it.`, {
      plugin: this.name,
      detail: stderrTail,
      exitCode: code,
      signal,
    }));
  }

  /** `lastOutput`: the stderr tail of the crash that ended the budget; later refusals repeat it. */
  private crashLoopError(lastOutput = this.lastError?.detail): PluginError {
    const minutes = Math.round(this.settings.restartWindowMs / 60000);
    return new PluginError(
      'crash-loop',
      `Plugin "${this.name}" crashed more than ${this.settings.maxRestarts} times in ${minutes} min, so it is no longer restarted automatically. Check its log, fix the cause, then use Restart.`,
      { plugin: this.name, manifestPath: this.entry.path, detail: lastOutput },
    );
  }

  private beginCall(): void {
    this.running++;
    this.clearIdleTimer();
    this.setState('busy');
  }

  private endCall(worker: PluginWorker): void {
    this.running--;
    if (this.worker !== worker) {
      this.changed.fire(this.name);
      return;
    }
    if (this.running === 0) {
      this.setState('ready');
      this.armIdleTimer();
    } else {
      this.changed.fire(this.name);
    }
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    const manifestIdle = this.entry.ok ? this.entry.manifest.idle_timeout_s : undefined;
    const idleMs = manifestIdle ? manifestIdle * 1000 : this.settings.idleTimeoutMs;
    if (!(idleMs > 0)) return;
    this.idleTimer = setTimeout(() => {
      this.event('info', `Stopping after ${Math.round(idleMs / 1000)} s idle`);
      void this.stop();
    }, idleMs);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private async disposeWorker(worker: PluginWorker): Promise<void> {
    this.event('info', `Stopping worker pid ${worker.pid}`);
    await worker.dispose();
    if (this.worker === worker) {
      this.worker = undefined;
      this.startedAt = undefined;
      this.setState('stopped');
    }
  }

  /** The detail (stderr tail, traceback) is not logged again: the worker's stderr is in the log already. */
  private fail(state: PluginState, error: PluginError): void {
    this.lastError = error;
    this.event('error', error.message);
    this.setState(state);
  }

  private setState(state: PluginState): void {
    this.state = state;
    this.changed.fire(this.name);
  }

  private event(level: LogEvent['level'], message: string): void {
    this.log.fire({ plugin: this.name, level, source: 'event', message });
  }
}
