// The Plugins view in a real extension host: the fixture plugins with their state, a broken
// manifest, live stats of a running worker, manifests that appear on disk, the status item.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionHostTests } from './index';
import { extensionApi, treeDescription, waitFor } from './extensionApi';

export const tests: ExtensionHostTests = {
  'activation starts no worker and logs how long it took': async () => {
    const api = await extensionApi();
    assert.ok(Number.isFinite(api.activationMs) && api.activationMs >= 0, `activationMs is ${api.activationMs}`);
    // (Tests that ran before may have left a plugin failed or crashed: neither has a worker.)
    const running = api.registry.list().filter((plugin) => plugin.state === 'starting' || plugin.state === 'ready' || plugin.state === 'busy');
    assert.deepEqual(running.map((plugin) => plugin.name), []);
  },

  'the tree lists the fixture plugins as stopped and the broken manifest as broken': async () => {
    const api = await extensionApi();
    const names = (await api.tree.getChildren()).map((node) => (node.kind === 'plugin' ? node.name : ''));
    for (const name of ['vs-echo', 'vs-gated', 'vs-crash', 'vs-broken']) assert.ok(names.includes(name), `${name} missing from ${names.join(', ')}`);
    assert.match(await treeDescription(api, 'vs-echo'), /^1\.0\.0 · stopped$/);
    const broken = await treeDescription(api, 'vs-broken');
    assert.match(broken, /^broken · .*"class" is missing/);
    const node = (await api.tree.getChildren()).find((n) => n.kind === 'plugin' && n.name === 'vs-broken');
    assert.ok(node);
    const item = await api.tree.getTreeItem(node);
    assert.equal(item.contextValue, 'plugin.broken');
    assert.equal(item.command?.command, 'remotePluginProxy.openManifest', 'clicking a broken plugin opens its manifest');
    assert.equal(api.status.state.health, 'warning', 'a broken manifest makes the status item warn');
  },

  'Start shows ready, and the visible view shows live stats as child rows': async () => {
    const api = await extensionApi();
    await vscode.commands.executeCommand('remotePluginProxy.plugins.focus');
    try {
      await vscode.commands.executeCommand('remotePluginProxy.start', 'vs-echo');
      assert.equal(api.registry.get('vs-echo')?.state, 'ready');
      const description = await waitFor('memory and CPU in the description', async () => {
        const text = await treeDescription(api, 'vs-echo');
        return /MB · \d+% CPU/.test(text) ? text : undefined;
      });
      assert.match(description, /^1\.0\.0 · ready · \d+ MB · \d+% CPU$/);
      const node = (await api.tree.getChildren()).find((n) => n.kind === 'plugin' && n.name === 'vs-echo');
      assert.ok(node);
      const item = await api.tree.getTreeItem(node);
      assert.equal(item.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
      const rows = await Promise.all((await api.tree.getChildren(node)).map((child) => api.tree.getTreeItem(child)));
      const labels = rows.map((row) => String(row.label));
      assert.deepEqual(labels, ['Memory', 'CPU', 'Uptime', 'Calls', 'Errors', 'PID']);
      const pid = rows.find((row) => row.label === 'PID')?.description;
      assert.equal(pid, String(api.registry.get('vs-echo')?.pid));
    } finally {
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-echo');
    }
    assert.equal(api.registry.get('vs-echo')?.state, 'stopped');
    assert.equal(await treeDescription(api, 'vs-echo'), '1.0.0 · stopped');
  },

  'a manifest written into the workspace appears in the tree without a reload, and goes when deleted': async () => {
    const api = await extensionApi();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    const fixture = JSON.parse(fs.readFileSync(api.registry.get('vs-echo')!.manifestPath, 'utf8')) as Record<string, unknown>;
    const dir = path.join(folder.uri.fsPath, '.cjm', 'plugins');
    const file = path.join(dir, 'vs-added.json');
    fs.mkdirSync(dir, { recursive: true });
    try {
      const moduleDir = path.dirname(api.registry.get('vs-echo')!.manifestPath);
      fs.writeFileSync(file, JSON.stringify({ ...fixture, name: 'vs-added', env_vars: { PYTHONPATH: moduleDir } }));
      await waitFor('vs-added in the tree', async () => (await api.tree.getChildren()).some((n) => n.kind === 'plugin' && n.name === 'vs-added'));
    } finally {
      fs.rmSync(file, { force: true });
    }
    await waitFor('vs-added gone from the tree', async () => !(await api.tree.getChildren()).some((n) => n.kind === 'plugin' && n.name === 'vs-added'));
  },

  'Create Plugin writes a skeleton that appears in the tree and streams two items as it is': async () => {
    const api = await extensionApi();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    const pluginFolder = path.join(folder.uri.fsPath, '.cjm', 'plugins');
    const manifest = await vscode.commands.executeCommand<string | undefined>('remotePluginProxy.createPlugin', { name: 'vs-skeleton', pythonPath: 'python3', folder: pluginFolder });
    assert.ok(manifest && fs.existsSync(manifest), 'the manifest was written');
    try {
      await waitFor('vs-skeleton in the tree', () => api.registry.get('vs-skeleton')?.state === 'stopped');
      const input = path.join(folder.uri.fsPath, 'skeleton-input.txt');
      fs.writeFileSync(input, 'some words here\n');
      const items: unknown[] = [];
      for await (const item of api.registry.executeStream('vs-skeleton', { file: { path: input } })) items.push(item);
      assert.equal(items.length, 2, JSON.stringify(items));
    } finally {
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-skeleton');
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      for (const file of fs.readdirSync(pluginFolder)) if (file.startsWith('vs-skeleton') || file.startsWith('vs_skeleton')) fs.rmSync(path.join(pluginFolder, file), { force: true });
    }
  },
};
