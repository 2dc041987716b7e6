// The registry: every plugin from the manifests, each with a state and at most one warm worker.
// It routes calls to the right slot, reloads manifests when they change and stops everything on dispose.
import { PluginError } from './errors';
import { Emitter, type Disposable } from './emitter';
import { materializeFileInput, removeOrphanedInputs, type FileInput } from './fileInput';
import { refusal, type RunTarget } from './fileRule';
import type { ManifestEntry } from './manifest';
import type { LogEvent } from './logEvent';
import { isRunnable, type PluginInfo } from './pluginInfo';
import { defaultPluginDir, discoverManifests } from './manifestDiscovery';
import { watchManifestDirs } from './manifestWatcher';
import { workerProgress, type ProgressReport } from './progress';
import { PluginSlot, configRejected, type SlotSettings } from './pluginSlot';
import { DEFAULT_CANCEL_GRACE_MS, type PluginWorker } from './pluginWorker';
import type { WorkerStats } from './workerStats';
import { defaultWorkerScript } from './workerScript';

export interface PluginCall {
  file?: FileInput;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface RegistryOptions {
  /** Folders with manifests, besides ~/.cjm/plugins. */
  pluginDirs: string[];
  includeDefaultDir?: boolean; // default true
  idleTimeoutMs?: number; // default 10 min; a manifest's idle_timeout_s wins
  startupTimeoutMs?: number; // default 60 s; a manifest's startup_timeout_s wins
  maxRestarts?: number; // crashes allowed within restartWindowMs, default 4
  restartWindowMs?: number; // default 3 min
  /** How long a cancelled call may take to stop before its worker is restarted; default 3 s. */
  cancelGraceMs?: number;
  watch?: boolean; // reload when manifests change on disk, default true
  /** Saved configuration applied with initialize() whenever the worker starts. */
  configFor?: (plugin: string) => Record<string, unknown> | undefined;
}

const DEFAULTS = {
  idleTimeoutMs: 10 * 60_000,
  startupTimeoutMs: 60_000,
  maxRestarts: 4,
  restartWindowMs: 3 * 60_000,
  cancelGraceMs: DEFAULT_CANCEL_GRACE_MS,
};

/** /stats is answered without the plugin lock, even mid-call: silence this long means the worker is stuck or stopped. */
const STATS_TIMEOUT_MS = 2000;

/**
 * VS Code gives deactivate() 5 s; every worker is stopped within that, in parallel. A stop takes at
 * most ~4 s whatever the plugin does (PluginWorker.dispose); this is the last guard on top of it.
 */
const DISPOSE_BUDGET_MS = 4_500;

export class PluginRegistry {
  private slots = new Map<string, PluginSlot>();
  private readonly changed = new Emitter<string | undefined>();
  private readonly logged = new Emitter<LogEvent>();
  private watcher: Disposable | undefined;
  private missingDirs: string[] = [];
  private reloading: Promise<void> = Promise.resolve();
  private disposed = false;

  /** Subscribes to state changes: a plugin's name, or undefined when the list itself changed. */
  readonly onDidChange = this.changed.event;
  /** Subscribes to log lines: the workers' stderr and the host's start/stop/exit events. */
  readonly onLog = this.logged.event;

  private constructor(
    private options: RegistryOptions,
    private readonly workerScript: string,
  ) {}

  static async create(options: RegistryOptions & { workerScript?: string }): Promise<PluginRegistry> {
    const registry = new PluginRegistry(options, options.workerScript ?? defaultWorkerScript());
    await removeOrphanedInputs(); // a host that was killed could not remove its unsaved-buffer inputs
    await registry.reload();
    registry.rewatch();
    return registry;
  }

  list(): PluginInfo[] {
    return [...this.slots.values()].map((slot) => slot.info());
  }

  get(name: string): PluginInfo | undefined {
    return this.slots.get(name)?.info();
  }

  /** Folders named in the options that do not exist, so the UI can say so. */
  get missingPluginDirs(): readonly string[] {
    return this.missingDirs;
  }

  /** The folders searched for manifests, in order. */
  get pluginDirs(): string[] {
    const dirs = this.options.includeDefaultDir === false ? [] : [defaultPluginDir()];
    return [...new Set([...dirs, ...this.options.pluginDirs])];
  }

  /**
   * Whether the plugin takes this file or folder (fileRule.ts): undefined when it does, else why not and
   * which plugins would. Every entry point that runs a plugin on a file asks this first.
   */
  refusal(name: string, target: RunTarget): string | undefined {
    return refusal(this.slot(name).info(), this.list().filter(isRunnable), target);
  }

  async start(name: string): Promise<void> {
    await this.slot(name).ensureWorker();
  }

  async stop(name: string): Promise<void> {
    await this.slot(name).stop();
  }

