// Finding manifests: every *.json in ~/.cjm/plugins (the seed's place) and in the folders the caller names,
// read in parallel, in a stable order, with plugin names made unique (the first file keeps a name).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expandHome, readManifest, withProblem, type ManifestEntry } from './manifest';

/** The seed's manifest folder. */
export function defaultPluginDir(): string {
  return path.join(os.homedir(), '.cjm', 'plugins');
}

/** Where manifests live inside a (trusted) workspace folder. */
export function workspacePluginDir(workspaceRoot: string): string {
  return path.join(workspaceRoot, '.cjm', 'plugins');
}

/** A folder as a user names it in a setting: `~` and `~/…` are the home folder, a relative path starts at `base`. */
export function resolvePluginDir(dir: string, base: string): string {
  return path.resolve(base, expandHome(dir));
}

/** Folders named in RPP_PLUGIN_DIRS, separated like PATH (':' or ';' on Windows); `~` is expanded. */
export function pluginDirsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.RPP_PLUGIN_DIRS ?? '')
    .split(path.delimiter)
    .map((dir) => dir.trim())
    .filter((dir) => dir !== '')
    .map((dir) => resolvePluginDir(dir, process.cwd()));
}

export interface DiscoveryOptions {
  /** Folders that are skipped silently when missing (default: the seed's ~/.cjm/plugins, which usually does not exist). */
  quietDirs?: string[];
  /** The environment for PATH look-ups of bare python_path commands (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface Discovery {
  /** One entry per manifest file, in order: folders as given, files by name. */
  entries: ManifestEntry[];
  /** Folders that do not exist or are not folders (except quiet ones), so that the UI can say so. */
  missingDirs: string[];
}

/** Loads every manifest in `dirs`. Never throws: unreadable files and folders become broken entries and missingDirs. */
export async function discoverManifests(dirs: string[], options: DiscoveryOptions = {}): Promise<Discovery> {
  const env = options.env ?? process.env;
  const quiet = new Set((options.quietDirs ?? [defaultPluginDir()]).map(absoluteDir));
  const all = uniqueDirs(dirs.map(absoluteDir));
  const listings = await Promise.all(all.map(listManifestFiles));
  const missingDirs = all.filter((dir, index) => listings[index] === undefined && !quiet.has(dir));
  const files = listings.flatMap((listing) => listing ?? []);
  const entries = await Promise.all(files.map((file) => readManifest(file, env)));
  return { entries: withUniqueNames(entries), missingDirs };
}

function absoluteDir(dir: string): string {
  return resolvePluginDir(dir, process.cwd());
}

/** A folder listed twice (or as the default and explicitly) is read once, at its first place. */
function uniqueDirs(dirs: string[]): string[] {
  return [...new Set(dirs)];
}

/**
 * The folder's *.json entries sorted by name, or undefined when it cannot be listed. Dot-files (editor
 * backups, lock files) are skipped, as a shell's *.json would. Entries that are not regular files (a
 * folder, a FIFO, a link to a device) are listed too: reading them reports them as broken, with why.
 */
export async function listManifestFiles(dir: string): Promise<string[] | undefined> {
  try {
    const names = await fs.readdir(dir);
    return names
      .filter(isManifestName)
      .sort(compareCodePoints)
      .map((name) => path.join(dir, name));
  } catch {
    return undefined;
  }
}

export function isManifestName(name: string): boolean {
  return !name.startsWith('.') && name.toLowerCase().endsWith('.json');
}

/** Code-point order, not the locale's: the same on every machine. */
function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The registry keys plugins by name, so names must be unique. Declared names come first, in order: a later
 * file with a name already taken becomes broken, naming the first file. Broken files without a usable name
 * fall back to their file's stem, suffixed with " (2)", " (3)" … when taken.
 */
function withUniqueNames(entries: ManifestEntry[]): ManifestEntry[] {
  const owners = new Map<string, string>(); // name → the manifest that has it
  const declaredFirst = entries.map((entry) => {
    const declared = entry.ok ? entry.manifest.name : entry.nameFromManifest ? entry.name : undefined;
    if (declared === undefined) return entry;
    const first = owners.get(declared);
    if (first === undefined) {
      owners.set(declared, entry.path);
      return entry;
    }
    const text = `"name": "${declared}" is already used by ${first}. Rename one of the two plugins: names must be unique.`;
    const name = freeName(declared, owners);
    owners.set(name, entry.path);
    return withProblem(entry, 'name', text, name);
  });
  return declaredFirst.map((entry) => {
    if (entry.ok || entry.nameFromManifest) return entry;
    const name = freeName(entry.name, owners);
    owners.set(name, entry.path);
    return { ...entry, name };
  });
}

function freeName(base: string, taken: Map<string, string>): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base} (${n})`)) return `${base} (${n})`;
}
