// The Runs view (in the Plugins container): every recorded run, newest first, grouped by day, with a
// state icon as in Test Results. The history is read when the view is first shown, not at activation.
import * as vscode from 'vscode';
import type { RunHistory, RunRecord, RunStatus } from '../core/runHistory';
import { formatDuration, plural } from '../core/resultText';
import { STATUS_WORDS, configWords, filesLabel, timeOfDay } from './runDescription';

export const RUNS_VIEW_ID = 'remotePluginProxy.runs';

export type RunsNode = { kind: 'day'; label: string; runs: RunRecord[]; recent: boolean } | { kind: 'run'; record: RunRecord };

const STATUS_ICONS: Record<RunStatus, vscode.ThemeIcon> = {
  running: new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('testing.iconQueued')),
  done: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  cancelled: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('testing.iconSkipped')),
  interrupted: new vscode.ThemeIcon('debug-disconnect', new vscode.ThemeColor('testing.iconErrored')),
};

export class RunsView implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  private records: RunRecord[] | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly history: RunHistory, private readonly log: vscode.LogOutputChannel) {}

  /** Reads the history again (debounced: a run's start and end come in bursts). */
  refresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.records = undefined;
      this.changed.fire(undefined);
    }, 100);
  }

  /** The runs as last listed (newest first), reading them if needed. */
  async runs(): Promise<RunRecord[]> {
    if (!this.records) {
      try {
        this.records = await this.history.list();
      } catch (error) {
        this.log.error(`Could not read the run history in ${this.history.dir}: ${String(error)}`);
        this.records = [];
      }
    }
    return this.records;
  }

  async getChildren(node?: RunsNode): Promise<RunsNode[]> {
    if (node?.kind === 'day') return node.runs.map((record) => ({ kind: 'run', record }));
    if (node) return [];
    return groupByDay(await this.runs());
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    if (node.kind === 'day') {
      const item = new vscode.TreeItem(node.label, node.recent ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `day:${node.label}`;
      item.description = plural(node.runs.length, 'run');
      item.contextValue = 'runDay';
      return item;
    }
    const record = node.record;
    const item = new vscode.TreeItem(`${record.plugin} · ${filesLabel(record)}`, vscode.TreeItemCollapsibleState.None);
    item.id = `run:${record.id}`;
    item.iconPath = STATUS_ICONS[record.status];
    const duration = record.durationMs === undefined ? undefined : formatDuration(record.durationMs);
    item.description = [timeOfDay(record.startedAt), record.mode === 'stream' ? 'stream' : undefined, plural(record.items, 'item'), duration]
      .filter(Boolean).join(' · ');
    item.tooltip = tooltipOf(record);
    item.contextValue = `run.${record.status}`;
    item.accessibilityInformation = { label: `${record.plugin} on ${filesLabel(record)}, ${STATUS_WORDS[record.status]}, ${item.description}` };
    item.command = { command: 'remotePluginProxy.openRun', title: 'Open Results', arguments: [node] };
    return item;
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.changed.dispose();
  }
}

function tooltipOf(record: RunRecord): vscode.MarkdownString {
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown(`**${escape(record.plugin)}** ${record.pluginVersion ? `v${escape(record.pluginVersion)} ` : ''}· ${record.mode === 'stream' ? 'Stream' : 'Run'} · $(${STATUS_ICONS[record.status].id.replace('~spin', '')}) ${STATUS_WORDS[record.status]}\n\n`);
  tooltip.appendMarkdown(`${escape(new Date(record.startedAt).toLocaleString())}${record.durationMs === undefined ? '' : `, ${formatDuration(record.durationMs)}`}, ${plural(record.items, 'item')}\n\n`);
  for (const file of record.files.length > 0 ? record.files : record.targets.map((target) => ({ path: target, error: undefined }))) {
    tooltip.appendMarkdown(`- ${escape(file.path)}${file.error ? ` — ${escape(file.error)}` : ''}\n`);
  }
  const config = configWords(record.config);
  if (config) tooltip.appendMarkdown(`\n${escape(config)}`);
  return tooltip;
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>$]/g, '\\$&');
}

/** Newest day first: "Today", "Yesterday", then dates. */
export function groupByDay(records: readonly RunRecord[], now = new Date()): RunsNode[] {
  const groups = new Map<string, RunRecord[]>();
  for (const record of records) {
    const label = dayLabel(new Date(record.startedAt), now);
    const group = groups.get(label);
    if (group) group.push(record);
    else groups.set(label, [record]);
  }
  return [...groups].map(([label, runs], index) => ({ kind: 'day', label, runs, recent: index < 2 }));
}

function dayLabel(date: Date, now: Date): string {
  const day = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(now) - day(date)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return date.toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: date.getFullYear() === now.getFullYear() ? undefined : 'numeric' });
}
