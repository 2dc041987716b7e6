// The one way tests wait for something no event announces: poll with a deadline, and say what was awaited.
// No imports: the extension-host tests bundle this file too.

export interface WaitOptions<T> {
  /** What is awaited, for the failure message ("the worker to be busy"). */
  what: string;
  /** The deadline; generous: the machine may be loaded. Required, so no wait can hang. */
  timeoutMs: number;
  /** Time between checks (default 20 ms). */
  everyMs?: number;
  /** When a checked value counts as done (default: any truthy value). */
  until?: (value: T) => boolean;
}

/**
 * Calls `check` until its value is done (see `until`), and returns that value. A check that throws
 * counts as not done yet. After `timeoutMs` it throws "timed out after N s waiting for <what>" with
 * the last value or error it observed.
 */
export async function waitFor<T>(check: () => T | Promise<T>, options: WaitOptions<T>): Promise<T> {
  const { what, timeoutMs, everyMs = 20 } = options;
  const until = options.until ?? ((value: T) => Boolean(value));
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new Error(`waitFor(${what}): timeoutMs must be a finite number above 0, got ${timeoutMs}`);
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | { error: unknown };
  for (;;) {
    try {
      const value = await check();
      if (until(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, Math.max(0, deadline - Date.now()))));
  }
  throw new Error(`timed out after ${formatSeconds(timeoutMs)} s waiting for ${what}; ${describeLast(last)}`);
}

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function describeLast(last: { value: unknown } | { error: unknown }): string {
  if ('error' in last) return `the last check threw: ${last.error instanceof Error ? last.error.message : String(last.error)}`;
  return `last observed: ${show(last.value)}`;
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    const text = JSON.stringify(value);
    return text.length > 500 ? `${text.slice(0, 500)}… (${text.length} characters)` : text;
  } catch {
    return String(value);
  }
}

/** `promise`, or "timed out after N s waiting for <what>" once `timeoutMs` has passed. */
export async function within<T>(promise: Promise<T>, options: { what: string; timeoutMs: number }): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${formatSeconds(options.timeoutMs)} s waiting for ${options.what}`)), options.timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
