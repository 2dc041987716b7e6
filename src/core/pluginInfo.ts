// What the UI and the CLI show of one plugin: its manifest facts, its state and its last error.
import type { PluginError } from './errors';
import type { Manifest } from './manifest';

export type PluginState = 'stopped' | 'starting' | 'ready' | 'busy' | 'crashed' | 'broken';

/** What the UI shows of one plugin. */
export interface PluginInfo {
  name: string;
  version: string;
  description?: string;
  manifestPath: string;
  manifest?: Manifest; // absent when broken
  pythonExecutable?: string;
  state: PluginState;
  lastError?: PluginError;
  pid?: number;
  startedAt?: number; // ms epoch
  /** Calls currently running. */
  running: number;
  fileTypes: string[]; // [] = any file
  /** Calls waiting in the plugin's queue for a worker. */
  queued: number;
  /** How many workers may run in parallel (the manifest's max_instances, or the setting's override). */
  maxInstances: number;
  /** The running workers, oldest first. */
  workers: WorkerInfo[];
  /** Why no (further) worker starts yet, e.g. "waiting for 4.0 GB of memory; 2.1 GB free". */
  waitingFor?: string;
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
