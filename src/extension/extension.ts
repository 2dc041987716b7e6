// The composition root: activate() builds the registry from the settings and wires each VS Code
// surface to it; deactivate() stops every worker. No worker starts here: plugins start on first use.
import path from 'node:path';
import * as vscode from 'vscode';
import { menuContext } from '../core/fileRule';
import { plural } from '../core/resultText';
import type { Interpreter } from '../core/interpreterDiscovery';
import type { SkeletonOptions } from '../core/pluginSkeleton';
import { isRunnable } from '../core/pluginInfo';
import { PluginRegistry } from '../core/registry';
import { BatchCommand, type BatchOptions } from './batchCommand';
import { clearResultCache } from './clearCache';
import { RunHistory } from '../core/runHistory';
import { HISTORY_SETTINGS, historyLimits } from './historySettings';
import { ConfigureCommand } from './configureCommand';
import { createManifest } from './createManifest';
import { createPlugin } from './createPlugin';
import { findInterpreters } from './interpreterPick';
import { ManifestProblems } from './manifestProblems';
import { PluginCommands } from './pluginCommands';
import { PluginErrors } from './pluginErrors';
import { PluginLogs } from './pluginLogs';
import { PluginPick } from './pluginPick';
import { PluginTree } from './pluginTree';
import { RESULTS_CHANNEL_NAME } from './resultsOutput';
import { RunCommands, type RunOptions, type RunRequest } from './runCommands';
import { RUN_DOCUMENT_SCHEME, RunDocuments } from './runComparison';
import { RunHistoryCommands } from './runHistoryCommands';
import { RUNS_VIEW_ID, RunsView } from './runsView';
import { SECTION, affectsRegistry, configuredFolders, readSettings, registryOptions, savedPluginConfig } from './settings';
import { StatsPoller } from './statsPoller';
import { StatusItem } from './statusItem';

/** What activate() returns: for the extension-host tests and for other extensions. */
export interface RemotePluginProxyApi {
  readonly registry: PluginRegistry;
  readonly tree: PluginTree;
  readonly status: StatusItem;
  readonly runs: RunCommands;
  /** The interpreters the interpreter picker offers (Create Plugin…, Set Interpreter…). */
  readonly interpreters: () => Promise<Interpreter[]>;
  /** The run history (in the extension's global storage) and what is done with it. */
  readonly history: RunHistory;
  readonly runHistory: RunHistoryCommands;
  /** "Run Plugin on Files…": its latest table, for the extension-host tests. */
  readonly batches: BatchCommand;
  /** How long activate() took, in milliseconds (also written to the "Remote Plugin Proxy" log). */
  readonly activationMs: number;
}

export const VIEW_ID = 'remotePluginProxy.plugins';
// The explorer menus show "Run Plugin on File…" where core/fileRule.ts would offer a plugin.
const FILE_TYPES_CONTEXT = 'remotePluginProxy.fileTypes';
const ANY_FILE_CONTEXT = 'remotePluginProxy.anyFile';
const FOLDERS_CONTEXT = 'remotePluginProxy.folders';
const LAST_RUN_CONTEXT = 'remotePluginProxy.hasLastRun';

