// CONTRACT SKELETON — implemented by the manifest work (see docs/protocol.md and issue 3).
import type { PluginError } from './errors';

/** A plugin manifest: the seed's fields, optional new ones, and any unknown fields kept as they are. */
export interface Manifest {
  name: string;
  version: string;
  python_path: string;
  module: string;
  class: string;
  env_vars: Record<string, string>;
  description?: string;
  /** Extensions the plugin accepts, lower case with the dot: [".wav", ".mp3"]. None = any file. */
  file_types?: string[];
  /** Pass the file as this keyword argument instead of the first positional argument. */
  file_arg?: string;
  idle_timeout_s?: number;
  startup_timeout_s?: number;
  /** Which worker to launch: the bundled one (default) or the seed's `cjm_plugin_system` worker. */
  worker?: 'rpp' | 'cjm';
  [unknownField: string]: unknown;
}

export interface ManifestProblem {
  /** The field at fault, e.g. "python_path" or "env_vars.CUDA_VISIBLE_DEVICES"; absent for file-level problems. */
  field?: string;
  /** What is wrong and what to do. */
  message: string;
}

export type ManifestEntry =
  | { ok: true; path: string; manifest: Manifest; /** absolute, resolved interpreter */ pythonExecutable: string }
  | { ok: false; path: string; /** the manifest's name when readable, else the file's stem */ name: string; problems: ManifestProblem[]; error: PluginError };
