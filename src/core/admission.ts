// Whether one more worker may start: only when the memory (and GPU memory) it needs is free. "Free" is
// what the machine has available (within the memory budget, when one is set), minus what the workers
// already admitted may still grow into (a worker that is loading its model has not reached its need
// yet). A request that does not fit waits, told why; idle workers of other plugins are stopped first,
// least recently used, to make room (unless turned off). Requests for a plugin's first worker go before
// requests for extra workers, first come first served; an extra worker that does not fit blocks nobody.
import { PluginError } from './errors';
import { visibleDevices, type GpuSnapshot } from './gpuMemory';
import type { MemoryFigures } from './systemMemory';

export interface ResourceNeed {
  memoryBytes: number;
  gpuMemoryBytes: number;
  /** The plugin's CUDA_VISIBLE_DEVICES, which narrows the GPUs it can use. */
  cudaVisibleDevices?: string;
}

export interface Usage {
  memoryBytes: number;
  gpuMemoryBytes: number;
}

export interface AdmissionSettings {
  /** What all workers together may use; undefined or 0: only the machine's available memory counts. */
  memoryBudgetBytes?: number;
  /** Stop idle workers of other plugins, least recently used first, to make room. */
  evictIdle: boolean;
}

/** Where the figures come from: the machine (systemMemory, GpuMonitor), or a test's own. */
export interface ResourceProbe {
  memory(): Promise<MemoryFigures>;
  gpus(): Promise<GpuSnapshot | undefined>;
}

/** An idle worker that may be stopped to make room. */
export interface IdleWorker {
  plugin: string;
  idleSince: number;
  usage: Usage;
  stop(): Promise<void>;
}

export interface AdmissionRequest {
  plugin: string;
  need: ResourceNeed;
  /** The plugin's first worker: its calls cannot go anywhere else. */
  essential: boolean;
  signal?: AbortSignal;
  /** Why it waits ("waiting for 4.0 GB of memory; 2.1 GB free"), or undefined once admitted. */
  onWaiting?: (reason: string | undefined) => void;
}

/** What an admitted worker holds in the admission's books until it stops. */
export class Reservation {
  usage: Usage = { memoryBytes: 0, gpuMemoryBytes: 0 };
  private released = false;

  constructor(
    readonly plugin: string,
    readonly need: ResourceNeed,
    private readonly onRelease: (reservation: Reservation) => void,
  ) {}

  /** What the worker uses now (from the meter). */
  update(usage: Usage): void {
    this.usage = usage;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(this);
  }
}

interface Waiter {
  request: AdmissionRequest;
  resolve: (reservation: Reservation) => void;
  reject: (error: Error) => void;
  reason?: string;
  evicting: boolean;
  /** Rounds of eviction for this request; bounded, in case stopped workers do not free what they held. */
  evictions: number;
}

/** While someone waits, memory freed outside (another program ending) is noticed within this time. */
const RECHECK_MS = 1000;
const MAX_EVICTION_ROUNDS = 8;
const GB = 1024 ** 3;

export class Admission {
  private readonly reservations = new Set<Reservation>();
  private waiters: Waiter[] = [];
  private checking = false;
  private recheck = false;
  private timer: NodeJS.Timeout | undefined;
  private warnedNoGpu = false;

  constructor(
    private settings: AdmissionSettings,
    private readonly probe: ResourceProbe,
    private readonly idleWorkers: () => IdleWorker[],
    /** Tells the log of the plugin that waits what the admission did for it. */
    private readonly log: (plugin: string, message: string) => void = () => undefined,
  ) {}

  updateSettings(settings: AdmissionSettings): void {
    this.settings = settings;
    this.kick();
  }

  /** Resolves with a reservation once the worker may start; rejects when cancelled or when it can never fit. */
  admit(request: AdmissionRequest): Promise<Reservation> {
    if (request.signal?.aborted) return Promise.reject(cancelled(request.plugin));
    return new Promise<Reservation>((resolve, reject) => {
      const waiter: Waiter = { request, resolve, reject, evicting: false, evictions: 0 };
      request.signal?.addEventListener('abort', () => this.drop(waiter, cancelled(request.plugin)), { once: true });
      this.waiters.push(waiter);
      this.kick();
    });
  }

