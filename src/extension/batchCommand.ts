// "Run Plugin on Files…": from a selection or a folder in the Explorer (or the palette), pick a plugin
// among those whose file types match some of the files, run it over every matching file through its
// queue, with one cancellable progress notification ("37 / 240 · 2 running · 3 failed"), one table of
// results, and, if asked, `<file>.<plugin>.json` written beside each file or into a chosen folder.
import path from 'node:path';
import * as vscode from 'vscode';
import { comparePaths, filesInFolder } from '../core/batchFiles';
import { resultFilePath, writeResultFile } from '../core/batchOutput';
import { describeProgress, runBatch, type BatchItem, type BatchProgress } from '../core/batchRun';
import { messageOf } from '../core/errors';
import { filesTaken } from '../core/fileRule';
import { isRunnable } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';
import { resultsHintOf } from '../core/resultShapes';
import { BatchView, type BatchSummary } from './batchView';
import type { PluginPick } from './pluginPick';
import { requireTrust } from './workspaceTrust';

/** Where result files go: nowhere (the table only), beside each file, or into a folder. */
export type ResultFiles = 'none' | 'beside' | 'folder';

/** What a caller (a keybinding, a test) may pass after the Explorer's arguments; anything missing is asked. */
export interface BatchOptions {
  plugin?: string;
  write?: ResultFiles;
  /** The folder for write: 'folder'. */
  folder?: string;
}

/** Progress messages are redrawn at most this often. */
const PROGRESS_INTERVAL_MS = 150;

export class BatchCommand {
  /** The latest run's table, for the extension's API (tests read its rows). */
  latestView: BatchView | undefined;

  constructor(
    private readonly registry: PluginRegistry,
    private readonly pick: PluginPick,
    private readonly extensionUri: vscode.Uri,
  ) {}

  /** The Explorer passes (clicked uri, selected uris); the palette passes nothing and a folder is asked for. */
  async run(uri?: unknown, uris?: unknown, options: BatchOptions = {}): Promise<BatchSummary | undefined> {
    if (!requireTrust('run a plugin')) return undefined;
    const chosen = await this.chosenUris(uri, uris);
    if (!chosen || chosen.length === 0) return undefined;
    const { files, root, skipped } = await this.expand(chosen);
    if (files.length === 0) {
      void vscode.window.showWarningMessage(skipped > 0 ? `No local files to run on (${skipped} items are not on this machine's disk).` : 'No files in the selection.');
      return undefined;
    }
    const fits = (name: string) => this.filesFor(name, files).length > 0;
    const plugin = await this.pick.choose(options.plugin, `Plugin to run on ${files.length} ${files.length === 1 ? 'file' : 'files'} (plugins that take some of them)`, (info) =>
      isRunnable(info) && fits(info.name),
    );
    if (!plugin) return undefined;
    const matching = this.filesFor(plugin, files);
    if (matching.length === 0) {
      void vscode.window.showWarningMessage(`None of the ${files.length} files is for plugin "${plugin}" (its file types: ${this.registry.get(plugin)?.fileTypes.join(' ') || 'any'}).`);
      return undefined;
    }
    const target = await this.resultFiles(options, root);
    if (target === undefined) return undefined;
    await this.pick.remember(plugin);
    return this.execute(plugin, matching, root, target, files.length - matching.length);
  }

  /** Which of the files the plugin takes (the file rule, fileRule.ts). */
  private filesFor(plugin: string, files: readonly string[]): string[] {
    const info = this.registry.get(plugin);
    return info ? filesTaken(info, files) : [];
  }