let registry: PluginRegistry | undefined;
let history: RunHistory | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<RemotePluginProxyApi> {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Remote Plugin Proxy', { log: true });
  const resultsChannel = vscode.window.createOutputChannel(RESULTS_CHANNEL_NAME);
  context.subscriptions.push(log, resultsChannel);

  // The manifests are read in the background: the views and commands wait for them, VS Code's start does not.
  const current = PluginRegistry.open({
    ...registryOptions(readSettings()),
    configFor: savedPluginConfig,
    workerScript: path.join(context.extensionPath, 'worker', 'rpp_worker.py'),
  });
  registry = current;
  current.loaded.then(
    () => log.info(`${plural(current.list().length, 'plugin')} from ${current.pluginDirs.join(', ')}; workspace ${vscode.workspace.isTrusted ? 'trusted' : 'in Restricted Mode'}.`),
    (error: unknown) => log.error(`Reading the plugin manifests failed: ${error instanceof Error ? error.message : String(error)}`),
  );

  const logs = new PluginLogs();
  const errors = new PluginErrors(current, logs);
  const pick = new PluginPick(current, context.globalState);
  const poller = new StatsPoller(current, readSettings().statsIntervalSeconds * 1000, log);
  const tree = new PluginTree(current, poller);
  const treeView = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: tree });
  const status = new StatusItem(current);
  const onDidRun = () => void vscode.commands.executeCommand('setContext', LAST_RUN_CONTEXT, true);
  const runHistory = new RunHistory(path.join(context.globalStorageUri.fsPath, 'runs'), historyLimits());
  history = runHistory;
  const recordTo = () => (historyLimits().maxRuns > 0 ? runHistory : undefined);
  const runs = new RunCommands(current, pick, errors, readSettings, context.extensionUri, resultsChannel, onDidRun, recordTo, log);
  const runsView = new RunsView(runHistory, log);
  const runsTree = vscode.window.createTreeView(RUNS_VIEW_ID, { treeDataProvider: runsView, canSelectMany: true });
  const historyCommands = new RunHistoryCommands(runHistory, runsView, runs, context.extensionUri);
  context.subscriptions.push(runsView, runsTree, toVscode(runHistory.onDidChange(() => runsView.refresh())),
    vscode.workspace.registerTextDocumentContentProvider(RUN_DOCUMENT_SCHEME, new RunDocuments(runHistory)),
    // Other windows record runs into the same history: read it again whenever the view comes back.
    runsTree.onDidChangeVisibility((event) => { if (event.visible) runsView.refresh(); }));
  const problems = new ManifestProblems(current);
  const lifecycle = new PluginCommands(current, pick, errors, logs, log, problems);
  const configure = new ConfigureCommand(current, pick, errors);
  const batches = new BatchCommand(current, pick, context.extensionUri);
  context.subscriptions.push(logs, poller, tree, treeView, status);
  context.subscriptions.push(logs, poller, tree, treeView, status, problems);

  const onRegistryChange = (plugin: string | undefined) => {
    tree.refresh();
    status.update();
    poller.pluginChanged();
    if (plugin === undefined) {
      updateListContext(current, treeView);
      void problems.update();
    }
  };
  updateListContext(current, treeView);
  void problems.update();
  context.subscriptions.push(
    toVscode(current.onDidChange(onRegistryChange)),
    toVscode(current.onLog((event) => logs.append(event))),
    poller.onDidUpdate(() => tree.refresh()),
    treeView.onDidChangeVisibility((event) => poller.setVisible(event.visible)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsRegistry(event)) void applySettings(current, log);
      if (event.affectsConfiguration(`${SECTION}.statsIntervalSeconds`)) poller.setInterval(readSettings().statsIntervalSeconds * 1000);
      if (HISTORY_SETTINGS.some((key) => event.affectsConfiguration(key))) void runHistory.setLimits(historyLimits());
    }),
    // Trust granted or folders changed: the workspace's manifests and settings now count.
    vscode.workspace.onDidGrantWorkspaceTrust(() => void applySettings(current, log)),
    vscode.workspace.onDidChangeWorkspaceFolders(() => void applySettings(current, log)),
  );
  poller.setVisible(treeView.visible);

  const commands: Record<string, (...args: unknown[]) => unknown> = {
    run: (uri, uris, options) => runs.runOnFiles('auto', uri, uris, options as RunOptions | undefined),
    runOnExplorerFile: (uri, uris, options) => runs.runOnFiles('auto', uri, uris, options as RunOptions | undefined),
    runOnExplorerFolder: (uri, uris, options) => runs.runOnFiles('auto', uri, uris, options as RunOptions | undefined),
    runOnFile: (uri, uris, options) => runs.runOnFiles('execute', uri, uris, options as RunOptions | undefined),
    streamOnFile: (uri, uris, options) => runs.runOnFiles('stream', uri, uris, options as RunOptions | undefined),
    runPlugin: (plugin, uris) => runs.runPluginOnPickedFiles(plugin, uris),
    runAgain: (request) => runs.runAgain(request as RunRequest | undefined),
    setInterpreter: (plugin, pythonPath) => lifecycle.setInterpreter(plugin, typeof pythonPath === 'string' ? pythonPath : undefined),
    start: (plugin) => lifecycle.start(plugin),
    stop: (plugin) => lifecycle.stop(plugin),
    restart: (plugin) => lifecycle.restart(plugin),
    showLogs: (plugin) => lifecycle.showLogs(plugin),
    openManifest: (plugin) => lifecycle.openManifest(plugin),
    configure: (plugin, values) => configure.run(plugin, values as Record<string, unknown> | undefined),
    refresh: () => lifecycle.refresh(),
    stopAll: () => lifecycle.stopAll(),
    createManifest: () => createManifest(),
    createPlugin: (options) => createPlugin(options as SkeletonOptions | undefined),
    openRun: (node) => historyCommands.open(node),
    rerunRun: (node) => historyCommands.rerun(node),
    revealRunFile: (node) => historyCommands.revealFile(node),
    copyRun: (node) => historyCommands.copy(node),
    saveRun: (node) => historyCommands.save(node),
    deleteRun: (node, selected) => historyCommands.delete(node, selected),
    clearHistory: () => historyCommands.clear(),
    compareRuns: (node, selected) => historyCommands.compare(node, selected),
    runOnFiles: (uri, uris, options) => batches.run(uri, uris, options as BatchOptions | undefined),
    clearCache: () => clearResultCache(current),
  };
  for (const [name, handler] of Object.entries(commands)) {
    context.subscriptions.push(vscode.commands.registerCommand(`remotePluginProxy.${name}`, async (...args: unknown[]) => {
      await current.loaded;
      return handler(...args);
    }));
  }

  const activationMs = performance.now() - started;
  log.info(`Activated in ${activationMs.toFixed(1)} ms.`);
  return { registry: current, tree, status, runs, interpreters: findInterpreters, history: runHistory, runHistory: historyCommands, batches, activationMs };
}

