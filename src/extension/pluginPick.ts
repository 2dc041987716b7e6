// Asking which plugin: a quick pick of the plugins that fit, the last used first, and plugins whose
// last start or run failed after the others until they run again. Commands that get a plugin as an
// argument (a tree node or a name) skip the question.
import * as vscode from 'vscode';
import { needsAttention, type PluginInfo } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';
import type { PluginNode } from './pluginTree';

const LAST_USED_KEY = 'remotePluginProxy.lastUsedPlugins';

export function pluginNameOf(argument: unknown): string | undefined {
  if (typeof argument === 'string') return argument;
  if (typeof argument === 'object' && argument !== null && (argument as PluginNode).kind === 'plugin') return (argument as PluginNode).name;
  return undefined;
}

/** What to say when no plugin fits (the default points at the Plugins view). */
export interface NothingFits {
  message: string;
  actions?: Array<{ title: string; command: string }>;
}

const SHOW_PLUGINS = { title: 'Show Plugins', command: 'workbench.view.extension.remotePluginProxy' };

export class PluginPick {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly memento: vscode.Memento,
  ) {}

  /** The plugin named by the argument, or the user's pick among those that pass `fits`. */
  async choose(
    argument: unknown,
    placeHolder: string,
    fits: (plugin: PluginInfo) => boolean = () => true,
    nothingFits: () => NothingFits = () => ({ message: 'No plugin fits. Add a manifest or check the Plugins view for broken ones.' }),
  ): Promise<string | undefined> {
    const named = pluginNameOf(argument);
    if (named !== undefined) return named;
    const candidates = this.ordered(this.registry.list().filter(fits));
    if (candidates.length === 0) {
      const { message, actions = [SHOW_PLUGINS] } = nothingFits();
      void vscode.window.showInformationMessage(message, ...actions.map((action) => action.title)).then((choice) => {
        const chosen = actions.find((action) => action.title === choice);
        if (chosen) void vscode.commands.executeCommand(chosen.command);
      });
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(candidates.map(pickItem), { placeHolder, matchOnDescription: true, matchOnDetail: true });
    return picked?.label;
  }

  async remember(name: string): Promise<void> {
    const recent = this.memento.get<string[]>(LAST_USED_KEY, []).filter((other) => other !== name);
    await this.memento.update(LAST_USED_KEY, [name, ...recent].slice(0, 20));
  }

  /** Healthy plugins first, the last used first among them; then those that failed, in the same order. */
  ordered(plugins: PluginInfo[]): PluginInfo[] {
    const recent = this.memento.get<string[]>(LAST_USED_KEY, []);
    const rank = (name: string) => {
      const index = recent.indexOf(name);
      return index === -1 ? recent.length : index;
    };
    const trouble = (plugin: PluginInfo) => (needsAttention(plugin) ? 1 : 0);
    return [...plugins].sort((a, b) => trouble(a) - trouble(b) || rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  }
}

function pickItem(plugin: PluginInfo): vscode.QuickPickItem {
  const problem = needsAttention(plugin) ? plugin.lastError?.message.split('\n', 1)[0] : undefined;
  return {
    label: plugin.name,
    description: [plugin.version, plugin.state].filter(Boolean).join(' · '),
    detail: problem ? `$(error) ${problem}` : plugin.description,
  };
}
