// Choosing a plugin's interpreter (Create Plugin…, Create Plugin Manifest…, Set Interpreter…): the
// environments VS Code already knows (the Python extension's, when it is installed), virtual
// environments in the workspace, conda environments and python3 on PATH, each with its version
// (found by core/interpreterDiscovery.ts), plus Browse… for anything else.
import path from 'node:path';
import { PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';
import { discoverInterpreters, type Interpreter, type InterpreterCandidate, type InterpreterSource } from '../core/interpreterDiscovery';

const PYTHON_EXTENSION_ID = 'ms-python.python';

const SOURCE_LABELS: Record<InterpreterSource, string> = {
  'python-extension': 'from the Python extension',
  workspace: 'virtual environment in the workspace',
  conda: 'conda environment',
  path: 'on PATH',
};

interface InterpreterItem extends vscode.QuickPickItem {
  interpreterPath?: string;
  browse?: boolean;
}

/** The interpreters on offer, as the picker lists them (for the picker, and for the extension's API). */
export async function findInterpreters(): Promise<Interpreter[]> {
  const workspaceFolders = vscode.workspace.isTrusted
    ? (vscode.workspace.workspaceFolders ?? []).filter((folder) => folder.uri.scheme === 'file').map((folder) => folder.uri.fsPath)
    : [];
  return discoverInterpreters({ workspaceFolders, known: await pythonExtensionEnvironments() });
}

/** Asks for an interpreter; undefined when the user cancels. */
export async function pickInterpreter(title: string): Promise<string | undefined> {
  const quickPick = vscode.window.createQuickPick<InterpreterItem>();
  quickPick.title = title;
  quickPick.placeholder = 'Looking for Python interpreters…';
  quickPick.busy = true;
  quickPick.ignoreFocusOut = true; // a step of Create Plugin…: looking elsewhere must not cancel the flow
  quickPick.matchOnDescription = true;
  quickPick.matchOnDetail = true;
  const browse: InterpreterItem = { label: '$(folder-opened) Browse…', description: 'choose an interpreter file', browse: true, alwaysShow: true };
  quickPick.items = [browse];
  quickPick.show();
  void findInterpreters().then(
    (interpreters) => {
      quickPick.items = [...interpreters.map(interpreterItem), browse];
      quickPick.placeholder = interpreters.length > 0 ? "The Python that runs the plugin (its own environment, e.g. a venv or conda env)" : 'No Python interpreter found: browse for one';
      quickPick.busy = false;
    },
    () => {
      quickPick.busy = false;
    },
  );
  const picked = await new Promise<InterpreterItem | undefined>((resolve) => {
    quickPick.onDidAccept(() => resolve(quickPick.selectedItems[0]));
    quickPick.onDidHide(() => resolve(undefined));
  });
  quickPick.dispose();
  if (!picked) return undefined;
  if (!picked.browse) return picked.interpreterPath;
  const files = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Use this interpreter', title: 'Python interpreter' });
  return files?.[0]?.fsPath;
}

function interpreterItem(interpreter: Interpreter): InterpreterItem {
  return {
    label: `Python ${interpreter.version} · ${interpreter.name}`,
    description: interpreter.path,
    detail: SOURCE_LABELS[interpreter.source],
    interpreterPath: interpreter.path,
  };
}

/** The Python extension's known environments, when it is installed; nothing (never an error) otherwise. */
async function pythonExtensionEnvironments(): Promise<InterpreterCandidate[]> {
  if (!vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) return [];
  try {
    const api = await PythonExtension.api();
    return api.environments.known.map((environment) => {
      const executable = environment.executable.uri?.fsPath ?? environment.path;
      const name = environment.environment?.name ?? path.basename(environment.environment?.folderUri?.fsPath ?? path.dirname(path.dirname(executable)));
      return { path: executable, source: 'python-extension' as const, name };
    });
  } catch {
    // The Python extension is optional: without its list, the other places are still searched.
    return [];
  }
}
