// "Clear Result Cache": removes every stored result (shared with `rpp`) and says how much was freed.
import * as vscode from 'vscode';
import { messageOf } from '../core/errors';
import type { PluginRegistry } from '../core/registry';

export async function clearResultCache(registry: PluginRegistry): Promise<{ entries: number; bytes: number } | undefined> {
  try {
    const freed = await registry.clearCache();
    void vscode.window.showInformationMessage(
      freed.entries === 0 ? 'The result cache was already empty.' : `Cleared ${freed.entries} stored ${freed.entries === 1 ? 'result' : 'results'} (${size(freed.bytes)}).`,
    );
    return freed;
  } catch (error) {
    void vscode.window.showErrorMessage(`Could not clear the result cache: ${messageOf(error)}`);
    return undefined;
  }
}

function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
