// Shared by the extension-host tests: the extension's exported API, waiting for a condition (never
// for a fixed time), and files in the test workspace.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { RemotePluginProxyApi } from '../../src/extension/extension';
import { waitFor as waitUntil } from '../helpers/waitFor';

const EXTENSION_ID = 'remote-plugin-proxy.remote-plugin-proxy';

export async function extensionApi(): Promise<RemotePluginProxyApi> {
  const extension = vscode.extensions.getExtension<RemotePluginProxyApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not loaded`);
  const api = await extension.activate();
  await api.registry.loaded;
  return api;
}

/** Polls `check` until it returns a truthy value (test/helpers/waitFor.ts); fails with `what` and the last value seen. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 45_000): Promise<NonNullable<T>> {
  return (await waitUntil(check, { what, timeoutMs, everyMs: 50 })) as NonNullable<T>;
}

/** Writes a file into the test workspace and returns its URI. */
export function workspaceFile(name: string, content: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the tests need a workspace folder');
  const file = path.join(folder.uri.fsPath, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return vscode.Uri.file(file);
}

/** The tree's description of a plugin ("1.0.0 · ready · 14 MB · 0% CPU"), as the user reads it. */
export async function treeDescription(api: RemotePluginProxyApi, name: string): Promise<string> {
  const nodes = await api.tree.getChildren();
  const node = nodes.find((candidate) => candidate.kind === 'plugin' && candidate.name === name);
  assert.ok(node, `${name} is not in the tree`);
  return String((await api.tree.getTreeItem(node)).description ?? '');
}
