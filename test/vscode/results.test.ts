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
