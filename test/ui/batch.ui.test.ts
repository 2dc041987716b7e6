// What a user sees of a batch: right-click a folder → Run Plugin on Files…, pick the plugin (only those
// whose file types match) and "Show the results"; the table fills in with each file's status, time and
// result, the failing file in red with its message; the tree shows the plugin's two workers. Clicking a row
// opens that file's result. Screenshot: test-results/batch.ui.test--*.png.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot, examplePluginDirs } from '../../scripts/vscode-bench/bench';
import { explorerContextMenu, openView, page, pickQuickItem, runCommand, screenshot, uiTest, useVsCode, waitForTreeRow, webviewText, workspaceFolder } from './helpers';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests-vscode');

useVsCode({ userSettings: { 'remotePluginProxy.pluginDirs': examplePluginDirs(fixtures) } });

uiTest('Run Plugin on Files… on a folder: a table of every file with its status, time and result', async () => {
  const folder = path.join(workspaceFolder(), 'scans');
  fs.mkdirSync(folder);
  for (let i = 1; i <= 7; i++) fs.writeFileSync(path.join(folder, `page ${i}.txt`), `text of page ${i}`);
  fs.writeFileSync(path.join(folder, 'damaged.txt'), 'FAIL');
  await explorerContextMenu('scans', 'Run Plugin on Files…');
  if (await page().locator('.monaco-menu').first().isVisible()) await page().keyboard.press('Enter');
  await pickQuickItem('vs-batch');
  await pickQuickItem('Show the results');
  const text = await webviewText('7 of 8 files ok · 1 failed');
  assert.match(text, /vs-batch on 8 files/);
  assert.match(text, /damaged\.txt\s+failed\s+[\d.]+ (ms|s)\s+ValueError: cannot read damaged\.txt: it says FAIL/);
  assert.match(text, /page 3\.txt\s+done\s+[\d.]+ (ms|s)\s+text of page 3/, 'a result with a "text" shows that text');
  assert.doesNotMatch(text, /\bStop\b/, 'a finished batch has nothing to stop: its Stop button is gone');
  await openView('Plugins');
  await waitForTreeRow(/vs-batch\s*1\.0\.0 · ready · 2 workers/);
  await screenshot('batch-table');
  await runCommand('View: Close All Editors');
});
