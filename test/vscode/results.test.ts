// Runs kept in the history, inside the real extension host: a run is recorded in the extension's global
// storage (never the workspace); a 100,000-item stream reaches the panel and the history whole and
// reopens from it whole; two runs of one plugin on one file open as a comparison with VS Code's diff.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunRecord } from '../../src/core/runHistory';
import type { RunSummary } from '../../src/extension/resultsView';
import type { ExtensionHostTests } from './index';
import { extensionApi, waitFor, workspaceFile } from './extensionApi';

/** What a test reads of a results panel (ResultsPanel), without importing the class. */
interface PanelProgress { renderedCount: number; finished: boolean; title: string }

const resultsFixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'manifests-results');

async function withResultsFixtures(): Promise<void> {
  const api = await extensionApi();
  if (api.registry.get('rpp-series')) return;
  await api.registry.updateOptions({ pluginDirs: [...api.registry.pluginDirs, resultsFixtures] });
  await waitFor('the results fixtures to load', () => api.registry.get('rpp-series'));
}

async function newestRun(): Promise<RunRecord> {
  const [record] = await (await extensionApi()).history.list();
  assert.ok(record, 'the history has a run');
  return record;
}

const runNode = (record: RunRecord) => ({ kind: 'run' as const, record });

/**
 * The webview of a results panel as the extension built it. ResultsPanel and ResultsWebview keep it
 * private; the test reads the real object the panel shows, not a copy of its template.
 */
function servedWebview(view: unknown): vscode.Webview {
  const webview = (view as { webview?: { panel?: vscode.WebviewPanel } } | undefined)?.webview?.panel?.webview;
  assert.ok(webview, 'the latest results view has a webview panel');
  return webview;
}

