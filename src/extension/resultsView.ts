// Where one run's results go: a webview panel or the "Plugin Results" output channel (a setting).
// A run may cover several files (a selection in the explorer); they run one after another into the
// same view.
import type * as vscode from 'vscode';
import type { PluginError } from '../core/errors';

export type RunMode = 'execute' | 'stream';

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

/** An item as one line of text: strings as they are, timed segments as "[0:01.2 → 0:03.4] text", the rest as JSON. */
export function itemAsText(item: unknown): string {
  if (typeof item === 'string') return item;
  if (isSegment(item)) return `[${formatSeconds(item.start)} → ${formatSeconds(item.end)}] ${item.text}`;
  return JSON.stringify(item);
}

export function isSegment(item: unknown): item is { start: number; end: number; text: string } {
  if (typeof item !== 'object' || item === null) return false;
  const { start, end, text } = item as Record<string, unknown>;
  return typeof start === 'number' && typeof end === 'number' && typeof text === 'string';
}

/** m:ss.s; rounded to tenths before splitting, so 59.96 s is "1:00.0", not "0:60.0". */
export function formatSeconds(seconds: number): string {
  const tenths = Math.round(seconds * 10);
  const minutes = Math.floor(tenths / 600);
  return `${minutes}:${((tenths - minutes * 600) / 10).toFixed(1).padStart(4, '0')}`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
