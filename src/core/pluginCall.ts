// One call to a plugin as callers make it (the extension's commands, `rpp`, a batch), and what they are
// told while it waits: its place in the plugin's queue, why no worker starts yet, when it starts, or that
// its result came from the cache.
import type { FileInput } from './fileInput';

export interface PluginCall {
  file?: FileInput;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  signal?: AbortSignal;
  /** false: neither read nor write the result cache for this call (default: the registry's setting). */
  cache?: boolean;
  /** Where the call is, as it moves: queued (its place), waiting for memory (why), started, or cached. */
  onProgress?: (progress: CallProgress) => void;
}

export type CallProgress =
  | { kind: 'queued'; position: number; length: number }
  | { kind: 'waiting'; reason: string }
  | { kind: 'started'; pid: number }
  | { kind: 'cached'; savedMs: number };