/** The directives of the Content-Security-Policy meta tag of `html`, each with its sources. */
function cspOf(html: string): Map<string, string[]> {
  const metas = [...html.matchAll(/<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"\s*>/gi)];
  assert.equal(metas.length, 1, 'one CSP meta tag');
  assert.ok(html.indexOf(metas[0][0]) < html.search(/<script\b|<link\b/i), 'the CSP comes before any script or stylesheet');
  const directives = metas[0][1].split(';').map((part) => part.trim().split(/\s+/)).filter((words) => words[0]);
  return new Map(directives.map(([name, ...sources]) => [name, sources]));
}


export const tests: ExtensionHostTests = {
  'a run is recorded in the global storage, not in the workspace': async () => {
    const api = await extensionApi();
    const file = workspaceFile('history/lines.txt', 'one\ntwo\n');
    try {
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.streamOnFile', file, [file], { plugin: 'vs-echo' });
      const record = await waitFor('the run to be recorded as done', async () => {
        const newest = await newestRun();
        return newest.status === 'done' && newest.targets[0] === file.fsPath ? newest : undefined;
      });
      assert.equal(record.plugin, 'vs-echo');
      assert.equal(record.items, summary.items);
      assert.deepEqual((await api.history.readItems(record)).files[0], ['one', 'two', { start: 0, end: 1.5, text: '<b>not html</b>' }]);
      const workspace = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
      assert.ok(!api.history.dir.startsWith(workspace), `the history (${api.history.dir}) is outside the workspace`);
      assert.match(api.history.dir, /globalStorage/);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  },

  'a 100,000-item stream reaches the panel and the history whole, and reopens from the history whole': async () => {
    await withResultsFixtures();
    const api = await extensionApi();
    const file = workspaceFile('history/series.txt', JSON.stringify({ count: 100_000 }));
    try {
      const started = performance.now();
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.streamOnFile', file, [file], { plugin: 'rpp-series' });
      const streamed = performance.now() - started;
      assert.equal(summary.items, 100_000);
      const panel = api.runs.latestView as unknown as PanelProgress;
      await waitFor('the panel to render 100,000 items', () => panel.renderedCount === 100_000, 120_000);
      const rendered = performance.now() - started;
      const record = await newestRun();
      assert.equal(record.items, 100_000);
      assert.equal(record.status, 'done');
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const reopening = performance.now();
      const reopened = await vscode.commands.executeCommand<PanelProgress>('remotePluginProxy.openRun', runNode(record));
      await waitFor('the reopened panel to render 100,000 items', () => reopened.renderedCount === 100_000, 120_000);
      assert.match(reopened.title, /^rpp-series: series\.txt · /);
      console.log(`[results] 100,000 items: streamed in ${Math.round(streamed)} ms, on screen after ${Math.round(rendered)} ms; reopened on screen in ${Math.round(performance.now() - reopening)} ms`);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  },

  'the panel serves HTML with a strict CSP: a fresh nonce on every script, nothing inline, resources only from the bundle and the input folder': async () => {
    const api = await extensionApi();
    const file = workspaceFile('history/csp.txt', 'one\n');
    try {
      const served: { html: string; roots: string[] }[] = [];
      for (let i = 0; i < 2; i++) {
        await vscode.commands.executeCommand('remotePluginProxy.streamOnFile', file, [file], { plugin: 'vs-echo' });
        const webview = servedWebview(api.runs.latestView);
        served.push({ html: webview.html, roots: (webview.options.localResourceRoots ?? []).map((uri) => uri.fsPath) });
      }
      const nonces = served.map(({ html }) => {
        const policy = cspOf(html);
        assert.deepEqual(policy.get('default-src'), ["'none'"], `default-src of ${html}`);
        const scriptSources = policy.get('script-src') ?? [];
        assert.equal(scriptSources.length, 1, `script-src allows only a nonce: ${scriptSources.join(' ')}`);
        const nonce = /^'nonce-([A-Za-z0-9+/=]+)'$/.exec(scriptSources[0])?.[1];
        assert.ok(nonce && Buffer.from(nonce, 'base64').length >= 16, `a nonce of at least 16 random bytes: ${scriptSources[0]}`);
        for (const [directive, sources] of policy) {
          assert.ok(!sources.some((source) => /unsafe-|^\*$|^https?:$|^data:$/.test(source)), `${directive} allows ${sources.join(' ')}`);
        }
        const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
        assert.ok(scripts.length > 0, 'the panel loads its script');
        for (const [tag, attributes, body] of scripts) {
          assert.ok(attributes.includes(`nonce="${nonce}"`), `${tag} carries the policy's nonce`);
          assert.equal(body.trim(), '', `${tag} has no inline code`);
        }
        assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no inline event handlers');
        assert.doesNotMatch(html, /<style\b|\sstyle\s*=/i, 'no inline styles');
        return nonce;
      });
      assert.notEqual(nonces[0], nonces[1], 'each panel gets a nonce of its own');
      const bundle = path.join(vscode.extensions.getExtension('remote-plugin-proxy.remote-plugin-proxy')!.extensionPath, 'dist', 'webview');
      for (const { roots } of served) assert.deepEqual(roots.sort(), [bundle, path.dirname(file.fsPath)].sort(), 'local resources: the bundle and the input file\'s folder only');
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  },

  'two runs of one plugin on one file open side by side, with their JSON in the diff editor': async () => {
    await withResultsFixtures();
    const file = workspaceFile('history/pair.txt', 'x\n');
    const sidecar = `${file.fsPath}.items.json`;
    try {
      fs.writeFileSync(sidecar, JSON.stringify([{ name: 'a', score: 1 }]));
      await vscode.commands.executeCommand('remotePluginProxy.streamOnFile', file, [file], { plugin: 'rpp-shapes' });
      const before = await newestRun();
      fs.writeFileSync(sidecar, JSON.stringify([{ name: 'a', score: 2 }]));
      await vscode.commands.executeCommand('remotePluginProxy.streamOnFile', file, [file], { plugin: 'rpp-shapes' });
      const after = await newestRun();
      assert.notEqual(before.id, after.id);
      await vscode.commands.executeCommand('remotePluginProxy.compareRuns', runNode(after), [runNode(after), runNode(before)]);
      const diff = await waitFor('a diff editor of the two runs', () => vscode.window.tabGroups.all.flatMap((group) => group.tabs)
        .map((tab) => tab.input).find((input): input is vscode.TabInputTextDiff => input instanceof vscode.TabInputTextDiff && input.original.scheme === 'rpp-run'));
      assert.ok(diff.original.path.startsWith(`/${before.id}/`), 'the older run on the left');
      const left = JSON.parse((await vscode.workspace.openTextDocument(diff.original)).getText());
      const right = JSON.parse((await vscode.workspace.openTextDocument(diff.modified)).getText());
      assert.deepEqual([left.files[0].items[0].score, right.files[0].items[0].score], [1, 2]);
      const webviews = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => tab.input instanceof vscode.TabInputWebview);
      assert.ok(webviews.some((tab) => /^Compare rpp-shapes: pair\.txt/.test(tab.label)), `webview tabs: ${webviews.map((tab) => tab.label).join(', ')}`);
    } finally {
      fs.rmSync(sidecar, { force: true });
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  },
};
