// A worker's /stats in the project's one shape (schemas/protocol/stats.schema.json), whichever worker
// answered: the bundled worker's answer is that shape already; cjm's worker answers
// {pid, cpu_percent, memory_rss_mb} (newer: subtree_pids, usage), and the host fills in what it knows
// itself (uptime, calls, errors, busy). A figure nobody knows is null, never invented.
import type { CjmStats } from './workerProtocol';

/** GET /stats, normalised: schemas/protocol/stats.schema.json. */
export interface WorkerStats {
  pid: number;
  /** Memory of the worker's whole process tree; null when the worker could not say (busy cjm worker). */
  rss_bytes: number | null;
  rss_children_bytes: number | null;
  cpu_percent: number | null;
  threads: number | null;
  children: number | null;
  uptime_s: number;
  calls: number;
  errors: number;
  busy: boolean;
  python?: string;
  platform?: string;
  /** What a cjm plugin reported with report_usage() during its last call. */
  usage?: unknown;
}

/** What the host knows of a worker without asking it. */
export interface HostFacts {
  pid: number;
  uptimeS: number;
  calls: number;
  errors: number;
  busy: boolean;
}

const MB = 1024 * 1024;

/**
 * The project's shape from a worker's answer. `answer` undefined: the worker could not answer (a cjm
 * worker running a synchronous call serves nothing else), so only the host's own figures are given.
 */
export function normaliseStats(answer: unknown, host: HostFacts): WorkerStats {
  // Read defensively: each figure is checked before use, whatever the worker sent.
  const raw = (typeof answer === 'object' && answer !== null ? answer : {}) as Partial<Record<keyof WorkerStats | keyof CjmStats, unknown>>;
  const treePids = Array.isArray(raw.subtree_pids) ? raw.subtree_pids.length : undefined;
  const stats: WorkerStats = {
    pid: typeof raw.pid === 'number' && Number.isSafeInteger(raw.pid) && raw.pid > 0 ? raw.pid : host.pid,
    rss_bytes: integerOrNull(raw.rss_bytes) ?? megabytes(raw.memory_rss_mb),
    rss_children_bytes: integerOrNull(raw.rss_children_bytes),
    cpu_percent: numberOrNull(raw.cpu_percent),
    threads: integerOrNull(raw.threads),
    children: integerOrNull(raw.children) ?? (treePids === undefined ? null : Math.max(0, treePids - 1)),
    uptime_s: numberOr(raw.uptime_s, host.uptimeS),
    calls: integerOr(raw.calls, host.calls),
    errors: integerOr(raw.errors, host.errors),
    busy: typeof raw.busy === 'boolean' ? raw.busy : host.busy,
  };
  if (typeof raw.python === 'string') stats.python = raw.python;
  if (typeof raw.platform === 'string') stats.platform = raw.platform;
  if (raw.usage !== undefined && raw.usage !== null) stats.usage = raw.usage;
  return stats;
}

/** The rows the Plugins view shows under a running plugin, and in its tooltip. */
export function statsRows(stats: WorkerStats): Array<[label: string, value: string]> {
  const memory = stats.rss_bytes === null ? 'not known while the call runs' : formatBytes(stats.rss_bytes);
  const children = stats.children ? ` (${stats.children} child process${stats.children === 1 ? '' : 'es'})` : '';
  const rows: Array<[string, string]> = [['Memory', `${memory}${children}`]];
  if (stats.cpu_percent !== null) rows.push(['CPU', `${stats.cpu_percent.toFixed(1)}%`]);
  rows.push(['Uptime', formatUptime(stats.uptime_s)], ['Calls', String(stats.calls)], ['Errors', String(stats.errors)], ['PID', String(stats.pid)]);
  if (stats.usage !== undefined) rows.push(['Last call used', compactJson(stats.usage)]);
  return rows;
}

/** "412 MB · 3% CPU" for a plugin's row; only the figures that are known. */
export function statsSummary(stats: WorkerStats): string[] {
  const parts: string[] = [];
  if (stats.rss_bytes !== null) parts.push(formatBytes(stats.rss_bytes));
  if (stats.cpu_percent !== null) parts.push(`${Math.round(stats.cpu_percent)}% CPU`);
  return parts;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  return `${Math.round(bytes / MB)} MB`;
}

function formatUptime(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function compactJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function numberOrNull(value: unknown): number | null {
  return isFiniteNumber(value) && value >= 0 ? value : null;
}

function integerOrNull(value: unknown): number | null {
  const number = numberOrNull(value);
  return number === null ? null : Math.round(number);
}

function numberOr(value: unknown, fallback: number): number {
  return numberOrNull(value) ?? fallback;
}

function integerOr(value: unknown, fallback: number): number {
  return integerOrNull(value) ?? fallback;
}

function megabytes(value: unknown): number | null {
  const bytes = (numberOrNull(value) ?? NaN) * MB;
  return Number.isFinite(bytes) ? Math.round(bytes) : null;
}
