// One webview per batch run: a table of its files with status, duration and a one-line summary of
// each result, updated as files finish (posted in batches, at most one message per ~50 ms). A row
// opens that file's whole result in the results panel. Plugin output reaches the page only as text.
import path from 'node:path';
import * as vscode from 'vscode';
import type { BatchItem } from '../core/batchRun';
import { PluginError, type PluginErrorKind } from '../core/errors';
import { formatDuration, itemAsText } from '../core/resultText';
import { ResultsPanel, type PanelRun } from './resultsPanel';
import type { RunRequest } from './runCommands';
import { webviewPage } from './webviewPage';

export type BatchRowStatus = 'waiting' | 'running' | 'ok' | 'cached' | 'failed' | 'cancelled';

export interface BatchRow {
  file: string;
  status: BatchRowStatus;
  ms?: number;
  summary?: string;
}

export interface BatchSummary {
  plugin: string;
  files: number;
  ok: number;
  failed: number;
  cached: number;
  cancelled: boolean;
  /** Result files written (<file>.<plugin>.json). */
  written: number;
  durationMs: number;
}

/** Messages from the webview (media/batch.js). */
type WebviewMessage = { type: 'ready' } | { type: 'stop' } | { type: 'open'; index: number };

/** What a row's results panel shows about the plugin besides the file's result. */
export type BatchPlugin = Pick<PanelRun, 'plugin' | 'pluginVersion' | 'hint' | 'fileTypes'>;

const FLUSH_INTERVAL_MS = 50;
const SUMMARY_CHARS = 160;

