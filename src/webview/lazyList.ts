// A long list (100,000 rows) whose rows exist in the DOM only once they come near the screen: rows are
// grouped in blocks; a block far away is an empty placeholder of its estimated height, filled when an
// IntersectionObserver sees it approach. Rows may have any height (a wrapped transcript line).

export interface LazyListOptions {
  /** Where blocks go: a <div>, or a <table> (blocks are then <tbody> elements). */
  container: HTMLElement;
  renderRow(index: number): HTMLElement;
  estimatedRowHeight: number;
  rowsPerBlock?: number;
  /** Columns of a table, for the placeholder row. */
  columns?: () => number;
}

interface Block {
  element: HTMLElement;
  first: number;
  /** Rows rendered into it; undefined while it is a placeholder. */
  rendered: HTMLElement[] | undefined;
}

export class LazyList {
  private count = 0;
  private blocks: Block[] = [];
  private readonly perBlock: number;
  private readonly observer: IntersectionObserver;
  private readonly byElement = new Map<Element, Block>();

  constructor(private readonly options: LazyListOptions) {
    this.perBlock = options.rowsPerBlock ?? 100;
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const block = this.byElement.get(entry.target);
        if (entry.isIntersecting && block && !block.rendered) this.render(block);
      }
    }, { rootMargin: '1200px 0px' });
  }

  get length(): number {
    return this.count;
  }

  /** The list now has `count` rows (it only grows; use reset() to start over). */
  setCount(count: number): void {
    while (this.count < count) {
      let last = this.blocks.at(-1);
      if (!last || last.first + this.perBlock <= this.count) last = this.addBlock(this.count);
      const upTo = Math.min(count, last.first + this.perBlock);
      if (last.rendered) {
        for (let index = this.count; index < upTo; index++) {
          const row = this.options.renderRow(index);
          last.rendered.push(row);
          last.element.append(row);
        }
      }
      this.count = upTo;
      if (!last.rendered) this.sizePlaceholder(last);
    }
  }

  /** Forgets every row (e.g. after sorting) and shows `count` rows again. */
  reset(count: number): void {
    for (const block of this.blocks) {
      this.observer.unobserve(block.element);
      block.element.remove();
    }
    this.blocks = [];
    this.byElement.clear();
    this.count = 0;
    this.setCount(count);
  }

  /** The row's element if it is rendered. */
  rowElement(index: number): HTMLElement | undefined {
    const block = this.blocks[Math.floor(index / this.perBlock)];
    return block?.rendered?.[index - block.first];
  }

  /** Renders the row's block if needed and scrolls the row into view. */
  scrollToRow(index: number, behavior: ScrollBehavior = 'auto'): HTMLElement | undefined {
    const block = this.blocks[Math.floor(index / this.perBlock)];
    if (!block) return undefined;
    if (!block.rendered) this.render(block);
    const row = this.rowElement(index);
    row?.scrollIntoView({ block: 'nearest', behavior });
    return row;
  }

  dispose(): void {
    this.observer.disconnect();
  }

  private addBlock(first: number): Block {
    const element = document.createElement(this.options.container.tagName === 'TABLE' ? 'tbody' : 'div');
    element.className = 'lazy-block';
    const block: Block = { element, first, rendered: undefined };
    this.blocks.push(block);
    this.byElement.set(element, block);
    this.options.container.append(element);
    this.observer.observe(element);
    return block;
  }

  private sizePlaceholder(block: Block): void {
    const rows = Math.min(this.perBlock, this.count - block.first);
    const height = `${rows * this.options.estimatedRowHeight}px`;
    if (block.element.tagName === 'TBODY') {
      let cell = block.element.querySelector('td');
      if (!cell) {
        const row = document.createElement('tr');
        cell = document.createElement('td');
        row.append(cell);
        block.element.append(row);
      }
      cell.colSpan = this.options.columns?.() ?? 1;
      cell.style.height = height;
    } else {
      block.element.style.height = height;
    }
  }

  private render(block: Block): void {
    const end = Math.min(this.count, block.first + this.perBlock);
    const rows: HTMLElement[] = [];
    for (let index = block.first; index < end; index++) rows.push(this.options.renderRow(index));
    block.rendered = rows;
    block.element.style.height = '';
    block.element.replaceChildren(...rows);
  }
}
