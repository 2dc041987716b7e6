// How far a running call is, when the plugin says so: `self.progress` (0..1) read through the worker's
// /progress, or a `progress` field (0..1) in a streamed item. Anything else (absent, NaN, out of range,
// not a number) means "not reported", never a wrong bar.

export interface ProgressReport {
  /** 0..1 */
  fraction?: number;
  message?: string;
}

/** A `progress` field of a streamed item, e.g. {"progress": 0.4, "text": "..."}. */
export function itemProgress(item: unknown): ProgressReport | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
  const fraction = asFraction((item as Record<string, unknown>).progress);
  return fraction === undefined ? undefined : { fraction };
}

/** The worker's /progress answer: {"busy": true, "progress": 0.4, "message": "page 2 of 5"}. */
export function workerProgress(answer: unknown): ProgressReport | undefined {
  if (typeof answer !== 'object' || answer === null) return undefined;
  const { busy, progress, message } = answer as Record<string, unknown>;
  if (busy === false) return undefined;
  const fraction = asFraction(progress);
  const text = typeof message === 'string' && message.trim() !== '' ? message.trim() : undefined;
  if (fraction === undefined && text === undefined) return undefined;
  return { ...(fraction === undefined ? {} : { fraction }), ...(text === undefined ? {} : { message: text }) };
}

/** Where a run of several files stands overall: file `index` (0-based) of `count`, that far into it. */
export function overallFraction(index: number, count: number, fraction: number): number {
  if (count <= 0) return 0;
  return Math.min(1, Math.max(0, (index + fraction) / count));
}

function asFraction(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}