/** VS Code waits for this promise (up to 5 s): every worker gets /cleanup, SIGTERM, then SIGKILL. */
export async function deactivate(): Promise<void> {
  // Before the workers stop (which would end the runs as failures): runs still streaming stay as interrupted.
  history?.interruptAll();
  history?.dispose();
  history = undefined;
  const current = registry;
  registry = undefined;
  await current?.dispose();
}

async function applySettings(current: PluginRegistry, log: vscode.LogOutputChannel): Promise<void> {
  await current.updateOptions(registryOptions(readSettings()));
  log.info(`Settings applied; manifests from ${current.pluginDirs.join(', ')}.`);
}

/** The explorer menus show our commands where some plugin takes the file or folder; the view says what limits it. */
function updateListContext(current: PluginRegistry, treeView: vscode.TreeView<unknown>): void {
  const menu = menuContext(current.list().filter(isRunnable));
  void vscode.commands.executeCommand('setContext', FILE_TYPES_CONTEXT, menu.extensions);
  void vscode.commands.executeCommand('setContext', ANY_FILE_CONTEXT, menu.anyFile);
  void vscode.commands.executeCommand('setContext', FOLDERS_CONTEXT, menu.folders);
  const notes: string[] = [];
  if (!vscode.workspace.isTrusted) notes.push("Restricted Mode: the workspace's manifests are ignored and plugins do not run.");
  // A workspace without .cjm/plugins is normal; a folder the user named that does not exist is worth saying.
  const configured = new Set(configuredFolders(readSettings()));
  const missing = current.missingPluginDirs.filter((dir) => configured.has(dir));
  if (missing.length > 0) notes.push(`Not found: ${missing.join(', ')} (setting remotePluginProxy.pluginDirs).`);
  treeView.message = notes.length > 0 ? notes.join(' ') : undefined;
}

function toVscode(disposable: { dispose(): void }): vscode.Disposable {
  return new vscode.Disposable(() => disposable.dispose());
}
