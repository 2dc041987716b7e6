// Starts an example plugin the way users do: its manifest found by discovery, the real worker, the real
// core. Only the interpreter is swapped for the real one behind `python3` (a pyenv shim costs ~60 ms).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { discoverManifests } from '../../src/core/manifestDiscovery';
import type { Manifest } from '../../src/core/manifest';
import { PluginWorker } from '../../src/core/pluginWorker';
import { projectRoot, python, workerScript } from '../helpers/python';

export const examplesDir = path.join(projectRoot, 'examples');
export const workspaceDir = path.join(examplesDir, 'workspace');

export function exampleDir(plugin: string): string {
  return path.join(examplesDir, 'plugins', plugin);
}

export interface StartedExample {
  worker: PluginWorker;
  manifest: Manifest;
  /** Every stderr line of the worker: the plugin's log. */
  log: string[];
}

export async function startExample(plugin: string): Promise<StartedExample> {
  const { entries } = await discoverManifests([exampleDir(plugin)]);
  assert.equal(entries.length, 1, `one manifest in ${exampleDir(plugin)}`);
  const entry = entries[0];
  assert.ok(entry.ok, `the ${plugin} manifest loads: ${entry.ok ? '' : entry.problems.map((p) => p.message).join('; ')}`);
  const log: string[] = [];
  const worker = await PluginWorker.start({
    manifest: entry.manifest,
    manifestPath: entry.path,
    pythonExecutable: python,
    workerScript,
    startupTimeoutMs: 60_000,
    onStderrLine: (line) => log.push(line),
  });
  return { worker, manifest: entry.manifest, log };
}

export async function collect(items: AsyncIterable<unknown>): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  for await (const item of items) all.push(item as Record<string, unknown>);
  return all;
}

/** Why a test that needs Debian packages cannot run here, or undefined when the programs are there. */
export function missingProgram(program: string, packages: string): string | undefined {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `${program} is not installed (Debian packages: ${packages})`;
  }
}
