// Flat rows as a sortable table (click a column header; again to reverse). Columns appear as rows bring
// new keys. Strings that name existing files get an "open" link; images a thumbnail. One row is shown as
// a two-column property table instead, with a larger thumbnail.
import type { JsonObject } from '../core/resultShapes';
import { el, formatNumber } from './dom';
import { LazyList } from './lazyList';
import { pathValue } from './pathValues';
import type { Renderer, SectionContext } from './renderer';

export class TableView implements Renderer {
  readonly element = el('div', 'table-view');
  private readonly rows: JsonObject[] = [];
  private readonly columns: string[] = [];
  private readonly columnSet = new Set<string>();
  private readonly table = el('table', 'results-table');
  private readonly head = el('thead');
  private readonly list: LazyList;
  private order: number[] | undefined;
  private sort: { column: string; descending: boolean } | undefined;
  private property: HTMLElement | undefined;
  private headerDirty = true;

  constructor(private readonly context: SectionContext) {
    this.table.append(this.head);
    this.list = new LazyList({
      container: this.table,
      estimatedRowHeight: 24,
      renderRow: (index) => this.renderRow(this.order ? this.order[index]! : index),
      columns: () => this.columns.length,
    });
  }

  add(item: unknown): void {
    const row = item as JsonObject;
    this.rows.push(row);
    for (const key of Object.keys(row)) {
      if (!this.columnSet.has(key)) {
        this.columnSet.add(key);
        this.columns.push(key);
        this.headerDirty = true;
      }
    }
  }

  flush(): void {
    if (this.rows.length === 1) {
      if (!this.property) {
        this.property = propertyTable(this.rows[0]!, this.context, 'large');
        this.element.replaceChildren(this.property);
      }
      return;
    }
    if (this.property) {
      this.property = undefined;
      this.element.replaceChildren(this.table);
      this.headerDirty = true;
      this.list.reset(0);
    } else if (!this.table.isConnected) {
      this.element.replaceChildren(this.table);
    }
    if (this.headerDirty) this.renderHeader();
    if (this.sort) {
      this.applySort();
    } else {
      this.list.setCount(this.rows.length);
    }
  }

  dispose(): void {
    this.list.dispose();
  }

  private renderHeader(): void {
    this.headerDirty = false;
    const row = el('tr');
    for (const column of this.columns) {
      const cell = el('th');
      const sortButton = el('button', 'sort', column);
      sortButton.type = 'button';
      const active = this.sort?.column === column;
      sortButton.title = `Sort by ${column}`;
      if (active) {
        sortButton.classList.add(this.sort!.descending ? 'descending' : 'ascending');
        cell.setAttribute('aria-sort', this.sort!.descending ? 'descending' : 'ascending');
      }
      sortButton.addEventListener('click', () => {
        this.sort = { column, descending: active ? !this.sort!.descending : false };
        this.renderHeader();
        this.applySort();
      });
      cell.append(sortButton);
      row.append(cell);
    }
    this.head.replaceChildren(row);
  }

  private applySort(): void {
    const { column, descending } = this.sort!;
    const order = this.rows.map((_, index) => index);
    const sign = descending ? -1 : 1;
    order.sort((a, b) => sign * compare(this.rows[a]![column], this.rows[b]![column]) || a - b);
    this.order = order;
    this.list.reset(order.length);
  }

  private renderRow(index: number): HTMLElement {
    const row = this.rows[index]!;
    const tr = el('tr');
    for (const column of this.columns) tr.append(cell(row[column], this.context));
    return tr;
  }
}

const collator = new Intl.Collator(undefined, { numeric: true });

/** Numbers before strings before null/missing; numbers by value, strings naturally ("file2" < "file10"). */
function compare(a: unknown, b: unknown): number {
  const rank = (v: unknown) => (typeof v === 'number' ? 0 : typeof v === 'string' || typeof v === 'boolean' ? 1 : 2);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return (a as number) - (b as number);
  if (ra === 1) return collator.compare(String(a), String(b));
  return 0;
}

function cell(value: unknown, context: SectionContext): HTMLElement {
  const td = el('td');
  td.append(valueElement(value, context, 'small'));
  if (typeof value === 'number') td.className = 'number';
  return td;
}

function valueElement(value: unknown, context: SectionContext, size: 'small' | 'large'): HTMLElement {
  if (value === undefined) return el('span', 'missing', '');
  if (value === null) return el('span', 'null', '—');
  if (typeof value === 'number') return el('span', 'number', formatNumber(value));
  if (typeof value === 'string') return pathValue(value, context.base, context.resolver, size);
  if (typeof value === 'boolean') return el('span', 'boolean', String(value));
  return el('span', 'json-compact', JSON.stringify(value));
}

/** One object as key | value rows. Nested values are shown compactly (the JSON tree has them in full). */
export function propertyTable(object: JsonObject, context: SectionContext, size: 'small' | 'large' = 'small'): HTMLElement {
  const table = el('table', 'property-table');
  for (const [key, value] of Object.entries(object)) {
    const row = el('tr');
    const th = el('th', undefined, key);
    th.scope = 'row';
    const td = el('td');
    td.append(valueElement(value, context, size));
    row.append(th, td);
    table.append(row);
  }
  return table;
}
