// Copy and Save of a run's results (from its panel or the Runs view): a save dialog offering JSON,
// JSON Lines and, for table-shaped and series results, CSV; the file name names the run.
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { itemAsText, plural } from '../core/resultText';
import { canExportCsv, exportFileName, exportRun, formatOfFileName, type ExportedRun } from '../core/runExport';

export async function copyResults(run: ExportedRun): Promise<void> {
  const text = run.files.flatMap((file) => file.items.map(itemAsText)).join('\n');
  await vscode.env.clipboard.writeText(text);
  void vscode.window.setStatusBarMessage(`Copied ${plural(itemCount(run), 'item')}.`, 3000);
}

/** Asks where (and so in which format) to save, and writes the file. Returns it, or undefined if cancelled. */
export async function saveResults(run: ExportedRun): Promise<vscode.Uri | undefined> {
  const csv = canExportCsv(run);
  const filters: Record<string, string[]> = { JSON: ['json'], 'JSON Lines': ['jsonl', 'ndjson'] };
  if (csv) filters.CSV = ['csv'];
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(defaultFolder(run), exportFileName(run, 'json'))),
    filters,
    saveLabel: 'Save Results',
    title: `Save ${plural(itemCount(run), 'item')} of ${run.plugin} (${csv ? 'JSON, JSON Lines or CSV' : 'JSON or JSON Lines'})`,
  });
  if (!target) return undefined;
  const format = formatOfFileName(target.path);
  if (format === 'csv' && !csv) {
    void vscode.window.showErrorMessage('CSV needs table-shaped or series results; save this run as .json or .jsonl instead.');
    return undefined;
  }
  await vscode.workspace.fs.writeFile(target, Buffer.from(exportRun(run, format)));
  void vscode.window.setStatusBarMessage(`Saved ${plural(itemCount(run), 'item')} to ${target.fsPath}.`, 4000);
  return target;
}

function itemCount(run: ExportedRun): number {
  return run.files.reduce((sum, file) => sum + file.items.length, 0);
}

/** Beside the input file, else in the workspace, else the home folder. */
function defaultFolder(run: ExportedRun): string {
  const first = run.files[0]?.path;
  if (first && path.isAbsolute(first)) return path.dirname(first);
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
}
