// Runs inside the real extension host (as extensionTestsPath; see bench/activation.ts) and times the
// activation of our extension and of an empty one in two steps: loading the main module (require, as the
// extension host does it) and VS Code's activation (activate() called and awaited). Appends the figures
// as one JSON line to $RPP_BENCH_ACTIVATION_OUT.
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';

const OURS = 'remote-plugin-proxy.remote-plugin-proxy';
const EMPTY = 'remote-plugin-proxy.bench-empty-extension';

interface Timing {
  loadMs: number;
  activateMs: number;
  /** What activate() says it took (our extension's API reports it). */
  reportedMs?: number;
}

/**
 * The extension host is busy for a while after it starts (built-in extensions activate, the workbench
 * asks for things): wait until its event loop is quiet, so that this work does not land in a measurement.
 */
async function settle(): Promise<void> {
  const deadline = performance.now() + 15_000;
  for (let quiet = 0; quiet < 25 && performance.now() < deadline;) {
    const t = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 10));
    quiet = performance.now() - t < 13 ? quiet + 1 : 0;
  }
}

async function timeActivation(id: string): Promise<Timing> {
  const extension = vscode.extensions.getExtension(id);
  if (!extension) throw new Error(`${id} is not loaded`);
  if (extension.isActive) throw new Error(`${id} was already active before the probe ran: its activation cannot be timed`);
  await settle();
  const main = path.join(extension.extensionPath, (extension.packageJSON as { main: string }).main);
  let t = performance.now();
  require(main); // the host's own require (it maps `vscode` by file path); activate() below finds it loaded
  const loadMs = performance.now() - t;
  t = performance.now();
  const exports = (await extension.activate()) as { activationMs?: number } | undefined;
  return { loadMs, activateMs: performance.now() - t, reportedMs: exports?.activationMs };
}

export async function run(): Promise<void> {
  const out = process.env.RPP_BENCH_ACTIVATION_OUT;
  if (!out) throw new Error('RPP_BENCH_ACTIVATION_OUT is not set');
  // The first activation in a host may pay for something the second does not: the runner alternates the order.
  const order = process.env.RPP_BENCH_ORDER === 'ours-first' ? [OURS, EMPTY] : [EMPTY, OURS];
  const times: Record<string, Timing> = {};
  for (const id of order) times[id] = await timeActivation(id);
  // The libraries that start and call workers must not load until a plugin is used.
  const vendorLoaded = Object.keys(require.cache).filter((file) => file.includes(`${path.sep}dist${path.sep}vendor${path.sep}`));
  fs.appendFileSync(out, JSON.stringify({ order, ours: times[OURS], empty: times[EMPTY], vendorLoaded }) + '\n');
}