  /** What the admitted workers use and may still grow into, for the UI and the log. */
  booked(): { workers: number; usage: Usage } {
    let memoryBytes = 0;
    let gpuMemoryBytes = 0;
    for (const reservation of this.reservations) {
      memoryBytes += Math.max(reservation.need.memoryBytes, reservation.usage.memoryBytes);
      gpuMemoryBytes += Math.max(reservation.need.gpuMemoryBytes, reservation.usage.gpuMemoryBytes);
    }
    return { workers: this.reservations.size, usage: { memoryBytes, gpuMemoryBytes } };
  }

  /** Looks at the waiting requests again (a worker stopped, the settings changed). */
  kick(): void {
    if (this.checking) {
      this.recheck = true;
      return;
    }
    if (this.waiters.length === 0) return;
    this.checking = true;
    void this.checkAll().finally(() => {
      this.checking = false;
      if (this.recheck) {
        this.recheck = false;
        this.kick();
      } else {
        this.scheduleRecheck();
      }
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const waiter of this.waiters.splice(0)) waiter.reject(cancelled(waiter.request.plugin));
  }

  private async checkAll(): Promise<void> {
    const [memory, gpus] = await Promise.all([this.probe.memory(), this.needsGpu() ? this.probe.gpus() : Promise.resolve(undefined)]);
    const ordered = [...this.waiters.filter((w) => w.request.essential), ...this.waiters.filter((w) => !w.request.essential)];
    let blockedEssential = false;
    for (const waiter of ordered) {
      if (!this.waiters.includes(waiter)) continue; // cancelled meanwhile
      if (blockedEssential) {
        this.setReason(waiter, 'waiting for an earlier start to get its memory');
        continue;
      }
      const verdict = this.judge(waiter.request, memory, gpus);
      if ('impossible' in verdict) {
        this.drop(waiter, verdict.impossible);
      } else if ('fits' in verdict) {
        this.grant(waiter);
      } else {
        this.setReason(waiter, verdict.reason);
        if (this.settings.evictIdle && !waiter.evicting && waiter.evictions < MAX_EVICTION_ROUNDS && (await this.evictFor(waiter, verdict.shortfall))) {
          this.recheck = true; // room was made: look again at once
          return;
        }
        if (waiter.request.essential) blockedEssential = true;
      }
    }
  }

  /** Fits, cannot ever fit (more than the budget or the machine has), or waits with a reason and a shortfall. */
  private judge(request: AdmissionRequest, memory: MemoryFigures, gpus: GpuSnapshot | undefined): { fits: true } | { impossible: PluginError } | { reason: string; shortfall: Usage } {
    const { need, plugin } = request;
    const budget = this.settings.memoryBudgetBytes && this.settings.memoryBudgetBytes > 0 ? this.settings.memoryBudgetBytes : undefined;
    const ceiling = budget ?? memory.totalBytes;
    if (need.memoryBytes > ceiling) {
      const where = budget ? `the memory budget is ${formatMemory(budget)} (setting remotePluginProxy.memoryBudgetMb)` : `this machine has ${formatMemory(memory.totalBytes)}`;
      return { impossible: new PluginError('start', `Plugin "${plugin}" needs ${formatMemory(need.memoryBytes)} of memory to start, but ${where}. Raise the budget, or lower "resources.memory_mb" in its manifest if the plugin needs less.`, { plugin }) };
    }
    let growth = 0;
    let booked = 0;
    let gpuGrowth = 0;
    for (const reservation of this.reservations) {
      growth += Math.max(0, reservation.need.memoryBytes - reservation.usage.memoryBytes);
      booked += Math.max(reservation.need.memoryBytes, reservation.usage.memoryBytes);
      gpuGrowth += Math.max(0, reservation.need.gpuMemoryBytes - reservation.usage.gpuMemoryBytes);
    }
    let free = memory.availableBytes - growth;
    if (budget) free = Math.min(free, budget - booked);
    free = Math.max(0, free);
    if (need.memoryBytes > free) {
      return { reason: `waiting for ${formatMemory(need.memoryBytes)} of memory; ${formatMemory(free)} free`, shortfall: { memoryBytes: need.memoryBytes - free, gpuMemoryBytes: 0 } };
    }
    if (need.gpuMemoryBytes > 0) {
      if (!gpus) {
        if (!this.warnedNoGpu) this.log(plugin, `Plugin "${plugin}" declares ${formatMemory(need.gpuMemoryBytes)} of GPU memory, but nvidia-smi was not found, so GPU memory is not checked.`);
        this.warnedNoGpu = true;
        return { fits: true };
      }
      const devices = visibleDevices(gpus, need.cudaVisibleDevices);
      const largest = Math.max(0, ...devices.map((device) => device.totalBytes));
      if (need.gpuMemoryBytes > largest) {
        return { impossible: new PluginError('start', `Plugin "${plugin}" needs ${formatMemory(need.gpuMemoryBytes)} of GPU memory, but its largest GPU has ${formatMemory(largest)}. Lower "resources.gpu_memory_mb" in its manifest or give it another GPU (CUDA_VISIBLE_DEVICES).`, { plugin }) };
      }
      const gpuFree = Math.max(0, Math.max(0, ...devices.map((device) => device.freeBytes)) - gpuGrowth);
      if (need.gpuMemoryBytes > gpuFree) {
        return { reason: `waiting for ${formatMemory(need.gpuMemoryBytes)} of GPU memory; ${formatMemory(gpuFree)} free`, shortfall: { memoryBytes: 0, gpuMemoryBytes: need.gpuMemoryBytes - gpuFree } };
      }
    }
    return { fits: true };
  }

  /** Stops idle workers of other plugins, least recently used first, until their use covers the shortfall. */
  private async evictFor(waiter: Waiter, shortfall: Usage): Promise<boolean> {
    const candidates = this.idleWorkers()
      .filter((worker) => worker.plugin !== waiter.request.plugin)
      .sort((a, b) => a.idleSince - b.idleSince);
    const chosen: IdleWorker[] = [];
    let memory = 0;
    let gpu = 0;
    for (const worker of candidates) {
      if (memory >= shortfall.memoryBytes && gpu >= shortfall.gpuMemoryBytes) break;
      if (shortfall.gpuMemoryBytes > 0 && shortfall.memoryBytes === 0 && worker.usage.gpuMemoryBytes === 0) continue; // frees no GPU memory
      chosen.push(worker);
      memory += worker.usage.memoryBytes;
      gpu += worker.usage.gpuMemoryBytes;
    }
    if (chosen.length === 0) return false;
    waiter.evicting = true;
    waiter.evictions++;
    this.log(waiter.request.plugin, `To start "${waiter.request.plugin}", stopping idle ${chosen.map((worker) => `"${worker.plugin}"`).join(', ')} (least recently used first).`);
    try {
      await Promise.all(chosen.map((worker) => worker.stop().catch(() => undefined)));
    } finally {
      waiter.evicting = false;
    }
    return true;
  }

  private grant(waiter: Waiter): void {
    this.remove(waiter);
    const reservation = new Reservation(waiter.request.plugin, waiter.request.need, (released) => {
      this.reservations.delete(released);
      this.kick();
    });
    this.reservations.add(reservation);
    if (waiter.reason !== undefined) waiter.request.onWaiting?.(undefined);
    waiter.resolve(reservation);
  }

  private drop(waiter: Waiter, error: Error): void {
    if (!this.remove(waiter)) return;
    waiter.reject(error);
    this.kick(); // an essential request that blocked others is gone
  }

  private remove(waiter: Waiter): boolean {
    const index = this.waiters.indexOf(waiter);
    if (index < 0) return false;
    this.waiters.splice(index, 1);
    return true;
  }

  private setReason(waiter: Waiter, reason: string): void {
    if (waiter.reason === reason) return;
    waiter.reason = reason;
    waiter.request.onWaiting?.(reason);
  }

  private needsGpu(): boolean {
    return this.waiters.some((waiter) => waiter.request.need.gpuMemoryBytes > 0);
  }

  private scheduleRecheck(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiters.length === 0) return;
    // Not unref'd: a call waiting for memory is work in progress (rpp must not exit under it).
    this.timer = setTimeout(() => this.kick(), RECHECK_MS);
  }
}

function cancelled(plugin: string): PluginError {
  return new PluginError('cancelled', `The call to plugin "${plugin}" was cancelled while it waited for memory.`, { plugin });
}

/** "4.0 GB", or "512 MB" below a gigabyte. */
export function formatMemory(bytes: number): string {
  if (bytes >= GB) return `${(bytes / GB).toFixed(1)} GB`;
  return `${Math.round(bytes / 1024 ** 2)} MB`;
}
