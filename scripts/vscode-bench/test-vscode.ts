// `npm run test:vscode`: runs test/vscode/*.test.ts inside the real extension host of the VS Code server
// shipped in code-server (started with the smoke-test driver), with the project root as development
// extension, on a trusted temp copy of the example workspace. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import {
  bench, ensureBench, examplePluginDirs, freePort, makeTempDir, makeWorkspace, projectRoot,
  runMarker, startServer, survivingProcesses, testResultsDir, waitForHttp,
} from './bench';
import { runInWorkbench, workbenchUrl } from './workbench';

const outDir = path.join(projectRoot, 'out', 'test', 'vscode');
const RUN_TIMEOUT_MS = 20 * 60_000;

interface TestResult { name: string; passed: boolean; ms: number; error?: string }

function buildExtension(): void {
  const result = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: projectRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('building the extension failed');
}

/** Bundles the run() entry and each test file on its own into out/test/vscode/ (CommonJS, vscode external). */
async function bundleTests(): Promise<void> {
  fs.rmSync(outDir, { recursive: true, force: true });
  const testDir = path.join(projectRoot, 'test', 'vscode');
  const entries = fs.readdirSync(testDir).filter((f) => f === 'index.ts' || f.endsWith('.test.ts'));
  await esbuild.build({
    entryPoints: entries.map((f) => path.join(testDir, f)),
    outdir: outDir, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    external: ['vscode'], sourcemap: 'inline', logLevel: 'warning',
    // Same as esbuild.mjs: ESM dependencies bundled into CJS need import.meta.url.
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: "const importMetaUrl = require('url').pathToFileURL(__filename).href;" },
  });
}

/**
 * The development extensions: this project and a stub of the Python extension (it cannot be downloaded
 * here; the interpreter picker's tests need its API). The payload takes one extensionDevelopmentPath, and
 * a folder without a package.json is scanned for several extensions, so both are linked into one.
 */
function developmentExtensions(run: string): string {
  const folder = path.join(run, 'dev-extensions');
  fs.mkdirSync(folder);
  fs.symlinkSync(projectRoot, path.join(folder, 'remote-plugin-proxy'));
  fs.symlinkSync(path.join(projectRoot, 'test', 'fixtures', 'python-extension-stub'), path.join(folder, 'python-extension-stub'));
  return folder;
}

function printResults(): TestResult[] {
  const file = path.join(outDir, 'results.json');
  if (!fs.existsSync(file)) return [];
  const results = JSON.parse(fs.readFileSync(file, 'utf8')) as TestResult[];
  for (const r of results) {
    console.log(`${r.passed ? '✔' : '✖'} ${r.name} (${r.ms} ms)`);
    if (r.error) console.log(r.error.split('\n').map((line) => `    ${line}`).join('\n'));
  }
  return results;
}

async function main(): Promise<number> {
  const started = Date.now();
  buildExtension();
  await bundleTests();
  if (process.argv.includes('--bundle-only')) return 0;
  ensureBench();
  fs.mkdirSync(testResultsDir, { recursive: true });
  const run = makeTempDir('vscode-test');
  const home = path.join(run, 'home');
  const userData = path.join(run, 'user-data');
  fs.mkdirSync(home);
  const pluginDirs = examplePluginDirs(path.join(projectRoot, 'test', 'fixtures', 'manifests-vscode'));
  const workspace = makeWorkspace({ 'remotePluginProxy.pluginDirs': pluginDirs });
  const serverLog = path.join(testResultsDir, 'vscode-server.log');
  const hostLog = path.join(testResultsDir, 'vscode-ext-host.log');
  for (const log of [serverLog, hostLog]) fs.rmSync(log, { force: true });

  const marker = runMarker();
  const port = await freePort();
  // HOME is a temp folder so the tests never see the user's ~/.cjm/plugins.
  const env = { ...process.env, HOME: home, [marker.name]: marker.value };
  const server = startServer(bench.node24, [bench.serverMain, '--host', '127.0.0.1', '--port', String(port),
    '--without-connection-token', '--accept-server-license-terms', '--enable-smoke-test-driver',
    '--disable-telemetry', '--disable-workspace-trust', '--server-data-dir', path.join(run, 'server-data'),
    '--user-data-dir', userData, '--extensions-dir', path.join(run, 'extensions')], env, serverLog);
  let code: number | 'timeout';
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, server, serverLog);
    code = await runInWorkbench({
      url: workbenchUrl(port, workspace, path.join(outDir, 'index.js'), { extensionPaths: [developmentExtensions(run)] }),
      hostLog,
      timeoutMs: RUN_TIMEOUT_MS,
      screenshot: path.join(testResultsDir, 'vscode-ext-host.png'),
    });
  } finally {
    await server.stop();
  }
  const results = printResults();
  const orphans = await survivingProcesses(marker);
  const failed = results.filter((r) => !r.passed).length;
  console.log(`extension-host tests: ${results.length - failed} passed, ${failed} failed, ` +
    `exit code ${code}, ${((Date.now() - started) / 1000).toFixed(1)} s (screenshot, logs: ${testResultsDir})`);
  if (orphans.length > 0) console.log(`processes left running after the server stopped:\n  ${orphans.join('\n  ')}`);
  if (code !== 0 || results.length === 0) {
    const logs = path.join(testResultsDir, 'vscode-ext-host-logs');
    fs.cpSync(path.join(userData, 'logs'), logs, { recursive: true, force: true });
    console.log(`extension host output: ${hostLog}; VS Code logs (exthost*/ holds the extension's): ${logs}`);
  }
  fs.rmSync(run, { recursive: true, force: true });
  fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
  return code === 0 && results.length > 0 && failed === 0 && orphans.length === 0 ? 0 : 1;
}

process.exitCode = await main();