  async restart(name: string): Promise<void> {
    await this.slot(name).restart();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.slots.values()].map((slot) => slot.stop()));
  }

  /** Re-reads the manifests; unchanged plugins keep their warm workers. Calls are serialised. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.reloadNow());
    return this.reloading;
  }

  async updateOptions(options: Partial<RegistryOptions>): Promise<void> {
    this.options = { ...this.options, ...options };
    for (const slot of this.slots.values()) slot.updateSettings(this.slotSettings());
    this.rewatch();
    await this.reload();
  }

  /** Applies a configuration; a plugin that refuses it fails with a 'config' error in its own words. */
  async initialize(name: string, config: Record<string, unknown>): Promise<void> {
    await this.slot(name).withWorker(async (worker) => {
      try {
        await worker.initialize(config);
      } catch (error) {
        throw configRejected(name, error);
      }
    });
  }

  async execute(name: string, call: PluginCall): Promise<unknown> {
    const slot = this.slot(name);
    const input = call.file ? await materializeFileInput(call.file) : undefined;
    try {
      return await slot.withWorker((worker) => {
        const { args, kwargs } = callArguments(slot.entry, call, input?.path);
        return worker.execute(args, kwargs, { signal: call.signal });
      }, call.signal);
    } finally {
      await input?.release();
    }
  }

  async *executeStream(name: string, call: PluginCall): AsyncGenerator<unknown> {
    const slot = this.slot(name);
    const input = call.file ? await materializeFileInput(call.file) : undefined;
    try {
      yield* slot.streamWithWorker((worker) => {
        const { args, kwargs } = callArguments(slot.entry, call, input?.path);
        return worker.executeStream(args, kwargs, { signal: call.signal });
      }, call.signal);
    } finally {
      await input?.release();
    }
  }

  /**
   * The worker's telemetry, or undefined when it is not running (stats never start a worker).
   * The UI polls this, so it doubles as the health check: a live worker that does not answer within
   * STATS_TIMEOUT_MS is reported unresponsive (lastError of kind 'unresponsive', a change event).
   */
  async stats(name: string): Promise<WorkerStats | undefined> {
    return this.slot(name).probe((worker) => worker.stats({ timeoutMs: STATS_TIMEOUT_MS }));
  }

  async health(name: string): Promise<Record<string, unknown>> {
    return this.query(name, (worker) => worker.health());
  }

  /**
   * Whether the plugin streams (its class has execute_stream), as its worker's /health says; starts the
   * worker when needed. A worker that does not say (the seed's) is streamed: its execute_stream falls
   * back to execute, so the one result arrives either way.
   */
  async streams(name: string): Promise<boolean> {
    const health = await this.health(name);
    const streams = (health as { streams?: unknown }).streams;
    return typeof streams === 'boolean' ? streams : true;
  }

  /** How far the running call is, as the plugin reports it through /progress; never starts a worker. */
  async progress(name: string): Promise<ProgressReport | undefined> {
    const answer = await this.slot(name).probe((worker) => worker.progress()).catch(() => undefined);
    return workerProgress(answer);
  }

  async configSchema(name: string): Promise<Record<string, unknown>> {
    return this.query(name, (worker) => worker.configSchema());
  }

  async config(name: string): Promise<Record<string, unknown>> {
    return this.query(name, (worker) => worker.config());
  }

  /** Stops every worker (within VS Code's 5 s for deactivate) and releases watchers and listeners. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.watcher?.dispose();
    const stops = Promise.all([...this.slots.values()].map((slot) => slot.close()));
    await Promise.race([stops, new Promise((resolve) => setTimeout(resolve, DISPOSE_BUDGET_MS).unref())]);
    this.changed.clear();
    this.logged.clear();
  }

  private async query<T>(name: string, ask: (worker: PluginWorker) => Promise<T>): Promise<T> {
    const worker = await this.slot(name).ensureWorker();
    return ask(worker);
  }

  private slot(name: string): PluginSlot {
    const slot = this.slots.get(name);
    if (!slot) {
      const known = [...this.slots.keys()].join(', ') || 'none';
      throw new PluginError('usage', `No plugin named "${name}". Known plugins: ${known}.`, { plugin: name });
    }
    return slot;
  }

  private async reloadNow(): Promise<void> {
    if (this.disposed) return;
    const { entries, missingDirs } = await discoverManifests(this.pluginDirs, { quietDirs: [defaultPluginDir()] });
    this.missingDirs = missingDirs;
    const next = new Map<string, PluginSlot>();
    const stale: PluginSlot[] = [];
    for (const entry of entries) {
      const name = entry.ok ? entry.manifest.name : entry.name;
      if (next.has(name)) continue;
      const current = this.slots.get(name);
      if (current && sameEntry(current.entry, entry)) {
        next.set(name, current);
      } else {
        if (current) stale.push(current);
        next.set(name, new PluginSlot(entry, this.slotSettings(), this.changed, this.logged));
      }
    }
    for (const [name, slot] of this.slots) if (!next.has(name)) stale.push(slot);
    this.slots = next;
    this.changed.fire(undefined);
    await Promise.all(stale.map((slot) => slot.close()));
  }

  private rewatch(): void {
    this.watcher?.dispose();
    this.watcher = this.options.watch === false ? undefined : watchManifestDirs(this.pluginDirs, () => void this.reload());
  }

  private slotSettings(): SlotSettings {
    return {
      workerScript: this.workerScript,
      idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      startupTimeoutMs: this.options.startupTimeoutMs ?? DEFAULTS.startupTimeoutMs,
      maxRestarts: this.options.maxRestarts ?? DEFAULTS.maxRestarts,
      restartWindowMs: this.options.restartWindowMs ?? DEFAULTS.restartWindowMs,
      cancelGraceMs: this.options.cancelGraceMs ?? DEFAULTS.cancelGraceMs,
      configFor: this.options.configFor,
    };
  }
}

/** The file goes first among the positional arguments, or as the manifest's `file_arg` keyword. */
function callArguments(entry: ManifestEntry, call: PluginCall, filePath: string | undefined) {
  const args = [...(call.args ?? [])];
  const kwargs = { ...(call.kwargs ?? {}) };
  if (filePath !== undefined) {
    const fileArg = entry.ok ? entry.manifest.file_arg : undefined;
    if (fileArg) kwargs[fileArg] = filePath;
    else args.unshift(filePath);
  }
  return { args, kwargs };
}

/** A manifest file that did not change keeps its slot (and its warm worker). */
function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.path === b.path && a.ok === b.ok && JSON.stringify(a.ok ? a.manifest : a.problems) === JSON.stringify(b.ok ? b.manifest : b.problems)
    && (!a.ok || !b.ok || a.pythonExecutable === b.pythonExecutable);
}
