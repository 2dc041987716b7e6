// Running plugins on files and folders: "Run Plugin…" (streams when the plugin can stream, otherwise
// executes), its explicit forms "Run Plugin on File (Execute)…" and "Stream Plugin on File…" (for
// keybindings), the explorer's "Run Plugin on File…"/"…on Folder…", the tree's "Run on File…" and
// "Run Again". Which plugin takes which input is the core's one rule (fileRule.ts). This file decides
// what to run on and where results go; the registry runs.
import path from 'node:path';
import * as vscode from 'vscode';
import { asPluginError, type PluginError } from '../core/errors';
import type { FileInput } from '../core/fileInput';
import { FOLDER_TYPE, describeAccepted, nothingTakesMessage, pluginsTaking, type RunTarget } from '../core/fileRule';
import { isRunnable, type PluginInfo } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';
import { resultsHintOf } from '../core/resultShapes';
import type { RunHistory } from '../core/runHistory';
import type { PluginErrors } from './pluginErrors';
import { pluginNameOf, type PluginPick } from './pluginPick';
import { ResultsOutput } from './resultsOutput';
import { ResultsPanel } from './resultsPanel';
import type { ResultsView, RunMode, RunSummary } from './resultsView';
import { RunProgress } from './runProgress';
import { RecordedView } from './runRecording';
import { savedPluginConfig, type Settings } from './settings';
import { requireTrust } from './workspaceTrust';

/** "auto": stream when the plugin streams (its worker says so), otherwise execute. */
export type RunChoice = RunMode | 'auto';

/** One input of a run: what the rule looks at, and what the worker gets. */
interface RunInput {
  target: RunTarget;
  input: FileInput;
}

/** Options a caller (a keybinding, another extension, a test) may pass after the explorer's arguments. */
export interface RunOptions {
  plugin?: string;
}

/** What a run was, so that it can be run again (Run Again in the palette, the results panel and the history). */
export interface RunRequest {
  plugin: string;
  /** The mode the run used; "auto" decides again. */
  mode: RunChoice;
  /** Files and folders, as paths or file: URIs. */
  inputs: string[];
}

const CREATE_PLUGIN = { title: 'Create Plugin…', command: 'remotePluginProxy.createPlugin' };
const SHOW_PLUGINS = { title: 'Show Plugins', command: 'workbench.view.extension.remotePluginProxy' };

export class RunCommands {
  /** The most recent run's results, for the extension's API (tests read the webview's progress from it). */
  latestView: ResultsView | undefined;
  /** The most recent run as it ran (its mode resolved), for Run Again. */
  lastRun: RunRequest | undefined;
  /** Config rejections already reported, so a plugin's rejected saved settings are said once, not every run. */
  private readonly reportedConfigErrors = new WeakSet<object>();