  private async chosenUris(uri: unknown, uris: unknown): Promise<vscode.Uri[] | undefined> {
    const selected = Array.isArray(uris) ? uris.filter((item): item is vscode.Uri => item instanceof vscode.Uri) : [];
    if (selected.length > 0) return selected;
    if (uri instanceof vscode.Uri) return [uri];
    return vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: true, openLabel: 'Run Plugin on These' });
  }

  /** Files of the selection (folders walked, hidden entries skipped), sorted; the common folder for display and output. */
  private async expand(uris: vscode.Uri[]): Promise<{ files: string[]; root: string; skipped: number }> {
    const local = uris.filter((uri) => uri.scheme === 'file');
    const folders: string[] = [];
    const found = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Looking for files…' }, async () => {
      const lists = await Promise.all(
        local.map(async (uri) => {
          const stat = await vscode.workspace.fs.stat(uri);
          if (!(stat.type & vscode.FileType.Directory)) return [uri.fsPath];
          folders.push(uri.fsPath);
          return filesInFolder(uri.fsPath);
        }),
      );
      return [...new Set(lists.flat())].sort(comparePaths);
    });
    // One folder clicked: paths are shown (and result folders laid out) under it; else under the files' common folder.
    const root = folders.length === 1 && local.length === 1 ? folders[0]! : commonFolder(found.map((file) => path.dirname(file)));
    return { files: found, root, skipped: uris.length - local.length };
  }

  /** Asks whether to write result files, and where (unless the caller said). undefined: the user backed out. */
  private async resultFiles(options: BatchOptions, root: string): Promise<{ folder: string; root: string } | 'beside' | null | undefined> {
    let write = options.write;
    if (write === undefined) {
      const items: Array<vscode.QuickPickItem & { value: ResultFiles }> = [
        { label: 'Show the results', description: 'in a table', value: 'none' },
        { label: 'Also write <file>.<plugin>.json beside each file', description: 'for other tools', value: 'beside' },
        { label: 'Also write them into a folder…', value: 'folder' },
      ];
      write = (await vscode.window.showQuickPick(items, { placeHolder: 'Results' }))?.value;
      if (write === undefined) return undefined;
    }
    if (write === 'none') return null;
    if (write === 'beside') return 'beside';
    let folder = options.folder;
    if (!folder) {
      const picked = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Write Results Here' });
      folder = picked?.[0]?.fsPath;
      if (!folder) return undefined;
    }
    return { folder, root };
  }

  private async execute(plugin: string, files: string[], root: string, target: { folder: string; root: string } | 'beside' | null, notForPlugin: number): Promise<BatchSummary> {
    const info = this.registry.get(plugin);
    const about = { plugin, pluginVersion: info?.version, hint: resultsHintOf(info?.manifest?.results), fileTypes: info?.fileTypes };
    const view = new BatchView(this.extensionUri, about, files, root);
    this.latestView = view;
    const controller = new AbortController();
    const stopping = view.onDidRequestStop(() => controller.abort());
    const started = performance.now();
    const summary: BatchSummary = { plugin, files: files.length, ok: 0, failed: 0, cached: 0, cancelled: false, written: 0, durationMs: 0 };
    const writeErrors: string[] = [];
    const skippedNote = notForPlugin > 0 ? ` (${notForPlugin} other files are not for this plugin)` : '';
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `${plugin}${skippedNote}`, cancellable: true }, async (progress, token) => {
        const cancelling = token.onCancellationRequested(() => controller.abort());
        const reporter = new ProgressReporter(progress, files.length, () => this.registry.get(plugin)?.waitingFor);
        const watching = this.registry.onDidChange((name) => name === plugin && reporter.refresh());
        try {
          const items = runBatch(this.registry, plugin, files, {
            signal: controller.signal,
            onProgress: (update) => {
              reporter.update(update);
              view.setStatus(reporter.text());
            },
            onFileStarted: (file) => view.started(file),
          });
          for await (const item of items) {
            view.done(item);
            count(summary, item);
            if (item.ok && target) await this.write(item, plugin, target, summary, writeErrors);
          }
        } finally {
          cancelling.dispose();
          watching.dispose();
          reporter.dispose();
        }
      });
    } finally {
      stopping.dispose();
    }
    summary.cancelled = controller.signal.aborted;
    summary.durationMs = performance.now() - started;
    view.finish(summary);
    this.announce(summary, writeErrors);
    return summary;
  }

  private async write(item: BatchItem, plugin: string, target: { folder: string; root: string } | 'beside', summary: BatchSummary, errors: string[]): Promise<void> {
    const file = resultFilePath(item.file, plugin, target === 'beside' ? undefined : target);
    try {
      await writeResultFile(file, item.result);
      summary.written++;
    } catch (error) {
      errors.push(`${file}: ${messageOf(error)}`);
    }
  }

  private announce(summary: BatchSummary, writeErrors: string[]): void {
    if (writeErrors.length > 0) {
      void vscode.window.showErrorMessage(`${writeErrors.length} result files could not be written, e.g. ${writeErrors[0]}`);
    }
    if (summary.failed > 0 && !summary.cancelled) {
      void vscode.window.showWarningMessage(`${summary.plugin}: ${summary.failed} of ${summary.files} files failed. The table says why; click a row for the details.`);
    } else if (!summary.cancelled) {
      const cached = summary.cached > 0 ? ` (${summary.cached} from the cache)` : '';
      void vscode.window.setStatusBarMessage(`${summary.plugin}: ${summary.ok} files done${cached}.`, 5000);
    }
  }
}

function count(summary: BatchSummary, item: BatchItem): void {
  if (!item.ok) summary.failed++;
  else summary.ok++;
  if (item.cached) summary.cached++;
}

/** One progress notification for the whole batch: "37 / 240 · 2 running · 3 failed", or why no worker starts. */
class ProgressReporter {
  private last: BatchProgress;
  private shownAt = 0;
  private reported = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly progress: vscode.Progress<{ message?: string; increment?: number }>,
    total: number,
    private readonly waitingFor: () => string | undefined,
  ) {
    this.last = { total, done: 0, failed: 0, cached: 0, running: 0, queued: 0 };
  }

  update(progress: BatchProgress): void {
    this.last = progress;
    this.refresh();
  }

  text(): string {
    const waiting = this.waitingFor();
    return waiting && this.last.running === 0 ? `${describeProgress(this.last)} · ${waiting}` : describeProgress(this.last);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Redraws now, or soon when it was redrawn a moment ago (the last state always shows). */
  refresh(): void {
    const wait = this.shownAt + PROGRESS_INTERVAL_MS - performance.now();
    if (wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.refresh();
      }, wait);
      return;
    }
    this.shownAt = performance.now();
    const percent = this.last.total > 0 ? (this.last.done / this.last.total) * 100 : 100;
    this.progress.report({ message: this.text(), increment: percent - this.reported });
    this.reported = percent;
  }
}

/** The deepest folder that holds every one of these folders. */
function commonFolder(folders: readonly string[]): string {
  let common = folders[0] ?? path.sep;
  for (const folder of folders) {
    while (folder !== common && !folder.startsWith(common.endsWith(path.sep) ? common : common + path.sep)) {
      const parent = path.dirname(common);
      if (parent === common) break;
      common = parent;
    }
  }
  return common;
}
