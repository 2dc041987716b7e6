// "Create Plugin Manifest…": a guided quick input (name, interpreter, module, class, folder) that
// writes a valid manifest and opens it. Interpreters come from the Python extension when it is
// installed, else from a file picker.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { PLUGIN_NAME_PATTERN } from '../core/manifest';
import { WORKSPACE_MANIFEST_DIR } from './settings';

const MODULE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const CLASS_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BROWSE = '$(folder-opened) Browse…';

/** The part of the Python extension's API we use (its `environments` API). */
interface PythonExtensionApi {
  environments?: { known?: ReadonlyArray<{ path: string; environment?: { name?: string } }> };
}

export async function createManifest(): Promise<vscode.Uri | undefined> {
  const name = await vscode.window.showInputBox({
    title: 'New plugin manifest: name',
    prompt: 'The plugin name shown in the Plugins view, e.g. whisper-local',
    validateInput: (value) => (PLUGIN_NAME_PATTERN.test(value) ? undefined : 'Use letters, digits, ".", "_" or "-", starting with a letter or digit.'),
  });
  if (!name) return undefined;
  const pythonPath = await pickInterpreter();
  if (!pythonPath) return undefined;
  const moduleName = await vscode.window.showInputBox({
    title: 'New plugin manifest: module',
    prompt: 'The Python module that holds the plugin class (a file beside the manifest works too), e.g. my_pkg.plugin',
    value: name.replace(/[^A-Za-z0-9_]/g, '_'),
    validateInput: (value) => (MODULE_PATTERN.test(value) ? undefined : 'A dotted Python module path, e.g. my_pkg.plugin.'),
  });
  if (!moduleName) return undefined;
  const className = await vscode.window.showInputBox({
    title: 'New plugin manifest: class',
    prompt: 'The plugin class in that module, constructed without arguments',
    value: 'Plugin',
    validateInput: (value) => (CLASS_PATTERN.test(value) ? undefined : 'A Python class name, e.g. WhisperPlugin.'),
  });
  if (!className) return undefined;
  const folder = await pickFolder();
  if (!folder) return undefined;
  const file = path.join(folder, `${name}.json`);
  const manifest = { name, version: '0.1.0', python_path: pythonPath, module: moduleName, class: className, env_vars: {} };
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(file, `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
    void vscode.window.showErrorMessage(
      exists ? `${file} already exists; nothing was overwritten. Choose another name.` : `Could not write ${file}: ${(error as Error).message}`,
    );
    return undefined;
  }
  const uri = vscode.Uri.file(file);
  await vscode.window.showTextDocument(uri);
  return uri;
}

export async function pickInterpreter(): Promise<string | undefined> {
  const known = await pythonExtensionInterpreters();
  const items: vscode.QuickPickItem[] = [
    ...known.map((env) => ({ label: env.name, description: env.path })),
    { label: 'python3', description: 'the first python3 on PATH' },
    { label: BROWSE, description: 'choose an interpreter file' },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Plugin interpreter', placeHolder: 'The Python that runs the plugin (its own environment, e.g. a conda env)' });
  if (!picked) return undefined;
  if (picked.label !== BROWSE) return picked.description === 'the first python3 on PATH' ? 'python3' : picked.description;
  const files = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Use this interpreter', title: 'Python interpreter' });
  return files?.[0]?.fsPath;
}

async function pythonExtensionInterpreters(): Promise<Array<{ name: string; path: string }>> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!extension) return [];
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    return (api.environments?.known ?? []).map((env) => ({ name: env.environment?.name ?? path.basename(path.dirname(path.dirname(env.path))), path: env.path }));
  } catch {
    // The Python extension is optional: without its list the user can still browse or use python3.
    return [];
  }
}

export async function pickFolder(): Promise<string | undefined> {
  const userFolder = path.join(os.homedir(), '.cjm', 'plugins');
  const workspace = vscode.workspace.isTrusted ? vscode.workspace.workspaceFolders?.[0] : undefined;
  const items: vscode.QuickPickItem[] = [{ label: 'Your plugins', description: userFolder }];
  if (workspace) items.push({ label: 'This workspace', description: path.join(workspace.uri.fsPath, WORKSPACE_MANIFEST_DIR) });
  const picked = await vscode.window.showQuickPick(items, { title: 'Where to save the plugin' });
  return picked?.description;
}
