// One webview panel per run, titled with the plugin and the file. Items stream in as they arrive,
// posted in batches (at most one message per ~50 ms) so that a fast stream of 100k items does not
// flood the webview. The panel keeps every item for Copy and Save as JSON; the webview keeps only
// the newest rows in its DOM. Plugin output reaches the page only as data, rendered with textContent.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import * as vscode from 'vscode';
import { itemAsText, type FileOutcome, type ResultsView, type RunMode, type RunSummary } from './resultsView';

const FLUSH_INTERVAL_MS = 50;
/** Rows the webview keeps in its DOM; also how many are replayed when the webview reloads. */
const MAX_ROWS = 2000;

interface FileResults {
  file: string;
  items: unknown[];
  ended: boolean;
  error?: string;
  cancelled?: boolean;
}

/** Messages from the webview (media/results.js). */
type WebviewMessage =
  | { type: 'ready' }
  | { type: 'rendered'; count: number }
  | { type: 'stop' }
  | { type: 'copy' }
  | { type: 'save' };

export class ResultsPanel implements ResultsView {
  private readonly panel: vscode.WebviewPanel;
  private readonly files: FileResults[] = [];
  private pending: unknown[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private summary: RunSummary | undefined;
  private disposed = false;
  private readonly stopRequested = new vscode.EventEmitter<void>();
  private readonly rendered = new vscode.EventEmitter<number>();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Items the webview has put on screen (reported back by it); for tests and diagnostics. */
  renderedCount = 0;
  /** "plugin: file" or "plugin: N files"; kept here because a closed panel no longer has one. */
  readonly title: string;

  readonly onDidRequestStop = this.stopRequested.event;
  readonly onDidRender = this.rendered.event;

  constructor(
    private readonly mediaRoot: vscode.Uri,
    private readonly plugin: string,
    private readonly mode: RunMode,
    firstFile: string,
    fileCount: number,
  ) {
    this.title = `${plugin}: ${fileCount === 1 ? path.basename(firstFile) : `${fileCount} files`}`;
    this.panel = vscode.window.createWebviewPanel('remotePluginProxy.results', this.title, vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: [mediaRoot],
    });
    this.panel.iconPath = vscode.Uri.joinPath(mediaRoot, 'plugins.svg');
    this.panel.webview.html = this.html();
    this.subscriptions.push(
      this.panel.webview.onDidReceiveMessage((message: WebviewMessage) => this.onMessage(message)),
      this.panel.onDidDispose(() => this.onPanelClosed()),
    );
  }

  get finished(): boolean {
    return this.summary !== undefined;
  }

  beginFile(filePath: string): void {
    this.flush();
    this.files.push({ file: filePath, items: [], ended: false });
    this.post({ type: 'file', file: filePath });
  }

  append(item: unknown): void {
    this.current().items.push(item);
    this.pending.push(item);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  endFile(outcome: FileOutcome): void {
    this.flush();
    const current = this.current();
    current.ended = true;
    current.error = outcome.error?.message;
    current.cancelled = outcome.cancelled;
    this.post({ type: 'fileEnd', error: current.error, cancelled: current.cancelled });
  }

  finish(summary: RunSummary): void {
    this.flush();
    this.summary = summary;
    this.post({ type: 'end', summary });
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
    // Only the newest rows would stay on screen anyway; older ones are counted, not sent.
    const skipped = Math.max(0, this.pending.length - MAX_ROWS);
    this.post({ type: 'items', items: this.pending.slice(skipped), skipped });
    this.pending = [];
  }

  private post(message: Record<string, unknown>): void {
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  private onMessage(message: WebviewMessage): void {
    switch (message.type) {
      case 'ready':
        this.replay();
        break;
      case 'rendered':
        this.renderedCount = message.count;
        this.rendered.fire(message.count);
        break;
      case 'stop':
        this.stopRequested.fire();
        break;
      case 'copy':
        void this.copy();
        break;
      case 'save':
        void this.save();
        break;
    }
  }

  /** A webview that was hidden and shown again starts empty: send it the run so far. */
  private replay(): void {
    this.post({ type: 'reset', plugin: this.plugin, mode: this.mode, maxRows: MAX_ROWS });
    let budget = MAX_ROWS;
    for (const [index, file] of this.files.entries()) {
      this.post({ type: 'file', file: file.file });
      const sent = index === this.files.length - 1 ? file.items.length - this.pending.length : file.items.length;
      const keep = Math.min(Math.max(budget, 0), sent);
      budget -= keep;
      this.post({ type: 'items', items: file.items.slice(sent - keep, sent), skipped: sent - keep });
      if (file.ended) {
        this.post({ type: 'fileEnd', error: file.error, cancelled: file.cancelled });
      }
    }
    if (this.summary) this.post({ type: 'end', summary: this.summary });
  }

  private async copy(): Promise<void> {
    const text = this.files.flatMap((file) => file.items.map(itemAsText)).join('\n');
    await vscode.env.clipboard.writeText(text);
    void vscode.window.setStatusBarMessage(`Copied ${this.itemCount()} items.`, 3000);
  }

  private async save(): Promise<void> {
    const first = this.files[0]?.file;
    const defaultUri = first ? vscode.Uri.file(`${first}.${this.plugin}.json`) : undefined;
    const target = await vscode.window.showSaveDialog({ defaultUri, filters: { JSON: ['json'] }, saveLabel: 'Save Results' });
    if (!target) return;
    const files = this.files.map(({ file, items, error, cancelled }) => ({ file, items, error, cancelled }));
    const content = { plugin: this.plugin, mode: this.mode, files };
    await vscode.workspace.fs.writeFile(target, Buffer.from(JSON.stringify(content, null, 2)));
    void vscode.window.setStatusBarMessage(`Saved ${this.itemCount()} items to ${target.fsPath}.`, 3000);
  }

  private itemCount(): number {
    return this.files.reduce((sum, file) => sum + file.items.length, 0);
  }

  /** Closing the panel while the run goes on stops the run: nobody would see its results. */
  private onPanelClosed(): void {
    this.disposed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.summary) this.stopRequested.fire();
    for (const subscription of this.subscriptions) subscription.dispose();
    this.stopRequested.dispose();
    this.rendered.dispose();
  }

  private html(): string {
    const webview = this.panel.webview;
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.mediaRoot, 'results.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.mediaRoot, 'results.css'));
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src ${webview.cspSource}`,
      `img-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Plugin results</title>
</head>
<body data-state="running" data-count="0">
<header class="toolbar">
  <span id="title" class="title"></span>
  <span id="status" class="status" role="status">Running…</span>
  <button id="stop" type="button">Stop</button>
  <button id="copy" type="button" class="secondary">Copy</button>
  <button id="save" type="button" class="secondary">Save as JSON</button>
</header>
<p id="hidden-note" class="note" hidden></p>
<main id="results" aria-live="polite"></main>
<footer id="summary" class="summary" hidden></footer>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}
