// The everyday flow in a real extension host: the one "Run Plugin…" command picks stream or execute,
// Run Again repeats a run, the one file rule decides in the palette and in the tree's Run on File…
// (the shared cases), a failed start shows its state and reason and goes down in pickers, broken
// manifests are in the Problems panel at the right place, and the interpreter picker finds a venv.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunSummary } from '../../src/extension/resultsView';
import { RULE_CASES, RULE_PLUGINS, isFolderInput } from '../helpers/fileRuleCases';
import type { ExtensionHostTests } from './index';
import { extensionApi, treeDescription, waitFor, workspaceFile } from './extensionApi';

/** The fixture plugins' module (vscode_fixtures.py) sits beside their manifests. */
async function fixtureDir(): Promise<string> {
  return path.dirname((await extensionApi()).registry.get('vs-echo')!.manifestPath);
}

function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the tests need a workspace folder');
  return folder.uri.fsPath;
}

/** Writes manifests into the workspace's .cjm/plugins (the test workspace is trusted) and waits until they are loaded. */
async function addWorkspaceManifests(manifests: Array<Record<string, unknown> & { name: string }>): Promise<() => Promise<void>> {
  const api = await extensionApi();
  const dir = path.join(workspaceRoot(), '.cjm', 'plugins');
  const modules = await fixtureDir();
  fs.mkdirSync(dir, { recursive: true });
  const files = manifests.map((manifest) => {
    const file = path.join(dir, `${manifest.name}.json`);
    fs.writeFileSync(file, JSON.stringify({ python_path: 'python3', module: 'vscode_fixtures', env_vars: { PYTHONPATH: modules }, ...manifest }, null, 2));
    return file;
  });
  await waitFor(`${manifests.map((m) => m.name).join(', ')} loaded`, () => manifests.every((m) => api.registry.get(m.name) !== undefined));
  return async () => {
    for (const file of files) fs.rmSync(file, { force: true });
    await waitFor('the test manifests gone', () => manifests.every((m) => api.registry.get(m.name) === undefined));
  };
}

async function closeEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

