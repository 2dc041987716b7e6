// The webview under a results panel or a comparison: its HTML with a strict CSP (a nonce, no inline
// script, plugin output only as data), localResourceRoots kept to the extension's webview bundle and the
// folders of the run's input files (so the input can play or show in the panel), and the answers to the
// webview's questions about file paths found in results (which exist, which are images, open one).
import fs from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import { expandHome } from '../core/manifest';
import { mediaKindOf } from '../core/mediaFiles';
import type { FromWebview, ResolvedPath, SourceMedia, ToWebview } from '../webview/messages';
import { webviewPage } from './webviewPage';

/** Items per message (a reopened run of 100,000 items is sent at once): each message is parsed in one task of the page. */
const ITEMS_PER_MESSAGE = 2000;
/** Images outside localResourceRoots are sent as bytes, up to this size. */
const MAX_IMAGE_BYTES = 16 * 1024 * 1024;
const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.bmp': 'image/bmp',
  '.webp': 'image/webp', '.svg': 'image/svg+xml', '.avif': 'image/avif', '.ico': 'image/x-icon',
};

export const RESULTS_VIEW_TYPE = 'remotePluginProxy.results';

export class ResultsWebview implements vscode.Disposable {
  readonly panel: vscode.WebviewPanel;
  private readonly roots: vscode.Uri[];
  private readonly subscriptions: vscode.Disposable[] = [];
  private disposed = false;
  /**
   * The page said `ready` (its script listens). Nothing is posted before: VS Code would queue the messages
   * and deliver them as well as the state every user of this class sends in answer to `ready` (a replay),
   * and the page would render everything twice.
   */
  private pageReady = false;

  constructor(
    private readonly extensionUri: vscode.Uri,
    title: string,
    inputFiles: readonly string[],
    private readonly onMessage: (message: FromWebview) => void,
  ) {
    const folders = [...new Set(inputFiles.filter((file) => path.isAbsolute(file)).map((file) => path.dirname(file)))];
    this.roots = [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), ...folders.map((folder) => vscode.Uri.file(folder))];
    this.panel = vscode.window.createWebviewPanel(RESULTS_VIEW_TYPE, title, resultsColumn(), {
      enableScripts: true,
      localResourceRoots: this.roots,
      // The media's position, a zoomed plot and the scroll position survive switching tabs.
      retainContextWhenHidden: true,
    });
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'plugins.svg');
    this.panel.webview.html = this.html();
    this.subscriptions.push(
      this.panel.webview.onDidReceiveMessage((message: FromWebview) => this.receive(message)),
      this.panel.onDidDispose(() => { this.disposed = true; }),
    );
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Sends a message to the page once it is ready; before, it is dropped (the answer to `ready` sends the state). */
  post(message: ToWebview): void {
    if (this.pageReady && !this.disposed) void this.panel.webview.postMessage(message);
  }

  /** Sends items in messages of a bounded size, each as one JSON string (see ToWebview). */
  postItems(run: number, file: number, items: readonly unknown[]): void {
    for (let from = 0; from < items.length; from += ITEMS_PER_MESSAGE) {
      this.post({ type: 'items', run, file, json: JSON.stringify(items.slice(from, from + ITEMS_PER_MESSAGE)) });
    }
  }

  /** The input file as the webview can play or show it (audio, video, image), if it is one. */
  sourceMedia(filePath: string): SourceMedia | undefined {
    const kind = mediaKindOf(filePath);
    if (!kind || !path.isAbsolute(filePath)) return undefined;
    return { kind, uri: this.panel.webview.asWebviewUri(vscode.Uri.file(filePath)).toString() };
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    if (!this.disposed) this.panel.dispose();
  }

  private receive(message: FromWebview): void {
    if (message.type === 'ready') this.pageReady = true;
    if (message.type === 'resolve') void this.resolve(message.paths);
    else if (message.type === 'open') void this.open(message.path, message.base);
    else this.onMessage(message);
  }

  private async resolve(paths: Array<{ path: string; base: string }>): Promise<void> {
    const resolved = await Promise.all(paths.map((request) => this.resolveOne(request.path, request.base)));
    this.post({ type: 'paths', resolved });
  }

  private async resolveOne(value: string, base: string): Promise<ResolvedPath> {
    const answer: ResolvedPath = { path: value, base, kind: 'missing' };
    const file = absolutePath(value, base);
    if (!file) return answer;
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) return answer;
    if (mediaKindOf(file) !== 'image') return { ...answer, kind: 'file' };
    const uri = vscode.Uri.file(file);
    if (this.roots.some((root) => isInside(file, root.fsPath))) {
      return { ...answer, kind: 'image', uri: this.panel.webview.asWebviewUri(uri).toString() };
    }
    if (stat.size > MAX_IMAGE_BYTES) return { ...answer, kind: 'file' };
    const bytes = await fs.readFile(file).catch(() => undefined);
    if (!bytes) return { ...answer, kind: 'file' };
    return { ...answer, kind: 'image', bytes: new Uint8Array(bytes), mime: IMAGE_TYPES[path.extname(file).toLowerCase()] };
  }

  private async open(value: string, base: string): Promise<void> {
    const file = absolutePath(value, base);
    const stat = file ? await fs.stat(file).catch(() => undefined) : undefined;
    if (!file || !stat?.isFile()) {
      void vscode.window.showWarningMessage(`${value} does not exist (any more).`);
      return;
    }
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file), { viewColumn: vscode.ViewColumn.Active, preview: true });
  }

  private html(): string {
    const bundle = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    return webviewPage(this.panel.webview, {
      title: 'Plugin results',
      script: vscode.Uri.joinPath(bundle, 'results.js'),
      styles: [vscode.Uri.joinPath(bundle, 'results.css')],
      bodyData: { state: 'running', count: '0' },
      content: '<div id="app"></div>',
      media: true,
    });
  }
}

/** Beside the editor, or where results already are (runs one after another do not split the window again and again). */
function resultsColumn(): vscode.ViewColumn {
  const group = vscode.window.tabGroups.all.find((candidate) => candidate.tabs.some((tab) =>
    tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith(RESULTS_VIEW_TYPE)));
  return group?.viewColumn ?? vscode.ViewColumn.Beside;
}

/** A path from a result: `~/x`, absolute, or relative to the input file's folder. */
function absolutePath(value: string, base: string): string | undefined {
  const expanded = expandHome(value);
  if (path.isAbsolute(expanded)) return path.normalize(expanded);
  return base && path.isAbsolute(base) ? path.resolve(base, value) : undefined;
}

function isInside(file: string, folder: string): boolean {
  const relative = path.relative(folder, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
