// "Create Plugin…": asks for a name, an interpreter and a folder, writes a working skeleton (a
// Python class and its manifest, from the core) and opens the class. The skeleton runs as it is.
import path from 'node:path';
import * as vscode from 'vscode';
import { PluginError, messageOf } from '../core/errors';
import { newManifestProblem } from '../core/manifestEdits';
import { writePluginSkeleton, type SkeletonOptions } from '../core/pluginSkeleton';
import { pickFolder } from './createManifest';
import { pickInterpreter } from './interpreterPick';
import { requireTrust } from './workspaceTrust';

/** `options` lets a caller (another extension, a test) skip the questions. */
export async function createPlugin(options?: SkeletonOptions): Promise<string | undefined> {
  if (!requireTrust('create a plugin')) return undefined;
  const chosen = options ?? (await askOptions());
  if (!chosen) return undefined;
  try {
    const files = await writePluginSkeleton(chosen);
    await vscode.window.showTextDocument(vscode.Uri.file(files.modulePath));
    void vscode.window.showInformationMessage(
      `Plugin "${chosen.name}" created in ${chosen.folder}. It runs as it is: try "Remote Plugins: Run Plugin…" on any file.`,
    );
    return files.manifestPath;
  } catch (error) {
    void vscode.window.showErrorMessage(error instanceof PluginError ? error.message : `Could not create the plugin: ${messageOf(error)}`);
    return undefined;
  }
}

async function askOptions(): Promise<SkeletonOptions | undefined> {
  const name = await vscode.window.showInputBox({
    title: 'New plugin: name',
    ignoreFocusOut: true, // a step of a flow: looking elsewhere (or a webview taking the focus) must not cancel it
    prompt: 'The plugin name shown in the Plugins view; it also names the files, e.g. word-count',
    validateInput: (value) => newManifestProblem('name', value),
  });
  if (!name) return undefined;
  const pythonPath = await pickInterpreter('New plugin: interpreter');
  if (!pythonPath) return undefined;
  const folder = await pickFolder();
  return folder ? { name, pythonPath, folder: path.resolve(folder) } : undefined;
}
