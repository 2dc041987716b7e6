// What the UI and the CLI show of one plugin: its manifest facts, its state and its last error.
import type { PluginError } from './errors';
import type { Manifest, ManifestProblem } from './manifest';

/**
 * stopped: no worker (not started yet, stopped, idle time-out); starting; ready; busy (calls running);
 * failed: the last start failed (bad interpreter, import error, start-up time-out), the next use tries again;
 * crashed: the worker died (the next call restarts it, unless it crashed too often);
 * broken: the manifest cannot be used.
 */
export type PluginState = 'stopped' | 'starting' | 'ready' | 'busy' | 'failed' | 'crashed' | 'broken';

/** What the UI shows of one plugin. */
export interface PluginInfo {
  name: string;
  version: string;
  description?: string;
  manifestPath: string;
  manifest?: Manifest; // absent when broken
  /** Every problem of a broken manifest, each with its field (and position for JSON syntax errors). */
  problems?: ManifestProblem[];
  pythonExecutable?: string;
  state: PluginState;
  lastError?: PluginError;
  pid?: number;
  startedAt?: number; // ms epoch
  /** Calls currently running. */
  running: number;
  fileTypes: string[]; // [] = any file; may hold "folder" (see fileRule.ts)
  /** Calls waiting in the plugin's queue for a worker. */
  queued: number;
  /** How many workers may run in parallel (the manifest's max_instances, or the setting's override). */
  maxInstances: number;
  /** The running workers, oldest first. */
  workers: WorkerInfo[];
  /** Why no (further) worker starts yet, e.g. "waiting for 4.0 GB of memory; 2.1 GB free". */
  waitingFor?: string;
  /** What one more worker needs to start, as the admission counts it (its measured peak, else the manifest's); unknown: undefined. */
  memoryNeedBytes?: number;
}

/** One running worker of a plugin, as the tree shows it. */
export interface WorkerInfo {
  pid: number;
  busy: boolean;
  startedAt: number; // ms epoch
  /** Memory of the worker's process tree when last measured. */
  memoryBytes?: number;
  /** GPU memory of the worker's process tree (only when nvidia-smi exists). */
  gpuMemoryBytes?: number;
}

/** A plugin whose last start or run went wrong: pickers list it after the others until it runs again. */
export function needsAttention(plugin: Pick<PluginInfo, 'state'>): boolean {
  return plugin.state === 'failed' || plugin.state === 'crashed';
}

/** A plugin that can be started or run (its manifest is usable). */
export function isRunnable(plugin: Pick<PluginInfo, 'state'>): boolean {
  return plugin.state !== 'broken';
}
