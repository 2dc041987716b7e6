// What a batch leaves behind for other tools: one JSON line per file ({"file", "ok", "result" | "error",
// "ms"}, plus "cached": true when the result came from the cache), which `--resume` reads back to skip
// the files already done; and `<file>.<plugin>.json` beside each file or in a chosen folder.
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomicWrite';
import type { BatchItem } from './batchRun';

export interface ResultLine {
  file: string;
  ok: boolean;
  result?: unknown;
  error?: { kind: string; message: string };
  ms: number;
  cached?: true;
}

/** One line of results.jsonl (without the newline); `file` as the user named it. */
export function resultLine(item: BatchItem, file = item.file): string {
  const line: ResultLine = item.ok
    ? { file, ok: true, result: item.result, ms: Math.round(item.ms * 10) / 10 }
    : { file, ok: false, error: { kind: item.error!.kind, message: item.error!.message }, ms: Math.round(item.ms * 10) / 10 };
  if (item.cached) line.cached = true;
  return JSON.stringify(line);
}

/**
 * The files (absolute, resolved against `base`) that already have a successful line in a results file;
 * failed ones run again. A missing file is an empty one; a damaged line (a run killed mid-write) is skipped.
 */
export async function succeededFiles(resultsFile: string, base: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await fs.readFile(resultsFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw error;
  }
  const done = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const parsed = JSON.parse(line) as Partial<ResultLine>;
      if (parsed.ok === true && typeof parsed.file === 'string') done.add(path.resolve(base, parsed.file));
    } catch {
      // the torn last line of an interrupted run
    }
  }
  return done;
}

/** Makes sure appended lines start on a line of their own (after a run killed mid-line). */
export async function endWithNewline(resultsFile: string): Promise<void> {
  const handle = await fs.open(resultsFile, 'a+').catch(() => undefined);
  if (!handle) return;
  try {
    const { size } = await handle.stat();
    if (size === 0) return;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] !== 0x0a) await handle.write('\n');
  } finally {
    await handle.close();
  }
}

/**
 * Where `<file>.<plugin>.json` goes: beside the file, or in `folder` keeping the file's place under `root`
 * (two "take1.wav" in different subfolders must not overwrite each other).
 */
export function resultFilePath(file: string, plugin: string, target?: { folder: string; root: string }): string {
  const name = `${path.basename(file)}.${plugin}.json`;
  if (!target) return path.join(path.dirname(file), name);
  const relative = path.relative(target.root, path.dirname(file));
  const inside = relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : '';
  return path.join(target.folder, inside, name);
}

/** Writes a file's result as pretty JSON (atomically: a reader never sees half of it). */
export async function writeResultFile(filePath: string, result: unknown): Promise<void> {
  await writeFileAtomic(filePath, `${JSON.stringify(result, null, 2)}\n`, { shared: true });
}
