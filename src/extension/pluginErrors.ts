// How a failure reaches the user: one notification with the plugin's own message and the actions
// that help (Show Logs, Open Manifest); the long detail (traceback, stderr tail) goes to the log.
import * as vscode from 'vscode';
import { PluginError, messageOf } from '../core/errors';
import type { PluginRegistry } from '../core/registry';
import type { PluginLogs } from './pluginLogs';

export class PluginErrors {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly logs: PluginLogs,
  ) {}

  /** Reports a failure of `plugin`; a cancellation is not a failure and is not reported. */
  report(plugin: string | undefined, error: unknown): void {
    const pluginError = asPluginError(plugin, error);
    if (pluginError.kind === 'cancelled') return;
    const name = pluginError.plugin ?? plugin;
    if (name) this.logs.appendError(name, pluginError);
    const manifestPath = pluginError.options.manifestPath ?? (name ? this.registry.get(name)?.manifestPath : undefined);
    const actions = [name ? 'Show Logs' : undefined, manifestPath ? 'Open Manifest' : undefined].filter(
      (action): action is string => action !== undefined,
    );
    const prefix = name && !pluginError.message.includes(name) ? `${name}: ` : '';
    void vscode.window.showErrorMessage(`${prefix}${pluginError.message}`, ...actions).then((choice) => {
      if (choice === 'Show Logs' && name) this.logs.show(name);
      if (choice === 'Open Manifest' && manifestPath) void vscode.window.showTextDocument(vscode.Uri.file(manifestPath));
    });
  }
}

export function asPluginError(plugin: string | undefined, error: unknown): PluginError {
  if (error instanceof PluginError) return error;
  return new PluginError('protocol', `Unexpected failure: ${messageOf(error)}`, { plugin, cause: error, detail: error instanceof Error ? error.stack : undefined });
}
