// Where the bundled universal worker is: the same code runs from src/core (tests, tsx) and from the
// esbuild bundle in dist/ (where esbuild defines import.meta.url as the bundle's own file URL), so
// walk up from this file until worker/rpp_worker.py is found instead of assuming a fixed depth.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKER_RELATIVE = path.join('worker', 'rpp_worker.py');

export function defaultWorkerScript(startUrl: string = import.meta.url): string {
  const start = path.dirname(fileURLToPath(startUrl));
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, WORKER_RELATIVE);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`${WORKER_RELATIVE} was not found in any folder above ${start}; the extension's install is incomplete, reinstall it.`);
}
