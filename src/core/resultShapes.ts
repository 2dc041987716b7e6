// The shapes of plugin results (docs/results.md): time segments, series over time, regions on an image,
// flat rows, text, and summaries. Each item is classified on its own; a file's results take the shape
// most of its items have (or the one the manifest names), and the items of other kinds are shown beside
// it. Plain TypeScript without Node APIs: the results webview bundles it, and node:test tests it.

/** Renderers a manifest may name in its `"results"` field. */
export const RESULT_RENDERERS = ['segments', 'series', 'regions', 'table', 'json'] as const;
export type ResultRenderer = (typeof RESULT_RENDERERS)[number];

/** What a file's section shows: one of the renderers, a text stream, or nothing but its summary. */
export type ResultShape = ResultRenderer | 'text' | 'empty';

/** The kind of one item. `summary` items (a final "done") go to the top; `other` is anything else. */
export type ItemKind = 'segment' | 'point' | 'region' | 'row' | 'text' | 'summary' | 'other';

export type JsonObject = Record<string, unknown>;

export interface Segment {
  start: number;
  end: number;
  /** `text`, `label`, `word`, `name` or `speaker`, the first that is a string. */
  label?: string;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The manifest's `"results"` value when it names a renderer; anything else means "choose by shape". */
export function resultsHintOf(value: unknown): ResultRenderer | undefined {
  return (RESULT_RENDERERS as readonly unknown[]).includes(value) ? (value as ResultRenderer) : undefined;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

const SEGMENT_KEYS: ReadonlyArray<readonly [string, string]> = [['start', 'end'], ['start_time', 'end_time']];
const LABEL_KEYS = ['text', 'label', 'word', 'name', 'speaker'];

/** An item with `start` and `end` in seconds (end ≥ start). */
export function segmentOf(item: unknown): Segment | undefined {
  if (!isObject(item)) return undefined;
  for (const [startKey, endKey] of SEGMENT_KEYS) {
    const start = item[startKey];
    const end = item[endKey];
    if (isNumber(start) && isNumber(end) && end >= start) return { start, end, label: labelOf(item) };
  }
  return undefined;
}

export function labelOf(item: JsonObject): string | undefined {
  for (const key of LABEL_KEYS) {
    const value = item[key];
    if (typeof value === 'string') return value;
  }
  return undefined;
}

/** Keys that hold a region's box; the item's own fields count too (tesseract's TSV rows). */
export const BOX_KEYS = ['bbox', 'box', 'bounding_box', 'boundingBox', 'rect'];

/**
 * A box in any of the documented conventions: `[x, y, w, h]`, `{x, y, width, height}`, `{x, y, w, h}`,
 * tesseract's `{left, top, width, height}`, or corners `{x0, y0, x1, y1}` / `{x1, y1, x2, y2}` /
 * `{xmin, ymin, xmax, ymax}`.
 */
export function boxOf(value: unknown): Box | undefined {
  if (Array.isArray(value)) {
    if (value.length !== 4 || !value.every(isNumber)) return undefined;
    return sized(value[0], value[1], value[2], value[3]);
  }
  if (!isObject(value)) return undefined;
  const v = value;
  if (isNumber(v.left) && isNumber(v.top) && isNumber(v.width) && isNumber(v.height)) return sized(v.left, v.top, v.width, v.height);
  if (isNumber(v.x) && isNumber(v.y)) {
    if (isNumber(v.width) && isNumber(v.height)) return sized(v.x, v.y, v.width, v.height);
    if (isNumber(v.w) && isNumber(v.h)) return sized(v.x, v.y, v.w, v.h);
  }
  if (isNumber(v.x0) && isNumber(v.y0) && isNumber(v.x1) && isNumber(v.y1)) return corners(v.x0, v.y0, v.x1, v.y1);
  if (isNumber(v.x1) && isNumber(v.y1) && isNumber(v.x2) && isNumber(v.y2)) return corners(v.x1, v.y1, v.x2, v.y2);
  if (isNumber(v.xmin) && isNumber(v.ymin) && isNumber(v.xmax) && isNumber(v.ymax)) return corners(v.xmin, v.ymin, v.xmax, v.ymax);
  return undefined;
}

function sized(x: number, y: number, width: number, height: number): Box | undefined {
  return width >= 0 && height >= 0 ? { x, y, width, height } : undefined;
}

function corners(x0: number, y0: number, x1: number, y1: number): Box | undefined {
  return sized(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
}

/** The box of a region item: under one of BOX_KEYS, or the item's own fields. */
export function regionBoxOf(item: unknown): Box | undefined {
  if (!isObject(item)) return undefined;
  for (const key of BOX_KEYS) {
    if (key in item) {
      const box = boxOf(item[key]);
      if (box) return box;
    }
  }
  return boxOf(item);
}

/** Nested regions of a region (words inside a line): the elements of its array fields that have boxes. */
export function childRegionsOf(item: JsonObject): JsonObject[] {
  const children: JsonObject[] = [];
  for (const [key, value] of Object.entries(item)) {
    if (!Array.isArray(value) || BOX_KEYS.includes(key)) continue;
    for (const element of value) if (isObject(element) && regionBoxOf(element)) children.push(element);
  }
  return children;
}

/** Keys that hold a point's time in seconds. */
export const TIME_KEYS = ['time', 't', 'time_s'];

export function timeKeyOf(item: JsonObject): string | undefined {
  return TIME_KEYS.find((key) => isNumber(item[key]));
}

/** A point of a series: a time and at least one other number (null counts: a gap, e.g. silence in dB). */
export function isPoint(item: unknown): boolean {
  if (!isObject(item)) return false;
  const timeKey = timeKeyOf(item);
  if (timeKey === undefined) return false;
  return Object.entries(item).some(([key, value]) => key !== timeKey && isNumber(value));
}

function isScalar(value: unknown): boolean {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** An object whose values are all strings, numbers, booleans or null: a table row. */
export function isFlatRow(item: unknown): item is JsonObject {
  return isObject(item) && Object.values(item).every(isScalar);
}

const SUMMARY_TYPES = new Set(['done', 'summary', 'end', 'final', 'total', 'totals']);

/** A final summary item: `{"type": "done", ...}` (also `kind`/`event`, or "summary"/"final"/"total"). */
export function isSummary(item: unknown): item is JsonObject {
  if (!isObject(item)) return false;
  return ['type', 'kind', 'event'].some((key) => typeof item[key] === 'string' && SUMMARY_TYPES.has((item[key] as string).toLowerCase()));
}

export function kindOf(item: unknown): ItemKind {
  if (typeof item === 'string') return 'text';
  if (!isObject(item)) return 'other';
  if (isSummary(item)) return 'summary';
  if (regionBoxOf(item)) return 'region';
  if (segmentOf(item)) return 'segment';
  if (isPoint(item)) return 'point';
  if (isFlatRow(item)) return 'row';
  return 'other';
}

/** The kind of item each renderer draws (the rest of a file's items are shown beside it). */
export const KIND_OF_SHAPE: Record<ResultShape, ItemKind | undefined> = {
  segments: 'segment', series: 'point', regions: 'region', table: 'row', json: undefined, text: 'text', empty: undefined,
};

/** Counts of item kinds, kept up to date as items stream in. */
export class KindTally {
  readonly counts: Record<ItemKind, number> = { segment: 0, point: 0, region: 0, row: 0, text: 0, summary: 0, other: 0 };

  add(kind: ItemKind): void {
    this.counts[kind] += 1;
  }

  /** The shape most items have, or the manifest's hint when some item (or none yet) fits it. */
  shape(hint?: ResultRenderer): ResultShape {
    const c = this.counts;
    const content = c.segment + c.point + c.region + c.row + c.text + c.other;
    if (hint) {
      const kind = KIND_OF_SHAPE[hint];
      const fitting = kind === undefined ? content : c[kind] + (hint === 'table' ? c.point : 0);
      if (content === 0 || fitting > 0) return hint;
    }
    if (content === 0) return 'empty';
    const most = (count: number) => count * 2 >= content;
    if (most(c.text)) return 'text';
    if (most(c.region)) return 'regions';
    if (most(c.segment)) return 'segments';
    if (most(c.point) && c.point >= 2) return 'series';
    // Rows with a time are rows too: a single point is no plot.
    if (most(c.row + (c.point < 2 ? c.point : 0))) return 'table';
    return 'json';
  }
}

/** The shape of a whole list of items (a finished file's results). */
export function shapeOf(items: readonly unknown[], hint?: ResultRenderer): ResultShape {
  const tally = new KindTally();
  for (const item of items) tally.add(kindOf(item));
  return tally.shape(hint);
}

/** Whether an item goes into the renderer of `shape` (the others are shown beside it). */
export function fitsShape(kind: ItemKind, shape: ResultShape): boolean {
  if (shape === 'json') return kind !== 'summary';
  if (shape === 'table') return kind === 'row' || kind === 'point';
  return KIND_OF_SHAPE[shape] === kind;
}

/** A single result that holds the list to render: a JSON array, or an object with one (e.g. `{"text", "words": [...]}`). */
export interface Unwrapped {
  items: unknown[];
  /** The object's other fields (its summary), when the list came out of an object. */
  rest?: JsonObject;
}

/**
 * The list inside a one-item result: the array itself, the array field of an object whose elements have
 * the most recognisable shape, or columns of equal-length arrays with box fields (pytesseract's
 * `Output.DICT`) turned into rows. Undefined when the item holds no such list.
 */
export function unwrapSingle(item: unknown): Unwrapped | undefined {
  if (Array.isArray(item)) return item.length > 0 ? { items: item } : undefined;
  if (!isObject(item)) return undefined;
  const columns = rowsOfColumns(item);
  if (columns) return { items: columns };
  let best: { key: string; score: number } | undefined;
  for (const [key, value] of Object.entries(item)) {
    if (!Array.isArray(value) || value.length === 0) continue;
    const score = value.filter((element) => ['segment', 'point', 'region', 'row'].includes(kindOf(element))).length;
    if (score * 2 >= value.length && (!best || score > best.score)) best = { key, score };
  }
  if (!best) return undefined;
  const { [best.key]: list, ...rest } = item;
  return { items: list as unknown[], rest };
}

/** `{"left": [..], "top": [..], "width": [..], "height": [..], "text": [..]}` → one row per index. */
function rowsOfColumns(item: JsonObject): JsonObject[] | undefined {
  const { left, top, width, height } = item;
  if (![left, top, width, height].every(Array.isArray)) return undefined;
  const length = (left as unknown[]).length;
  const keys = Object.keys(item).filter((key) => Array.isArray(item[key]) && (item[key] as unknown[]).length === length);
  if (![top, width, height].every((column) => (column as unknown[]).length === length)) return undefined;
  return Array.from({ length }, (_, index) => Object.fromEntries(keys.map((key) => [key, (item[key] as unknown[])[index]])));
}

/** Numeric fields of a series that usually are not measurements: hidden at first, shown with a click. */
const COUNTER_KEYS = new Set(['index', 'i', 'id', 'end', 'start', 'frame', 'chunk', 'count', 'n', 'sample']);

export interface SeriesField {
  key: string;
  /** Hidden at first (a counter or an end time rather than a measurement). */
  hidden: boolean;
}

/** The numeric fields of series points besides the time, in the order they first appear. */
export function seriesFieldsOf(points: readonly unknown[], limit = points.length): SeriesField[] {
  const seen = new Map<string, SeriesField>();
  for (let index = 0; index < Math.min(limit, points.length); index++) {
    const point = points[index];
    if (!isObject(point)) continue;
    const timeKey = timeKeyOf(point);
    for (const [key, value] of Object.entries(point)) {
      if (key === timeKey || TIME_KEYS.includes(key) || seen.has(key)) continue;
      if (isNumber(value)) seen.set(key, { key, hidden: COUNTER_KEYS.has(key.toLowerCase()) });
    }
  }
  const fields = [...seen.values()];
  // Nothing left to show would be an empty plot: then show the counters.
  if (fields.length > 0 && fields.every((field) => field.hidden)) for (const field of fields) field.hidden = false;
  return fields;
}

/**
 * Which y scale each field goes on: fields whose ranges are of a similar size as the first shown field's share
 * the left one; a field whose range differs from it more than tenfold (dBFS beside linear levels) goes right.
 */
export function scalesOf(ranges: ReadonlyArray<{ key: string; min: number; max: number; hidden?: boolean }>): Record<string, 'y' | 'y2'> {
  const scales: Record<string, 'y' | 'y2'> = {};
  const span = (r: { min: number; max: number }) => Math.max(Math.abs(r.min), Math.abs(r.max), Number.MIN_VALUE);
  // The first field shown sets the left scale (a hidden counter must not).
  const first = ranges.find((range) => !range.hidden && Number.isFinite(range.min)) ?? ranges.find((range) => Number.isFinite(range.min));
  for (const range of ranges) {
    if (!first || !Number.isFinite(range.min)) { scales[range.key] = 'y'; continue; }
    const ratio = span(range) / span(first);
    scales[range.key] = ratio > 10 || ratio < 0.1 ? 'y2' : 'y';
  }
  return scales;
}

/** True when every box lies within 0..1 and some coordinate is fractional: coordinates relative to the image size. */
export function boxesAreRelative(boxes: readonly Box[]): boolean {
  if (boxes.length === 0) return false;
  let fractional = false;
  for (const box of boxes) {
    for (const value of [box.x, box.y, box.x + box.width, box.y + box.height]) {
      if (value < 0 || value > 1.000001) return false;
      if (!Number.isInteger(value)) fractional = true;
    }
  }
  return fractional;
}
