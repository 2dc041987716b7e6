// One plugin over many files: every file goes through the plugin's queue (so its instances run in
// parallel and admission applies), results come out as each file finishes, a failing file fails only
// itself, and the whole run can be cancelled (waiting files leave the queue at once). The run keeps a
// window of calls in flight so that a folder of 100,000 files does not become 100,000 pending promises.
import { setMaxListeners } from 'node:events';
import { PluginError, messageOf } from './errors';
import type { CallProgress, PluginCall } from './pluginCall';

/** What the batch needs of the registry. */
export interface BatchTarget {
  execute(name: string, call: PluginCall): Promise<unknown>;
}

export interface BatchOptions {
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** false: neither read nor write the result cache. */
  cache?: boolean;
  signal?: AbortSignal;
  /** Calls submitted at once (waiting or running); the plugin's instances decide how many run. */
  window?: number;
  onProgress?: (progress: BatchProgress) => void;
  /** A file's call got a worker (or its result came from the cache). */
  onFileStarted?: (file: string) => void;
}

export interface BatchProgress {
  total: number;
  /** Files finished: ok + failed. */
  done: number;
  failed: number;
  cached: number;
  running: number;
  queued: number;
}

export interface BatchItem {
  file: string;
  ok: boolean;
  result?: unknown;
  error?: { kind: string; message: string; detail?: string };
  /** Time on a worker (or to read the cache), in ms. */
  ms: number;
  cached: boolean;
}

const DEFAULT_WINDOW = 256;

/** "37 / 240 · 2 running · 14 queued · 3 failed · 20 cached" (the notification and rpp's progress line). */
export function describeProgress(progress: BatchProgress): string {
  const parts = [`${progress.done} / ${progress.total}`, `${progress.running} running`];
  if (progress.queued > 0) parts.push(`${progress.queued} queued`);
  if (progress.failed > 0) parts.push(`${progress.failed} failed`);
  if (progress.cached > 0) parts.push(`${progress.cached} cached`);
  return parts.join(' · ');
}

/** Runs `plugin` on each file; yields each file's outcome as it finishes (cancelled files are not yielded). */
export async function* runBatch(target: BatchTarget, plugin: string, files: readonly string[], options: BatchOptions = {}): AsyncGenerator<BatchItem> {
  const progress: BatchProgress = { total: files.length, done: 0, failed: 0, cached: 0, running: 0, queued: 0 };
  const report = () => options.onProgress?.({ ...progress });
  const finished: BatchItem[] = [];
  let wake: (() => void) | undefined;
  let next = 0;
  let inFlight = 0;
  const window = Math.max(1, options.window ?? DEFAULT_WINDOW);
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // every call in the window listens to it: that is no leak
  const abortRun = (): void => stop.abort();
  if (options.signal?.aborted) stop.abort();
  options.signal?.addEventListener('abort', abortRun, { once: true });
  const signal = stop.signal;

  const submit = (file: string): void => {
    inFlight++;
    progress.queued++;
    void runOne(target, plugin, file, { ...options, signal }, (from, to) => {
      progress[from]--;
      if (to) progress[to]++;
      report();
    }).then((item) => {
      inFlight--;
      if (item) {
        progress.done++;
        if (!item.ok) progress.failed++;
        if (item.cached) progress.cached++;
        finished.push(item);
      }
      report();
      wake?.();
    });
  };

  report();
  try {
    for (;;) {
      while (inFlight < window && next < files.length && !signal.aborted) submit(files[next++]!);
      if (finished.length > 0) {
        yield finished.shift()!;
        continue;
      }
      if (inFlight === 0) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    // A consumer that stops early (break, an error) must not leave calls running behind it.
    stop.abort();
    options.signal?.removeEventListener('abort', abortRun);
    if (inFlight > 0) await drain(() => inFlight, (resolve) => (wake = resolve));
  }
}

/** One file: its outcome, or undefined when it was cancelled. `move` keeps the queued/running counts. */
async function runOne(
  target: BatchTarget,
  plugin: string,
  file: string,
  options: BatchOptions,
  move: (from: 'queued' | 'running', to: 'queued' | 'running' | undefined) => void,
): Promise<BatchItem | undefined> {
  let stage: 'queued' | 'running' = 'queued';
  let started = performance.now();
  let cached = false;
  const onProgress = (event: CallProgress): void => {
    if ((event.kind === 'started' || event.kind === 'cached') && stage === 'queued') {
      move('queued', 'running');
      stage = 'running';
      started = performance.now();
      options.onFileStarted?.(file);
    }
    if (event.kind === 'cached') cached = true;
  };
  const call: PluginCall = { file: { path: file }, args: options.args, kwargs: options.kwargs, signal: options.signal, cache: options.cache, onProgress };
  try {
    const result = await target.execute(plugin, call);
    return { file, ok: true, result, ms: performance.now() - started, cached };
  } catch (error) {
    if (options.signal?.aborted) return undefined;
    const failure = error instanceof PluginError ? error : undefined;
    return {
      file,
      ok: false,
      error: { kind: failure?.kind ?? 'internal', message: messageOf(error), ...(failure?.detail ? { detail: failure.detail } : {}) },
      ms: performance.now() - started,
      cached: false,
    };
  } finally {
    move(stage, undefined);
  }
}

async function drain(count: () => number, onWake: (resolve: () => void) => void): Promise<void> {
  while (count() > 0) await new Promise<void>((resolve) => onWake(resolve));
}
