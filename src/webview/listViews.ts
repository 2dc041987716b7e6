// The two plain renderers: a text stream (string items, e.g. the tokens of a language model, joined as
// they arrive) and a list of JSON trees for results of no particular shape.
import { el } from './dom';
import { jsonTree } from './jsonTree';
import { LazyList } from './lazyList';
import type { Renderer, SectionContext } from './renderer';

export class TextView implements Renderer {
  readonly element = el('pre', 'text-view');
  private readonly text = document.createTextNode('');
  private pending: string[] = [];

  constructor() {
    this.element.append(this.text);
  }

  add(item: unknown): void {
    this.pending.push(String(item));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.text.appendData(this.pending.join(''));
    this.pending = [];
  }

  dispose(): void {}
}

export class JsonListView implements Renderer {
  readonly element = el('div', 'json-list');
  private readonly items: unknown[] = [];
  private readonly list: LazyList;

  constructor(private readonly context: SectionContext) {
    this.list = new LazyList({ container: this.element, estimatedRowHeight: 40, rowsPerBlock: 50, renderRow: (index) => this.renderRow(index) });
  }

  add(item: unknown): void {
    this.items.push(item);
  }

  flush(): void {
    this.list.setCount(this.items.length);
  }

  dispose(): void {
    this.list.dispose();
  }

  private renderRow(index: number): HTMLElement {
    const row = el('div', 'json-item');
    if (this.items.length > 1) row.append(el('span', 'json-item-index', `#${index + 1}`));
    row.append(jsonTree(this.items[index], { base: this.context.base, resolver: this.context.resolver }));
    return row;
  }
}
