// Two runs of the same plugin on the same files side by side: both renderings in one panel, and their
// JSON in VS Code's own diff editor (read-only documents of the `rpp-run` scheme, served from the history).
import * as vscode from 'vscode';
import { resultsHintOf } from '../core/resultShapes';
import type { RunHistory, RunRecord, StoredItems } from '../core/runHistory';
import { asJson, type ExportedRun } from '../core/runExport';
import type { RunHeader } from '../webview/messages';
import { ResultsWebview } from './resultsWebview';
import { runWords } from './resultsView';
import { describeRun, filesLabel, timeOfDay } from './runDescription';

export const RUN_DOCUMENT_SCHEME = 'rpp-run';

/** The exported form of a recorded run (what Save writes as JSON, and what the diff shows). */
export function exportedRun(record: RunRecord, stored: StoredItems): ExportedRun {
  return {
    plugin: record.plugin, pluginVersion: record.pluginVersion, mode: record.mode, status: record.status,
    startedAt: record.startedAt, durationMs: record.durationMs, config: record.config, kwargs: record.kwargs,
    results: resultsHintOf(record.results),
    files: record.files.map((file, index) => ({ path: file.path, items: stored.files[index] ?? [], error: file.error, cancelled: file.cancelled })),
  };
}

/** `rpp-run:/<id>/<plugin> - <file> <time>.json`: a run's JSON, for the diff editor. */
export class RunDocuments implements vscode.TextDocumentContentProvider {
  constructor(private readonly history: RunHistory) {}

  static uriOf(record: RunRecord): vscode.Uri {
    const name = `${record.plugin} - ${filesLabel(record)} ${timeOfDay(record.startedAt)}.json`.replace(/[/\\:]/g, '-');
    return vscode.Uri.from({ scheme: RUN_DOCUMENT_SCHEME, path: `/${record.id}/${name}` });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const id = uri.path.split('/')[1] ?? '';
    const record = await this.history.get(id);
    if (!record) return `// This run is no longer in the history (deleted, or dropped by remotePluginProxy.historyMaxRuns).\n`;
    return asJson(exportedRun(record, await this.history.readItems(record)));
  }
}

export async function openDiff(left: RunRecord, right: RunRecord): Promise<void> {
  const title = `${left.plugin} on ${filesLabel(left)}: ${timeOfDay(left.startedAt)} ↔ ${timeOfDay(right.startedAt)}`;
  await vscode.commands.executeCommand('vscode.diff', RunDocuments.uriOf(left), RunDocuments.uriOf(right), title, { viewColumn: vscode.ViewColumn.Beside, preview: false });
}

/** A panel with the two renderings side by side (older on the left); its toolbar opens the JSON diff. */
export class ComparisonPanel {
  private readonly webview: ResultsWebview;

  constructor(extensionUri: vscode.Uri, private readonly runs: Array<{ record: RunRecord; stored: StoredItems }>) {
    const [left, right] = runs.map((run) => run.record) as [RunRecord, RunRecord];
    const title = `Compare ${left.plugin}: ${filesLabel(left)} ${timeOfDay(left.startedAt)} ↔ ${timeOfDay(right.startedAt)}`;
    this.webview = new ResultsWebview(extensionUri, title, [...left.targets, ...right.targets], (message) => {
      if (message.type === 'ready') this.replay();
      else if (message.type === 'diff') void openDiff(left, right);
    });
    this.webview.panel.onDidDispose(() => this.webview.dispose());
  }

  get panel(): vscode.WebviewPanel {
    return this.webview.panel;
  }

  private replay(): void {
    const headers: RunHeader[] = this.runs.map(({ record }) => ({
      title: `${runWords(record.mode, record.targets)} at ${timeOfDay(record.startedAt)}`,
      plugin: record.plugin, detail: describeRun(record), hint: resultsHintOf(record.results), live: false,
    }));
    this.webview.post({ type: 'reset', layout: 'compare', runs: headers });
    this.runs.forEach(({ record, stored }, run) => {
      record.files.forEach((file, index) => {
        this.webview.post({ type: 'file', run, file: index, path: file.path, media: this.webview.sourceMedia(file.path) });
        this.webview.postItems(run, index, stored.files[index] ?? []);
        if (file.ended) this.webview.post({ type: 'fileEnd', run, file: index, error: file.error, cancelled: file.cancelled });
      });
      this.webview.post({ type: 'end', run, summary: {
        items: record.items, files: record.files.length, errors: record.errors, durationMs: record.durationMs ?? 0,
        cancelled: record.status === 'cancelled', interrupted: record.status === 'interrupted',
      } });
    });
  }
}

/** Two runs can be compared when they ran the same plugin on the same files. */
export function comparable(a: RunRecord, b: RunRecord): boolean {
  return a.plugin === b.plugin && a.targets.length === b.targets.length && a.targets.every((target, index) => target === b.targets[index]);
}
