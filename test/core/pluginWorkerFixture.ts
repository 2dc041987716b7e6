// A plugin written for the PluginWorker tests: each behaviour the proxy must survive, chosen per call.
// It is written into a fresh temp folder with its manifest, so the tests need no shared fixture.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Manifest } from '../../src/core/manifest';
import type { WorkerStartOptions } from '../../src/core/workerLaunch';
import { python, workerScript } from '../helpers/python';

const PLUGIN_SOURCE = String.raw`
import os, subprocess, sys, time

if os.environ.get("SLOW_IMPORT_S"):
    print("loading a big model...", file=sys.stderr, flush=True)
    time.sleep(float(os.environ["SLOW_IMPORT_S"]))


def wait_for(path, seconds=30):
    deadline = time.time() + seconds
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.005)


class ProxyTestPlugin:
    def __init__(self):
        self.config = {}
        self.hang_cleanup = False

    def initialize(self, config=None):
        if (config or {}).get("reject"):
            raise ValueError("config rejected")
        self.config.update(config or {})

    def get_config_schema(self):
        return {"type": "object", "properties": {"level": {"type": "integer", "default": 1}}}

    def get_current_config(self):
        return dict(self.config)

    def cleanup(self):
        if self.hang_cleanup:
            time.sleep(30)

    def execute(self, *args, **kwargs):
        action = kwargs.get("action")
        if action == "raise":
            raise ValueError("bad input: %s" % kwargs.get("why"))
        if action == "crash":
            print("plugin is about to die", file=sys.stderr, flush=True)
            os._exit(7)
        if action == "wait_cancel":
            self.progress, self.progress_message = 0.25, "waiting to be cancelled"
            deadline = time.time() + 30
            while time.time() < deadline and not self.cancel_event.is_set():
                time.sleep(0.005)
            return {"saw_cancel": self.cancel_event.is_set()}
        if action == "hang":
            self.hang_cleanup = True
            child = subprocess.Popen(["sleep", "300"])
            with open(kwargs["pidfile"], "w") as f:
                f.write(str(child.pid))
            time.sleep(300)
        if action == "read":
            with open(args[0], "rb") as f:
                return {"path": args[0], "text": f.read().decode()}
        return {"args": list(args), "kwargs": kwargs, "pid": os.getpid()}

    def execute_stream(self, *args, **kwargs):
        pad = "x" * int(kwargs.get("pad", 0))
        for i in range(int(kwargs.get("count", 3))):
            if kwargs.get("crash_at") == i:
                print("stream dies at %d" % i, file=sys.stderr, flush=True)
                os._exit(7)  # at once: test/helpers/streamLedger.ts says what may be lost
            if kwargs.get("raise_at") == i:
                raise RuntimeError("stream broke at %d" % i)
            if kwargs.get("ledger"):
                with open(kwargs["ledger"], "a") as f:
                    f.write("%d\n" % i)
            yield {"i": i, "pad": pad} if pad else {"i": i}
            if kwargs.get("gate") and i == 0:
                wait_for(kwargs["gate"])
            if kwargs.get("slow"):
                time.sleep(0.01)
`;

type FixtureOverrides = Partial<Omit<WorkerStartOptions, 'manifest'>> & { manifest?: Partial<Manifest> };

export interface FixturePlugin {
  dir: string;
  options(overrides?: FixtureOverrides): WorkerStartOptions;
  remove(): void;
}

export function makeFixturePlugin(): FixturePlugin {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpp-worker-test-'));
  writeFileSync(path.join(dir, 'proxy_test_plugin.py'), PLUGIN_SOURCE);
  const manifestPath = path.join(dir, 'proxy-test.json');
  const manifest: Manifest = {
    name: 'proxy-test',
    version: '1.0.0',
    python_path: python,
    module: 'proxy_test_plugin',
    class: 'ProxyTestPlugin',
    env_vars: {},
  };
  writeFileSync(manifestPath, JSON.stringify(manifest));
  return {
    dir,
    options: (overrides = {}) => ({
      pythonExecutable: python,
      workerScript,
      startupTimeoutMs: 20_000,
      manifestPath,
      ...overrides,
      manifest: { ...manifest, ...overrides.manifest },
    }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** True while /proc has the process (Linux). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
