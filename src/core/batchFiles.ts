// Which files a batch runs on: the files of a folder, recursively (hidden entries and symlinked folders
// skipped, so a walk cannot loop), in a stable order. Which of them a plugin takes is fileRule.ts's filesTaken().
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PluginError } from './errors';

/** Every regular file under `dir` (absolute paths, sorted); symlinks to files count, to folders do not. */
export async function filesInFolder(dir: string, signal?: AbortSignal): Promise<string[]> {
  const root = path.resolve(dir);
  const stat = await fs.stat(root).catch((error: NodeJS.ErrnoException) => {
    throw new PluginError('usage', `Cannot read the folder "${root}": ${error.code === 'ENOENT' ? 'it does not exist' : error.message}.`, { cause: error });
  });
  if (!stat.isDirectory()) throw new PluginError('usage', `"${root}" is not a folder.`);
  const found: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    if (signal?.aborted) break;
    const folder = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = await fs.readdir(folder, { withFileTypes: true });
    } catch {
      continue; // unreadable subfolder: its files are not offered, the rest is
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isFile()) found.push(full);
      else if (entry.isSymbolicLink() && (await fs.stat(full).then((s) => s.isFile(), () => false))) found.push(full);
    }
  }
  return found.sort(comparePaths);
}

/** Folder by folder, then by name, numbers in names in numeric order ("track 2" before "track 10"). */
export function comparePaths(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' }) || (a < b ? -1 : a > b ? 1 : 0);
}
