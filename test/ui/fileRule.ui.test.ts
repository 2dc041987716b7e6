// The one file rule in the explorer's context menu of a real window: "Remote Plugins ▸ Run Plugin on
// File…" (or "…on Folder…") appears exactly on the inputs some plugin takes (the shared cases, without
// the plugin that takes any file), its picker lists the plugins the rule names, and where nothing takes
// a file the palette says which type was rejected and which plugins take what.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { projectRoot } from '../../scripts/vscode-bench/bench';
import { RULE_CASES_WITHOUT_ANY, RULE_PLUGINS, isFolderInput } from '../helpers/fileRuleCases';
import {
  explorerMenuEntries, explorerSubmenu, openFileFromExplorer, page, quickPickLabels, runCommand, screenshot, uiTest, useVsCode,
  waitForNotification, workspaceFolder, notificationButtons,
} from './helpers';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests-vscode');
const rules = fs.mkdtempSync(path.join(os.tmpdir(), 'rpp-ui-rules-'));
for (const plugin of RULE_PLUGINS.filter((candidate) => candidate.name !== 'rule-any')) {
  const manifest = { ...plugin, python_path: 'python3', module: 'vscode_fixtures', class: 'PathEchoPlugin', env_vars: { PYTHONPATH: fixtures } };
  fs.writeFileSync(path.join(rules, `${plugin.name}.json`), JSON.stringify(manifest));
}
after(() => fs.rmSync(rules, { recursive: true, force: true }));

useVsCode({ userSettings: { 'remotePluginProxy.pluginDirs': [rules] } });

function createInputs(): void {
  for (const { input } of RULE_CASES_WITHOUT_ANY) {
    const target = path.join(workspaceFolder(), 'rules', input);
    if (isFolderInput(input)) fs.mkdirSync(target, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, 'x');
    }
  }
}

uiTest('the explorer menu offers Remote Plugins exactly where the rule finds a plugin', async () => {
  createInputs();
  await runCommand('View: Show Explorer');
  // The inputs are inside "rules/": open it once so that its rows are shown.
  await page().locator('.part.sidebar .explorer-folders-view .monaco-list-row', { hasText: 'rules' }).first().click();
  for (const { input, takers, menuCoarse } of RULE_CASES_WITHOUT_ANY) {
    const name = input.replace(/\/$/, '');
    const entries = await explorerMenuEntries(name);
    const shown = entries.includes('Remote Plugins');
    assert.equal(shown, takers.length > 0 || menuCoarse === true, `menu of ${input}: ${JSON.stringify(entries)}`);
  }
  await screenshot('explorer-menu');
});

uiTest('the submenu\'s picker lists the plugins that take the file or folder', async () => {
  for (const { input, takers } of RULE_CASES_WITHOUT_ANY.filter((c) => c.takers.length > 0)) {
    const name = input.replace(/\/$/, '');
    await explorerSubmenu(name, 'Remote Plugins', isFolderInput(input) ? 'Run Plugin on Folder…' : 'Run Plugin on File…');
    assert.deepEqual([...(await quickPickLabels())].sort(), [...takers].sort(), `picker of ${input}`);
    if (isFolderInput(input)) await screenshot('folder-picker');
    await page().keyboard.press('Escape');
  }
});

uiTest('a file no plugin takes: the palette says which type was rejected and which plugins take what', async () => {
  await openFileFromExplorer('picture.png');
  await runCommand('Remote Plugins: Run Plugin…');
  const message = await waitForNotification('No plugin takes .png files (picture.png)');
  for (const offer of ['rule-audio takes .wav .mp3 files', 'rule-archive takes .tar.gz files', 'rule-folders takes folders', 'rule-text-folders takes .txt files and folders']) {
    assert.ok(message.includes(offer), `"${offer}" in ${message}`);
  }
  assert.deepEqual(await notificationButtons('No plugin takes .png files'), ['Show Plugins', 'Create Plugin…']);
  await screenshot('nothing-takes-it');
  // A multi-part extension: the menu shows on every ".gz" (when-clauses see only the last part); the picker says no.
  await explorerSubmenu('data.gz', 'Remote Plugins', 'Run Plugin on File…');
  await waitForNotification('No plugin takes .gz files (data.gz)');
  await runCommand('View: Close All Editors');
});
