// How results read as text: one line per item (the output channel, Copy), times and durations as people
// write them. Shared by the extension and the results webview (src/webview), so there is one copy of each
// rule. Plain TypeScript without Node APIs: it is bundled into the webview too.
import { segmentOf } from './resultShapes';

/** An item as one line of text: strings as they are, timed segments as "[0:01.2 → 0:03.4] text", the rest as JSON. */
export function itemAsText(item: unknown): string {
  if (typeof item === 'string') return item;
  const segment = segmentOf(item);
  if (segment && segment.label !== undefined) return `[${formatSeconds(segment.start)} → ${formatSeconds(segment.end)}] ${segment.label}`;
  return JSON.stringify(item);
}

/** Seconds as m:ss.s, or h:mm:ss.s from an hour on (a recording's timeline). */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const sign = seconds < 0 ? '-' : '';
  const tenths = Math.round(Math.abs(seconds) * 10);
  const hours = Math.floor(tenths / 36_000);
  const minutes = Math.floor((tenths % 36_000) / 600);
  const rest = ((tenths % 600) / 10).toFixed(1).padStart(4, '0');
  return hours > 0 ? `${sign}${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${sign}${minutes}:${rest}`;
}

/** "850 ms", "12.3 s", "2 min 5 s"; rounded before splitting, so 59.96 s is "1 min 0 s", not "60.0 s". */
export function formatDuration(ms: number): string {
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.round(ms / 100) < 600) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

export function plural(count: number, noun: string): string {
  return `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`;
}
