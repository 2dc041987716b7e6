// The extension's settings, read with Workspace Trust in mind: in Restricted Mode a workspace must not
// be able to choose which folders (and therefore which interpreters) we run, so only the user's own
// values count and the workspace's `.cjm/plugins` folders are skipped.
import os from 'node:os';
import * as vscode from 'vscode';
import { resolvePluginDir, workspacePluginDir } from '../core/manifestDiscovery';
import type { RegistryOptions } from '../core/registry';

export const SECTION = 'remotePluginProxy';

export type ResultsTarget = 'webview' | 'output';

export interface Settings {
  pluginDirs: string[];
  idleTimeoutMinutes: number;
  startupTimeoutSeconds: number;
  statsIntervalSeconds: number;
  resultsTarget: ResultsTarget;
  maxRestarts: number;
  cancelGraceSeconds: number;
  /** Per plugin, how many workers may run in parallel (over the manifest's max_instances). */
  maxInstances: Record<string, number>;
  /** What all workers together may use, in MB; 0: the machine's available memory only. */
  memoryBudgetMb: number;
  evictIdleWorkers: boolean;
  useCache: boolean;
  cacheSizeMb: number;
}

export function readSettings(): Settings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return {
    pluginDirs: trustedValue<string[]>('pluginDirs') ?? [],
    idleTimeoutMinutes: config.get<number>('idleTimeoutMinutes', 10),
    startupTimeoutSeconds: config.get<number>('startupTimeoutSeconds', 60),
    statsIntervalSeconds: config.get<number>('statsIntervalSeconds', 2),
    resultsTarget: config.get<ResultsTarget>('resultsTarget', 'webview') === 'output' ? 'output' : 'webview',
    maxRestarts: config.get<number>('maxRestarts', 4),
    cancelGraceSeconds: config.get<number>('cancelGraceSeconds', 3),
    maxInstances: validInstances(config.get<Record<string, unknown>>('maxInstances', {})),
    memoryBudgetMb: Math.max(0, config.get<number>('memoryBudgetMb', 0)),
    evictIdleWorkers: config.get<boolean>('evictIdleWorkers', true),
    useCache: config.get<boolean>('useCache', true),
    cacheSizeMb: Math.max(0, config.get<number>('cacheSizeMb', 1024)),
  };
}

/** Only whole numbers from 1 count; anything else in the object is ignored (the schema already warns). */
function validInstances(value: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, number] => Number.isInteger(entry[1]) && (entry[1] as number) >= 1));
}

/** Every folder the registry should read manifests from, besides ~/.cjm/plugins. */
export function manifestFolders(settings: Settings): string[] {
  const folders = configuredFolders(settings);
  if (vscode.workspace.isTrusted) {
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme === 'file') folders.push(workspacePluginDir(folder.uri.fsPath));
    }
  }
  return [...new Set(folders)];
}

/** The folders the user named in `pluginDirs`, resolved. */
export function configuredFolders(settings: Settings): string[] {
  return settings.pluginDirs.map(resolveFolderSetting);
}

export function registryOptions(settings: Settings): Omit<RegistryOptions, 'configFor'> {
  return {
    pluginDirs: manifestFolders(settings),
    idleTimeoutMs: settings.idleTimeoutMinutes * 60_000,
    startupTimeoutMs: settings.startupTimeoutSeconds * 1000,
    maxRestarts: settings.maxRestarts,
    cancelGraceMs: settings.cancelGraceSeconds * 1000,
    maxInstances: settings.maxInstances,
    memoryBudgetMb: settings.memoryBudgetMb,
    evictIdleWorkers: settings.evictIdleWorkers,
    cache: settings.useCache,
    cacheMaxMb: settings.cacheSizeMb,
  };
}

/** The saved configuration of one plugin (applied with initialize whenever its worker starts). */
export function savedPluginConfig(plugin: string): Record<string, unknown> | undefined {
  const all = vscode.workspace.getConfiguration(SECTION).get<Record<string, Record<string, unknown>>>('pluginConfig', {});
  const value = all[plugin];
  return typeof value === 'object' && value !== null ? value : undefined;
}

/** Saves a plugin's configuration in the user's settings (a plugin's config follows the user, not a workspace). */
export async function savePluginConfig(plugin: string, values: Record<string, unknown>): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const all = { ...(config.inspect<Record<string, unknown>>('pluginConfig')?.globalValue ?? {}) };
  all[plugin] = values;
  await config.update('pluginConfig', all, vscode.ConfigurationTarget.Global);
}

/**
 * A setting that names folders or interpreters: the merged value when the workspace is trusted,
 * otherwise only what the user set for themselves (or the default).
 */
function trustedValue<T>(key: string): T | undefined {
  const config = vscode.workspace.getConfiguration(SECTION);
  if (vscode.workspace.isTrusted) return config.get<T>(key);
  const inspected = config.inspect<T>(key);
  return inspected?.globalValue ?? inspected?.defaultValue;
}

/** `~/x` and paths relative to the first workspace folder (only when trusted, else the home folder), as the user would expect. */
function resolveFolderSetting(folder: string): string {
  const base = vscode.workspace.isTrusted ? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath : undefined;
  return resolvePluginDir(folder, base ?? os.homedir());
}

/** True when a configuration change concerns the registry (not only the results target or stats interval). */
export function affectsRegistry(event: vscode.ConfigurationChangeEvent): boolean {
  return ['pluginDirs', 'idleTimeoutMinutes', 'startupTimeoutSeconds', 'maxRestarts', 'cancelGraceSeconds', 'maxInstances', 'memoryBudgetMb', 'evictIdleWorkers', 'useCache', 'cacheSizeMb'].some((key) =>
    event.affectsConfiguration(`${SECTION}.${key}`),
  );
}
