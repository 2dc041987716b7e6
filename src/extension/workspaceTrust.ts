// Command handlers check trust themselves: hiding a menu entry is not enough, a command can be run
// from the palette, a keybinding or another extension.
import * as vscode from 'vscode';

/** True when the workspace is trusted; otherwise says why nothing runs and offers to manage trust. */
export function requireTrust(action: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window
    .showWarningMessage(
      `Cannot ${action} in Restricted Mode: plugins run programs on this machine, so they only run in a trusted workspace. Trust the workspace to use plugins.`,
      'Manage Workspace Trust',
    )
    .then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
    });
  return false;
}
