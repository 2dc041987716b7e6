// One plugin known to the registry: its manifest entry, its state, and its workers (up to
// max_instances, fed from one FIFO queue by the InstancePool). The slot owns its workers, their
// admission (memory they need), their measured use and the plugin's restart budget; the registry only routes.
import type { Admission, IdleWorker, Reservation, ResourceNeed } from './admission';
import { PluginError, messageOf } from './errors';
import { Emitter } from './emitter';
import { gpuBytesOf, type GpuMonitor } from './gpuMemory';
import { InstancePool } from './instancePool';
import type { ManifestEntry } from './manifest';
import type { CallProgress } from './pluginCall';
import { PluginWorker, type WorkerExit } from './pluginWorker';
import { processTreeMemory } from './processTree';
import { ResourceStore } from './resourceStore';
import { RestartBudget } from './restartBudget';
import type { LogEvent } from './logEvent';
import type { PluginInfo, PluginState, WorkerInfo } from './pluginInfo';

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
  /** The user's override of max_instances for this plugin, if any. */
  maxInstancesFor?: (plugin: string) => number | undefined;
}

/** What every slot shares: one admission for the machine, one store of measured use, one GPU monitor. */
export interface SlotServices {
  admission: Admission;
  resources: ResourceStore;
  gpus: GpuMonitor;
}

/** One worker of the plugin, with what the slot knows about it. */
interface Instance {
  worker: PluginWorker;
  reservation: Reservation;
  startedAt: number;
  /** The configuration generation it has applied; behind the slot's, it gets the new one before its next call. */
  configGeneration: number;
  /** Where its measured use is remembered (plugin, version, configuration at start). */
  resourceKey: string;
  calls: number;
  memoryBytes?: number;
  gpuMemoryBytes?: number;
  peakMemoryBytes: number;
  peakGpuMemoryBytes: number;
  sampledAt: number;
}

export interface SlotCallOptions {
  signal?: AbortSignal;
  onProgress?: (progress: CallProgress) => void;
}

const MB = 1024 * 1024;
/** How often running workers' memory is sampled (the kernel keeps each process's peak in between). */
const SAMPLE_INTERVAL_MS = 2000;
/** After a call, a worker is sampled again only if its last sample is older than this. */
const SAMPLE_AFTER_CALL_MS = 1000;

