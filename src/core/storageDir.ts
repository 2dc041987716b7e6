// Where the registry keeps what it learns between runs (the result cache, the measured resource use),
// shared by the extension and `rpp`: the platform's per-user cache folder.
import os from 'node:os';
import path from 'node:path';

const APP = 'remote-plugin-proxy';

/** $XDG_CACHE_HOME/remote-plugin-proxy or ~/.cache/…; ~/Library/Caches/… on macOS; %LOCALAPPDATA%\… on Windows. */
export function defaultStorageDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), APP);
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', APP);
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), APP);
}