  constructor(
    private readonly registry: PluginRegistry,
    private readonly pick: PluginPick,
    private readonly errors: PluginErrors,
    private readonly settings: () => Settings,
    private readonly extensionUri: vscode.Uri,
    private readonly resultsChannel: vscode.OutputChannel,
    private readonly onDidRun: (request: RunRequest) => void,
    /** Where runs are recorded; undefined when the history keeps none. */
    private readonly history: () => RunHistory | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The palette, explorer and editor entries: (clicked uri, selected uris) as VS Code passes them. */
  async runOnFiles(choice: RunChoice, uri?: unknown, uris?: unknown, options?: RunOptions): Promise<RunSummary | undefined> {
    if (!requireTrust('run a plugin')) return undefined;
    const inputs = await this.inputsOf(uri, uris);
    if (inputs.length === 0) {
      void vscode.window.showErrorMessage('No file to run a plugin on. Open a file in the editor or select files in the Explorer, then run the command again.');
      return undefined;
    }
    const targets = inputs.map((input) => input.target);
    const named = options?.plugin;
    if (named !== undefined && !this.refuse(named, targets)) return undefined;
    const what = targets.length === 1 ? path.basename(targets[0]!.path) : `${targets.length} inputs`;
    const plugin = await this.pick.choose(
      named,
      `Plugin to ${choice === 'stream' ? 'stream' : 'run'} on ${what}`,
      takesAll(targets),
      () => ({ message: nothingTakesMessage(this.registry.list().filter(isRunnable), targets), actions: [SHOW_PLUGINS, CREATE_PLUGIN] }),
    );
    if (!plugin) return undefined;
    return this.run(plugin, choice, inputs);
  }

  /** The plugins the picker offers for these inputs (as the explorer and the palette pass them), in its order. */
  async pluginsFor(uri?: unknown, uris?: unknown): Promise<string[]> {
    const targets = (await this.inputsOf(uri, uris)).map((input) => input.target);
    return this.pick.ordered(this.registry.list().filter(takesAll(targets))).map((plugin) => plugin.name);
  }

  /**
   * The tree's "Run on File…": the plugin is known, ask for files (or folders, when it takes them),
   * filtered by its file types. `uris` lets a caller (another extension, a test) skip the dialog.
   */
  async runPluginOnPickedFiles(argument: unknown, uris?: unknown): Promise<RunSummary | undefined> {
    if (!requireTrust('run a plugin')) return undefined;
    const plugin = await this.pick.choose(argument, 'Plugin to run', isRunnable);
    const info = plugin === undefined ? undefined : this.registry.get(plugin);
    if (!plugin || !info) return undefined;
    const picked = Array.isArray(uris) ? uris.filter((item): item is vscode.Uri => item instanceof vscode.Uri) : await pickInputs(info);
    if (!picked || picked.length === 0) return undefined;
    const inputs = await Promise.all(picked.map(inputOfUri));
    if (!this.refuse(plugin, inputs.map((input) => input.target))) return undefined;
    return this.run(plugin, 'auto', inputs);
  }

  /** Runs a described run again: the same plugin, mode and inputs (read again from disk). */
  async runAgain(request?: RunRequest): Promise<RunSummary | undefined> {
    if (!requireTrust('run a plugin')) return undefined;
    const again = request ?? this.lastRun;
    if (!again) {
      void vscode.window.showInformationMessage('Nothing to run again yet: run a plugin on a file first.');
      return undefined;
    }
    const name = pluginNameOf(again.plugin);
    if (!name || !this.registry.get(name)) {
      void vscode.window.showErrorMessage(`Cannot run again: no plugin named "${again.plugin}" is loaded now.`, SHOW_PLUGINS.title).then((choice) => {
        if (choice) void vscode.commands.executeCommand(SHOW_PLUGINS.command);
      });
      return undefined;
    }
    const unsaved = again.inputs.filter((input) => !path.isAbsolute(input) && !/^[a-z][\w+.-]*:/i.test(input));
    if (unsaved.length > 0) {
      void vscode.window.showErrorMessage(`${unsaved.join(', ')} was an unsaved editor and cannot be run again; save it to a file and run the plugin on that.`);
      return undefined;
    }
    const uris = again.inputs.map((input) => (/^[a-z][\w+.-]*:/i.test(input) && !path.isAbsolute(input) ? vscode.Uri.parse(input) : vscode.Uri.file(input)));
    let inputs: RunInput[];
    try {
      inputs = await Promise.all(uris.map(inputOfUri));
    } catch (error) {
      this.errors.report(name, error);
      return undefined;
    }
    if (!this.refuse(name, inputs.map((input) => input.target))) return undefined;
    return this.run(name, again.mode, inputs);
  }

  /** True when the plugin takes every target; otherwise says why (and which plugins would) and returns false. */
  private refuse(plugin: string, targets: RunTarget[]): boolean {
    let reason: string | undefined;
    try {
      reason = targets.map((target) => this.registry.refusal(plugin, target)).find((text) => text !== undefined);
    } catch (error) {
      this.errors.report(plugin, error);
      return false;
    }
    if (reason === undefined) return true;
    void vscode.window.showErrorMessage(reason);
    return false;
  }

  private async run(plugin: string, choice: RunChoice, inputs: RunInput[]): Promise<RunSummary> {
    await this.pick.remember(plugin);
    const controller = new AbortController();
    const started = performance.now();
    const summary: RunSummary = { plugin, files: inputs.length, items: 0, errors: 0, cancelled: false, durationMs: 0 };
    let view: ResultsView | undefined;
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: plugin, cancellable: true }, async (progress, token) => {
      const cancelling = token.onCancellationRequested(() => controller.abort());
      const reporter = new RunProgress(progress, plugin, inputs.length, () => this.registry.progress(plugin));
      try {
        const { mode, failure, cold } = await this.prepare(plugin, choice, reporter);
        const request: RunRequest = { plugin, mode, inputs: inputs.map((input) => input.target.path) };
        this.lastRun = request;
        this.onDidRun(request);
        const shown = this.openView(plugin, mode, inputs, cold, started);
        this.latestView = shown;
        const info = this.registry.get(plugin);
        view = RecordedView.wrap(shown, this.history(), {
          plugin, pluginVersion: info?.version, mode, targets: request.inputs,
          config: savedPluginConfig(plugin), results: typeof info?.manifest?.results === 'string' ? info.manifest.results : undefined,
        }, this.log);
        if (failure) {
          // The worker did not start: the run ends here, with the reason in the results and the notification.
          view.beginFile(inputs[0]!.target.path);
          view.endFile({ error: failure });
          summary.errors += 1;
          this.errors.report(plugin, failure, { input: inputs[0]!.target.path });
          return;
        }
        const stopping = view.onDidRequestStop(() => controller.abort());
        try {
          for (const [index, input] of inputs.entries()) {
            reporter.file(index, input.target.path, mode);
            const outcome = await this.runOne(plugin, mode, input, view, controller.signal, summary, reporter);
            reporter.fileDone();
            if (outcome === 'cancelled') break;
          }
        } finally {
          stopping.dispose();
        }
      } finally {
        reporter.dispose();
        cancelling.dispose();
      }
    });
    summary.durationMs = performance.now() - started;
    view?.finish(summary);
    return summary;
  }

  /**
   * Starts the worker when it is not running (the notification shows the cold start), says once if the
   * plugin rejected its saved settings, and resolves "auto" by asking the worker whether the plugin
   * streams. A start that fails comes back as `failure` (with the mode the run would have had).
   */
  private async prepare(plugin: string, choice: RunChoice, reporter: RunProgress): Promise<{ mode: RunMode; failure?: PluginError; cold: boolean }> {
    const state = this.registry.get(plugin)?.state;
    const cold = state !== 'ready' && state !== 'busy';
    if (cold) reporter.starting();
    try {
      await this.registry.start(plugin);
      const lastError = this.registry.get(plugin)?.lastError;
      if (lastError?.kind === 'config' && !this.reportedConfigErrors.has(lastError)) {
        this.reportedConfigErrors.add(lastError);
        this.errors.report(plugin, lastError);
      }
      return { mode: choice === 'auto' ? ((await this.registry.streams(plugin)) ? 'stream' : 'execute') : choice, cold };
    } catch (error) {
      return { mode: choice === 'auto' ? 'execute' : choice, failure: asPluginError(plugin, error), cold };
    }
  }

  private async runOne(
    plugin: string,
    mode: RunMode,
    { target, input }: RunInput,
    view: ResultsView,
    signal: AbortSignal,
    summary: RunSummary,
    reporter: RunProgress,
  ): Promise<'done' | 'failed' | 'cancelled'> {
    view.beginFile(target.path);
    const call = { file: input, signal };
    try {
      if (mode === 'stream') {
        for await (const item of this.registry.executeStream(plugin, call)) {
          view.append(item);
          reporter.item(item);
          summary.items += 1;
        }
      } else {
        const result = await this.registry.execute(plugin, call);
        view.append(result);
        reporter.item(result);
        summary.items += 1;
      }
    } catch (error) {
      const failure = asPluginError(plugin, error);
      if (failure.kind !== 'cancelled' && !signal.aborted) {
        summary.errors += 1;
        view.endFile({ error: failure });
        this.errors.report(plugin, failure, { input: target.path });
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

  /** `started` is the run's start on the performance clock: the panel's elapsed time counts the worker's start too. */
  private openView(plugin: string, mode: RunMode, inputs: RunInput[], cold: boolean, started: number): ResultsView {
    if (this.settings().resultsTarget === 'output') return new ResultsOutput(this.resultsChannel, plugin, mode);
    const info = this.registry.get(plugin);
    const paths = inputs.map((input) => input.target.path);
    const panel = new ResultsPanel(this.extensionUri, {
      plugin, pluginVersion: info?.version, mode, targets: paths, hint: resultsHintOf(info?.manifest?.results),
      startedAt: Date.now() - (performance.now() - started), config: savedPluginConfig(plugin), cold, fileTypes: info?.fileTypes,
    });
    panel.onDidRequestRerun(() => void this.runAgain({ plugin, mode, inputs: paths }));
    return panel;
  }

  private async inputsOf(uri: unknown, uris: unknown): Promise<RunInput[]> {
    const selected = Array.isArray(uris) ? uris.filter((item): item is vscode.Uri => item instanceof vscode.Uri) : [];
    if (selected.length > 0) return Promise.all(selected.map(inputOfUri));
    if (uri instanceof vscode.Uri) return [await inputOfUri(uri)];
    const active = activeInput();
    return active ? [await active] : [];
  }
}

/** The one rule (core/fileRule.ts), for the pickers: a runnable plugin that takes every input. */
function takesAll(targets: readonly RunTarget[]): (plugin: PluginInfo) => boolean {
  return (plugin) => isRunnable(plugin) && pluginsTaking([plugin], targets).length === 1;
}

/** The open dialog for the tree's Run on File…: files of the plugin's types, or folders when it takes folders. */
async function pickInputs(plugin: PluginInfo): Promise<vscode.Uri[] | undefined> {
  const extensions = plugin.fileTypes.filter((type) => type !== FOLDER_TYPE).map((type) => type.replace(/^\./, ''));
  const folders = plugin.fileTypes.includes(FOLDER_TYPE);
  const files = plugin.fileTypes.length === 0 || extensions.length > 0;
  const filters = extensions.length > 0 ? { [`${plugin.name} (${describeAccepted(plugin.fileTypes)})`]: extensions } : undefined;
  return vscode.window.showOpenDialog({
    canSelectMany: true,
    canSelectFiles: files,
    canSelectFolders: folders,
    filters,
    openLabel: `Run ${plugin.name}`,
    title: `Run ${plugin.name} on ${describeAccepted(plugin.fileTypes)}`,
  });
}

/** The active editor's file; an unsaved or untitled buffer goes as content (a private temp file). */
function activeInput(): Promise<RunInput> | undefined {
  const document = vscode.window.activeTextEditor?.document;
  if (document) {
    if (document.isUntitled || document.isDirty) {
      const name = document.isUntitled ? `${document.uri.path.split('/').pop() ?? 'untitled'}.txt` : path.basename(document.uri.path);
      const shown = document.isUntitled ? name : document.uri.fsPath;
      return Promise.resolve({ target: { path: shown, isFolder: false }, input: { content: document.getText(), name } });
    }
    return inputOfUri(document.uri);
  }
  // Binary files (audio, images) open in custom editors or the binary viewer, not a text editor.
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) return inputOfUri(input.uri);
  return undefined;
}

async function inputOfUri(uri: vscode.Uri): Promise<RunInput> {
  const stat = await vscode.workspace.fs.stat(uri);
  const isFolder = (stat.type & vscode.FileType.Directory) !== 0;
  if (uri.scheme === 'file') return { target: { path: uri.fsPath, isFolder }, input: { path: uri.fsPath } };
  // A file the worker cannot open by path (another file system provider) goes through a temp file.
  const content = await vscode.workspace.fs.readFile(uri);
  return { target: { path: uri.path, isFolder }, input: { content, name: path.posix.basename(uri.path) } };
}
