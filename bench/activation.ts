// The extension's activation in the real VS Code (the server inside code-server, from the VS Code bench):
// a fresh extension host per run has our production bundle and an empty extension, and
// bench/vscode/activationProbe.ts times loading and activating each. The empty one is what VS Code itself
// spends per extension. The extension's own time is loading its bundle plus its activate() (target: 20 ms).
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import {
  bench as vscodeBench, ensureBench, examplePluginDirs, freePort, makeTempDir, startServer, waitForHttp, writeSettings,
} from '../scripts/vscode-bench/bench';
import { runInWorkbench, workbenchUrl } from '../scripts/vscode-bench/workbench';
import { type Section, median } from './figures';
import { packagedCopy } from './packaged';

const here = import.meta.dirname;
const TOTAL = 'VS Code activation: load + activate (median ms)';
const OWN = "VS Code activation: the extension's own time (median ms)";
const RUN_TIMEOUT_MS = 120_000;
const OURS_ID = 'remote-plugin-proxy.remote-plugin-proxy';

interface Timing { loadMs: number; activateMs: number; reportedMs?: number }
interface ProbeLine { order: string[]; ours: Timing; empty: Timing; vendorLoaded: string[] }

async function bundleProbe(folder: string): Promise<string> {
  const outfile = path.join(folder, 'probe', 'index.js');
  await esbuild.build({
    entryPoints: [path.join(here, 'vscode', 'activationProbe.ts')],
    outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode'], logLevel: 'warning',
  });
  return outfile;
}

/**
 * The workbench takes one development extension (ours), so the empty one is installed into the extensions
 * folder as `code-server --install-extension` would: its folder and an entry in extensions.json.
 */
function installEmptyExtension(extensionsDir: string): string {
  const source = path.join(here, 'vscode', 'empty-extension');
  const { publisher, name, version } = JSON.parse(fs.readFileSync(path.join(source, 'package.json'), 'utf8')) as Record<string, string>;
  const relativeLocation = `${publisher}.${name}-${version}`;
  const location = path.join(extensionsDir, relativeLocation);
  fs.cpSync(source, location, { recursive: true });
  const entry = {
    identifier: { id: `${publisher}.${name}` },
    version,
    location: { $mid: 1, path: location, scheme: 'file' },
    relativeLocation,
    metadata: { installedTimestamp: Date.now(), source: 'vsix' },
  };
  fs.writeFileSync(path.join(extensionsDir, 'extensions.json'), JSON.stringify([entry]));
  return extensionsDir;
}

/**
 * The extension also activates on onStartupFinished, which would run it before the probe could time it:
 * the measured copy leaves that event out (its activation code is the same; the probe activates it).
 */
function withoutStartupActivation(extension: string): void {
  const manifestPath = path.join(extension, 'package.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as { activationEvents: string[] };
  manifest.activationEvents = manifest.activationEvents.filter((event) => event !== 'onStartupFinished');
  fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
}

export const activation: Section = {
  title: 'VS Code activation',
  figures: () => [TOTAL, OWN],
  async run(bench) {
    ensureBench();
    const folder = makeTempDir('bench-activation');
    let measured = false;
    try {
      const extension = packagedCopy(path.join(folder, 'extension'));
      withoutStartupActivation(extension);
      const probe = await bundleProbe(folder);
      const workspace = path.join(folder, 'workspace'); // no .cjm/plugins: nothing activates the extension by itself
      const home = path.join(folder, 'home');
      for (const dir of [workspace, home]) fs.mkdirSync(dir);
      const userData = path.join(folder, 'user-data');
      // A user's realistic setup: a few plugin folders to read at activation.
      writeSettings(path.join(userData, 'Machine', 'settings.json'), { 'remotePluginProxy.pluginDirs': examplePluginDirs() });
      const extensionsDir = installEmptyExtension(path.join(folder, 'extensions'));
      const out = path.join(folder, 'activation.jsonl');
      const serverLog = path.join(folder, 'server.log');
      const hostLog = path.join(folder, 'ext-host.log');
      const port = await freePort();
      const server = startServer(vscodeBench.node24, [vscodeBench.serverMain, '--host', '127.0.0.1', '--port', String(port),
        '--without-connection-token', '--accept-server-license-terms', '--enable-smoke-test-driver', '--disable-telemetry',
        '--disable-workspace-trust', '--server-data-dir', path.join(folder, 'server-data'), '--user-data-dir', userData,
        '--extensions-dir', extensionsDir], { ...process.env, HOME: home, RPP_BENCH_ACTIVATION_OUT: out }, serverLog);
      try {
        await waitForHttp(`http://127.0.0.1:${port}/`, server, serverLog);
        for (let i = 0; i < (bench.quick ? 2 : 6); i++) {
          const url = workbenchUrl(port, workspace, probe, {
            extensionPaths: [extension],
            environment: { RPP_BENCH_ORDER: i % 2 === 0 ? 'empty-first' : 'ours-first' },
          });
          const code = await runInWorkbench({ url, hostLog, timeoutMs: RUN_TIMEOUT_MS });
          if (code !== 0) throw new Error(`the activation probe failed (${code}); extension host output: ${hostLog}, server log: ${serverLog}\n${tail(hostLog)}`);
        }
      } finally {
        await server.stop();
      }
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as ProbeLine);
      const total = (t: Timing) => t.loadMs + t.activateMs;
      // Our own time: loading our bundle, plus what our activate() measures from its first line to its return.
      const own = (t: Timing) => t.loadMs + (t.reportedMs ?? NaN);
      bench.record(TOTAL, median(lines.map((l) => total(l.ours))), 'ms', 'an empty extension in the same extension host', median(lines.map((l) => total(l.empty))));
      bench.record(OWN, median(lines.map((l) => own(l.ours))), 'ms', 'target', 20);
      const f = (ms: number | undefined) => (ms ?? NaN).toFixed(1);
      const each = lines.map((l) => `${l.order[0] === OURS_ID ? 'ours first' : 'empty first'}: ours load ${f(l.ours.loadMs)} + activate ${f(l.ours.activateMs)} ` +
        `(activate() itself ${f(l.ours.reportedMs)}), empty load ${f(l.empty.loadMs)} + activate ${f(l.empty.activateMs)}`);
      bench.note(`per extension host, ms: ${each.join('; ')}`);
      const vendor = [...new Set(lines.flatMap((l) => l.vendorLoaded.map((file) => path.basename(file))))];
      bench.note(`libraries of dist/vendor/ loaded by the activation: ${vendor.length > 0 ? vendor.join(', ') : 'none'}`);
      measured = true;
    } finally {
      if (measured) fs.rmSync(folder, { recursive: true, force: true }); // else kept: the error names its logs
    }
  },
};

function tail(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-30).join('\n') : '(no output)';
}
