// Where one run's results go: a webview panel or the "Plugin Results" output channel (a setting).
// A run may cover several files (a selection in the explorer); they run one after another into the
// same view. How results read as text is in src/core/resultText.ts (shared with the webview).
import type * as vscode from 'vscode';
import type { PluginError } from '../core/errors';
import type { RunMode } from '../core/runHistory';

export type { RunMode };

export interface RunSummary {
  plugin: string;
  files: number;
  items: number;
  errors: number;
  cancelled: boolean;
  durationMs: number;
}

export interface FileOutcome {
  error?: PluginError;
  cancelled?: boolean;
}

export interface ResultsView {
  beginFile(filePath: string): void;
  append(item: unknown): void;
  endFile(outcome: FileOutcome): void;
  finish(summary: RunSummary): void;
  /** Fired when the user asks the view to stop the run (the webview's Stop button, closing the panel). */
  readonly onDidRequestStop: vscode.Event<void>;
}

/** How the user said it: "Run on tone.wav", "Stream on 3 files". */
export function runWords(mode: RunMode, files: readonly string[]): string {
  const what = files.length === 1 ? baseName(files[0]!) : `${files.length} files`;
  return `${mode === 'stream' ? 'Stream' : 'Run'} on ${what}`;
}

export function baseName(filePath: string): string {
  return filePath.split(/[\\/]/).pop() || filePath;
}
