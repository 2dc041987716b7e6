// CONTRACT SKELETON — the registry's public API, implemented in a later step.
import type { PluginError } from './errors';
import type { Manifest } from './manifest';
import type { WorkerStats } from './pluginWorker';

export type PluginState = 'stopped' | 'starting' | 'ready' | 'busy' | 'crashed' | 'broken';

export interface Disposable {
  dispose(): void;
}

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
}

/** A file given to a plugin: a path, a file: URI, or the content of an unsaved editor. */
export type FileInput =
  | { path: string }
  | { uri: string }
  | { content: string | Uint8Array; /** used for the temp file's extension */ name: string };

export interface PluginCall {
  file?: FileInput;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface LogEvent {
  plugin: string;
  level: 'info' | 'warn' | 'error' | 'trace';
  /** 'stderr' lines come from the worker; 'event' lines are the host's (start, stop, exit code). */
  source: 'stderr' | 'event';
  message: string;
}

export interface RegistryOptions {
  /** Folders with manifests, besides ~/.cjm/plugins. */
  pluginDirs: string[];
  includeDefaultDir?: boolean; // default true
  idleTimeoutMs?: number; // default 10 min; a manifest's idle_timeout_s wins
  startupTimeoutMs?: number; // default 60 s; a manifest's startup_timeout_s wins
  maxRestarts?: number; // crashes allowed within restartWindowMs, default 4
  restartWindowMs?: number; // default 3 min
  watch?: boolean; // reload when manifests change on disk, default true
  /** Saved configuration applied with initialize() whenever the worker starts. */
  configFor?: (plugin: string) => Record<string, unknown> | undefined;
}
