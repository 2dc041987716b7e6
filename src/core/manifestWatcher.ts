// Watching manifest folders: one callback per burst of changes (an editor's save is several events),
// folders that appear later are picked up by a periodic check, and dispose() releases every watcher and timer.
import fs from 'node:fs';
import path from 'node:path';
import { expandHome } from './manifest';
import { isManifestName } from './manifestDiscovery';

export interface ManifestWatchOptions {
  /** Quiet time after the last event before the callback runs (default 150 ms). */
  debounceMs?: number;
  /** How often folders that do not exist (yet) are checked for (default 2 s; fs.watch cannot watch what is not there). */
  recheckMs?: number;
}

/** Calls `onChange` after manifests are added, changed or removed in any of `dirs`, or when one of the folders appears or disappears. */
export function watchManifestDirs(dirs: string[], onChange: () => void, options: ManifestWatchOptions = {}): { dispose(): void } {
  const debounceMs = options.debounceMs ?? 150;
  const watchers = new Map<string, fs.FSWatcher>();
  const missing = new Set<string>();
  let debounce: NodeJS.Timeout | undefined;
  let disposed = false;

  const schedule = (): void => {
    if (disposed) return;
    clearTimeout(debounce);
    debounce = setTimeout(flush, debounceMs);
  };

  const flush = (): void => {
    debounce = undefined;
    if (disposed) return;
    for (const dir of watchers.keys()) if (!isDirectory(dir)) unwatch(dir);
    onChange();
  };

  const unwatch = (dir: string): void => {
    watchers.get(dir)?.close();
    watchers.delete(dir);
    missing.add(dir);
  };

  const watch = (dir: string): boolean => {
    try {
      const watcher = fs.watch(dir, { persistent: false }, (_event, filename) => {
        // No file name (some platforms) or the folder itself: cannot tell, so reload.
        if (filename === null || isManifestName(filename) || !isDirectory(dir)) schedule();
      });
      // The folder was removed or became unreadable: fall back to waiting for it to come back.
      watcher.on('error', () => {
        unwatch(dir);
        schedule();
      });
      watchers.set(dir, watcher);
      missing.delete(dir);
      return true;
    } catch {
      missing.add(dir);
      return false;
    }
  };

  for (const dir of new Set(dirs.map((d) => path.resolve(expandHome(d))))) watch(dir);

  const recheck = setInterval(() => {
    for (const dir of [...missing]) if (isDirectory(dir) && watch(dir)) schedule();
  }, options.recheckMs ?? 2000);
  recheck.unref(); // the check alone must not keep a CLI process alive

  return {
    dispose(): void {
      disposed = true;
      clearTimeout(debounce);
      clearInterval(recheck);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
      missing.clear();
    },
  };
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
