// A collapsible JSON tree: <details> for objects and arrays, children built only when opened, long
// arrays shown a hundred at a time. Small values stay on one line.
import { button, el, formatNumber } from './dom';
import { pathValue, type PathResolver } from './pathValues';

const ONE_LINE_CHARS = 80;
const OPEN_MAX_ENTRIES = 12;
const PAGE = 100;

export interface TreeContext {
  resolver?: PathResolver;
  /** Folder relative paths are resolved against. */
  base: string;
}

/** `value` as a tree; `depth` 0 is the item itself (opened unless large). */
export function jsonTree(value: unknown, context: TreeContext, depth = 0): HTMLElement {
  if (value === null || typeof value !== 'object') return scalar(value, context);
  const compact = JSON.stringify(value);
  if (compact.length <= ONE_LINE_CHARS && !hasPathLikeString(value)) return el('span', 'json-compact', compact);
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const details = el('details', 'json-node');
  const summary = el('summary', 'json-summary', Array.isArray(value) ? `[ ${entries.length} items ]` : `{ ${entries.length} keys }`);
  details.append(summary);
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    const list = el('div', 'json-children');
    details.append(list);
    appendEntries(list, entries, 0, context, depth, Array.isArray(value));
  };
  details.addEventListener('toggle', () => { if (details.open) build(); });
  // Large values (long arrays, nested arrays below the top) start collapsed.
  if (depth === 0 || (entries.length <= OPEN_MAX_ENTRIES && !(Array.isArray(value) && depth > 0))) {
    details.open = true;
    build();
  }
  return details;
}

function appendEntries(list: HTMLElement, entries: Array<[string, unknown]>, from: number, context: TreeContext, depth: number, isArray: boolean): void {
  const to = Math.min(entries.length, from + PAGE);
  for (let index = from; index < to; index++) {
    const [key, child] = entries[index]!;
    const row = el('div', 'json-entry');
    row.append(el('span', isArray ? 'json-index' : 'json-key', isArray ? `${key}` : `${key}:`), jsonTree(child, context, depth + 1));
    list.append(row);
  }
  if (to < entries.length) {
    const more = button(`Show ${Math.min(PAGE, entries.length - to)} more of ${entries.length - to}`, 'link-button', () => {
      more.remove();
      appendEntries(list, entries, to, context, depth, isArray);
    });
    list.append(more);
  }
}

function scalar(value: unknown, context: TreeContext): HTMLElement {
  if (typeof value === 'string') return pathValue(value, context.base, context.resolver, 'large', JSON.stringify(value));
  if (typeof value === 'number') return el('span', 'number', formatNumber(value));
  if (typeof value === 'boolean') return el('span', 'boolean', String(value));
  return el('span', 'null', 'null');
}

function hasPathLikeString(value: object): boolean {
  return Object.values(value).some((v) => typeof v === 'string' && /[\\/]|\.\w{2,4}$/.test(v));
}
