// Running plugins on files in a real extension host: from the palette (the active editor), as the
// explorer passes a selection, streaming into the webview (an intermediate state is asserted),
// cancelling by closing the results, a crash and a plugin error, the output channel, Configure….
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import * as vscode from 'vscode';
import type { RunSummary } from '../../src/extension/resultsView';
import type { ExtensionHostTests } from './index';
import { extensionApi, treeDescription, waitFor, workspaceFile } from './extensionApi';

/** The webview's report of what it has on screen (ResultsPanel), without importing the class. */
interface PanelProgress { renderedCount: number; finished: boolean; title: string }

async function latestPanel(): Promise<PanelProgress> {
  const view = (await extensionApi()).runs.latestView as Partial<PanelProgress> | undefined;
  assert.ok(view && typeof view.renderedCount === 'number', 'the latest run has no results panel');
  return view as PanelProgress;
}

async function closeEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

export const tests: ExtensionHostTests = {
  'Run on Current File runs the plugin on the active editor and the webview shows the result': async () => {
    const file = workspaceFile('notes/hello.txt', 'one\ntwo\n');
    await vscode.window.showTextDocument(file);
    try {
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runOnFile', undefined, undefined, { plugin: 'vs-echo' });
      assert.deepEqual({ ...summary, durationMs: 0 }, { plugin: 'vs-echo', files: 1, items: 1, errors: 0, cancelled: false, durationMs: 0 });
      const panel = await latestPanel();
      assert.equal(panel.title, 'vs-echo: hello.txt');
      await waitFor('the webview to render the result', () => panel.renderedCount === 1);
    } finally {
      await closeEditors();
    }
  },

  'an unsaved editor is sent through a temp file with its current content': async () => {
    const file = workspaceFile('notes/dirty.txt', 'saved\n');
    const editor = await vscode.window.showTextDocument(file);
    try {
      await editor.edit((edit) => edit.insert(new vscode.Position(0, 0), 'unsaved line\n'));
      assert.ok(editor.document.isDirty);
      const seen: unknown[] = [];
      const api = await extensionApi();
      for await (const item of api.registry.executeStream('vs-echo', { file: { path: file.fsPath } })) seen.push(item);
      assert.deepEqual(seen.length, 2, 'on disk the file is still the saved one: one line and the segment');
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.streamOnFile', undefined, undefined, { plugin: 'vs-echo' });
      assert.equal(summary.items, 3, 'the unsaved line, the saved line and the segment');
      assert.equal(summary.errors, 0);
    } finally {
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      await closeEditors();
    }
  },

  'a selection in the explorer runs every file one after another into the same results': async () => {
    const a = workspaceFile('notes/a.txt', 'alpha\n');
    const b = workspaceFile('notes/b.txt', 'beta\n');
    try {
      // The explorer passes (clicked uri, selected uris) to a context-menu command.
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runOnFile', a, [a, b], { plugin: 'vs-echo' });
      assert.equal(summary.files, 2);
      assert.equal(summary.items, 2);
      const panel = await latestPanel();
      assert.equal(panel.title, 'vs-echo: 2 files');
      await waitFor('both results in the webview', () => panel.renderedCount === 2);
    } finally {
      await closeEditors();
    }
  },

  'a streaming run shows items in the webview before it ends; closing the results cancels it': async () => {
    const api = await extensionApi();
    const file = workspaceFile('notes/gated.txt', 'x\n');
    const run = vscode.commands.executeCommand<RunSummary>('remotePluginProxy.streamOnFile', file, [file], { plugin: 'vs-gated' });
    try {
      const panel = await waitFor('a results panel for vs-gated', async () => {
        const view = api.runs.latestView as Partial<PanelProgress> | undefined;
        return view?.title === 'vs-gated: gated.txt (stream)' ? (view as PanelProgress) : undefined;
      });
      await waitFor('three items on screen', () => panel.renderedCount === 3);
      assert.equal(panel.finished, false, 'the run is still going: the plugin waits for its release file');
      assert.equal(api.registry.get('vs-gated')?.state, 'busy');
      assert.match(api.status.state.text, /\$\(sync~spin\) Plugins: 1\b/);
      await closeEditors(); // closing the results panel stops the run
      const summary = await run;
      assert.equal(summary.cancelled, true);
      assert.equal(summary.items, 3);
      await waitFor('vs-gated idle again', () => api.registry.get('vs-gated')?.state === 'ready');
    } finally {
      fs.writeFileSync(`${file.fsPath}.release`, '');
      await run.then(undefined, () => undefined);
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-gated');
    }
  },

  'a released stream delivers its last item and ends': async () => {
    const file = workspaceFile('notes/released.txt', 'x\n');
    fs.writeFileSync(`${file.fsPath}.release`, '');
    try {
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.streamOnFile', file, [file], { plugin: 'vs-gated' });
      assert.equal(summary.items, 4);
      assert.equal(summary.cancelled, false);
    } finally {
      await closeEditors();
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-gated');
    }
  },

  'a crashing plugin fails the run and shows crashed in the tree; the next run restarts it': async () => {
    const api = await extensionApi();
    const file = workspaceFile('notes/crash.txt', 'x\n');
    try {
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runOnFile', file, [file], { plugin: 'vs-crash' });
      assert.equal(summary.errors, 1);
      assert.equal(api.registry.get('vs-crash')?.state, 'crashed');
      const lastError = api.registry.get('vs-crash')?.lastError;
      assert.equal(lastError?.kind, 'crash');
      assert.equal(lastError?.options.exitCode, 7, lastError?.message);
      assert.match(lastError?.message ?? '', /crashed \(exit code 7\)/);
      assert.match(await treeDescription(api, 'vs-crash'), /^1\.0\.0 · crashed$/);
      assert.equal(api.status.state.health, 'warning');
      const again = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runOnFile', file, [file], { plugin: 'vs-crash' });
      assert.equal(again.errors, 1, 'the worker was restarted and crashed again');
    } finally {
      await closeEditors();
      await vscode.commands.executeCommand('remotePluginProxy.restart', 'vs-crash').then(undefined, () => undefined);
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-crash');
    }
  },

  'a plugin that raises fails the run with its own message and keeps its worker': async () => {
    const api = await extensionApi();
    const file = workspaceFile('notes/raise.txt', 'x\n');
    try {
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runOnFile', file, [file], { plugin: 'vs-raise' });
      assert.equal(summary.errors, 1);
      assert.equal(api.registry.get('vs-raise')?.state, 'ready', 'a plugin error is not a crash');
      const echo = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runOnFile', file, [file], { plugin: 'vs-echo' });
      assert.equal(echo.errors, 0, 'other plugins keep working');
    } finally {
      await closeEditors();
      await vscode.commands.executeCommand('remotePluginProxy.stopAll');
    }
  },

  'with resultsTarget "output" results go to the Plugin Results channel, not a panel': async () => {
    const api = await extensionApi();
    const config = vscode.workspace.getConfiguration('remotePluginProxy');
    const file = workspaceFile('notes/out.txt', 'line\n');
    await config.update('resultsTarget', 'output', vscode.ConfigurationTarget.Global);
    try {
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.streamOnFile', file, [file], { plugin: 'vs-echo' });
      assert.equal(summary.items, 2);
      assert.equal((api.runs.latestView as Partial<PanelProgress>).renderedCount, undefined, 'no webview was opened');
      assert.equal(vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => tab.input instanceof vscode.TabInputWebview).length, 0);
    } finally {
      await config.update('resultsTarget', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('remotePluginProxy.stopAll');
    }
  },

  'Configure… checks values against the schema, saves them and applies them': async () => {
    const config = vscode.workspace.getConfiguration('remotePluginProxy');
    const file = workspaceFile('notes/config.txt', 'x\n');
    try {
      const rejected = await vscode.commands.executeCommand<boolean>('remotePluginProxy.configure', 'vs-echo', { greeting: '' });
      assert.equal(rejected, false, 'an empty greeting breaks minLength');
      const saved = await vscode.commands.executeCommand<boolean>('remotePluginProxy.configure', 'vs-echo', { greeting: 'hi' });
      assert.equal(saved, true);
      assert.deepEqual(vscode.workspace.getConfiguration('remotePluginProxy').get('pluginConfig'), { 'vs-echo': { greeting: 'hi' } });
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-echo');
      // A fresh worker gets the saved values at start.
      const api = await extensionApi();
      const result = (await api.registry.execute('vs-echo', { file: { path: file.fsPath } })) as { greeting: string };
      assert.equal(result.greeting, 'hi');
    } finally {
      await config.update('pluginConfig', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('remotePluginProxy.stopAll');
    }
  },
};
