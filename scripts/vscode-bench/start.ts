// `npm start`: builds the extension and opens a real VS Code with it, on examples/workspace, with the
// example plugins configured.
//  - Default (no desktop VS Code needed): starts the VS Code server inside code-server (from the bench,
//    installed on first use) with the project root as a development extension, prints the URL to open,
//    and stays in the foreground until Ctrl-C, which stops the server and every worker.
//  - RPP_DESKTOP=1 npm start (or `npm start -- --desktop`), with `code` on PATH: runs
//    `code --extensionDevelopmentPath=<root> examples/workspace` instead.
// State (settings, extensions, logs) lives in .vscode-bench/start/ and is kept between runs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bench, benchDir, examplePluginDirs, freePort, projectRoot, startServer, waitForHttp, writeSettings } from './bench';

const workspace = path.join(projectRoot, 'examples', 'workspace');

function build(): void {
  const result = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: projectRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('building the extension failed');
}

function wantsDesktop(): boolean {
  return process.env.RPP_DESKTOP === '1' || process.argv.includes('--desktop');
}

function openInDesktop(): number {
  const result = spawnSync('code', [`--extensionDevelopmentPath=${projectRoot}`, workspace], { stdio: 'inherit' });
  if (result.error) throw new Error(`could not run \`code\` (${result.error.message}); unset RPP_DESKTOP to use code-server`);
  return result.status ?? 1;
}

/** The bench is there: `npm start` installs it first (scripts/ensure-setup.mjs --bench). */
async function serveInBrowser(): Promise<number> {
  const state = path.join(benchDir, 'start');
  const userData = path.join(state, 'user-data');
  // Machine settings of the remote server apply to every window, trusted or not.
  writeSettings(path.join(userData, 'Machine', 'settings.json'), { 'remotePluginProxy.pluginDirs': examplePluginDirs() });
  const port = process.env.PORT ? Number(process.env.PORT) : await freePort();
  const log = path.join(state, 'server.log');
  const server = startServer(bench.node24, [bench.serverMain, '--host', '127.0.0.1', '--port', String(port),
    '--without-connection-token', '--accept-server-license-terms', '--enable-smoke-test-driver',
    '--disable-telemetry', '--server-data-dir', path.join(state, 'server-data'), '--user-data-dir', userData,
    '--extensions-dir', path.join(state, 'extensions')], process.env, log);
  await waitForHttp(`http://127.0.0.1:${port}/`, server, log);
  const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${projectRoot}`]]);
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`;
  console.log(`\nVS Code with Remote Plugin Proxy is running. Open this URL in a browser on this machine:\n\n  ${url}\n`);
  console.log(`(trust the folder when asked; server log: ${log}; press Ctrl-C to stop)`);
  // In the foreground until the server ends or Ctrl-C (bench.ts stops the server's process group then).
  const code = await new Promise<number>((resolve) => server.process.once('exit', (c) => resolve(c ?? 1)));
  await server.stop();
  return code;
}

/**
 * `npm start` runs this under npm and sh. Ctrl-C reaches all three, but a SIGTERM sent to npm alone ends
 * npm and sh and not this process: notice that the parent is gone and stop as for Ctrl-C.
 */
function stopWhenParentEnds(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
  }, 500).unref();
}

async function main(): Promise<number> {
  if (!fs.existsSync(workspace)) throw new Error(`${workspace} is missing`);
  stopWhenParentEnds();
  build();
  return wantsDesktop() ? openInDesktop() : serveInBrowser();
}

process.exitCode = await main();
