// The "Plugins" tree: one item per manifest with its state, live figures while it runs, and the
// figures as child rows when expanded. It only translates the registry's state into TreeItems.
import path from 'node:path';
import * as vscode from 'vscode';
import { formatMemory } from '../core/admission';
import type { PluginInfo, PluginState, WorkerInfo } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';
import { statsRows, statsSummary, type WorkerStats } from '../core/workerStats';
import type { StatsPoller } from './statsPoller';

export type PluginNode = { kind: 'plugin'; name: string };
type StatNode = { kind: 'stat'; plugin: string; label: string; value: string };
export type PluginTreeNode = PluginNode | StatNode;

/** At most this many redraws a second: enough to watch a queue move, no flood from a fast batch. */
const REFRESH_INTERVAL_MS = 100;

const STATE_ICONS: Record<PluginState, vscode.ThemeIcon> = {
  stopped: new vscode.ThemeIcon('circle-large-outline', new vscode.ThemeColor('disabledForeground')),
  starting: new vscode.ThemeIcon('loading~spin'),
  ready: new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed')),
  busy: new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('charts.blue')),
  failed: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('errorForeground')),
  crashed: new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground')),
  broken: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')),
};

export class PluginTree implements vscode.TreeDataProvider<PluginTreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<PluginTreeNode | undefined>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly registry: PluginRegistry,
    private readonly stats: StatsPoller,
  ) {}

  /** Redraws the tree; a batch changes the counts many times a second, so redraws are spaced out. */
  refresh(): void {
    if (this.refreshTimer) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_INTERVAL_MS - Date.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.lastRefresh = Date.now();
      this.changed.fire(undefined);
    }, wait);
  }

  async getChildren(node?: PluginTreeNode): Promise<PluginTreeNode[]> {
    if (!node) {
      await this.registry.loaded; // the view shows its progress bar meanwhile, not "No plugins found"
      return this.registry
        .list()
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((plugin) => ({ kind: 'plugin', name: plugin.name }));
    }
    if (node.kind === 'stat') return [];
    const stats = this.stats.get(node.name);
    const plugin = this.registry.get(node.name);
    return stats && plugin ? statRows(plugin, stats) : [];
  }

  getTreeItem(node: PluginTreeNode): vscode.TreeItem {
    if (node.kind === 'stat') {
      const item = new vscode.TreeItem(node.label);
      item.id = `${node.plugin}/${node.label}`;
      item.description = node.value;
      return item;
    }
    const plugin = this.registry.get(node.name);
    return plugin ? this.pluginItem(plugin) : new vscode.TreeItem(node.name);
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.changed.dispose();
  }

  private pluginItem(plugin: PluginInfo): vscode.TreeItem {
    const stats = this.stats.get(plugin.name);
    const item = new vscode.TreeItem(plugin.name, stats ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    // The state is part of the id so that a plugin that starts gets an expandable row.
    item.id = `plugin/${plugin.name}/${stats ? 'stats' : 'plain'}`;
    item.iconPath = STATE_ICONS[plugin.state];
    item.description = describePlugin(plugin, stats);
    item.tooltip = tooltip(plugin, stats);
    item.contextValue = `plugin.${plugin.state}`;
    item.accessibilityInformation = { label: `${plugin.name} ${item.description}` };
    if (plugin.state === 'broken') {
      item.command = { command: 'remotePluginProxy.openManifest', title: 'Open Manifest', arguments: [{ kind: 'plugin', name: plugin.name }] };
    }
    return item;
  }
}

/** "1.0.0 · busy · 2 running · 14 queued · 412 MB · 3% CPU", why it waits, the reason of a failed start, or the error of a broken plugin (the tooltip has all of it). */
function describePlugin(plugin: PluginInfo, stats: WorkerStats | undefined): string {
  if (plugin.state === 'broken') return `broken · ${firstLine(withShortPath(plugin.lastError?.message ?? 'invalid manifest', plugin.manifestPath))}`;
  if (plugin.state === 'failed') return [plugin.version, 'failed', firstLine(startFailure(plugin))].filter(Boolean).join(' · ');
  const parts = [plugin.version, plugin.state, ...queueParts(plugin)];
  if (plugin.waitingFor) parts.push(plugin.waitingFor);
  if (plugin.workers.length > 1) {
    const total = plugin.workers.reduce((sum, worker) => sum + (worker.memoryBytes ?? 0), 0);
    parts.push(`${plugin.workers.length} workers`, ...(total > 0 ? [formatMemory(total)] : []));
  } else if (stats) {
    parts.push(...statsSummary(stats));
  }
  return parts.filter(Boolean).join(' · ');
}

