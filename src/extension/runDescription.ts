// How a recorded run is described to people: in the Runs view, its tooltip, a reopened panel's header.
import type { RunRecord, RunStatus } from '../core/runHistory';
import { formatDuration, plural } from '../core/resultText';
import { baseName } from './resultsView';

export const STATUS_WORDS: Record<RunStatus, string> = {
  running: 'running', done: 'done', failed: 'failed', cancelled: 'cancelled', interrupted: 'interrupted',
};

/** "tone.wav", "3 files". */
export function filesLabel(record: Pick<RunRecord, 'targets'>): string {
  return record.targets.length === 1 ? baseName(record.targets[0]!) : `${record.targets.length} files`;
}

export function timeOfDay(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** "configuration chunk_ms=50, channel=mix" (or nothing when it had none). */
export function configWords(config: Record<string, unknown> | undefined): string | undefined {
  const entries = Object.entries(config ?? {});
  if (entries.length === 0) return undefined;
  return `configuration ${entries.map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(', ')}`;
}

/** One line: when, how long, how it ended, with which version and configuration. */
export function describeRun(record: RunRecord): string {
  const started = new Date(record.startedAt).toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  const parts = [`${record.mode === 'stream' ? 'Streamed' : 'Ran'} ${started}`];
  if (record.durationMs !== undefined) parts.push(formatDuration(record.durationMs));
  parts.push(plural(record.items, 'item'), STATUS_WORDS[record.status]);
  if (record.pluginVersion) parts.push(`v${record.pluginVersion}`);
  const config = configWords(record.config);
  if (config) parts.push(config);
  return parts.join(' · ');
}
