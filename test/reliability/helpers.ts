// Shared parts of the reliability suite: plugin folders with a marker, and the processes that carry it
// (read from /proc: test/helpers/proc.ts). Linux only.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PluginRegistry, type RegistryOptions } from '../../src/core/registry';
import { allPids, readProc } from '../helpers/proc';
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

export { figure } from '../helpers/figure';
