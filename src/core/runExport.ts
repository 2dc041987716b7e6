// A run's results as files people keep: JSON (the whole run), JSON Lines (one item per line) and CSV
// (for table-shaped and series results, the rows a spreadsheet expects).
import { fitsShape, kindOf, shapeOf, unwrapSingle, type ResultRenderer } from './resultShapes';

export type ExportFormat = 'json' | 'jsonl' | 'csv';

export interface ExportedFile {
  path: string;
  items: readonly unknown[];
  error?: string;
  cancelled?: boolean;
}

/** What is exported of a run (from the panel or the history). */
export interface ExportedRun {
  plugin: string;
  pluginVersion?: string;
  mode: 'execute' | 'stream';
  status?: string;
  /** Epoch milliseconds. */
  startedAt?: number;
  durationMs?: number;
  config?: Record<string, unknown>;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** The manifest's renderer hint. */
  results?: ResultRenderer;
  files: ExportedFile[];
}

export const EXPORT_EXTENSIONS: Record<ExportFormat, string> = { json: 'json', jsonl: 'jsonl', csv: 'csv' };

/** The format a file name asks for (.jsonl/.ndjson → JSON Lines, .csv → CSV, anything else JSON). */
export function formatOfFileName(fileName: string): ExportFormat {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.csv')) return 'csv';
  return 'json';
}

/** A file name that names the run (plugin, what it ran on, when), not only its first file. */
export function exportFileName(run: Pick<ExportedRun, 'plugin' | 'files' | 'startedAt'>, format: ExportFormat): string {
  const first = run.files[0]?.path ?? '';
  const base = run.files.length === 1 ? first.split(/[\\/]/).pop()!.replace(/\.[^.]*$/, '') : `${run.files.length} files`;
  const when = run.startedAt === undefined ? '' : ` ${timestamp(run.startedAt)}`;
  return `${run.plugin} - ${base}${when}.${EXPORT_EXTENSIONS[format]}`.replace(/[/\\:*?"<>|]+/g, '-');
}

function timestamp(epochMs: number): string {
  const date = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}.${two(date.getMinutes())}`;
}

export function exportRun(run: ExportedRun, format: ExportFormat): string {
  switch (format) {
    case 'json': return asJson(run);
    case 'jsonl': return asJsonLines(run);
    case 'csv': {
      const table = tableOf(run);
      if (!table) throw new Error('CSV needs table-shaped or series results; save this run as JSON or JSON Lines.');
      return asCsv(table);
    }
  }
}

/** The whole run: what ran, how, and every file's items. */
export function asJson(run: ExportedRun): string {
  const { plugin, pluginVersion, mode, status, startedAt, durationMs, config, args, kwargs } = run;
  const files = run.files.map(({ path, items, error, cancelled }) => ({ file: path, items, error, cancelled }));
  const started = startedAt === undefined ? undefined : new Date(startedAt).toISOString();
  const duration = durationMs === undefined ? undefined : Math.round(durationMs);
  return JSON.stringify({ plugin, version: pluginVersion, mode, status, started, durationMs: duration, config, args, kwargs, files }, null, 2) + '\n';
}

/** One item per line; with several files each line is `{"file": …, "item": …}` so no item loses its file. */
export function asJsonLines(run: ExportedRun): string {
  const several = run.files.length > 1;
  const lines: string[] = [];
  for (const file of run.files) {
    for (const item of file.items) lines.push(JSON.stringify(several ? { file: file.path, item } : item));
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/** With several input files, the CSV's first column says which one a row came from. */
export const SOURCE_COLUMN = 'source_file';

export interface Table {
  columns: string[];
  rows: unknown[][];
}

/** The rows of a run whose every file is table-shaped or a series; undefined for other shapes. */
export function tableOf(run: ExportedRun): Table | undefined {
  const several = run.files.length > 1;
  const records: Array<{ file: string; row: Record<string, unknown> }> = [];
  for (const file of run.files) {
    const items = itemsToRender(file.items);
    const shape = shapeOf(items, run.results);
    if (shape === 'empty') continue;
    if (shape !== 'table' && shape !== 'series') return undefined;
    for (const item of items) {
      if (fitsShape(kindOf(item), shape)) records.push({ file: file.path, row: item as Record<string, unknown> });
    }
  }
  if (records.length === 0) return undefined;
  const keys = new Set<string>();
  for (const { row } of records) for (const key of Object.keys(row)) keys.add(key);
  const columns = [...(several ? [SOURCE_COLUMN] : []), ...keys];
  const rows = records.map(({ file, row }) => [...(several ? [file] : []), ...[...keys].map((key) => row[key])]);
  return { columns, rows };
}

/** Whether CSV makes sense for the run (every file table-shaped or a series). */
export function canExportCsv(run: ExportedRun): boolean {
  return tableOf(run) !== undefined;
}

/** A one-item result that holds a list (`[...]` or `{"rows": [...]}`) is exported as that list. */
function itemsToRender(items: readonly unknown[]): readonly unknown[] {
  if (items.length !== 1) return items;
  return unwrapSingle(items[0])?.items ?? items;
}

/** RFC 4180: CRLF rows, fields quoted when needed; text that a spreadsheet would run as a formula is defused. */
export function asCsv(table: Table): string {
  const lines = [table.columns.map(csvField), ...table.rows.map((row) => row.map(csvField))];
  return lines.map((fields) => fields.join(',')).join('\r\n') + '\r\n';
}

function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
