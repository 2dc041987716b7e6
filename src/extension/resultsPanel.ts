// One webview panel per run: a live run (items stream in, posted in batches about every 50 ms so a
// fast stream does not flood the webview) or a run reopened from the history exactly as it was. The panel
// keeps every item for the webview's renderers, Copy and Save; plugin output reaches the page only as data.
import * as vscode from 'vscode';
import { adviseOn } from '../core/failureAdvice';
import { resultsHintOf, type ResultRenderer } from '../core/resultShapes';
import type { RunRecord, StoredItems } from '../core/runHistory';
import type { ExportedRun } from '../core/runExport';
import type { ErrorAction, FromWebview, RunSummaryView } from '../webview/messages';
import { failureActionCommand } from './pluginErrors';
import { copyResults, saveResults } from './resultsExport';
import { ResultsWebview } from './resultsWebview';
import { baseName, runWords, type FileOutcome, type ResultsView, type RunMode, type RunSummary } from './resultsView';
import { describeRun } from './runDescription';

const FLUSH_INTERVAL_MS = 50;

interface FileResults {
  path: string;
  items: unknown[];
  ended: boolean;
  error?: string;
  cancelled?: boolean;
  /** The error row's buttons (ids index the panel's commands). */
  actions?: ErrorAction[];
}

/** What the panel shows about the run besides its items. */
export interface PanelRun {
  plugin: string;
  pluginVersion?: string;
  mode: RunMode;
  /** Every file the run was asked to process. */
  targets: string[];
  hint?: ResultRenderer;
  /** Epoch milliseconds. */
  startedAt: number;
  config?: Record<string, unknown>;
  /** The history's record of a reopened run. */
  record?: RunRecord;
  /** The worker was not running when the run began: the panel says it starts until the first item. */
  cold?: boolean;
  /** The plugin's file types, for the hint in an error about an input it could not read. */
  fileTypes?: readonly string[];
}

