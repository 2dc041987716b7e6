// Runs inside the real extension host (as extensionTestsPath; see bench/activation.ts): times the activation
// of our extension and of an empty one, as VS Code performs it (load the main module, call activate(),
// wait for its promise), and appends the figures as one JSON line to $RPP_BENCH_ACTIVATION_OUT.
import fs from 'node:fs';
import * as vscode from 'vscode';

const OURS = 'remote-plugin-proxy.remote-plugin-proxy';
const EMPTY = 'remote-plugin-proxy.bench-empty-extension';

async function timeActivation(id: string): Promise<{ ms: number; exports: unknown }> {
  const extension = vscode.extensions.getExtension(id);
  if (!extension) throw new Error(`${id} is not loaded`);
  if (extension.isActive) throw new Error(`${id} was already active before the probe ran: its activation cannot be timed`);
  const started = performance.now();
  const exports: unknown = await extension.activate();
  return { ms: performance.now() - started, exports };
}

export async function run(): Promise<void> {
  const out = process.env.RPP_BENCH_ACTIVATION_OUT;
  if (!out) throw new Error('RPP_BENCH_ACTIVATION_OUT is not set');
  // The first activation in a host may pay for something the second does not: the runner alternates the order.
  const order = process.env.RPP_BENCH_ORDER === 'ours-first' ? [OURS, EMPTY] : [EMPTY, OURS];
  const times: Record<string, number> = {};
  let ownActivateMs: number | undefined;
  for (const id of order) {
    const { ms, exports } = await timeActivation(id);
    times[id] = ms;
    if (id === OURS) ownActivateMs = (exports as { activationMs?: number } | undefined)?.activationMs;
  }
  fs.appendFileSync(out, JSON.stringify({ order, ours: times[OURS], empty: times[EMPTY], ownActivateMs }) + '\n');
}
