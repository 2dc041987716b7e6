// The registry: every plugin from the manifests, each with a state, a queue and its warm workers.
// It routes calls to the right slot (through the result cache), reloads manifests when they change and
// stops everything on dispose. It owns what the plugins share: the admission, the measured resource use,
// the GPU monitor and the result cache.
import path from 'node:path';
import { Admission } from './admission';
import { hashBytes } from './contentHash';
import { PluginError } from './errors';
import { Emitter, type Disposable } from './emitter';
import { materializeFileInput, removeOrphanedInputs } from './fileInput';
import { refusal, type RunTarget } from './fileRule';
import { GpuMonitor } from './gpuMemory';
import type { ManifestEntry } from './manifest';
import type { LogEvent } from './logEvent';
import type { PluginCall } from './pluginCall';
import { isRunnable, type PluginInfo } from './pluginInfo';
import { defaultPluginDir, discoverManifests } from './manifestDiscovery';
import { watchManifestDirs } from './manifestWatcher';
import { workerProgress, type ProgressReport } from './progress';
import { PluginSlot, type SlotServices, type SlotSettings } from './pluginSlot';
import { DEFAULT_CANCEL_GRACE_MS, type PluginWorker } from './pluginWorker';
import { ResourceStore } from './resourceStore';
import { ResultCache, type CacheUsage, type CallKind } from './resultCache';
import { defaultStorageDir } from './storageDir';
import { systemMemory } from './systemMemory';
import type { WorkerStats } from './workerStats';
import { defaultWorkerScript } from './workerScript';

export type { PluginCall } from './pluginCall';

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
  /** Per plugin, how many workers may run in parallel, over the manifest's max_instances. */
  maxInstances?: Record<string, number>;
  /** What all workers together may use, in MB; 0 or absent: only the machine's available memory counts. */
  memoryBudgetMb?: number;
  /** Stop idle workers of other plugins (least recently used first) to make room for a worker; default true. */
  evictIdleWorkers?: boolean;
  /** Reuse stored results (default true); a call or a manifest ("cache": false) may still opt out. */
  cache?: boolean;
  /** The result cache's size cap in MB, least recently used entries evicted; default 1024. */
  cacheMaxMb?: number;
  /** Where the result cache and the measured resource use live; default the user's cache folder. */
  storageDir?: string;
}

const DEFAULTS = {
  idleTimeoutMs: 10 * 60_000,
  startupTimeoutMs: 60_000,
  maxRestarts: 4,
  restartWindowMs: 3 * 60_000,
  cancelGraceMs: DEFAULT_CANCEL_GRACE_MS,
  cacheMaxMb: 1024,
};

const MB = 1024 * 1024;
/**
 * A stream is kept for the cache only up to this much JSON (and this many items): beyond, it is let go at
 * once, so that caching never holds a long stream in memory (the stream itself is bounded end to end).
 */