export class ResultsPanel implements ResultsView {
  private readonly webview: ResultsWebview;
  private readonly files: FileResults[] = [];
  private pending: unknown[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private summary: RunSummaryView | undefined;
  private readonly stopRequested = new vscode.EventEmitter<void>();
  private readonly rerunRequested = new vscode.EventEmitter<void>();
  /** The commands behind the error rows' buttons, by id. */
  private readonly actionCommands: vscode.Command[] = [];
  /** Items the webview has put on screen (reported back by it); for tests and diagnostics. */
  renderedCount = 0;
  /** "plugin: file", "plugin: N files"; streams and reopened runs say so. Kept: a closed panel has none. */
  readonly title: string;

  readonly onDidRequestStop = this.stopRequested.event;
  /** The Run Again button of a finished run. */
  readonly onDidRequestRerun = this.rerunRequested.event;

  constructor(extensionUri: vscode.Uri, private readonly run: PanelRun) {
    this.title = panelTitle(run);
    this.webview = new ResultsWebview(extensionUri, this.title, run.targets, (message) => this.onMessage(message));
    this.webview.panel.onDidDispose(() => this.onPanelClosed());
  }

  /** Reopens a run from the history, as it was when it ended. */
  static reopen(extensionUri: vscode.Uri, record: RunRecord, stored: StoredItems): ResultsPanel {
    const panel = new ResultsPanel(extensionUri, {
      plugin: record.plugin, pluginVersion: record.pluginVersion, mode: record.mode, targets: record.targets,
      hint: resultsHintOf(record.results), startedAt: record.startedAt, config: record.config, record,
    });
    record.files.forEach((file, index) => {
      panel.files.push({ path: file.path, items: stored.files[index] ?? [], ended: file.ended, error: file.error, cancelled: file.cancelled });
    });
    panel.summary = {
      items: record.items, files: record.files.length, errors: record.errors, durationMs: record.durationMs ?? 0,
      cancelled: record.status === 'cancelled', interrupted: record.status === 'interrupted',
    };
    return panel;
  }

  get finished(): boolean {
    return this.summary !== undefined;
  }

  /** The run as it is exported (Save, the comparison's JSON). */
  get exported(): ExportedRun {
    const record = this.run.record;
    return {
      plugin: this.run.plugin, pluginVersion: this.run.pluginVersion, mode: this.run.mode, startedAt: this.run.startedAt,
      status: record?.status, durationMs: this.summary?.durationMs, config: this.run.config, results: this.run.hint,
      files: this.files.map(({ path, items, error, cancelled }) => ({ path, items, error, cancelled })),
    };
  }

  beginFile(filePath: string): void {
    this.flush();
    this.files.push({ path: filePath, items: [], ended: false });
    const index = this.files.length - 1;
    this.webview.post({ type: 'file', run: 0, file: index, path: filePath, media: this.webview.sourceMedia(filePath) });
  }

  append(item: unknown): void {
    this.current().items.push(item);
    this.pending.push(item);
    // A fast stream is read in long macrotasks in which timers do not run: flush by the clock as items come.
    if (performance.now() - this.lastFlush >= FLUSH_INTERVAL_MS) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  endFile(outcome: FileOutcome): void {
    this.flush();
    const current = this.current();
    current.ended = true;
    current.cancelled = outcome.cancelled;
    if (outcome.error) {
      // The same message and buttons as the notification (core/failureAdvice.ts), in the file's error row.
      const advice = adviseOn(outcome.error, { plugin: this.run.plugin, input: current.path, fileTypes: this.run.fileTypes });
      current.error = advice.message;
      current.actions = advice.actions.map((action) => this.addAction(failureActionCommand(action, outcome.error?.plugin ?? this.run.plugin, current.path)));
    }
    this.webview.post({ type: 'fileEnd', run: 0, file: this.files.length - 1, error: current.error, cancelled: current.cancelled, actions: current.actions });
  }

  private addAction(command: vscode.Command): ErrorAction {
    this.actionCommands.push(command);
    return { id: this.actionCommands.length - 1, title: command.title };
  }

  finish(summary: RunSummary): void {
    this.flush();
    this.summary = { items: summary.items, files: summary.files, errors: summary.errors, cancelled: summary.cancelled, durationMs: summary.durationMs };
    this.webview.post({ type: 'end', run: 0, summary: this.summary });
  }

  private current(): FileResults {
    const current = this.files.at(-1);
    if (!current) throw new Error('ResultsPanel: beginFile() must come before results.');
    return current;
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    this.lastFlush = performance.now();
    // Before the page is ready these are dropped: the replay sends every file's items so far.
    this.webview.postItems(0, this.files.length - 1, this.pending);
    this.pending = [];
  }

  private onMessage(message: FromWebview): void {
    switch (message.type) {
      case 'ready': return this.replay();
      case 'rendered': this.renderedCount = message.count; return;
      case 'stop': return this.stopRequested.fire();
      case 'rerun': return this.rerunRequested.fire();
      case 'action': return this.runAction(message.id);
      case 'copy': return void copyResults(this.exported);
      case 'save': return void saveResults(this.exported);
    }
  }

  private runAction(id: number): void {
    const command = this.actionCommands[id];
    if (command) void vscode.commands.executeCommand(command.command, ...(command.arguments ?? []));
  }

  /** The webview (re)started: send it the run so far, in bounded messages. */
  private replay(): void {
    const live = this.run.record === undefined;
    const detail = this.run.record ? describeRun(this.run.record) : undefined;
    this.webview.post({ type: 'reset', layout: 'single', runs: [{
      title: runWords(this.run.mode, this.run.targets), plugin: this.run.plugin, detail, hint: this.run.hint, live,
      cold: this.run.cold, startedAt: live ? this.run.startedAt : undefined,
    }] });
    for (const [index, file] of this.files.entries()) {
      this.webview.post({ type: 'file', run: 0, file: index, path: file.path, media: this.webview.sourceMedia(file.path) });
      const sent = index === this.files.length - 1 ? file.items.length - this.pending.length : file.items.length;
      this.webview.postItems(0, index, sent === file.items.length ? file.items : file.items.slice(0, sent));
      if (file.ended) this.webview.post({ type: 'fileEnd', run: 0, file: index, error: file.error, cancelled: file.cancelled, actions: file.actions });
    }
    if (this.summary) this.webview.post({ type: 'end', run: 0, summary: this.summary });
  }

  /** Closing the panel while the run goes on stops the run: nobody would see its results. */
  private onPanelClosed(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.summary) this.stopRequested.fire();
    this.webview.dispose();
    this.stopRequested.dispose();
    this.rerunRequested.dispose();
  }
}

/** Run and Stream tabs differ; a reopened run shows when it ran. */
function panelTitle(run: PanelRun): string {
  const what = run.targets.length === 1 ? baseName(run.targets[0]!) : `${run.targets.length} files`;
  const base = `${run.plugin}: ${what}`;
  if (run.record) return `${base} · ${new Date(run.record.startedAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
  return run.mode === 'stream' ? `${base} (stream)` : base;
}
