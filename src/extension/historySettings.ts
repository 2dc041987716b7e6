// The run history's settings: how many runs and how many megabytes of results it keeps.
import * as vscode from 'vscode';
import type { HistoryLimits } from '../core/runHistory';
import { SECTION } from './settings';

export const HISTORY_SETTINGS = ['historyMaxRuns', 'historyMaxSizeMB'].map((key) => `${SECTION}.${key}`);

export function historyLimits(): HistoryLimits {
  const config = vscode.workspace.getConfiguration(SECTION);
  const maxRuns = Math.max(0, Math.floor(config.get<number>('historyMaxRuns', 200)));
  const maxMegabytes = Math.max(1, config.get<number>('historyMaxSizeMB', 500));
  return { maxRuns, maxBytes: maxMegabytes * 1024 * 1024 };
}
