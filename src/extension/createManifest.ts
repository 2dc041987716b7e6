// "Create Plugin Manifest…": a guided quick input (name, interpreter, module, class, folder) that
// writes a manifest with the core's rules (core/manifestEdits.ts) and opens it.
import * as vscode from 'vscode';
import { PluginError, messageOf } from '../core/errors';
import { defaultPluginDir, workspacePluginDir } from '../core/manifestDiscovery';
import { newManifestProblem, writeNewManifest } from '../core/manifestEdits';
import { pickInterpreter } from './interpreterPick';

export async function createManifest(): Promise<vscode.Uri | undefined> {
  const name = await vscode.window.showInputBox({
    title: 'New plugin manifest: name',
    ignoreFocusOut: true, // steps of a flow: looking elsewhere (or a webview taking the focus) must not cancel it
    prompt: 'The plugin name shown in the Plugins view, e.g. whisper-local',
    validateInput: (value) => newManifestProblem('name', value),
  });
  if (!name) return undefined;
  const pythonPath = await pickInterpreter('New plugin manifest: interpreter');
  if (!pythonPath) return undefined;
  const module = await vscode.window.showInputBox({
    title: 'New plugin manifest: module',
    ignoreFocusOut: true,
    prompt: 'The Python module that holds the plugin class (a file beside the manifest works too), e.g. my_pkg.plugin',
    value: name.replace(/[^\p{L}\p{N}_]/gu, '_').replace(/^(\p{N})/u, '_$1'),
    validateInput: (value) => newManifestProblem('module', value),
  });
  if (!module) return undefined;
  const className = await vscode.window.showInputBox({
    title: 'New plugin manifest: class',
    ignoreFocusOut: true,
    prompt: 'The plugin class in that module, constructed without arguments',
    value: 'Plugin',
    validateInput: (value) => newManifestProblem('className', value),
  });
  if (!className) return undefined;
  const folder = await pickFolder();
  if (!folder) return undefined;
  try {
    const file = await writeNewManifest({ folder, name, pythonPath, module, className });
    const uri = vscode.Uri.file(file);
    await vscode.window.showTextDocument(uri);
    return uri;
  } catch (error) {
    void vscode.window.showErrorMessage(error instanceof PluginError ? error.message : `Could not write the manifest: ${messageOf(error)}`);
    return undefined;
  }
}

/** Where a new plugin goes: the user's own plugin folder, or this (trusted) workspace's. */
export async function pickFolder(): Promise<string | undefined> {
  const workspace = vscode.workspace.isTrusted ? vscode.workspace.workspaceFolders?.[0] : undefined;
  const items: vscode.QuickPickItem[] = [{ label: 'Your plugins', description: defaultPluginDir() }];
  if (workspace) items.push({ label: 'This workspace', description: workspacePluginDir(workspace.uri.fsPath) });
  const picked = await vscode.window.showQuickPick(items, { title: 'Where to save the plugin', ignoreFocusOut: true });
  return picked?.description;
}
