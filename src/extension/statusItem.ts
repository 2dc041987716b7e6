// The status bar item, after rust-analyzer's: a small health model (ok, warning when a plugin has
// crashed or its manifest is broken, a spinner with the count while calls run) and a Markdown
// tooltip whose links are the actions that help (Show Logs, Stop All, Refresh).
import * as vscode from 'vscode';
import type { PluginInfo } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';

export type Health = 'ok' | 'busy' | 'warning';

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('remotePluginProxy.status', vscode.StatusBarAlignment.Left, 10);
  private health: Health = 'ok';

  constructor(private readonly registry: PluginRegistry) {
    this.item.name = 'Remote Plugin Proxy';
    this.item.command = 'workbench.view.extension.remotePluginProxy';
    this.update();
    this.item.show();
  }

  /** For tests and the tooltip: the current health and the text shown. */
  get state(): { health: Health; text: string } {
    return { health: this.health, text: this.item.text };
  }

  update(): void {
    const plugins = this.registry.list();
    const running = plugins.reduce((sum, plugin) => sum + plugin.running, 0);
    const troubled = plugins.filter((plugin) => plugin.state === 'crashed' || plugin.state === 'broken');
    this.health = running > 0 ? 'busy' : troubled.length > 0 ? 'warning' : 'ok';
    this.item.text = this.text(running, troubled.length);
    this.item.backgroundColor = this.health === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.tooltip = tooltip(plugins, running, troubled);
  }

  dispose(): void {
    this.item.dispose();
  }

  private text(running: number, troubled: number): string {
    if (running > 0) return `$(sync~spin) Plugins: ${running}`;
    if (troubled > 0) return `$(warning) Plugins`;
    return '$(plug) Plugins';
  }
}

function tooltip(plugins: PluginInfo[], running: number, troubled: PluginInfo[]): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  // Trusted only for our own commands: the links below are the tooltip's actions.
  md.isTrusted = { enabledCommands: ['remotePluginProxy.showLogs', 'remotePluginProxy.stopAll', 'remotePluginProxy.refresh'] };
  const active = plugins.filter((plugin) => plugin.state === 'ready' || plugin.state === 'busy').length;
  md.appendMarkdown(`**Plugins**: ${plugins.length} known, ${active} running`);
  if (running > 0) md.appendMarkdown(`, ${running} call${running === 1 ? '' : 's'} in progress`);
  md.appendMarkdown('\n\n');
  for (const plugin of troubled) {
    md.appendMarkdown(`$(${plugin.state === 'broken' ? 'warning' : 'error'}) ${plugin.name} is ${plugin.state}: `);
    md.appendText(plugin.lastError?.message.split('\n', 1)[0] ?? 'no details');
    md.appendMarkdown('\n\n');
  }
  md.appendMarkdown('[Show Logs](command:remotePluginProxy.showLogs) · [Stop All](command:remotePluginProxy.stopAll) · [Refresh](command:remotePluginProxy.refresh)');
  return md;
}