export const tests: ExtensionHostTests = {
  'Run Plugin… streams a plugin that streams and executes one that does not; Run Again repeats the run': async () => {
    const api = await extensionApi();
    const file = workspaceFile('flow/notes.txt', 'one\ntwo\n');
    try {
      const streamed = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.run', file, [file], { plugin: 'vs-echo' });
      assert.deepEqual(api.runs.lastRun, { plugin: 'vs-echo', mode: 'stream', inputs: [file.fsPath] });
      assert.equal(streamed.items, 3, 'two lines and the segment, as a stream');
      const executed = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.run', file, [file], { plugin: 'vs-single' });
      assert.deepEqual(api.runs.lastRun, { plugin: 'vs-single', mode: 'execute', inputs: [file.fsPath] });
      assert.equal(executed.items, 1);
      assert.equal(executed.errors, 0);
      // The explicit forms stay what they say, whatever the plugin can do.
      await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runOnFile', file, [file], { plugin: 'vs-echo' });
      assert.equal(api.runs.lastRun?.mode, 'execute');
      const again = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runAgain', { plugin: 'vs-echo', mode: 'stream', inputs: [file.fsPath] });
      assert.equal(again.items, 3);
      assert.deepEqual(api.runs.lastRun, { plugin: 'vs-echo', mode: 'stream', inputs: [file.fsPath] });
      const repeated = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.runAgain');
      assert.equal(repeated.plugin, 'vs-echo');
      assert.equal(repeated.items, 3);
    } finally {
      await closeEditors();
      await vscode.commands.executeCommand('remotePluginProxy.stopAll');
    }
  },

  'the file rule decides the same in the palette and in the tree\'s Run on File… (the shared cases)': async () => {
    const api = await extensionApi();
    const config = vscode.workspace.getConfiguration('remotePluginProxy');
    await config.update('resultsTarget', 'output', vscode.ConfigurationTarget.Global);
    const removeManifests = await addWorkspaceManifests(RULE_PLUGINS.map((plugin) => ({ ...plugin, class: 'PathEchoPlugin' })));
    const ruleNames = new Set(RULE_PLUGINS.map((plugin) => plugin.name));
    try {
      for (const { input, takers } of RULE_CASES) {
        const target = path.join(workspaceRoot(), 'rules', input);
        if (isFolderInput(input)) fs.mkdirSync(target, { recursive: true });
        else {
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.writeFileSync(target, 'x');
        }
        const uri = vscode.Uri.file(target.replace(/\/$/, ''));
        // The palette and the explorer: which plugins the picker offers.
        const offered = (await api.runs.pluginsFor(uri, [uri])).filter((name) => ruleNames.has(name));
        assert.deepEqual([...offered].sort(), [...takers].sort(), `the picker for ${input}`);
        // The tree's Run on File…: runs where the rule says yes, refuses (no run) where it says no.
        for (const plugin of RULE_PLUGINS) {
          const summary = await vscode.commands.executeCommand<RunSummary | undefined>('remotePluginProxy.runPlugin', plugin.name, [uri]);
          assert.equal(summary !== undefined, takers.includes(plugin.name), `Run on File… of ${plugin.name} on ${input}`);
          if (summary) assert.equal(summary.errors, 0, `${plugin.name} on ${input}`);
        }
      }
    } finally {
      await config.update('resultsTarget', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('remotePluginProxy.stopAll');
      await removeManifests();
      fs.rmSync(path.join(workspaceRoot(), 'rules'), { recursive: true, force: true });
    }
  },

  'a failed start shows "failed" with its reason in the tree, and goes down in the picker until it starts': async () => {
    const api = await extensionApi();
    const file = workspaceFile('flow/failing.txt', 'x\n');
    try {
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.run', file, [file], { plugin: 'vs-failing' });
      assert.equal(summary.errors, 1);
      const info = api.registry.get('vs-failing');
      assert.equal(info?.state, 'failed');
      assert.match(await treeDescription(api, 'vs-failing'), /^1\.0\.0 · failed · it exited with code \d+ before it was ready/);
      const node = (await api.tree.getChildren()).find((n) => n.kind === 'plugin' && n.name === 'vs-failing')!;
      const item = await api.tree.getTreeItem(node);
      const tooltip = (item.tooltip as vscode.MarkdownString).value;
      assert.match(tooltip, /Failed to start/);
      assert.match(tooltip, /ModuleNotFoundError: No module named 'vscode_missing_module'/, 'the output is in the hover, in full');
      assert.equal(item.contextValue, 'plugin.failed');
      const offered = await api.runs.pluginsFor(file, [file]);
      assert.equal(offered[offered.length - 1], 'vs-failing', `failed plugins come last: ${offered.join(', ')}`);
      assert.ok(offered.indexOf('vs-echo') < offered.indexOf('vs-failing'));
      assert.equal(api.status.state.health, 'warning');
    } finally {
      await closeEditors();
    }
  },

  'broken manifests are in the Problems panel at the right place, and Open Manifest goes there': async () => {
    const api = await extensionApi();
    const brokenPath = api.registry.get('vs-broken')!.manifestPath;
    const fixture = await waitFor('a diagnostic for vs-broken.json', () => vscode.languages.getDiagnostics(vscode.Uri.file(brokenPath)).find((d) => d.source === 'Remote Plugins'));
    assert.match(fixture.message, /"class" is missing/);
    assert.deepEqual([fixture.range.start.line, fixture.range.start.character], [0, 0], 'a missing field: the opening brace');
    const dir = path.join(workspaceRoot(), '.cjm', 'plugins');
    fs.mkdirSync(dir, { recursive: true });
    const syntax = path.join(dir, 'vs-syntax.json');
    const field = path.join(dir, 'vs-field.json');
    fs.writeFileSync(syntax, '{\n  "name": "vs-syntax",\n  "module": "m" "class": "C"\n}\n');
    fs.writeFileSync(field, '{\n  "name": "vs-field",\n  "python_path": "python3",\n  "module": "m",\n  "class": "C",\n  "idle_timeout_s": "ten"\n}\n');
    try {
      const syntaxError = await waitFor('a diagnostic for the JSON syntax error', () => vscode.languages.getDiagnostics(vscode.Uri.file(syntax))[0]);
      assert.deepEqual([syntaxError.range.start.line, syntaxError.range.start.character], [2, 16]);
      assert.match(syntaxError.message, /not valid JSON at line 3, column 17/);
      const fieldError = await waitFor('a diagnostic for the bad field', () => vscode.languages.getDiagnostics(vscode.Uri.file(field)).find((d) => d.source === 'Remote Plugins'));
      assert.equal(fieldError.code, 'idle_timeout_s');
      assert.deepEqual([fieldError.range.start.line, fieldError.range.start.character, fieldError.range.end.character], [5, 20, 25]);
      await vscode.commands.executeCommand('remotePluginProxy.openManifest', 'vs-field');
      const editor = await waitFor('the manifest open', () => {
        const active = vscode.window.activeTextEditor;
        return active?.document.uri.fsPath === field ? active : undefined;
      });
      assert.equal(editor.document.getText(editor.selection), '"ten"', 'opened at the offending value');
    } finally {
      fs.rmSync(syntax, { force: true });
      fs.rmSync(field, { force: true });
      await closeEditors();
    }
    await waitFor('the diagnostics gone with the files', () => vscode.languages.getDiagnostics(vscode.Uri.file(field)).length === 0);
  },

  'the interpreter picker finds a venv in the workspace, the Python extension\'s environments (a stub here) and python3, each with its version': async () => {
    const api = await extensionApi();
    const venv = path.join(workspaceRoot(), '.venv');
    execFileSync('python3', ['-m', 'venv', '--without-pip', venv]);
    try {
      const found = await api.interpreters();
      const version = execFileSync(path.join(venv, 'bin', 'python'), ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' }).trim();
      const workspaceVenv = found.find((interpreter) => interpreter.source === 'workspace');
      assert.deepEqual(workspaceVenv, { path: path.join(venv, 'bin', 'python'), source: 'workspace', name: `${path.basename(workspaceRoot())}/.venv`, version });
      // The stub of ms-python.python (loaded beside this extension by the test runner) reports "stub-env".
      const stub = found.find((interpreter) => interpreter.source === 'python-extension');
      assert.equal(stub?.name, 'stub-env', JSON.stringify(found));
      assert.match(stub?.version ?? '', /^3\.\d+\.\d+$/);
      // python3 on PATH is listed once: on its own, or as an environment found earlier with the same path.
      const onPath = execFileSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).trim();
      assert.ok(found.some((interpreter) => interpreter.path === onPath), `${onPath} in ${JSON.stringify(found)}`);
    } finally {
      fs.rmSync(venv, { recursive: true, force: true });
    }
  },

  'Set Interpreter… writes python_path into the manifest and the plugin runs with it': async () => {
    const api = await extensionApi();
    const removeManifests = await addWorkspaceManifests([{ name: 'vs-reinterpreted', class: 'PathEchoPlugin', python_path: '/no/such/python' }]);
    const file = workspaceFile('flow/interp.txt', 'x\n');
    try {
      assert.equal(api.registry.get('vs-reinterpreted')?.state, 'broken');
      const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
      assert.equal(await vscode.commands.executeCommand('remotePluginProxy.setInterpreter', 'vs-reinterpreted', python), true);
      await waitFor('vs-reinterpreted loaded', () => api.registry.get('vs-reinterpreted')?.state === 'stopped');
      const manifest = JSON.parse(fs.readFileSync(api.registry.get('vs-reinterpreted')!.manifestPath, 'utf8')) as Record<string, unknown>;
      assert.equal(manifest.python_path, python);
      assert.equal(manifest.class, 'PathEchoPlugin', 'the rest of the manifest is kept');
      const summary = await vscode.commands.executeCommand<RunSummary>('remotePluginProxy.run', file, [file], { plugin: 'vs-reinterpreted' });
      assert.equal(summary.errors, 0);
    } finally {
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-reinterpreted');
      await closeEditors();
      await removeManifests();
    }
  },

  'a configuration the plugin rejects is a "config" error; the plugin keeps running': async () => {
    const api = await extensionApi();
    const config = vscode.workspace.getConfiguration('remotePluginProxy');
    try {
      assert.equal(await vscode.commands.executeCommand<boolean>('remotePluginProxy.configure', 'vs-picky', { level: 3 }), false);
      assert.equal(api.registry.get('vs-picky')?.state, 'ready');
      assert.deepEqual(config.get('pluginConfig'), {}, 'a configuration the plugin rejected is not saved');
      assert.equal(await vscode.commands.executeCommand<boolean>('remotePluginProxy.configure', 'vs-picky', { level: 4 }), true);
      assert.deepEqual(vscode.workspace.getConfiguration('remotePluginProxy').get('pluginConfig'), { 'vs-picky': { level: 4 } });
      assert.deepEqual(await api.registry.config('vs-picky'), { level: 4 });
    } finally {
      await config.update('pluginConfig', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('remotePluginProxy.stop', 'vs-picky');
    }
  },
};
