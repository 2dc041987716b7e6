// What the tests need to run a plugin on cjm-plugin-system's worker (test/fixtures/cjm_plugin_system):
// an interpreter that has FastAPI and uvicorn (Debian's python3-fastapi and python3-uvicorn), the
// fixture package on PYTHONPATH, and the worker generation to reproduce ('early' or 'current').
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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

/**
 * A plugin written for cjm-plugin-system: it subclasses its PluginInterface, stops through its own
 * cancel()/check_cancel(), reports progress and usage the cjm way, and knows nothing of this project.
 */
const CJM_STYLE_PLUGIN = String.raw`
import os, threading, time
from cjm_plugin_system.core.interface import PluginInterface
from cjm_plugin_system.core.errors import PluginCancelledError


def wait_for(path, seconds=30):
    deadline = time.time() + seconds
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.005)
    return os.path.exists(path)


class CjmStylePlugin(PluginInterface):
    name = "cjm-style"
    version = "1.2.3"

    def __init__(self):
        self.config = {"model": "tiny"}
        self.outcome = None
        self.cancel_thread = None
        self.cleanup_marker = None

    def initialize(self, config=None):
        config = config or {}
        if config.get("model", "tiny") not in ("tiny", "base"):
            raise ValueError("unknown model %r: choose tiny or base" % config["model"])
        self.config.update(config)

    def get_current_config(self):
        return dict(self.config)

    def cancel(self):
        self.cancel_thread = threading.get_ident()
        super().cancel()

    def cleanup(self):
        if self.cleanup_marker:
            with open(self.cleanup_marker, "w") as f:
                f.write("cleaned")

    def execute(self, *args, **kwargs):
        action = kwargs.get("action")
        if action == "raise":
            raise KeyError(kwargs.get("why"))
        if action == "work_until_cancelled":
            self.report_progress(0.5, "halfway")
            open(kwargs["started"], "w").close()
            work_thread = threading.get_ident()
            deadline = time.time() + 30
            try:
                while time.time() < deadline:
                    self.check_cancel()
                    time.sleep(0.005)
                self.outcome = "ran to the deadline"
            except PluginCancelledError:
                self.outcome = "cancelled through cancel()" if self.cancel_thread != work_thread else "cancelled on its own thread"
                raise
            return {"cancelled": False}
        if action == "block_until":
            wait_for(kwargs["gate"])
            return {"gate": True}
        if action == "last_outcome":
            return {"outcome": self.outcome}
        if action == "usage":
            self.report_usage({"tokens": kwargs.get("tokens", 1)})
        if action == "mark_cleanup":
            self.cleanup_marker = kwargs["marker"]
        return {"args": list(args), "kwargs": kwargs, "pid": os.getpid()}

    def execute_stream(self, *args, **kwargs):
        for item in kwargs.get("items", [{"i": 0}, {"i": 1}]):
            yield item
        if kwargs.get("fail"):
            raise RuntimeError(kwargs["fail"])
`;

/** Writes cjm_style_plugin.py (class CjmStylePlugin) into `dir`. */
export function writeCjmStylePlugin(dir: string): void {
  writeFileSync(path.join(dir, 'cjm_style_plugin.py'), CJM_STYLE_PLUGIN);
}