const MAX_CACHED_STREAM_BYTES = 32 * MB;
const MAX_CACHED_ITEMS = 100_000;

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
  private inputsCleanup: Promise<unknown> = Promise.resolve();
  /** Settles when the manifests have been read for the first time (see open()). */
  loaded: Promise<void> = Promise.resolve();
  private readonly services: SlotServices;
  private readonly cache: ResultCache;
  /** Execute calls running now by cache key, so that the same work asked for twice runs once. */
  private readonly inFlight = new Map<string, Promise<{ value: unknown; ms: number }>>();

  /** Subscribes to state changes: a plugin's name, or undefined when the list itself changed. */
  readonly onDidChange = this.changed.event;
  /** Subscribes to log lines: the workers' stderr and the host's start/stop/exit events. */
  readonly onLog = this.logged.event;

  private constructor(
    private options: RegistryOptions,
    private readonly workerScript: string,
  ) {
    const storage = options.storageDir ?? defaultStorageDir();
    const gpus = new GpuMonitor();
    this.services = {
      gpus,
      resources: new ResourceStore(path.join(storage, 'resources.json')),
      admission: new Admission(
        this.admissionSettings(),
        { memory: systemMemory, gpus: () => gpus.snapshot() },
        () => [...this.slots.values()].flatMap((slot) => slot.idleWorkers()),
        (plugin, message) => this.logged.fire({ plugin, level: 'info', source: 'event', message }),
      ),
    };
    this.cache = new ResultCache(path.join(storage, 'cache'), (options.cacheMaxMb ?? DEFAULTS.cacheMaxMb) * MB);
  }

  /**
   * A registry that reads its manifests in the background: list() is empty until `loaded` settles. The
   * extension's activation does not wait for the disk (its commands and views wait for `loaded`).
   */
  static open(options: RegistryOptions & { workerScript?: string }): PluginRegistry {
    const registry = new PluginRegistry(options, options.workerScript ?? defaultWorkerScript());
    // A host that was killed could not remove its unsaved-buffer inputs; nothing waits for that but dispose.
    registry.inputsCleanup = removeOrphanedInputs().catch(() => []);
    registry.loaded = registry.reload().then(() => registry.rewatch());
    return registry;
  }

  /** A registry whose manifests have been read (rpp, the tests). */
  static async create(options: RegistryOptions & { workerScript?: string }): Promise<PluginRegistry> {
    const registry = PluginRegistry.open(options);
    await registry.loaded;
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
    this.services.admission.updateSettings(this.admissionSettings());
    this.cache.setMaxBytes((this.options.cacheMaxMb ?? DEFAULTS.cacheMaxMb) * MB);
    this.rewatch();
    await this.reload();
  }

  /**
   * Sets configuration values for every worker of the plugin (now, and each one that starts later); a
   * plugin that refuses them fails with a 'config' error in its own words.
   */
  async initialize(name: string, config: Record<string, unknown>): Promise<void> {
    await this.slot(name).initialize(config);
  }

  /**
   * Runs the plugin once: through its queue (a worker of its own), or from the result cache when the same
   * input, version, configuration and arguments ran before (`call.onProgress` is told "cached").
   */
  async execute(name: string, call: PluginCall): Promise<unknown> {
    const slot = this.slot(name);
    const cacheKey = await this.cacheKeyOf(slot, call, 'execute');
    if (cacheKey) {
      const hit = await this.cache.get(cacheKey.key);
      if (hit?.kind === 'execute') {
        call.onProgress?.({ kind: 'cached', savedMs: hit.ms });
        return hit.value;
      }
      // The same work already running (a second copy of a file in a batch): its result, not a second run.
      const running = this.inFlight.get(cacheKey.key);
      if (running) {
        const shared = await untilAborted(running.then((done) => done, () => undefined), call.signal, name);
        if (shared) {
          call.onProgress?.({ kind: 'cached', savedMs: shared.ms });
          return shared.value;
        }
      }
    }
    const work = this.run(slot, call, cacheKey);
    if (!cacheKey || this.inFlight.has(cacheKey.key)) return (await work).value;
    this.inFlight.set(cacheKey.key, work);
    try {
      return (await work).value;
    } finally {
      this.inFlight.delete(cacheKey.key);
    }
  }

  /** One execute call on a worker of the plugin; a result whose inputs did not change meanwhile is stored. */
  private async run(slot: PluginSlot, call: PluginCall, cacheKey: CacheKey | undefined): Promise<{ value: unknown; ms: number }> {
    const input = call.file ? await materializeFileInput(call.file) : undefined;
    try {
      let started = 0;
      const value = await slot.withWorker((worker) => {
        started = performance.now();
        const { args, kwargs } = callArguments(slot.entry, call, input?.path);
        return worker.execute(args, kwargs, { signal: call.signal });
      }, call);
      const ms = performance.now() - started;
      if (cacheKey && (await this.stillValid(slot, cacheKey))) {
        await this.cache.put(cacheKey.key, { kind: 'execute', value, ms, createdAt: Date.now() });
      }
      return { value, ms };
    } finally {
      await input?.release();
    }
  }

  /** Same as execute() for a stream; a cached stream replays its items, a stream that ends whole is stored. */
  async *executeStream(name: string, call: PluginCall): AsyncGenerator<unknown> {
    const slot = this.slot(name);
    const cacheKey = await this.cacheKeyOf(slot, call, 'stream');
    if (cacheKey) {
      const hit = await this.cache.get(cacheKey.key);
      if (hit?.kind === 'stream' && hit.items) {
        call.onProgress?.({ kind: 'cached', savedMs: hit.ms });
        yield* hit.items;
        return;
      }
    }
    const input = call.file ? await materializeFileInput(call.file) : undefined;
    try {
      let started = 0;
      let items: unknown[] | undefined = cacheKey ? [] : undefined;
      let bytes = 0;
      yield* slot.streamWithWorker(async function* (worker) {
        started = performance.now();
        const { args, kwargs } = callArguments(slot.entry, call, input?.path);
        for await (const item of worker.executeStream(args, kwargs, { signal: call.signal })) {
          if (items) {
            bytes += (JSON.stringify(item) ?? '').length;
            if (items.length < MAX_CACHED_ITEMS && bytes <= MAX_CACHED_STREAM_BYTES) items.push(item);
            else items = undefined;
          }
          yield item;
        }
      }, call);
      // Only a stream that ended by itself is whole (an early return never reaches this line).
      if (cacheKey && items && (await this.stillValid(slot, cacheKey))) {
        await this.cache.put(cacheKey.key, { kind: 'stream', items, ms: performance.now() - started, createdAt: Date.now() });
      }
    } finally {
      await input?.release();
    }
  }

  /** Removes every stored result (Clear Cache); says how much was freed. */
  async clearCache(): Promise<CacheUsage> {
    return this.cache.clear();
  }

  /** How many results the cache holds and their size. */
  async cacheUsage(): Promise<CacheUsage> {
    return this.cache.usage();
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
    this.services.admission.dispose();
    const stops = Promise.all([...this.slots.values()].map((slot) => slot.close()));
    await Promise.race([stops, new Promise((resolve) => setTimeout(resolve, DISPOSE_BUDGET_MS).unref())]);
    await Promise.all([this.cache.flush(), this.services.resources.flush(), this.inputsCleanup]).catch(() => undefined);
    this.changed.clear();
    this.logged.clear();
  }

  /** The cache key of a call, or undefined when it is not cached (no file, opted out, the file cannot be read). */
  private async cacheKeyOf(slot: PluginSlot, call: PluginCall, kind: CallKind): Promise<CacheKey | undefined> {
    const entry = slot.entry;
    if (!call.file || !entry.ok || entry.manifest.cache === false || call.cache === false || this.options.cache === false) return undefined;
    const file = call.file;
    try {
      if ('content' in file) return this.keyWith(slot, call, kind, hashBytes(file.content), undefined);
      const filePath = (await materializeFileInput(file)).path; // a path or a file: URI; nothing to release
      const identity = await this.cache.hasher.identity(filePath);
      return this.keyWith(slot, call, kind, await this.cache.hasher.hashFile(filePath), { filePath, identity });
    } catch {
      return undefined; // the plugin gets the path and says what is wrong with it
    }
  }

  private keyWith(slot: PluginSlot, call: PluginCall, kind: CallKind, content: string, file: CacheKey['file']): CacheKey {
    const manifest = (slot.entry as Extract<ManifestEntry, { ok: true }>).manifest;
    const key = ResultCache.keyOf({
      content,
      plugin: manifest.name,
      version: manifest.version,
      config: slot.effectiveConfig(),
      args: call.args ?? [],
      kwargs: call.kwargs ?? {},
      kind,
    });
    return { key, configVersion: slot.configVersion, file };
  }

  /** A result is stored only if its input and the plugin's configuration did not change while it ran. */
  private async stillValid(slot: PluginSlot, cacheKey: CacheKey): Promise<boolean> {
    if (slot.configVersion !== cacheKey.configVersion) return false;
    if (!cacheKey.file) return true;
    const identity = await this.cache.hasher.identity(cacheKey.file.filePath).catch(() => undefined);
    return identity === cacheKey.file.identity;
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
        next.set(name, new PluginSlot(entry, this.slotSettings(), this.changed, this.logged, this.services));
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
      maxInstancesFor: (plugin) => this.options.maxInstances?.[plugin],
    };
  }

  private admissionSettings() {
    const budgetMb = this.options.memoryBudgetMb;
    return { memoryBudgetBytes: budgetMb && budgetMb > 0 ? budgetMb * MB : undefined, evictIdle: this.options.evictIdleWorkers !== false };
  }
}

interface CacheKey {
  key: string;
  /** The slot's configuration version when the key was made. */
  configVersion: number;
  /** The input file and its identity before the call, to see whether it changed during the call. */
  file: { filePath: string; identity: string } | undefined;
}

/** The promise's value, or a "cancelled" error as soon as the signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, plugin: string): Promise<T> {
  if (!signal) return promise;
  const cancelled = () => new PluginError('cancelled', `The call to plugin "${plugin}" was cancelled before it started.`, { plugin });
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
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
