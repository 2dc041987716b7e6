// What a user sees and clicks: the Plugins sidebar with states, a run from the explorer's context
// menu, a stream whose items show up while it runs and that the Stop button cancels, and a crash
// that raises an error notification. Screenshots go to test-results/ (sidebar, streaming, error).
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { examplePluginDirs, projectRoot } from '../../scripts/vscode-bench/bench';
import {
  explorerSubmenu, openFileFromExplorer, openView, page, pickQuickItem, runCommand, screenshot,
  treeRows, uiTest, useVsCode, waitForNotification, waitForTreeRow, webviewText, workspaceFolder,
} from './helpers';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests-vscode');

useVsCode({ userSettings: { 'remotePluginProxy.pluginDirs': examplePluginDirs(fixtures) } });

function webviewBody() {
  return page().frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

uiTest('the sidebar shows every plugin with its state, broken ones with their error', async () => {
  await openView('Plugins');
  await waitForTreeRow('vs-echo');
  const rows = await treeRows();
  assert.ok(rows.some((row) => /^vs-echo\s*1\.0\.0 · stopped$/.test(row)), `rows: ${JSON.stringify(rows)}`);
  assert.ok(rows.some((row) => /^vs-broken\s*broken · vs-broken\.json: "class" is missing/.test(row)), `rows: ${JSON.stringify(rows)}`);
  assert.ok(rows.some((row) => row.startsWith('audio-levels')), 'the example plugins are listed too');
  await screenshot('sidebar');
});

uiTest('Run Plugin on File (Execute) from the explorer context menu shows the result in a webview', async () => {
  fs.writeFileSync(path.join(workspaceFolder(), 'hello.txt'), 'hello\n');
  await explorerSubmenu('hello.txt', 'Remote Plugins', 'Run Plugin on File (Execute)…');
  // The helper's click can leave the menu open with our entry highlighted; Enter chooses it as a user would.
  if (await page().locator('.monaco-menu').first().isVisible()) await page().keyboard.press('Enter');
  await pickQuickItem('vs-echo');
  const text = await webviewText(/file\s*hello\.txt/);
  assert.match(text, /greeting\s+hello/);
  assert.match(text, /1 item · /);
  await runCommand('View: Close All Editors');
});

uiTest('a stream shows its items while it runs, and Stop cancels it', async () => {
  fs.writeFileSync(path.join(workspaceFolder(), 'gated.txt'), 'x\n');
  await openFileFromExplorer('gated.txt');
  await runCommand('Remote Plugins: Stream Plugin on File…');
  await pickQuickItem('vs-gated');
  const running = await webviewText('Running… 3 items');
  assert.match(running, /\b2\s+gated\.txt/);
  assert.doesNotMatch(running, /\blast\b/);
  await openView('Plugins');
  await waitForTreeRow(/vs-gated\s*1\.0\.0 · busy/);
  await screenshot('streaming');
  await webviewBody().locator('#stop').click();
  const stopped = await webviewText('Cancelled');
  assert.match(stopped, /3 items · .* · cancelled/);
  await runCommand('View: Close All Editors');
});

uiTest('a crashing plugin shows an error notification and crashed in the tree', async () => {
  fs.writeFileSync(path.join(workspaceFolder(), 'crash.txt'), 'x\n');
  await openFileFromExplorer('crash.txt');
  await runCommand('Remote Plugins: Run Plugin on File (Execute)…');
  await pickQuickItem('vs-crash');
  const message = await waitForNotification(/vs-crash.*crashed/);
  assert.match(message, /code 7/);
  assert.match(message, /Show Logs/);
  await openView('Plugins');
  await waitForTreeRow(/vs-crash\s*1\.0\.0 · crashed/);
  await screenshot('error');
  await runCommand('View: Close All Editors');
});
