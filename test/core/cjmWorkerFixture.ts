// What the tests need to run a plugin on cjm-plugin-system's worker (test/fixtures/cjm_plugin_system):
// an interpreter that has FastAPI and uvicorn (Debian's python3-fastapi and python3-uvicorn), the
// fixture package on PYTHONPATH, and the worker generation to reproduce ('early' or 'current').
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { WorkerStartOptions } from '../../src/core/workerLaunch';
import { projectRoot, python } from '../helpers/python';
import type { FixturePlugin } from './pluginWorkerFixture';

export type CjmGeneration = 'early' | 'current';

function importsFastApi(interpreter: string): boolean {
  try {
    execFileSync(interpreter, ['-c', 'import fastapi, uvicorn'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

function findCjmPython(): string {
  const candidates = [process.env.RPP_CJM_PYTHON, python, '/usr/bin/python3'].filter((c): c is string => Boolean(c));
  const found = candidates.find(importsFastApi);
  if (!found) {
    throw new Error(`No interpreter with fastapi and uvicorn among ${candidates.join(', ')}: install python3-fastapi and python3-uvicorn (apt-get), or set RPP_CJM_PYTHON.`);
  }
  return found;
}

/** The interpreter the cjm worker runs on. */
export const cjmPython = findCjmPython();

/** PYTHONPATH for a plugin folder plus the fixture package. */
export function cjmPythonPath(pluginDir: string): string {
  return [path.join(projectRoot, 'test', 'fixtures'), pluginDir].join(path.delimiter);
}

/** Start options for the fixture plugin on a cjm worker of the given generation. */
export function cjmOptions(
  fixture: FixturePlugin,
  generation: CjmGeneration,
  manifest: Partial<WorkerStartOptions['manifest']> = {},
): WorkerStartOptions {
  return fixture.options({
    pythonExecutable: cjmPython,
    manifest: {
      worker: 'cjm',
      python_path: cjmPython,
      ...manifest,
      env_vars: { PYTHONPATH: cjmPythonPath(fixture.dir), CJM_WORKER_GENERATION: generation, ...manifest.env_vars },
    },
  });
}
