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
}
