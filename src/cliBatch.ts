// `rpp run PLUGIN FILE...` and `rpp run PLUGIN --dir DIR`: one plugin over many files through its queue
// (--jobs workers in parallel), one JSON line per file as it finishes ({"file", "ok", "result" | "error",
// "ms"}, "cached": true when it came from the cache), to stdout or appended to --out; --resume skips the
// files that already have a successful line there. Progress goes to stderr when it is a terminal.
import type { FileHandle } from 'node:fs/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import { filesInFolder } from './core/batchFiles';
import { endWithNewline, resultLine, succeededFiles } from './core/batchOutput';
import { describeProgress, runBatch, type BatchProgress } from './core/batchRun';
import { PluginError, type PluginErrorKind } from './core/errors';
import { describeAccepted, filesTaken } from './core/fileRule';
import type { PluginInfo } from './core/pluginInfo';
import type { PluginRegistry } from './core/registry';

export interface BatchCommand {
  plugin: string;
  /** Files named on the command line, as typed. */
  files: string[];
  dir?: string;
  out?: string;
  resume: boolean;
  kwargs: Record<string, unknown>;
  cache: boolean;
}

/** Progress lines are redrawn at most this often. */
const PROGRESS_INTERVAL_MS = 200;

/** Runs the batch; the exit code is 0 when every file succeeded, else the worst failure's code. */
export async function runBatchCommand(
  registry: PluginRegistry,
  command: BatchCommand,
  signal: AbortSignal,
  exitCodeOf: (kind: PluginErrorKind) => number,
): Promise<number> {
  const { plugin } = command;
  const info = registry.get(plugin);
  if (!info) throw new PluginError('usage', `No plugin named "${plugin}". Known plugins: ${registry.list().map((p) => p.name).join(', ') || 'none'}.`);
  if (info.state === 'broken' && info.lastError) throw info.lastError;
  if (command.resume && !command.out) throw new PluginError('usage', '--resume needs --out FILE: it skips the files that already have a successful line in that file.');

  const shown = await namedFiles(registry, info, command, signal);
  const skip = command.resume && command.out ? await succeededFiles(command.out, process.cwd()) : new Set<string>();
  const todo = shown.filter((file) => !skip.has(path.resolve(file)));
  const shownByAbsolute = new Map(todo.map((file) => [path.resolve(file), file]));
  if (skip.size > 0) process.stderr.write(`rpp: ${shown.length - todo.length} of ${shown.length} files already done in ${command.out}; running ${todo.length}.\n`);
  if (todo.length === 0) return 0;

  const output = await openOutput(command);
  const progress = new ProgressLine(todo.length);
  const started = performance.now();
  // Why no worker starts (memory), said once each time it changes.
  let waitingFor: string | undefined;
  const watching = registry.onDidChange((name) => {
    const reason = name === plugin ? registry.get(plugin)?.waitingFor : waitingFor;
    if (reason === waitingFor) return;
    waitingFor = reason;
    if (reason) {
      progress.clear();
      process.stderr.write(`rpp: ${plugin}: ${reason}\n`);
    }
  });
  let worst = 0;
  let last: BatchProgress = { total: todo.length, done: 0, failed: 0, cached: 0, running: 0, queued: 0 };
  try {
    const items = runBatch(registry, plugin, [...shownByAbsolute.keys()], {
      kwargs: command.kwargs,
      cache: command.cache,
      signal,
      onProgress: (update) => {
        last = update;
        progress.show(update);
      },
    });
    for await (const item of items) {
      await output.write(`${resultLine(item, shownByAbsolute.get(item.file) ?? item.file)}\n`);
      if (!item.ok) worst = Math.max(worst, exitCodeOf((item.error?.kind ?? 'plugin') as PluginErrorKind) || 1);
    }
  } finally {
    watching.dispose();
    progress.clear();
    await output.close();
  }
  if (!signal.aborted) process.stderr.write(`${summary(last, performance.now() - started, command.out)}\n`);
  return worst;
}

/**
 * The files to run: those named (as typed; each must be one the plugin takes), and the folder's files the
 * plugin takes (the file rule, fileRule.ts).
 */
async function namedFiles(registry: PluginRegistry, plugin: PluginInfo, command: BatchCommand, signal: AbortSignal): Promise<string[]> {
  const files = [...command.files];
  for (const file of files) {
    const refused = registry.refusal(plugin.name, { path: path.resolve(file), isFolder: false });
    if (refused) throw new PluginError('usage', refused, { plugin: plugin.name });
  }
  if (command.dir !== undefined) {
    const inFolder = await filesInFolder(command.dir, signal);
    const accepted = filesTaken(plugin, inFolder);
    if (accepted.length === 0) {
      throw new PluginError('usage', `No file in "${command.dir}" is for plugin "${plugin.name}" (it takes ${describeAccepted(plugin.fileTypes)}; ${inFolder.length} files looked at).`);
    }
    // Shown as the user named the folder ("scans/page 1.png"), so the results read like the command line.
    files.push(...accepted.map((file) => path.join(command.dir!, path.relative(path.resolve(command.dir!), file))));
  }
  if (files.length === 0) throw new PluginError('usage', '"rpp run" needs FILE... or --dir DIR.');
  return [...new Set(files)];
}

interface Output {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

/** --out FILE (appended with --resume, else replaced), or stdout with its backpressure respected. */
async function openOutput(command: BatchCommand): Promise<Output> {
  if (!command.out) {
    return {
      write: (text) =>
        new Promise<void>((resolve, reject) => {
          if (process.stdout.write(text, (error) => (error ? reject(error) : undefined))) resolve();
          else process.stdout.once('drain', resolve);
        }),
      close: async () => undefined,
    };
  }
  if (command.resume) await endWithNewline(command.out);
  let handle: FileHandle;
  try {
    handle = await fs.open(command.out, command.resume ? 'a' : 'w');
  } catch (error) {
    throw new PluginError('usage', `Cannot write the results file "${command.out}": ${(error as Error).message}.`, { cause: error });
  }
  return {
    write: async (text) => {
      await handle.write(text); // line by line: an interrupted run keeps every finished file
    },
    close: () => handle.close(),
  };
}

/** "37 / 240 · 2 running · 14 queued · 3 failed", redrawn in place on a terminal's stderr. */
class ProgressLine {
  private shownAt = 0;
  private visible = false;

  constructor(private readonly total: number) {}

  show(progress: BatchProgress): void {
    if (!process.stderr.isTTY) return;
    const now = performance.now();
    if (now - this.shownAt < PROGRESS_INTERVAL_MS && progress.done < this.total) return;
    this.shownAt = now;
    this.visible = true;
    process.stderr.write(`\r\x1b[K${describeProgress(progress)}`);
  }

  clear(): void {
    if (this.visible) process.stderr.write('\r\x1b[K');
    this.visible = false;
  }
}

function summary(progress: BatchProgress, ms: number, out: string | undefined): string {
  const ok = progress.done - progress.failed;
  const cached = progress.cached > 0 ? ` (${progress.cached} from the cache)` : '';
  const failed = progress.failed > 0 ? `, ${progress.failed} failed` : '';
  const where = out ? `; results in ${out}` : '';
  return `rpp: ${progress.done} of ${progress.total} files: ${ok} ok${cached}${failed} in ${(ms / 1000).toFixed(1)} s${where}`;
}
