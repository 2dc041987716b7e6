// "Run on Current File" (execute) and "Stream on Current File" (execute_stream), from the palette,
// the explorer (several files run one after another into the same results), the editor, and the
// tree's "Run on File…". This file decides what to run on and where results go; the registry runs.
import path from 'node:path';
import * as vscode from 'vscode';
import type { FileInput } from '../core/fileInput';
import type { CallProgress } from '../core/pluginCall';
import type { PluginRegistry } from '../core/registry';
import { asPluginError, type PluginErrors } from './pluginErrors';
import type { PluginPick } from './pluginPick';
import { ResultsOutput } from './resultsOutput';
import { ResultsPanel } from './resultsPanel';
import type { ResultsView, RunMode, RunSummary } from './resultsView';
import type { Settings } from './settings';
import { requireTrust } from './workspaceTrust';

interface RunTarget {
  /** Shown to the user and used for the file_types check. */
  path: string;
  input: FileInput;
}

/** Options a caller (a keybinding, another extension, a test) may pass after the explorer's arguments. */
export interface RunOptions {
  plugin?: string;
}

export class RunCommands {
  /** The most recent run's results, for the extension's API (tests read the webview's progress from it). */
  latestView: ResultsView | undefined;

  constructor(
    private readonly registry: PluginRegistry,
    private readonly pick: PluginPick,
    private readonly errors: PluginErrors,
    private readonly settings: () => Settings,
    private readonly mediaRoot: vscode.Uri,
    private readonly resultsChannel: vscode.OutputChannel,
  ) {}

  /** The palette, explorer and editor entry: (clicked uri, selected uris) as VS Code passes them. */
  async runOnFiles(mode: RunMode, uri?: unknown, uris?: unknown, options?: RunOptions): Promise<RunSummary | undefined> {
    if (!requireTrust('run a plugin')) return undefined;
    const targets = await this.targetsOf(uri, uris);
    if (targets.length === 0) {
      void vscode.window.showErrorMessage('No file to run a plugin on. Open a file in the editor or select files in the Explorer, then run the command again.');
      return undefined;
    }
    const what = targets.length === 1 ? path.basename(targets[0]!.path) : `${targets.length} files`;
    const plugin = await this.pick.choose(options?.plugin, `Plugin to ${mode === 'stream' ? 'stream' : 'run'} on ${what}`, (info) =>
      info.state !== 'broken' && targets.every((target) => this.registry.accepts(info.name, target.path)),
    );
    if (!plugin) return undefined;
    return this.run(plugin, mode, targets);
  }

  /** The tree's "Run on File…": the plugin is known, ask for the files (filtered by its file types). */
  async runPluginOnPickedFiles(argument: unknown): Promise<RunSummary | undefined> {
    if (!requireTrust('run a plugin')) return undefined;
    const plugin = await this.pick.choose(argument, 'Plugin to run', (info) => info.state !== 'broken');
    if (!plugin) return undefined;
    const fileTypes = this.registry.get(plugin)?.fileTypes ?? [];
    const filters = fileTypes.length > 0 ? { [`${plugin} files`]: fileTypes.map((type) => type.replace(/^\./, '')) } : undefined;
    const picked = await vscode.window.showOpenDialog({ canSelectMany: true, filters, openLabel: `Run ${plugin}` });
    if (!picked || picked.length === 0) return undefined;
    return this.run(plugin, 'stream', await Promise.all(picked.map(targetOfUri)));
  }

