// The situations in which a worker is hard to stop, as the supervision tests create them: each is a
// plugin (manifest), a call that gets it there, and the stderr line that says it is there. Shared by
// the test itself (dispose in-process, `rpp` for Ctrl-C) and by supervisionHost.ts (the SIGKILLed host).
import path from 'node:path';
import type { PluginRegistry } from '../../src/core/registry';
import { fixturePlugins, projectRoot, python } from '../helpers/python';
import type { PluginSpec } from './helpers';

export interface Situation {
  /** Also the plugin's name. */
  name: string;
  label: string;
  /** The plugin's manifest (a function: the cjm one looks for an interpreter with FastAPI, which takes a while). */
  plugin: () => Promise<PluginSpec>;
  /** The keyword arguments of the call that gets the worker there. */
  kwargs: Record<string, unknown>;
  /** The line on the worker's stderr that says it is there. */
  marker: string;
  /** The call ends by itself (a crash): `rpp` exits without Ctrl-C. */
  endsByItself?: boolean;
}

const WRAPPER = path.join(projectRoot, 'test', 'fixtures', 'wrappers', 'python-no-exec.sh');
/** test/fixtures/cjm_plugin_system (the seed's worker, rebuilt on FastAPI/uvicorn) and the plugins. */
const CJM_PYTHONPATH = [path.join(projectRoot, 'test', 'fixtures'), fixturePlugins].join(path.delimiter);
const PLUGIN = { module: 'supervision_plugin', class: 'SupervisionPlugin' };

/** The interpreter with FastAPI and uvicorn (test/core/cjmWorkerFixture.ts), looked for only when needed. */
async function cjmInterpreter(): Promise<string> {
  return (await import('../core/cjmWorkerFixture')).cjmPython;
}

export const SITUATIONS: Situation[] = [
  {
    name: 'wrapper',
    label: 'python_path is a wrapper that does not exec, busy in a call',
    plugin: async () => ({ name: 'wrapper', ...PLUGIN, env: { RPP_REAL_PYTHON: python }, fields: { python_path: WRAPPER } }),
    kwargs: { action: 'sleep' },
    marker: 'supervision: sleeping',
  },
  {
    name: 'slowimport',
    label: 'a 60 s import in progress',
    plugin: async () => ({ name: 'slowimport', module: 'supervision_slow_import', class: 'SlowImportPlugin', fields: { startup_timeout_s: 120 } }),
    kwargs: {},
    marker: 'supervision: importing slowly',
  },
  {
    name: 'gil',
    label: 'a call holding the GIL in C (catastrophic regex)',
    plugin: async () => ({ name: 'gil', ...PLUGIN }),
    kwargs: { action: 'regex' },
    marker: 'supervision: holding the GIL',
  },
  {
    name: 'crash',
    label: 'a worker that crashed (os._exit) leaving two children',
    plugin: async () => ({ name: 'crash', ...PLUGIN }),
    kwargs: { action: 'crash_with_child' },
    marker: 'supervision: crashing with children',
    endsByItself: true,
  },
  {
    name: 'helpers',
    label: 'helpers in a new session (start_new_session, and a double-forked daemon), busy in a call',
    plugin: async () => ({ name: 'helpers', ...PLUGIN }),
    kwargs: { action: 'helpers' },
    marker: 'supervision: helpers started',
  },
  {
    name: 'cjm',
    label: 'the seed’s own worker ("worker": "cjm": one request at a time, waits for it on SIGTERM), busy in a call',
    plugin: async () => ({
      name: 'cjm',
      ...PLUGIN,
      env: { PYTHONPATH: CJM_PYTHONPATH, CJM_WORKER_GENERATION: 'early' },
      fields: { worker: 'cjm', python_path: await cjmInterpreter() },
    }),
    kwargs: { action: 'sleep' },
    marker: 'supervision: sleeping',
  },
];

/**
 * Starts the situation's call on `registry` and resolves once the worker says it is there (the call
 * itself goes on, or fails for the crash). Rejects after `withinMs` naming what it waited for.
 */
export async function reachSituation(registry: PluginRegistry, situation: Situation, withinMs = 60_000): Promise<void> {
  let subscription: { dispose(): void } | undefined;
  const there = new Promise<void>((resolve) => {
    subscription = registry.onLog((event) => {
      if (event.plugin === situation.name && event.message.startsWith(situation.marker)) resolve();
    });
  });
  void registry.execute(situation.name, { kwargs: situation.kwargs }).catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`"${situation.marker}" did not appear within ${withinMs} ms`)), withinMs);
  });
  try {
    await Promise.race([there, late]);
    if (situation.endsByItself) await untilNotRunning(registry, situation.name, withinMs);
  } finally {
    clearTimeout(timer);
    subscription?.dispose();
  }
}

/** The crash has been noticed by the host (the slot is no longer running a worker). */
async function untilNotRunning(registry: PluginRegistry, name: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (registry.get(name)?.state !== 'crashed') {
    if (Date.now() > deadline) throw new Error(`${name} was not reported crashed within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
