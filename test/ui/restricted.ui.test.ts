// Restricted Mode: the workspace's own settings must not choose which plugins (and interpreters)
// run. Its pluginDirs are ignored, nothing runs, and trusting the workspace brings them in.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../scripts/vscode-bench/bench';
import {
  openFileFromExplorer, openView, page, pickQuickItem, runCommand, screenshot, trustWorkspace, uiTest, useVsCode,
  waitForNotification, waitForTreeRow, webviewText, workspaceFolder,
} from './helpers';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests-vscode');

useVsCode({
  trustWorkspace: false,
  userSettings: { 'remotePluginProxy.pluginDirs': [] },
  workspaceSettings: { 'remotePluginProxy.pluginDirs': [fixtures] },
});

uiTest('in Restricted Mode the workspace manifests are ignored and running is refused', async () => {
  await openView('Plugins');
  const sidebar = page().locator('.part.sidebar');
  await sidebar.locator('*', { hasText: 'Restricted Mode: the workspace' }).first().waitFor();
  assert.equal(await sidebar.locator('.monaco-list-row', { hasText: 'vs-echo' }).count(), 0, 'a workspace-level pluginDirs must not count');
  fs.writeFileSync(path.join(workspaceFolder(), 'restricted.txt'), 'x\n');
  await openFileFromExplorer('restricted.txt');
  await runCommand('Remote Plugins: Run Plugin…');
  const warning = await waitForNotification('Restricted Mode');
  assert.match(warning, /trusted workspace/);
  await screenshot('restricted');
});

uiTest('trusting the workspace loads its plugins, and they run', async () => {
  await trustWorkspace();
  await runCommand('View: Show Plugins');
  await waitForTreeRow(/vs-echo\s*1\.0\.0 · stopped/);
  await openFileFromExplorer('restricted.txt');
  await runCommand('Remote Plugins: Run Plugin…');
  await pickQuickItem('vs-echo');
  // vs-echo can stream, so Run Plugin… streams it: the file's line, then its segment.
  assert.match(await webviewText(/file\s*restricted\.txt/), /2 items · /);
});
