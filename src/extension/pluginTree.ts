// The "Plugins" tree: one item per manifest with its state, live figures while it runs, and the
// figures as child rows when expanded. It only translates the registry's state into TreeItems.
import path from 'node:path';
import * as vscode from 'vscode';
import type { PluginInfo, PluginState } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';
import { statsRows, statsSummary, type WorkerStats } from '../core/workerStats';
import type { StatsPoller } from './statsPoller';

export type PluginNode = { kind: 'plugin'; name: string };
type StatNode = { kind: 'stat'; plugin: string; label: string; value: string };
export type PluginTreeNode = PluginNode | StatNode;

const STATE_ICONS: Record<PluginState, vscode.ThemeIcon> = {
  stopped: new vscode.ThemeIcon('circle-large-outline', new vscode.ThemeColor('disabledForeground')),
  starting: new vscode.ThemeIcon('loading~spin'),
  ready: new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed')),
  busy: new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('charts.blue')),
  crashed: new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground')),
  broken: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')),
};

export class PluginTree implements vscode.TreeDataProvider<PluginTreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<PluginTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly registry: PluginRegistry,
    private readonly stats: StatsPoller,
  ) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: PluginTreeNode): PluginTreeNode[] {
    if (!node) {
      return this.registry
        .list()
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((plugin) => ({ kind: 'plugin', name: plugin.name }));
    }
    if (node.kind === 'stat') return [];
    const stats = this.stats.get(node.name);
    return stats ? statRows(node.name, stats) : [];
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

/** "1.0.0 · ready · 412 MB · 3% CPU", or the error of a broken plugin. */
function describePlugin(plugin: PluginInfo, stats: WorkerStats | undefined): string {
  if (plugin.state === 'broken') return `broken · ${firstLine(withShortPath(plugin.lastError?.message ?? 'invalid manifest', plugin.manifestPath))}`;
  const parts = [plugin.version, plugin.state];
  if (plugin.running > 1) parts.push(`${plugin.running} calls`);
  if (stats) parts.push(...statsSummary(stats));
  return parts.filter(Boolean).join(' · ');
}

function statRows(plugin: string, stats: WorkerStats): StatNode[] {
  return statsRows(stats).map(([label, value]) => ({ kind: 'stat', plugin, label, value }));
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
  ];
  for (const [label, value] of rows) if (value !== undefined) md.appendMarkdown(`${label}: \`${value.replace(/`/g, "'")}\`  \n`);
  if (plugin.lastError) {
    md.appendMarkdown('\n**Last error:** ');
    md.appendText(plugin.lastError.message);
  }
  return md;
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
