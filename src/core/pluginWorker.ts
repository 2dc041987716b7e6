// CONTRACT SKELETON — one running worker process and its wire; implemented by the worker-proxy work.
import type { Manifest } from './manifest';

/** GET /stats (docs/protocol.md). */
export interface WorkerStats {
  pid: number;
  rss_bytes: number;
  rss_children_bytes: number;
  cpu_percent: number;
  threads: number;
  children: number;
  uptime_s: number;
  calls: number;
  errors: number;
  busy: boolean;
  [other: string]: unknown;
}

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** The last lines of stderr, for the error message. */
  stderrTail: string;
  /** True when the host asked it to stop (dispose), false for a crash. */
  expected: boolean;
}

export interface WorkerStartOptions {
  manifest: Manifest;
  manifestPath: string;
  pythonExecutable: string;
  /** Absolute path of worker/rpp_worker.py. */
  workerScript: string;
  startupTimeoutMs: number;
  signal?: AbortSignal;
  onStderrLine?: (line: string) => void;
}
