// The real Python interpreter for tests: `python3` on PATH may be a pyenv shim that adds ~60 ms per spawn.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

function realPython(): string {
  const fromEnv = process.env.RPP_TEST_PYTHON;
  if (fromEnv) return fromEnv;
  return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
}

/** Absolute path of the interpreter the tests run workers with. */
export const python = realPython();

/** The project's root folder. */
export const projectRoot = path.resolve(import.meta.dirname, '..', '..');

/** The bundled universal worker. */
export const workerScript = path.join(projectRoot, 'worker', 'rpp_worker.py');

/** Folder of the test fixture plugins (Python modules and their manifests). */
export const fixturePlugins = path.join(projectRoot, 'test', 'fixtures', 'plugins');
