// The per-plugin lifecycle commands (Start, Stop, Restart, Show Logs, Open Manifest, Set Interpreter…)
// and the view's own (Refresh, Stop All). Each takes a plugin from the tree or asks with a quick pick.
import * as vscode from 'vscode';
import { setManifestPythonPath } from '../core/manifestEdits';
import type { PluginInfo } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';
import { pickInterpreter } from './interpreterPick';
import type { ManifestProblems } from './manifestProblems';
import type { PluginErrors } from './pluginErrors';
import type { PluginLogs } from './pluginLogs';
import type { PluginPick } from './pluginPick';
import { requireTrust } from './workspaceTrust';

const isRunning = (plugin: PluginInfo) => plugin.state === 'ready' || plugin.state === 'busy' || plugin.state === 'starting';
const isStartable = (plugin: PluginInfo) => plugin.state === 'stopped' || plugin.state === 'crashed' || plugin.state === 'failed';

export class PluginCommands {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly pick: PluginPick,
    private readonly errors: PluginErrors,
    private readonly logs: PluginLogs,
    private readonly extensionLog: vscode.LogOutputChannel,
    private readonly problems: ManifestProblems,
  ) {}

  async start(argument: unknown): Promise<void> {
    if (!requireTrust('start a plugin')) return;
    const name = await this.pick.choose(argument, 'Plugin to start', isStartable);
    if (name) await this.withViewProgress(name, () => this.registry.start(name));
  }

  async stop(argument: unknown): Promise<void> {
    const name = await this.pick.choose(argument, 'Plugin to stop', isRunning);
    if (name) await this.withViewProgress(name, () => this.registry.stop(name));
  }

  async restart(argument: unknown): Promise<void> {
    if (!requireTrust('restart a plugin')) return;
    const name = await this.pick.choose(argument, 'Plugin to restart', (plugin) => plugin.state !== 'broken');
    if (name) await this.withViewProgress(name, () => this.registry.restart(name));
  }

  async showLogs(argument: unknown): Promise<void> {
    if (argument === undefined && this.registry.list().length === 0) {
      this.extensionLog.show(true);
      return;
    }
    const name = await this.pick.choose(argument, 'Plugin whose log to show');
    if (name) this.logs.show(name);
  }

  /** Opens the manifest; a broken one at its first problem. */
  async openManifest(argument: unknown): Promise<void> {
    const name = await this.pick.choose(argument, 'Plugin whose manifest to open');
    const plugin = name ? this.registry.get(name) : undefined;
    if (!plugin) return;
    const selection = await this.problems.firstProblem(plugin);
    await vscode.window.showTextDocument(vscode.Uri.file(plugin.manifestPath), selection ? { selection } : {});
  }

  /**
   * "Set Interpreter…": writes the chosen interpreter into the manifest's python_path; the registry sees
   * the file change and the plugin's next start uses it. `pythonPath` lets a caller skip the picker.
   */
  async setInterpreter(argument: unknown, pythonPath?: string): Promise<boolean> {
    if (!requireTrust('change a plugin\'s interpreter')) return false;
    const name = await this.pick.choose(argument, 'Plugin whose interpreter to set');
    const plugin = name ? this.registry.get(name) : undefined;
    if (!name || !plugin) return false;
    const chosen = pythonPath ?? (await pickInterpreter(`Interpreter for ${name}`));
    if (!chosen) return false;
    try {
      await setManifestPythonPath(plugin.manifestPath, chosen);
      await this.registry.reload();
      void vscode.window.setStatusBarMessage(`${name} now runs with ${chosen}.`, 5000);
      return true;
    } catch (error) {
      this.errors.report(name, error);
      return false;
    }
  }

  async refresh(): Promise<void> {
    await this.registry.reload();
  }

  async stopAll(): Promise<void> {
    const running = this.registry.list().filter(isRunning).length;
    await this.registry.stopAll();
    void vscode.window.setStatusBarMessage(`Stopped ${running} plugin${running === 1 ? '' : 's'}.`, 3000);
  }

  /** The view shows a progress bar while a worker starts or stops; a failure is reported, not thrown. */
  private async withViewProgress(name: string, work: () => Promise<void>): Promise<void> {
    try {
      await vscode.window.withProgress({ location: { viewId: 'remotePluginProxy.plugins' } }, work);
    } catch (error) {
      this.errors.report(name, error);
    }
  }
}
