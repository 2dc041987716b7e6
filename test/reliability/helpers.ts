// Shared parts of the reliability suite: plugin folders with a marker, and what /proc says about
// processes, sockets and file descriptors. Linux only (the suite reads /proc).
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PluginRegistry, type RegistryOptions } from '../../src/core/registry';
import { fixturePlugins, python } from '../helpers/python';

/** The environment variable that marks every process of one test: workers and whatever plugins start. */
export const MARK_VAR = 'RPP_RELIABILITY_MARK';

export interface PluginSpec {
  name: string;
  module?: string; // default reliability_plugin
  class?: string; // default ReliabilityPlugin
  env?: Record<string, string>;
  fields?: Record<string, unknown>; // extra manifest fields (startup_timeout_s, ...)
}

export interface PluginFolder {
  dir: string;
  /** The marker in the environment of every process started for these plugins. */
  mark: string;
  remove(): Promise<void>;
}

/** Writes one manifest per plugin into a fresh folder; their workers carry a unique marker. */
export async function makePluginFolder(specs: PluginSpec[]): Promise<PluginFolder> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-reliability-'));
  const mark = randomBytes(8).toString('hex');
  for (const spec of specs) {
    const manifest = {
      name: spec.name,
      version: '1.0.0',
      python_path: python,
      module: spec.module ?? 'reliability_plugin',
      class: spec.class ?? 'ReliabilityPlugin',
      env_vars: { PYTHONPATH: fixturePlugins, [MARK_VAR]: mark, ...spec.env },
      ...spec.fields,
    };
    await writeFile(path.join(dir, `${spec.name}.json`), JSON.stringify(manifest));
  }
  return { dir, mark, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function openRegistry(folder: PluginFolder, options: Partial<RegistryOptions> = {}): Promise<PluginRegistry> {
  // storageDir: the result cache and measured use of this folder's plugins, not the user's.
  return PluginRegistry.create({ pluginDirs: [folder.dir], includeDefaultDir: false, watch: false, storageDir: path.join(folder.dir, 'storage'), ...options });
}

export interface MarkedProcess {
  pid: number;
  cmdline: string;
}

/**
 * Every live process whose environment carries `mark`: the workers and their children, however
 * they were re-parented. A zombie has an empty environ and is not counted (it holds no memory).
 */
export function processesWithMark(mark: string): MarkedProcess[] {
  const needle = `${MARK_VAR}=${mark}`;
  const found: MarkedProcess[] = [];
  for (const pid of allPids()) {
    const environ = readProc(pid, 'environ');
    if (environ === undefined || !environ.split('\0').includes(needle)) continue;
    found.push({ pid, cmdline: (readProc(pid, 'cmdline') ?? '').split('\0').join(' ').trim() });
  }
  return found;
}

/** Those of `pids` that still run (a zombie does not): a cheap check of known processes. */
export function stillRunning(pids: number[]): number[] {
  return pids.filter((pid) => {
    const stat = readProc(pid, 'stat');
    return stat !== undefined && !/\) [ZX] /.test(stat);
  });
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** A /proc/<pid>/<file> as text, or undefined when the process is gone or not ours. */
export function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return undefined;
  }
}

/** The worker's secret, read the way only the same user can: from its initial environment. */
export function secretOf(pid: number): string {
  const entry = (readProc(pid, 'environ') ?? '').split('\0').find((e) => e.startsWith('RPP_WORKER_SECRET='));
  if (!entry) throw new Error(`no RPP_WORKER_SECRET in /proc/${pid}/environ`);
  return entry.slice('RPP_WORKER_SECRET='.length);
}

export interface ListeningSocket {
  file: 'tcp' | 'tcp6';
  address: string; // dotted IPv4, or the raw hex for tcp6
  port: number;
}

/** The TCP sockets a process listens on, from its fd links and /proc/net/tcp{,6}. */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = new Set<string>();
  for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
    const link = safeReadlink(`/proc/${pid}/fd/${fd}`);
    const match = link && /^socket:\[(\d+)\]$/.exec(link);
    if (match) inodes.add(match[1]);
  }
  const found: ListeningSocket[] = [];
  for (const file of ['tcp', 'tcp6'] as const) {
    const rows = (readProc(pid, `net/${file}`) ?? '').trim().split('\n').slice(1);
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      const [hexAddress, hexPort] = cols[1].split(':');
      const listening = cols[3] === '0A';
      if (!listening || !inodes.has(cols[9])) continue;
      found.push({ file, address: file === 'tcp' ? ipv4(hexAddress) : hexAddress, port: parseInt(hexPort, 16) });
    }
  }
  return found;
}

/** /proc/net/tcp writes IPv4 addresses as a little-endian hex word. */
function ipv4(hex: string): string {
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
}

/** The loopback port the worker of `pid` listens on. */
export function workerPort(pid: number): number {
  const sockets = listeningSockets(pid);
  if (sockets.length !== 1) throw new Error(`expected one listening socket for ${pid}, got ${JSON.stringify(sockets)}`);
  return sockets[0].port;
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Temp folders made for in-memory inputs (src/core/fileInput.ts). */
export function tempInputFolders(): string[] {
  return readdirSync(os.tmpdir()).filter((name) => name.startsWith('rpp-input-'));
}

/** Polls a condition that no event announces, for at most `ms`; returns whether it became true. */
export async function eventually(predicate: () => boolean, ms: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Kills whatever a failed test left behind, so one failure does not poison the next test. */
export function killMarked(mark: string): void {
  for (const { pid } of processesWithMark(mark)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Prints a figure for docs/reliability.md; figures are printed, never asserted (noisy machine). */
export function figure(label: string, value: string | number): void {
  console.log(`[figure] ${label}: ${value}`);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeReadlink(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}
