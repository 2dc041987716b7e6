// How a failure reaches the user: one notification whose message names the plugin and the input, with
// the buttons that fit the kind of failure (core/failureAdvice.ts decides which); the long detail goes
// to the plugin's log once. The results panel's error row offers the same actions through
// failureActionCommand().
import * as vscode from 'vscode';
import { asPluginError } from '../core/errors';
import { adviseOn, type FailureAction } from '../core/failureAdvice';
import type { PluginRegistry } from '../core/registry';
import type { PluginLogs } from './pluginLogs';

/** The input a failed call ran on, so that the message and the actions can name it. */
export interface FailureInput {
  /** The file or folder (a path), when the call had one. */
  input?: string;
}

const ACTION_TITLES: Record<FailureAction, string> = {
  configure: 'Configure…',
  openManifest: 'Open Manifest',
  setInterpreter: 'Set Interpreter…',
  showLogs: 'Show Logs',
  restart: 'Restart',
  revealInput: 'Reveal Input',
  manageTrust: 'Manage Workspace Trust',
};

/** The button title and the command (with its arguments) of one action, for any surface that offers it. */
export function failureActionCommand(action: FailureAction, plugin: string | undefined, input?: string): vscode.Command {
  const title = ACTION_TITLES[action];
  switch (action) {
    case 'revealInput':
      return { title, command: 'revealInExplorer', arguments: input === undefined ? [] : [vscode.Uri.file(input)] };
    case 'manageTrust':
      return { title, command: 'workbench.trust.manage' };
    default:
      return { title, command: `remotePluginProxy.${action}`, arguments: plugin === undefined ? [] : [plugin] };
  }
}

export class PluginErrors {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly logs: PluginLogs,
  ) {}

  /** Reports a failure of `plugin`; a cancellation is not a failure and is not reported. */
  report(plugin: string | undefined, error: unknown, context: FailureInput = {}): void {
    const failure = asPluginError(plugin, error);
    if (failure.kind === 'cancelled') return;
    const name = failure.plugin ?? plugin;
    if (name) this.logs.appendError(name, failure);
    const info = name ? this.registry.get(name) : undefined;
    const advice = adviseOn(failure, { plugin: name, input: context.input, fileTypes: info?.fileTypes });
    const actions = advice.actions
      .filter((action) => name !== undefined || action === 'revealInput' || action === 'manageTrust')
      .map((action) => failureActionCommand(action, name, context.input));
    void vscode.window.showErrorMessage(advice.message, ...actions.map((action) => action.title)).then((choice) => {
      const chosen = actions.find((action) => action.title === choice);
      if (chosen) void vscode.commands.executeCommand(chosen.command, ...(chosen.arguments ?? []));
    });
  }
}