/** "2 running · 14 queued" once more than one call is in play; a lone call is just "busy". */
function queueParts(plugin: PluginInfo): string[] {
  if (plugin.running <= 1 && plugin.queued === 0) return [];
  return [`${plugin.running} running`, ...(plugin.queued > 0 ? [`${plugin.queued} queued`] : [])];
}

function statRows(plugin: PluginInfo, stats: WorkerStats): StatNode[] {
  const rows = statsRows(stats);
  const single = plugin.workers.length === 1 ? plugin.workers[0] : undefined;
  if (single?.gpuMemoryBytes !== undefined) rows.push(['GPU memory', formatMemory(single.gpuMemoryBytes)]);
  // Several workers: one row each, with what it is doing and what it holds.
  if (plugin.workers.length > 1) rows.push(...plugin.workers.map((worker): [string, string] => [`Worker ${worker.pid}`, describeWorker(worker)]));
  return rows.map(([label, value]) => ({ kind: 'stat', plugin: plugin.name, label, value }));
}

/** "busy · 412 MB · GPU 1.2 GB" */
function describeWorker(worker: WorkerInfo): string {
  const parts = [worker.busy ? 'busy' : 'idle'];
  if (worker.memoryBytes !== undefined) parts.push(formatMemory(worker.memoryBytes));
  if (worker.gpuMemoryBytes !== undefined) parts.push(`GPU ${formatMemory(worker.gpuMemoryBytes)}`);
  return parts.join(' · ');
}

function tooltip(plugin: PluginInfo, stats: WorkerStats | undefined): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(plugin.name)}** ${escape(plugin.version)} — ${plugin.state}\n\n`);
  if (plugin.description) md.appendMarkdown(`${escape(plugin.description)}\n\n`);
  const manifest = plugin.manifest;
  const rows: Array<[string, string | undefined]> = [
    ['Manifest', plugin.manifestPath],
    ['Interpreter', plugin.pythonExecutable ?? manifest?.python_path],
    ['Class', manifest ? `${manifest.module}.${manifest.class}` : undefined],
    ['Files', plugin.fileTypes.length > 0 ? plugin.fileTypes.join(' ') : manifest ? 'any' : undefined],
    ...(stats ? statsRows(stats) : [['PID', plugin.pid?.toString()] as [string, string | undefined]]),
    ['Workers', plugin.maxInstances > 1 || plugin.workers.length > 1 ? `${plugin.workers.length} of at most ${plugin.maxInstances}` : undefined],
    ['Queue', plugin.queued > 0 ? `${plugin.queued} waiting` : undefined],
    ['Waiting', plugin.waitingFor],
    ['Memory to start a worker', plugin.memoryNeedBytes === undefined ? undefined : formatMemory(plugin.memoryNeedBytes)],
  ];
  for (const [label, value] of rows) if (value !== undefined) md.appendMarkdown(`${label}: \`${value.replace(/`/g, "'")}\`  \n`);
  appendProblems(md, plugin);
  return md;
}

/** The whole reason, never cut: every manifest problem, or the last error with its exit code and the worker's last output. */
function appendProblems(md: vscode.MarkdownString, plugin: PluginInfo): void {
  if (plugin.state === 'broken' && plugin.problems && plugin.problems.length > 0) {
    md.appendMarkdown(`\n**${plugin.problems.length === 1 ? 'Problem' : `${plugin.problems.length} problems`}** (click to open the manifest there):\n\n`);
    for (const problem of plugin.problems) {
      md.appendMarkdown('- ');
      md.appendText(problem.at ? `line ${problem.at.line}, column ${problem.at.column}: ${problem.reason}` : problem.reason);
      md.appendMarkdown('\n');
    }
    return;
  }
  const error = plugin.lastError;
  if (!error) return;
  md.appendMarkdown(plugin.state === 'failed' ? '\n**Failed to start:** ' : '\n**Last error:** ');
  md.appendText(error.message);
  const exit = error.options.signal ? `signal ${error.options.signal}` : error.options.exitCode != null ? `code ${error.options.exitCode}` : undefined;
  if (exit) md.appendMarkdown(`\n\nExit: \`${exit}\``);
  if (error.detail && (plugin.state === 'failed' || plugin.state === 'crashed')) {
    md.appendMarkdown('\n\nLast output:\n');
    md.appendCodeblock(lastLines(error.detail, 15), 'text');
  }
}

/** A failed start's reason without the repeated "Plugin "x" did not start:". */
function startFailure(plugin: PluginInfo): string {
  const message = plugin.lastError?.message ?? 'did not start';
  return message.replace(`Plugin "${plugin.name}" did not start: `, '');
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|]/g, '\\$&');
}

/** The row is narrow: the manifest's file name is enough there (the tooltip has the full path). */
function withShortPath(message: string, manifestPath: string): string {
  return message.split(manifestPath).join(path.basename(manifestPath));
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
