// "Run Plugin on Files…" in a real extension host: a folder with one failing file and a file of another
// type (two workers, the tree shows "running · queued" while it goes), the table's rows, result files
// beside the files or in a folder, a row opening its result in the results panel, a cached re-run,
// Clear Result Cache.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { BatchSummary } from '../../src/extension/batchView';
import type { ExtensionHostTests } from './index';
import { extensionApi, treeDescription, waitFor, workspaceFile } from './extensionApi';

interface ReadResult {
  file: string;
  words: number;
  pid: number;
}

/** A folder of 12 text files (one says FAIL) and an image the plugin does not take. */
function batchFolder(name: string): vscode.Uri {
  for (let i = 1; i <= 11; i++) workspaceFile(`${name}/page ${i}.txt`, `words on ${name} page ${i}`);
  workspaceFile(`${name}/damaged.txt`, 'FAIL');
  workspaceFile(`${name}/cover.png`, 'not text');
  return vscode.Uri.file(path.join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, name));
}

async function closeEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

export const tests: ExtensionHostTests = {
  'a folder: matching files only, two workers, the tree shows running and queued, one failure, result files beside each file': async () => {
    const api = await extensionApi();
    const folder = batchFolder('batch-a');
    try {
      const run = vscode.commands.executeCommand<BatchSummary>('remotePluginProxy.runOnFiles', folder, [folder], { plugin: 'vs-batch', write: 'beside' });
      const busy = await waitFor('the tree to show calls running and queued', async () => {
        const text = await treeDescription(api, 'vs-batch');
        return /· 2 running · \d+ queued/.test(text) ? text : undefined;
      });
      assert.match(busy, /^1\.0\.0 · busy · 2 running · \d+ queued/);
      const summary = await run;
      assert.deepEqual({ ...summary, durationMs: 0 }, { plugin: 'vs-batch', files: 12, ok: 11, failed: 1, cached: 0, cancelled: false, written: 11, durationMs: 0 });
      const view = api.batches.latestView;
      assert.ok(view);
      assert.equal(view.title, 'vs-batch: 12 files');
      assert.deepEqual(view.table.filter((row) => row.status === 'failed').map((row) => path.basename(row.file)), ['damaged.txt']);
      assert.match(view.table.find((row) => row.status === 'failed')!.summary ?? '', /cannot read damaged\.txt: it says FAIL/);
      assert.equal(view.table.filter((row) => row.status === 'ok').length, 11);
      assert.ok(view.table.every((row) => row.ms !== undefined));
      const written = JSON.parse(fs.readFileSync(path.join(folder.fsPath, 'page 3.txt.vs-batch.json'), 'utf8')) as ReadResult;
      assert.deepEqual({ file: written.file, words: written.words }, { file: 'page 3.txt', words: 5 });
      assert.ok(!fs.existsSync(path.join(folder.fsPath, 'damaged.txt.vs-batch.json')), 'no result file for the failed file');
      assert.ok(!fs.existsSync(path.join(folder.fsPath, 'cover.png.vs-batch.json')), 'the image was not run');
      const pids = new Set(fs.readdirSync(folder.fsPath).filter((name) => name.endsWith('.vs-batch.json')).map((name) => (JSON.parse(fs.readFileSync(path.join(folder.fsPath, name), 'utf8')) as ReadResult).pid));
      assert.equal(pids.size, 2, 'two workers shared the files');
      assert.match(await treeDescription(api, 'vs-batch'), /^1\.0\.0 · ready · 2 workers/);
    } finally {
      await closeEditors();
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-batch');
    }
  },

  'a row opens that file\u2019s result in the results panel; a re-run is marked cached; Clear Result Cache empties it': async () => {
    const api = await extensionApi();
    const folder = batchFolder('batch-b');
    try {
      await vscode.commands.executeCommand<BatchSummary>('remotePluginProxy.runOnFiles', folder, [folder], { plugin: 'vs-batch', write: 'none' });
      const again = await vscode.commands.executeCommand<BatchSummary>('remotePluginProxy.runOnFiles', folder, [folder], { plugin: 'vs-batch', write: 'none' });
      assert.equal(again.cached, 11, 'every successful file comes from the cache');
      assert.equal(again.failed, 1, 'failures are not cached: the file is tried again');
      const view = api.batches.latestView!;
      assert.equal(view.table.filter((row) => row.status === 'cached').length, 11);
      const index = view.table.findIndex((row) => path.basename(row.file) === 'page 2.txt');
      view.openResult(index);
      const panel = view.openedPanel;
      assert.ok(panel);
      assert.equal(panel.title, 'vs-batch: page 2.txt');
      await waitFor('the result on screen', () => panel.renderedCount === 1);

      const freed = await vscode.commands.executeCommand<{ entries: number }>('remotePluginProxy.clearCache');
      assert.ok(freed && freed.entries >= 11, `freed ${JSON.stringify(freed)}`);
      const fresh = await vscode.commands.executeCommand<BatchSummary>('remotePluginProxy.runOnFiles', folder, [folder], { plugin: 'vs-batch', write: 'none' });
      assert.equal(fresh.cached, 0);
    } finally {
      await closeEditors();
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-batch');
    }
  },

  'an Explorer selection, with result files written into a chosen folder; closing the table stops a batch': async () => {
    const api = await extensionApi();
    const a = workspaceFile('batch-c/one/take.txt', 'first take');
    const b = workspaceFile('batch-c/two/take.txt', 'second take');
    const out = path.join(path.dirname(path.dirname(a.fsPath)), 'out');
    try {
      const summary = await vscode.commands.executeCommand<BatchSummary>('remotePluginProxy.runOnFiles', a, [a, b], { plugin: 'vs-batch', write: 'folder', folder: out });
      assert.equal(summary.written, 2);
      assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'one', 'take.txt.vs-batch.json'), 'utf8')) as ReadResult).words, 2);
      assert.ok(fs.existsSync(path.join(out, 'two', 'take.txt.vs-batch.json')), 'same names in different folders do not overwrite each other');

      const folder = batchFolder('batch-d');
      const run = vscode.commands.executeCommand<BatchSummary>('remotePluginProxy.runOnFiles', folder, [folder], { plugin: 'vs-batch', write: 'none' });
      await waitFor('the batch to have started', () => api.batches.latestView?.title === 'vs-batch: 12 files' && api.batches.latestView.table.some((row) => row.status === 'ok'));
      await closeEditors(); // closing the table stops the batch
      const stopped = await run;
      assert.equal(stopped.cancelled, true);
      assert.ok(stopped.ok + stopped.failed < 12, `stopped early: ${JSON.stringify(stopped)}`);
      await waitFor('nothing left queued', () => api.registry.get('vs-batch')?.queued === 0 && api.registry.get('vs-batch')?.running === 0);
    } finally {
      await closeEditors();
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-batch');
    }
  },

  'with the memory budget setting, a second worker waits and the tree says why': async () => {
    const api = await extensionApi();
    const settings = vscode.workspace.getConfiguration('remotePluginProxy');
    // What a worker needs to start is vs-batch's declared 20 MB, or its measured peak once the tests before
    // measured one (its process tree, which depends on the machine's Python): a budget of 1.5 needs fits one
    // worker, not two. The registry gets the setting in the change event, which VS Code fires before update() resolves.
    const folder = batchFolder('batch-e');
    const needBytes = await waitFor('the need of a worker to be known', () => api.registry.get('vs-batch')?.memoryNeedBytes);
    const budget = Math.ceil((needBytes / (1024 * 1024)) * 1.5);
    await settings.update('memoryBudgetMb', budget, vscode.ConfigurationTarget.Workspace);
    try {
      const run = vscode.commands.executeCommand<BatchSummary>('remotePluginProxy.runOnFiles', folder, [folder], { plugin: 'vs-batch', write: 'none' });
      let seen = '';
      const waiting = await waitFor('the tree to say why the second worker waits', async () => {
        const text = await treeDescription(api, 'vs-batch');
        seen = text;
        return /busy · 1 running · \d+ queued · waiting for \d+ MB of memory; \d+ MB free/.test(text) ? text : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}; the tree said: ${seen}`);
      });
      const [, need, free] = /^1\.0\.0 · busy · 1 running · \d+ queued · waiting for (\d+) MB of memory; (\d+) MB free/.exec(waiting) ?? [];
      assert.ok(Number(need) > Number(free) && Number(need) + Number(free) <= budget + 1 /* each figure rounded */, `one worker's need does not fit in what the budget (${budget} MB) leaves: ${waiting}`);
      const summary = await run;
      assert.equal(summary.ok + summary.failed, 12, 'the one worker the budget allows ran every file');
      assert.equal(api.registry.get('vs-batch')?.workers.length, 1);
    } finally {
      await settings.update('memoryBudgetMb', undefined, vscode.ConfigurationTarget.Workspace);
      await closeEditors();
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-batch');
    }
  },
};
