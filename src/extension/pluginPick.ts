// Asking which plugin: a quick pick of the plugins that fit, the last used first. Commands that get
// a plugin as an argument (a tree node or a name) skip the question.
import * as vscode from 'vscode';
import type { PluginInfo } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';
import type { PluginNode } from './pluginTree';

const LAST_USED_KEY = 'remotePluginProxy.lastUsedPlugins';

export function pluginNameOf(argument: unknown): string | undefined {
  if (typeof argument === 'string') return argument;
  if (typeof argument === 'object' && argument !== null && (argument as PluginNode).kind === 'plugin') return (argument as PluginNode).name;
  return undefined;
}

export class PluginPick {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly memento: vscode.Memento,
  ) {}

  /** The plugin named by the argument, or the user's pick among those that pass `fits`. */
  async choose(argument: unknown, placeHolder: string, fits: (plugin: PluginInfo) => boolean = () => true): Promise<string | undefined> {
    const named = pluginNameOf(argument);
    if (named !== undefined) return named;
    const candidates = this.ordered(this.registry.list().filter(fits));
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage('No plugin fits. Add a manifest or check the Plugins view for broken ones.', 'Show Plugins').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.view.extension.remotePluginProxy');
      });
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      candidates.map((plugin) => ({ label: plugin.name, description: `${plugin.version} · ${plugin.state}`, detail: plugin.description })),
      { placeHolder, matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.label;
  }

  async remember(name: string): Promise<void> {
    const recent = this.memento.get<string[]>(LAST_USED_KEY, []).filter((other) => other !== name);
    await this.memento.update(LAST_USED_KEY, [name, ...recent].slice(0, 20));
  }

  private ordered(plugins: PluginInfo[]): PluginInfo[] {
    const recent = this.memento.get<string[]>(LAST_USED_KEY, []);
    const rank = (name: string) => {
      const index = recent.indexOf(name);
      return index === -1 ? recent.length : index;
    };
    return [...plugins].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  }
}