  private async run(plugin: string, mode: RunMode, targets: RunTarget[]): Promise<RunSummary> {
    await this.pick.remember(plugin);
    const view = this.openView(plugin, mode, targets);
    this.latestView = view;
    const controller = new AbortController();
    const stopping = view.onDidRequestStop(() => controller.abort());
    const started = performance.now();
    const summary: RunSummary = { plugin, files: targets.length, items: 0, errors: 0, cancelled: false, durationMs: 0 };
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `${plugin}`, cancellable: true },
        async (progress, token) => {
          const cancelling = token.onCancellationRequested(() => controller.abort());
          try {
            for (const [index, target] of targets.entries()) {
              const count = targets.length > 1 ? ` (${index + 1} of ${targets.length})` : '';
              const doing = `${mode === 'stream' ? 'streaming' : 'running'} on ${path.basename(target.path)}${count}`;
              progress.report({ message: doing });
              const outcome = await this.runOne(plugin, mode, target, view, controller.signal, summary, (message) => progress.report({ message: message ? `${doing} · ${message}` : doing }));
              if (outcome === 'cancelled') break;
            }
          } finally {
            cancelling.dispose();
          }
        },
      );
    } finally {
      stopping.dispose();
    }
    summary.durationMs = performance.now() - started;
    view.finish(summary);
    return summary;
  }

  private async runOne(
    plugin: string,
    mode: RunMode,
    target: RunTarget,
    view: ResultsView,
    signal: AbortSignal,
    summary: RunSummary,
    say: (message: string | undefined) => void,
  ): Promise<'done' | 'failed' | 'cancelled'> {
    view.beginFile(target.path);
    const call = { file: target.input, signal, onProgress: (event: CallProgress) => say(describeCallProgress(event)) };
    try {
      if (mode === 'stream') {
        for await (const item of this.registry.executeStream(plugin, call)) {
          view.append(item);
          summary.items += 1;
        }
      } else {
        view.append(await this.registry.execute(plugin, call));
        summary.items += 1;
      }
    } catch (error) {
      const failure = asPluginError(plugin, error);
      if (failure.kind !== 'cancelled' && !signal.aborted) {
        summary.errors += 1;
        view.endFile({ error: failure });
        this.errors.report(plugin, failure);
        return 'failed';
      }
    }
    if (signal.aborted) {
      summary.cancelled = true;
      view.endFile({ cancelled: true });
      return 'cancelled';
    }
    view.endFile({});
    return 'done';
  }

  private openView(plugin: string, mode: RunMode, targets: RunTarget[]): ResultsView {
    if (this.settings().resultsTarget === 'output') return new ResultsOutput(this.resultsChannel, plugin, mode);
    return new ResultsPanel(this.mediaRoot, plugin, mode, targets[0]!.path, targets.length);
  }

  private async targetsOf(uri: unknown, uris: unknown): Promise<RunTarget[]> {
    const selected = Array.isArray(uris) ? uris.filter((item): item is vscode.Uri => item instanceof vscode.Uri) : [];
    if (selected.length > 0) return Promise.all(selected.map(targetOfUri));
    if (uri instanceof vscode.Uri) return [await targetOfUri(uri)];
    const active = activeTarget();
    return active ? [await active] : [];
  }
}

/** Where a call is, for the progress notification: its place in the queue, why it waits, or "cached". */
function describeCallProgress(event: CallProgress): string | undefined {
  switch (event.kind) {
    case 'queued':
      return event.position > 1 ? `waiting in the queue: ${event.position} of ${event.length}` : 'next in the queue';
    case 'waiting':
      return event.reason;
    case 'cached':
      return 'result from the cache';
    case 'started':
      return undefined;
  }
}

/** The active editor's file; an unsaved or untitled buffer goes as content (a private temp file). */
function activeTarget(): Promise<RunTarget> | undefined {
  const document = vscode.window.activeTextEditor?.document;
  if (document) {
    if (document.isUntitled || document.isDirty) {
      const name = document.isUntitled ? `${document.uri.path.split('/').pop() ?? 'untitled'}.txt` : path.basename(document.uri.path);
      return Promise.resolve({ path: document.isUntitled ? name : document.uri.fsPath, input: { content: document.getText(), name } });
    }
    return targetOfUri(document.uri);
  }
  // Binary files (audio, images) open in custom editors or the binary viewer, not a text editor.
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) return targetOfUri(input.uri);
  return undefined;
}

async function targetOfUri(uri: vscode.Uri): Promise<RunTarget> {
  if (uri.scheme === 'file') return { path: uri.fsPath, input: { path: uri.fsPath } };
  // A file the worker cannot open by path (another file system provider) goes through a temp file.
  const content = await vscode.workspace.fs.readFile(uri);
  return { path: uri.path, input: { content, name: path.posix.basename(uri.path) } };
}