export class PluginSlot {
  private readonly pool: InstancePool<Instance>;
  private readonly budget: RestartBudget;
  private lastError: PluginError | undefined;
  /** Why no worker runs when the last one crashed or the last start failed: the tree shows it until a start succeeds. */
  private down: 'crashed' | 'failed' | undefined;
  /** Set when the crash budget ran out: no automatic restart until restart(). */
  private crashLoop = false;
  /** Set by close(): the owner is shutting down, nothing starts again. */
  private closed = false;
  private waitingFor: string | undefined;
  /** Calls that wait in the queue and asked to be told why no worker starts. */
  private readonly waitingListeners = new Set<(progress: CallProgress) => void>();
  /** Configuration given with initialize(), over the saved one; each change bumps the generation. */
  private overrides: Record<string, unknown> = {};
  private configGeneration = 0;
  private sampleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly entry: ManifestEntry,
    private settings: SlotSettings,
    private readonly changed: Emitter<string | undefined>,
    private readonly log: Emitter<LogEvent>,
    private readonly services: SlotServices,
  ) {
    this.lastError = entry.ok ? undefined : entry.error;
    this.budget = new RestartBudget(settings.maxRestarts, settings.restartWindowMs);
    this.pool = new InstancePool<Instance>({
      launch: (first, signal, keep) => this.launch(first, signal, keep),
      shutDown: (instance) => this.shutDown(instance),
      // A worker being replaced after an escalated cancel takes no more calls; its successor does.
      alive: (instance) => instance.worker.alive && !instance.worker.restarting,
      maxInstances: () => this.maxInstances(),
      idleTimeoutMs: () => this.idleTimeoutMs(),
      parallelStarts: () => this.needKnown(),
      cancelledError: () => this.cancelled(),
      changed: () => this.changed.fire(this.name),
    });
  }

  get name(): string {
    return this.entry.ok ? this.entry.manifest.name : this.entry.name;
  }

  info(): PluginInfo {
    const entry = this.entry;
    const counts = this.pool.counts();
    const workers = this.pool.instances().map(({ instance, busy }) => workerInfo(instance, busy));
    return {
      name: this.name,
      version: entry.ok ? entry.manifest.version : '',
      description: entry.ok ? entry.manifest.description : undefined,
      manifestPath: entry.path,
      manifest: entry.ok ? entry.manifest : undefined,
      problems: entry.ok ? undefined : entry.problems,
      pythonExecutable: entry.ok ? entry.pythonExecutable : undefined,
      state: this.state(),
      lastError: this.lastError,
      pid: workers[0]?.pid,
      startedAt: workers[0]?.startedAt,
      running: counts.busy,
      fileTypes: entry.ok ? (entry.manifest.file_types ?? []) : [],
      queued: counts.queued,
      maxInstances: this.maxInstances(),
      workers,
      waitingFor: this.waitingFor,
      memoryNeedBytes: this.need().memoryBytes || undefined,
    };
  }

  updateSettings(settings: SlotSettings): void {
    this.settings = settings;
    this.budget.setLimits(settings.maxRestarts, settings.restartWindowMs);
    this.pool.refresh();
  }

  /** The configuration the plugin runs with: the saved one with initialize()'s values over it. */
  effectiveConfig(): Record<string, unknown> {
    return { ...(this.settings.configFor?.(this.name) ?? {}), ...this.overrides };
  }

  /** Changes when effectiveConfig() may have changed (a result computed across a change is not cached). */
  get configVersion(): number {
    return this.configGeneration;
  }

  /** A running worker (any), starting one if none runs; for requests that need no worker of their own. */
  async ensureWorker(): Promise<PluginWorker> {
    this.assertCanRun();
    return (await this.pool.any()).worker;
  }

  /** Runs one call on a worker of its own: waits in the queue, keeps the counts, gives the worker back. */
  async withWorker<T>(call: (worker: PluginWorker) => Promise<T>, options: SlotCallOptions = {}): Promise<T> {
    const instance = await this.acquire(options);
    try {
      return await call(instance.worker);
    } finally {
      this.release(instance);
    }
  }

  /** Same as withWorker for a stream: the worker is the call's until the consumer stops iterating. */
  async *streamWithWorker<T>(stream: (worker: PluginWorker) => AsyncIterable<T>, options: SlotCallOptions = {}): AsyncGenerator<T> {
    const instance = await this.acquire(options);
    try {
      yield* stream(instance.worker);
    } finally {
      this.release(instance);
    }
  }

  /** Sets configuration values (over the saved ones) for every worker, now and later; a rejection changes nothing. */
  async initialize(config: Record<string, unknown>, options: SlotCallOptions = {}): Promise<void> {
    const previous = this.overrides;
    this.overrides = { ...this.overrides, ...config };
    this.configGeneration++;
    try {
      await this.withWorker(async () => undefined, options); // taking a worker applies the new configuration to it
    } catch (error) {
      this.overrides = previous;
      this.configGeneration++;
      throw error;
    }
  }

  /**
   * A control request to a running worker, or undefined when none runs (a probe never starts one).
   * One that goes unanswered while the process lives marks the plugin unresponsive (lastError,
   * change event); the next answer clears that again.
   */
  async probe<T>(ask: (worker: PluginWorker) => Promise<T>): Promise<T | undefined> {
    const worker = this.pool.instances()[0]?.instance.worker;
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
      if (error instanceof PluginError && error.kind === 'unresponsive' && worker.alive) {
        this.lastError = error;
        this.event('warn', error.message);
        this.changed.fire(this.name);
      }
      throw error;
    }
  }

  /** Idle workers that another plugin's admission may stop to make room. */
  idleWorkers(): IdleWorker[] {
    return this.pool.idle().map(({ instance, idleSince }) => ({
      plugin: this.name,
      idleSince,
      // What stopping it frees in the admission's books: its need, or more if it uses more.
      usage: {
        memoryBytes: Math.max(instance.memoryBytes ?? 0, instance.reservation.need.memoryBytes),
        gpuMemoryBytes: Math.max(instance.gpuMemoryBytes ?? 0, instance.reservation.need.gpuMemoryBytes),
      },
      stop: async () => {
        this.event('info', `Stopping idle worker pid ${instance.worker.pid} to make room for another plugin`);
        await this.pool.stop(instance);
      },
    }));
  }

  /** Stops every worker and start; calls still waiting in the queue are cancelled. */
  async stop(): Promise<void> {
    this.down = undefined;
    await this.pool.stopAll(new PluginError('cancelled', `Plugin "${this.name}" was stopped; the call did not run.`, { plugin: this.name }));
  }

  /** Stops for good: the owner is shutting down (or the manifest changed), nothing starts again. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopSampling();
    await this.stop();
  }

  /** Restart by the user: also forgives a crash loop; calls waiting in the queue stay and go to the new worker. */
  async restart(): Promise<void> {
    this.crashLoop = false;
    this.budget.reset();
    await this.pool.stopAll();
    await this.ensureWorker();
  }

  private state(): PluginState {
    if (!this.entry.ok) return 'broken';
    const counts = this.pool.counts();
    if (counts.busy > 0) return 'busy';
    if (counts.live > 0) return 'ready';
    if (counts.starting > 0) return 'starting';
    return this.down ?? 'stopped';
  }

  private async acquire(options: SlotCallOptions): Promise<Instance> {
    this.assertCanRun();
    const { signal, onProgress } = options;
    if (onProgress) this.waitingListeners.add(onProgress);
    let instance: Instance;
    try {
      const onPosition = onProgress ? (position: number, length: number) => onProgress({ kind: 'queued', position, length }) : undefined;
      instance = await this.pool.acquire(signal, onPosition);
    } finally {
      if (onProgress) this.waitingListeners.delete(onProgress);
    }
    try {
      await this.applyConfig(instance);
    } catch (error) {
      this.release(instance);
      throw error;
    }
    instance.calls++;
    onProgress?.({ kind: 'started', pid: instance.worker.pid });
    return instance;
  }

  private release(instance: Instance): void {
    this.pool.release(instance);
    if (Date.now() - instance.sampledAt > SAMPLE_AFTER_CALL_MS) void this.sample(instance);
  }

  private assertCanRun(): void {
    if (!this.entry.ok) throw this.entry.error;
    if (this.crashLoop) throw this.crashLoopError();
    if (this.closed) throw new PluginError('cancelled', `Plugin "${this.name}" is shutting down; the call was not sent.`, { plugin: this.name });
  }

  private maxInstances(): number {
    const override = this.settings.maxInstancesFor?.(this.name);
    if (override !== undefined && Number.isInteger(override) && override >= 1) return override;
    return this.entry.ok ? (this.entry.manifest.max_instances ?? 1) : 1;
  }

  private idleTimeoutMs(): number {
    const manifestIdle = this.entry.ok ? this.entry.manifest.idle_timeout_s : undefined;
    return manifestIdle ? manifestIdle * 1000 : this.settings.idleTimeoutMs;
  }

  /** Starts one worker once admission lets it (the memory it needs is free); `first`: none else runs. */
  private async launch(first: boolean, signal: AbortSignal, keep: () => void): Promise<Instance> {
    this.assertCanRun();
    if (!this.entry.ok) throw this.entry.error;
    const { manifest, path: manifestPath, pythonExecutable } = this.entry;
    await this.services.resources.load();
    const reservation = await this.services.admission.admit({
      plugin: this.name,
      need: this.need(),
      essential: first,
      signal,
      onWaiting: (reason) => this.setWaitingFor(reason),
    }).catch((error: unknown) => {
      this.setWaitingFor(undefined);
      if (!signal.aborted && error instanceof PluginError) this.fail(error);
      throw error;
    });
    // The plugin's first worker, once admitted, goes on starting when the calls that wanted it are cancelled:
    // a slow import (a model loading) then serves the next call instead of starting over. Stop ends it.
    if (first) keep();
    this.event('info', `Starting ${manifest.module}.${manifest.class} with ${pythonExecutable}${this.pool.counts().live > 0 ? ' (another instance)' : ''}`);
    let worker: PluginWorker;
    try {
      worker = await PluginWorker.start({
        manifest,
        manifestPath,
        pythonExecutable,
        workerScript: this.settings.workerScript,
        startupTimeoutMs: manifest.startup_timeout_s ? manifest.startup_timeout_s * 1000 : this.settings.startupTimeoutMs,
        cancelGraceMs: this.settings.cancelGraceMs,
        signal,
        onStderrLine: (line) => this.log.fire({ plugin: this.name, level: 'info', source: 'stderr', message: line }),
      });
    } catch (error) {
      reservation.release();
      const failure = error instanceof PluginError ? error : new PluginError('start', messageOf(error), { plugin: this.name, cause: error });
      // A withdrawn or cancelled start is not a failure of the plugin; anything else stays visible until a start succeeds.
      if (signal.aborted || failure.kind === 'cancelled') this.event('info', 'Start withdrawn');
      else {
        if (this.pool.counts().live === 0) this.down = 'failed';
        this.fail(failure);
      }
      throw failure;
    }
    const config = this.effectiveConfig();
    const instance: Instance = {
      worker,
      reservation,
      startedAt: Date.now(),
      configGeneration: this.configGeneration,
      resourceKey: ResourceStore.keyOf(this.name, manifest.version, config),
      calls: 0,
      peakMemoryBytes: 0,
      peakGpuMemoryBytes: 0,
      sampledAt: 0,
    };
    void worker.exited.then((exit) => this.onExit(instance, exit));
    this.event('info', `Worker ready: pid ${worker.pid}, port ${worker.port}`);
    this.down = undefined;
    if (this.lastError?.kind !== 'manifest') this.lastError = undefined;
    await this.applyStartConfig(instance, config);
    this.startSampling();
    return instance;
  }

  /** The configuration at start; a rejected saved configuration leaves the plugin on its defaults (and says so). */
  private async applyStartConfig(instance: Instance, config: Record<string, unknown>): Promise<void> {
    if (Object.keys(config).length === 0) return;
    try {
      await instance.worker.initialize(config);
      this.event('info', `Applied configuration: ${JSON.stringify(config)}`);
    } catch (error) {
      const failure = configRejected(this.name, error);
      this.lastError = failure;
      // The traceback is already in the log: the worker wrote it to its stderr.
      this.event('error', `Configuration was rejected: ${failure.message}`);
      // Values given with initialize() must reach the caller's call as an error: they are applied again, strictly.
      if (Object.keys(this.overrides).length > 0) instance.configGeneration = -1;
    }
  }

  /** A worker behind the slot's configuration gets it before its next call; a rejection fails that call. */
  private async applyConfig(instance: Instance): Promise<void> {
    if (instance.configGeneration === this.configGeneration) return;
    const generation = this.configGeneration;
    const config = this.effectiveConfig();
    instance.configGeneration = generation;
    await instance.worker.initialize(config).catch((error: unknown) => {
      throw configRejected(this.name, error);
    });
    this.event('info', `Applied configuration to pid ${instance.worker.pid}: ${JSON.stringify(config)}`);
  }

  private async shutDown(instance: Instance): Promise<void> {
    this.event('info', `Stopping worker pid ${instance.worker.pid}`);
    await this.sample(instance); // the last figures of its life, while the process still exists
    await instance.worker.dispose();
  }

  private onExit(instance: Instance, exit: WorkerExit): void {
    const { expected, restart, code, signal, stderrTail } = exit;
    instance.reservation.release();
    this.remember(instance);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (restart) {
      // Stopped after an escalated cancel: not a crash; a replacement starts now, as a warm worker was there.
      const seconds = Math.round(this.settings.cancelGraceMs / 100) / 10;
      this.event('warn', `A cancelled call did not stop within ${seconds} s, so the worker was stopped (${how}); starting a new one`);
      this.pool.remove(instance);
      this.changed.fire(this.name);
      if (!this.closed) void this.pool.any().catch(() => undefined); // a failed start is reported by launch()
      return;
    }
    if (expected) {
      this.pool.remove(instance);
      this.event('info', `Worker pid ${instance.worker.pid} stopped (${how})`);
      if (this.pool.counts().live === 0) this.stopSampling();
      this.changed.fire(this.name);
      return;
    }
    // Its last output is already in the log, line by line as the worker wrote it.
    this.event('error', `Worker pid ${instance.worker.pid} died (${how})`);
    const othersRun = this.pool.instances().some((other) => other.instance !== instance);
    this.down = othersRun ? undefined : 'crashed';
    if (!this.budget.recordCrash()) {
      this.crashLoop = true;
      const error = this.crashLoopError(stderrTail);
      this.fail(error);
      this.pool.failWaiting(error);
      this.pool.remove(instance);
      void this.pool.stopAll(error); // the others too: a crash loop stops the plugin
      return;
    }
    this.fail(new PluginError('crash', `Plugin "${this.name}" crashed (${how}). The next call restarts it.`, { plugin: this.name, detail: stderrTail, exitCode: code, signal }));
    this.pool.remove(instance);
    if (this.pool.counts().live === 0) this.stopSampling();
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

  // ---- resources: what a worker needs, what it uses, what is remembered

  /** Measured use (per version and configuration) if known, else the manifest's, else a running sibling's. */
  private need(): ResourceNeed {
    const manifest = this.entry.ok ? this.entry.manifest : undefined;
    const measured = manifest ? this.services.resources.get(ResourceStore.keyOf(this.name, manifest.version, this.effectiveConfig())) : undefined;
    const declared = manifest?.resources;
    const siblings = this.pool.instances().map(({ instance }) => instance);
    const siblingPeak = Math.max(0, ...siblings.map((instance) => instance.peakMemoryBytes));
    const siblingGpuPeak = Math.max(0, ...siblings.map((instance) => instance.peakGpuMemoryBytes));
    return {
      memoryBytes: measured?.memoryBytes ?? (declared?.memory_mb !== undefined ? declared.memory_mb * MB : siblingPeak),
      gpuMemoryBytes: measured?.gpuMemoryBytes ?? (declared?.gpu_memory_mb !== undefined ? declared.gpu_memory_mb * MB : siblingGpuPeak),
      cudaVisibleDevices: manifest?.env_vars.CUDA_VISIBLE_DEVICES,
    };
  }

  /** Starts may overlap only when what a worker needs is known; otherwise the first one is measured first. */
  private needKnown(): boolean {
    const need = this.need();
    const manifest = this.entry.ok ? this.entry.manifest : undefined;
    return need.memoryBytes > 0 || manifest?.resources?.memory_mb !== undefined;
  }

  private async sample(instance: Instance): Promise<void> {
    instance.sampledAt = Date.now();
    const memory = await processTreeMemory(instance.worker.pid);
    if (!memory) return;
    const gpus = await this.services.gpus.snapshot();
    instance.memoryBytes = memory.rssBytes;
    instance.peakMemoryBytes = Math.max(instance.peakMemoryBytes, memory.peakBytes);
    if (gpus) {
      instance.gpuMemoryBytes = gpuBytesOf(gpus, memory.pids);
      instance.peakGpuMemoryBytes = Math.max(instance.peakGpuMemoryBytes, instance.gpuMemoryBytes);
    }
    instance.reservation.update({ memoryBytes: memory.rssBytes, gpuMemoryBytes: instance.gpuMemoryBytes ?? 0 });
  }

  /** A life that served calls tells what the plugin needs; one that only started (and idled) does not. */
  private remember(instance: Instance): void {
    if (instance.calls === 0 || instance.peakMemoryBytes === 0) return;
    void this.services.resources.record(instance.resourceKey, instance.peakMemoryBytes, instance.peakGpuMemoryBytes);
  }

  private startSampling(): void {
    if (this.sampleTimer) return;
    this.sampleTimer = setInterval(() => {
      for (const { instance } of this.pool.instances()) void this.sample(instance);
    }, SAMPLE_INTERVAL_MS);
    this.sampleTimer.unref();
  }

  private stopSampling(): void {
    clearInterval(this.sampleTimer);
    this.sampleTimer = undefined;
  }

  // ---- state and messages

  private setWaitingFor(reason: string | undefined): void {
    if (this.waitingFor === reason) return;
    this.waitingFor = reason;
    if (reason) {
      this.event('info', `Not starting a worker yet: ${reason}`);
      for (const listener of this.waitingListeners) listener({ kind: 'waiting', reason });
    }
    this.changed.fire(this.name);
  }

  /** The detail (stderr tail, traceback) is not logged again: the worker's stderr is in the log already. */
  private fail(error: PluginError): void {
    this.lastError = error;
    this.event('error', error.message);
    this.changed.fire(this.name);
  }

  private cancelled(): PluginError {
    return new PluginError('cancelled', `The call to plugin "${this.name}" was cancelled before it started.`, { plugin: this.name });
  }

  private event(level: LogEvent['level'], message: string): void {
    this.log.fire({ plugin: this.name, level, source: 'event', message });
  }
}

function workerInfo(instance: Instance, busy: boolean): WorkerInfo {
  return {
    pid: instance.worker.pid,
    busy,
    startedAt: instance.startedAt,
    ...(instance.memoryBytes !== undefined ? { memoryBytes: instance.memoryBytes } : {}),
    ...(instance.gpuMemoryBytes !== undefined ? { gpuMemoryBytes: instance.gpuMemoryBytes } : {}),
  };
}
