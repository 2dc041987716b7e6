// A file given to a plugin becomes a path the worker can open: files are passed by path (the seed's
// zero-copy), never as bytes on the wire. Content that is not on disk (an unsaved editor) goes to a
// private temp file that only this user can read, removed when the call is over. Its folder's name
// carries the host's pid, so that folders of a host that was killed (no `finally` runs after
// SIGKILL) are removed by the next host that starts.
import { readFileSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginError } from './errors';

/** A file given to a plugin: a path, a file: URI, or the content of an unsaved editor. */
export type FileInput =
  | { path: string }
  | { uri: string }
  | { content: string | Uint8Array; /** used for the temp file's extension */ name: string };

export interface MaterializedFile {
  /** Absolute path to hand to the plugin. */
  readonly path: string;
  /** True when `path` is a temp file made for this call. */
  readonly temporary: boolean;
  /** Removes the temp file and its folder (no-op for a caller's own file); safe to call twice. */
  release(): Promise<void>;
}

export async function materializeFileInput(input: FileInput): Promise<MaterializedFile> {
  if ('path' in input) return existingFile(path.resolve(input.path));
  if ('uri' in input) return existingFile(pathOfUri(input.uri));
  return temporaryFile(input.content, input.name);
}

/** Runs `use` with the input as a path and releases any temp file afterwards, whatever happens. */
export async function withFileInput<T>(input: FileInput, use: (filePath: string) => Promise<T>): Promise<T> {
  const file = await materializeFileInput(input);
  try {
    return await use(file.path);
  } finally {
    await file.release();
  }
}

function existingFile(filePath: string): MaterializedFile {
  return { path: filePath, temporary: false, release: async () => {} };
}

function pathOfUri(uri: string): string {
  if (!uri.startsWith('file:')) {
    const scheme = uri.slice(0, Math.max(0, uri.indexOf(':'))) || 'no scheme';
    throw new PluginError(
      'usage',
      `Cannot pass "${uri}" to a plugin: only file: URIs and paths can be opened by the worker (got ${scheme}). Save the file locally or pass its content instead.`,
    );
  }
  try {
    return fileURLToPath(uri);
  } catch (error) {
    throw new PluginError('usage', `Cannot turn "${uri}" into a local path: ${(error as Error).message}.`, { cause: error });
  }
}

const FOLDER_PREFIX = 'rpp-input-';
const HOST_PID_IN_NAME = /^rpp-input-(\d+)-/;

/**
 * Removes the temp folders of hosts that are gone (`rpp-input-<pid>-*` of this user, whose pid no
 * longer runs). A folder whose pid was reused by a live process stays until that process ends.
 */
export async function removeOrphanedInputs(): Promise<string[]> {
  const tmpdir = os.tmpdir();
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(tmpdir);
  } catch {
    return removed; // no temp folder to look in: nothing of ours can be there
  }
  for (const name of names) {
    const pid = Number(HOST_PID_IN_NAME.exec(name)?.[1]);
    if (!pid || pid === process.pid || processRuns(pid)) continue;
    const folder = path.join(tmpdir, name);
    try {
      const info = await lstat(folder);
      if (!info.isDirectory() || (process.getuid && info.uid !== process.getuid())) continue;
      await rm(folder, { recursive: true, force: true });
      removed.push(folder);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
  // A killed host stays a zombie until its parent reaps it: it exists, but runs no more.
  const stat = readFileOrEmpty(`/proc/${pid}/stat`);
  return !/\) [ZX] /.test(stat);
}

function readFileOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return ''; // no /proc here, or the process is gone
  }
}

async function temporaryFile(content: string | Uint8Array, name: string): Promise<MaterializedFile> {
  // mkdtemp makes the folder 0700, so nobody else can list or open what is inside.
  const folder = await mkdtemp(path.join(os.tmpdir(), `${FOLDER_PREFIX}${process.pid}-`));
  const filePath = path.join(folder, safeFileName(name));
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await rm(folder, { recursive: true, force: true });
  };
  try {
    // 'wx': never follow or reuse an existing file; 0600 even if the umask is lax.
    await writeFile(filePath, content, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    await release();
    throw new PluginError('usage', `Could not write the temp file for "${name}": ${(error as Error).message}. Check free space in ${os.tmpdir()}.`, {
      cause: error,
    });
  }
  return { path: filePath, temporary: true, release };
}

/** Keeps the name's extension (plugins often look at it) but nothing that could leave the folder. */
function safeFileName(name: string): string {
  const base = path.basename(name.replace(/\\/g, '/')).replace(/[^\w.\- ]/g, '_').replace(/^\.+/, '');
  return base.length > 0 ? base.slice(-120) : 'input';
}
