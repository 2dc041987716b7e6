// The per-plugin lifecycle commands (Start, Stop, Restart, Show Logs, Open Manifest) and the
// view's own (Refresh, Stop All). Each takes a plugin from the tree or asks with a quick pick.
import * as vscode from 'vscode';
import type { PluginInfo } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';
import type { PluginErrors } from './pluginErrors';
import type { PluginLogs } from './pluginLogs';
import type { PluginPick } from './pluginPick';
import { requireTrust } from './workspaceTrust';

const isRunning = (plugin: PluginInfo) => plugin.state === 'ready' || plugin.state === 'busy' || plugin.state === 'starting';
const isStartable = (plugin: PluginInfo) => plugin.state === 'stopped' || plugin.state === 'crashed';

export class PluginCommands {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly pick: PluginPick,
    private readonly errors: PluginErrors,
    private readonly logs: PluginLogs,
    private readonly extensionLog: vscode.LogOutputChannel,
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

  async openManifest(argument: unknown): Promise<void> {
    const name = await this.pick.choose(argument, 'Plugin whose manifest to open');
    const manifestPath = name ? this.registry.get(name)?.manifestPath : undefined;
    if (manifestPath) await vscode.window.showTextDocument(vscode.Uri.file(manifestPath));
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
