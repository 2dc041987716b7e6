// What a user does with a recorded run, from the Runs view's menus or the command palette: reopen it,
// run it again, reveal its file, copy or save its results, delete it, clear the history, compare two.
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunHistory, RunRecord } from '../core/runHistory';
import { plural } from '../core/resultText';
import { copyResults, saveResults } from './resultsExport';
import { ResultsPanel } from './resultsPanel';
import { baseName } from './resultsView';
import { ComparisonPanel, comparable, exportedRun, openDiff } from './runComparison';
import type { RunCommands } from './runCommands';
import { describeRun, filesLabel } from './runDescription';
import type { RunsNode, RunsView } from './runsView';

export class RunHistoryCommands {
  /** The latest panel opened from the history (reopened run or comparison), for the extension's API. */
  latestPanel: ResultsPanel | ComparisonPanel | undefined;

  constructor(
    private readonly history: RunHistory,
    private readonly view: RunsView,
    private readonly runs: RunCommands,
    private readonly extensionUri: vscode.Uri,
  ) {}

  async open(node: unknown): Promise<ResultsPanel | undefined> {
    const record = await this.recordOf(node, 'Run to open');
    if (!record) return undefined;
    const stored = await this.history.readItems(record);
    const panel = ResultsPanel.reopen(this.extensionUri, record, stored);
    panel.onDidRequestRerun(() => void this.runs.runAgain({ plugin: record.plugin, mode: record.mode, inputs: [...record.targets] }));
    if (stored.unreadableLines > 0) {
      void vscode.window.showWarningMessage(`${plural(stored.unreadableLines, 'line')} of this run could not be read (cut short when its window closed); the rest is shown.`);
    }
    this.latestPanel = panel;
    return panel;
  }

  async rerun(node: unknown): Promise<void> {
    const record = await this.recordOf(node, 'Run to run again');
    if (record) await this.runs.runAgain({ plugin: record.plugin, mode: record.mode, inputs: [...record.targets] });
  }

  async revealFile(node: unknown): Promise<void> {
    const record = await this.recordOf(node, 'Run whose file to reveal');
    if (!record) return;
    const files = record.targets.filter((target) => path.isAbsolute(target));
    const file = files.length <= 1 ? files[0] : await vscode.window.showQuickPick(files, { placeHolder: 'File to reveal' });
    if (!file) {
      if (files.length === 0) void vscode.window.showInformationMessage(`${filesLabel(record)} was an unsaved editor; there is no file to reveal.`);
      return;
    }
    const uri = vscode.Uri.file(file);
    const inWorkspace = vscode.workspace.getWorkspaceFolder(uri) !== undefined;
    await vscode.commands.executeCommand(inWorkspace ? 'revealInExplorer' : 'revealFileInOS', uri);
  }

  async copy(node: unknown): Promise<void> {
    const record = await this.recordOf(node, 'Run to copy');
    if (record) await copyResults(exportedRun(record, await this.history.readItems(record)));
  }

  async save(node: unknown): Promise<vscode.Uri | undefined> {
    const record = await this.recordOf(node, 'Run to save');
    if (!record) return undefined;
    return saveResults(exportedRun(record, await this.history.readItems(record)));
  }

  async delete(node: unknown, selected?: unknown): Promise<void> {
    const records = this.selectedRecords(node, selected);
    if (records.length === 0) {
      const record = await this.recordOf(undefined, 'Run to delete');
      if (record) records.push(record);
    }
    for (const record of records) await this.history.delete(record.id);
    this.view.refresh();
  }

  async clear(): Promise<void> {
    const count = (await this.view.runs()).filter((record) => record.status !== 'running').length;
    if (count === 0) {
      void vscode.window.showInformationMessage('The run history is empty.');
      return;
    }
    const answer = await vscode.window.showWarningMessage(`Delete all ${plural(count, 'run')} and their results from the history?`, { modal: true }, 'Clear History');
    if (answer !== 'Clear History') return;
    await this.history.clear();
    this.view.refresh();
  }

  /** Two selected runs, or one and then a choice among the runs of the same plugin on the same files. */
  async compare(node: unknown, selected?: unknown): Promise<ComparisonPanel | undefined> {
    let records = this.selectedRecords(node, selected);
    if (records.length > 2) {
      void vscode.window.showErrorMessage('Select two runs to compare.');
      return undefined;
    }
    if (records.length === 0) {
      const first = await this.recordOf(undefined, 'First run to compare');
      if (!first) return undefined;
      records = [first];
    }
    if (records.length === 1) {
      const second = await this.pickComparable(records[0]!);
      if (!second) return undefined;
      records.push(second);
    }
    const [a, b] = records as [RunRecord, RunRecord];
    if (!comparable(a, b)) {
      void vscode.window.showErrorMessage(`Runs can be compared when they ran the same plugin on the same files: these are ${a.plugin} on ${filesLabel(a)} and ${b.plugin} on ${filesLabel(b)}.`);
      return undefined;
    }
    const [older, newer] = a.startedAt <= b.startedAt ? [a, b] : [b, a];
    const runs = await Promise.all([older, newer].map(async (record) => ({ record, stored: await this.history.readItems(record) })));
    const panel = new ComparisonPanel(this.extensionUri, runs);
    this.latestPanel = panel;
    await openDiff(older, newer);
    return panel;
  }

  private async pickComparable(first: RunRecord): Promise<RunRecord | undefined> {
    const candidates = (await this.view.runs()).filter((record) => record.id !== first.id && record.status !== 'running' && comparable(record, first));
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(`No other run of ${first.plugin} on ${filesLabel(first)} to compare with. Run it again (for example after changing its configuration), then compare.`);
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(candidates.map((record) => ({ label: describeRun(record), record })), {
      placeHolder: `Compare with another run of ${first.plugin} on ${filesLabel(first)}`,
    });
    return picked?.record;
  }

  /** The run a command was invoked on; from the palette, a pick among the runs. */
  private async recordOf(node: unknown, placeHolder: string): Promise<RunRecord | undefined> {
    if (isRunNode(node)) return node.record;
    const records = await this.view.runs();
    if (records.length === 0) {
      void vscode.window.showInformationMessage('No runs in the history yet: run a plugin on a file first.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(records.map((record) => ({
      label: `${record.plugin} · ${record.targets.map(baseName).join(', ')}`, description: describeRun(record), record,
    })), { placeHolder, matchOnDescription: true });
    return picked?.record;
  }

  /** Runs selected in the view (VS Code passes the clicked node and the whole selection). */
  private selectedRecords(node: unknown, selected: unknown): RunRecord[] {
    const nodes = Array.isArray(selected) && selected.length > 0 ? selected : node ? [node] : [];
    return nodes.filter(isRunNode).map((run) => run.record);
  }
}

function isRunNode(node: unknown): node is Extract<RunsNode, { kind: 'run' }> {
  return typeof node === 'object' && node !== null && (node as RunsNode).kind === 'run';
}