export class BatchView implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly rows: BatchRow[];
  private readonly results = new Map<number, BatchItem>();
  private readonly indexOf = new Map<string, number>();
  private dirty = new Set<number>();
  private flushTimer: NodeJS.Timeout | undefined;
  private status = '';
  private summary: BatchSummary | undefined;
  private disposed = false;
  private readonly stopRequested = new vscode.EventEmitter<void>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly mediaRoot: vscode.Uri;
  private readonly webviewBundle: vscode.Uri;
  private readonly plugin: string;
  readonly title: string;
  readonly onDidRequestStop = this.stopRequested.event;
  /** The results panel a row opened last (for the extension's API). */
  openedPanel: ResultsPanel | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly about: BatchPlugin,
    files: readonly string[],
    /** Rows show paths relative to this folder. */
    private readonly root: string,
  ) {
    this.mediaRoot = vscode.Uri.joinPath(extensionUri, 'media');
    this.webviewBundle = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
    this.plugin = about.plugin;
    const { plugin, mediaRoot } = this;
    this.rows = files.map((file, index) => {
      this.indexOf.set(file, index);
      return { file, status: 'waiting' };
    });
    this.title = `${plugin}: ${files.length} ${files.length === 1 ? 'file' : 'files'}`;
    this.panel = vscode.window.createWebviewPanel('remotePluginProxy.batch', this.title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [mediaRoot, this.webviewBundle],
    });
    this.panel.iconPath = vscode.Uri.joinPath(mediaRoot, 'plugins.svg');
    this.panel.webview.html = this.html();
    this.subscriptions.push(
      this.panel.webview.onDidReceiveMessage((message: WebviewMessage) => this.onMessage(message)),
      this.panel.onDidDispose(() => this.onPanelClosed()),
    );
  }

  /** The rows as the table shows them (for the extension's API and its tests). */
  get table(): readonly BatchRow[] {
    return this.rows;
  }

  get finished(): boolean {
    return this.summary !== undefined;
  }

  started(file: string): void {
    this.setRow(file, { status: 'running' });
  }

  done(item: BatchItem): void {
    const index = this.indexOf.get(item.file);
    if (index === undefined) return;
    this.results.set(index, item);
    const status: BatchRowStatus = !item.ok ? 'failed' : item.cached ? 'cached' : 'ok';
    this.setRow(item.file, { status, ms: item.ms, summary: item.ok ? summarize(item.result) : item.error?.message });
  }

  /** The line above the table ("37 / 240 · 2 running · 3 failed", or why it waits). */
  setStatus(text: string): void {
    if (text === this.status) return;
    this.status = text;
    this.schedule();
  }

  finish(summary: BatchSummary): void {
    this.summary = summary;
    for (const [index, row] of this.rows.entries()) {
      if (row.status === 'waiting' || row.status === 'running') {
        row.status = 'cancelled';
        this.dirty.add(index);
      }
    }
    this.flush();
    this.post({ type: 'end', summary });
  }

  /** Opens one file's result in the results panel (the panel's own API: one file, one item); its Run Again runs that file again. */
  openResult(index: number): void {
    const item = this.results.get(index);
    if (!item) return;
    const panel = new ResultsPanel(this.extensionUri, { ...this.about, mode: 'execute', targets: [item.file], startedAt: Date.now() - item.ms });
    const again: RunRequest = { plugin: this.plugin, mode: 'execute', inputs: [item.file] };
    panel.onDidRequestRerun(() => void vscode.commands.executeCommand('remotePluginProxy.runAgain', again));
    this.openedPanel = panel;
    panel.beginFile(item.file);
    if (item.ok) panel.append(item.result);
    panel.endFile(item.ok ? {} : { error: new PluginError((item.error?.kind ?? 'plugin') as PluginErrorKind, item.error?.message ?? 'failed', { plugin: this.plugin, detail: item.error?.detail }) });
    panel.finish({ plugin: this.plugin, files: 1, items: item.ok ? 1 : 0, errors: item.ok ? 0 : 1, cancelled: false, durationMs: item.ms });
  }

  dispose(): void {
    this.panel.dispose();
  }

  private setRow(file: string, change: Partial<BatchRow>): void {
    const index = this.indexOf.get(file);
    if (index === undefined) return;
    Object.assign(this.rows[index]!, change);
    this.dirty.add(index);
    this.schedule();
  }

  private schedule(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const rows = [...this.dirty].map((index) => ({ index, ...this.rowForPage(index) }));
    this.dirty = new Set();
    this.post({ type: 'rows', rows, status: this.status });
  }

  private rowForPage(index: number) {
    const row = this.rows[index]!;
    return { status: row.status, ms: row.ms === undefined ? '' : formatDuration(row.ms), summary: row.summary ?? '' };
  }

  private onMessage(message: WebviewMessage): void {
    switch (message.type) {
      case 'ready':
        this.replay();
        break;
      case 'stop':
        this.stopRequested.fire();
        break;
      case 'open':
        if (Number.isInteger(message.index)) this.openResult(message.index);
        break;
    }
  }

  /** A webview shown again starts empty: send it the whole table. */
  private replay(): void {
    const files = this.rows.map((row) => displayPath(row.file, this.root));
    this.post({ type: 'init', plugin: this.plugin, files });
    this.dirty = new Set(this.rows.keys());
    this.flush();
    if (this.summary) this.post({ type: 'end', summary: this.summary });
  }

  private post(message: Record<string, unknown>): void {
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  /** Closing the table while the batch runs stops the batch: nobody would see its results. */
  private onPanelClosed(): void {
    this.disposed = true;
    clearTimeout(this.flushTimer);
    if (!this.summary) this.stopRequested.fire();
    for (const subscription of this.subscriptions) subscription.dispose();
    this.stopRequested.dispose();
  }

  private html(): string {
    return webviewPage(this.panel.webview, {
      title: 'Batch results',
      script: vscode.Uri.joinPath(this.mediaRoot, 'batch.js'),
      // The rules every webview shares (built from src/webview/base.css), then the table's own.
      styles: [vscode.Uri.joinPath(this.webviewBundle, 'base.css'), vscode.Uri.joinPath(this.mediaRoot, 'batch.css')],
      bodyData: { state: 'running' },
      content: `<header class="toolbar">
  <span id="title" class="title"></span>
  <span id="status" class="status" role="status">Starting…</span>
  <button id="stop" type="button">Stop</button>
</header>
<table>
  <thead><tr><th scope="col">File</th><th scope="col">Status</th><th scope="col" class="number">Time</th><th scope="col">Result</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<footer id="summary" class="summary" hidden></footer>`,
    });
  }
}

/**
 * One line of a result: a string, the text of segments, an object's "text" (a transcript, OCR), its
 * simple fields as "key: value", or compact JSON; cut short.
 */
export function summarize(result: unknown): string {
  let text: string;
  if (Array.isArray(result)) text = result.slice(0, 5).map(itemAsText).join(' · ');
  else if (isPlainObject(result)) text = typeof result.text === 'string' ? result.text : simpleFields(result) || itemAsText(result);
  else text = itemAsText(result);
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > SUMMARY_CHARS ? `${line.slice(0, SUMMARY_CHARS - 1)}…` : line;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "width: 64 · height: 48 · format: png" from the string, number and boolean fields. */
function simpleFields(value: Record<string, unknown>): string {
  return Object.entries(value)
    .filter(([, item]) => ['string', 'number', 'boolean'].includes(typeof item))
    .slice(0, 8)
    .map(([key, item]) => `${key}: ${String(item)}`)
    .join(' · ');
}

function displayPath(file: string, root: string): string {
  const relative = path.relative(root, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}
