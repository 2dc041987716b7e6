// One input file's results: a heading (name, open, Raw JSON), the summary first (the result's own text,
// a final "done" item, the other fields of a single result, items of other kinds), the input media when
// it plays, and the renderer chosen by the shape of the items (or by the manifest). The shape is decided
// again as items stream in; a change rebuilds the renderer from the items so far.
import { isImagePath, mediaKindOf } from '../core/mediaFiles';
import {
  KindTally, fitsShape, isFlatRow, isObject, kindOf, shapeOf, unwrapSingle, type ItemKind, type JsonObject, type ResultRenderer, type ResultShape,
} from '../core/resultShapes';
import { plural } from '../core/resultText';
import { button, el } from './dom';
import { jsonTree } from './jsonTree';
import { JsonListView, TextView } from './listViews';
import type { ErrorAction, SourceMedia } from './messages';
import type { PathResolver } from './pathValues';
import { RegionsView } from './regionsView';
import type { Renderer, SectionContext } from './renderer';
import { SegmentsView } from './segmentsView';
import { SeriesView } from './seriesView';
import { TableView, propertyTable } from './tableView';

/** Items of other kinds shown in the summary area; the rest are in Raw JSON. */
const MAX_EXTRAS = 20;
const IMAGE_KEYS = ['image', 'image_path', 'path', 'file'];
/** Raw JSON beyond this is cut (Copy and Save have everything). */
const MAX_RAW_CHARS = 2_000_000;
/** Items classified, and fed to the renderer, per step of the sliced work. */
const STEP_ITEMS = 500;

export class FileSection {
  readonly element = el('section', 'file');
  private readonly items: unknown[] = [];
  /** The kind of each item classified so far (items are classified in steps, not as they arrive). */
  private readonly kinds: ItemKind[] = [];
  private readonly tally = new KindTally();
  private readonly summaryArea = el('div', 'summary-area');
  private readonly mediaArea = el('div', 'media-area');
  private readonly rendererArea = el('div', 'renderer-area');
  private readonly statusLine = el('div', 'file-status');
  private readonly raw = el('pre', 'raw-json');
  private readonly rawButton: HTMLButtonElement;
  private readonly countBadge = el('span', 'count');
  private readonly context: SectionContext;
  private media: HTMLMediaElement | undefined;
  private renderer: Renderer | undefined;
  private shape: ResultShape = 'empty';
  /** The list the renderer is fed from: the items, or the list inside a single result. */
  private source: { items: readonly unknown[]; kinds: readonly ItemKind[]; unwrapped: boolean } | undefined;
  private fed = 0;
  private extras = 0;
  private ended = false;

  constructor(
    readonly path: string,
    sourceMedia: SourceMedia | undefined,
    resolver: PathResolver,
    private readonly hint: ResultRenderer | undefined,
  ) {
    const name = path.split(/[\\/]/).pop() || path;
    const base = path.slice(0, Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
    const heading = el('header', 'file-heading');
    const title = el('h2', 'file-name', name);
    title.title = path;
    this.rawButton = button('Raw JSON', 'secondary small raw-toggle', () => this.toggleRaw(), 'Show the items as JSON');
    this.rawButton.setAttribute('aria-pressed', 'false');
    heading.append(title, this.countBadge, this.rawButton);
    if (base) heading.insertBefore(openLink(path, resolver), this.countBadge);
    this.raw.hidden = true;
    this.element.dataset.shape = 'empty';
    this.element.append(heading, this.statusLine, this.summaryArea, this.mediaArea, this.rendererArea, this.raw);
    this.statusLine.hidden = true;
    this.context = { sourcePath: path, base, resolver, hint };
    if (sourceMedia?.kind === 'image') this.context.sourceImage = sourceMedia.uri;
    if (sourceMedia && sourceMedia.kind !== 'image' && mediaKindOf(path) === sourceMedia.kind) this.media = mediaElement(sourceMedia);
  }

  get count(): number {
    return this.items.length;
  }

  /** Items waiting to be classified or fed to the renderer (the main loop calls step() while this is true). */
  get busy(): boolean {
    return this.kinds.length < this.items.length || (this.source !== undefined && this.fed < this.source.items.length);
  }

  /** Takes items as they arrive; the work on them is done in step(). */
  add(items: readonly unknown[]): void {
    for (const item of items) this.items.push(item);
  }

  /** The item count in the heading (updated with the progress, not per message). */
  updateCount(): void {
    this.countBadge.textContent = plural(this.items.length, 'item');
  }

  /** Classifies up to STEP_ITEMS new items (the shape may change), feeds up to STEP_ITEMS to the renderer; false when nothing is left. */
  step(): boolean {
    if (this.kinds.length < this.items.length) {
      const end = Math.min(this.items.length, this.kinds.length + STEP_ITEMS);
      for (let index = this.kinds.length; index < end; index++) {
        const kind = kindOf(this.items[index]);
        this.kinds.push(kind);
        this.tally.add(kind);
      }
      this.relayoutIfNeeded();
    }
    const source = this.source;
    if (!source || !this.renderer) return this.busy;
    // The section's own items are fed as far as they are classified; a single result's list is classified whole.
    const ready = source.unwrapped ? source.items.length : this.kinds.length;
    const end = Math.min(ready, this.fed + STEP_ITEMS);
    for (; this.fed < end; this.fed++) this.place(source.items[this.fed], source.kinds[this.fed]!);
    this.renderer.flush();
    return this.busy;
  }

  /** The file is done; an error row offers the actions that fit the failure (`onAction` runs one). */
  end(error: string | undefined, cancelled: boolean | undefined, actions: readonly ErrorAction[] = [], onAction?: (id: number) => void): void {
    this.ended = true;
    if (error) {
      this.showStatus('error', error);
      if (actions.length > 0 && onAction) {
        const row = el('span', 'error-actions');
        for (const action of actions) row.append(button(action.title, 'secondary small', () => onAction(action.id)));
        this.statusLine.append(row);
      }
    } else if (cancelled) this.showStatus('cancelled', 'Cancelled.');
  }

  interrupted(): void {
    if (!this.ended) this.showStatus('cancelled', 'Interrupted: the window closed while this file was running; these are the results that had arrived.');
  }

  /** Decides the shape (again); a different shape, or a single result that holds a list, rebuilds the renderer. */
  private relayoutIfNeeded(): void {
    const single = this.items.length === 1 ? unwrapSingle(this.items[0]) : undefined;
    const unwrapped = single !== undefined;
    const shape = single ? shapeOf(single.items, this.hint) : this.tally.shape(this.hint);
    if (this.source && shape === this.shape && unwrapped === this.source.unwrapped) return;
    this.renderer?.dispose();
    this.shape = shape;
    this.element.dataset.shape = shape;
    this.summaryArea.replaceChildren();
    this.extras = 0;
    this.fed = 0;
    this.source = single
      ? { items: single.items, kinds: single.items.map(kindOf), unwrapped: true }
      : { items: this.items, kinds: this.kinds, unwrapped: false };
    if (single?.rest) this.showRest(single.rest);
    this.renderer = this.createRenderer(shape);
    if (this.renderer instanceof RegionsView && !this.context.sourceImage) this.findImageFor(this.renderer, single?.rest);
    this.rendererArea.replaceChildren(...(this.renderer ? [this.renderer.element] : []));
    const playing = this.media && (shape === 'segments' || shape === 'series');
    this.mediaArea.replaceChildren(...(playing ? [this.media!] : []));
  }

  private createRenderer(shape: ResultShape): Renderer | undefined {
    switch (shape) {
      case 'segments': return new SegmentsView({ ...this.context, media: this.media });
      case 'series': return new SeriesView({ ...this.context, media: this.media });
      case 'regions': return new RegionsView(this.context);
      case 'table': return new TableView(this.context);
      case 'text': return new TextView();
      case 'json': return new JsonListView(this.context);
      case 'empty': return new JsonListView(this.context);
    }
  }

  /** Regions on an image the result names (`image`, `image_path`, `path` or `file`) rather than the input file. */
  private findImageFor(view: RegionsView, rest: JsonObject | undefined): void {
    const holders = [rest, ...this.items.slice(0, 5)].filter(isObject);
    for (const holder of holders) {
      for (const key of IMAGE_KEYS) {
        const value = holder[key];
        if (typeof value !== 'string' || !isImagePath(value)) continue;
        this.context.resolver.resolve(value, this.context.base, (resolved) => {
          if (resolved.kind === 'image') view.setImage(resolved.uri);
        });
        return;
      }
    }
  }

  private place(item: unknown, kind: ItemKind): void {
    if (kind === 'summary') return this.showSummary(item as JsonObject);
    if (fitsShape(kind, this.shape)) return this.renderer!.add(item);
    this.showExtra(item);
  }

  /** A final "done" item: at the top, as a property table. */
  private showSummary(item: JsonObject): void {
    const box = el('div', 'result-summary');
    box.append(el('h3', undefined, 'Summary'), propertyTable(item, this.context));
    this.summaryArea.prepend(box);
  }

  /** The other fields of a single result that holds a list: its `text` as a paragraph, the rest as properties. */
  private showRest(rest: JsonObject): void {
    const { text, ...others } = rest;
    if (typeof text === 'string' && text.trim()) this.summaryArea.append(el('p', 'result-text', text));
    if (Object.keys(others).length === 0) return;
    this.summaryArea.append(isFlatRow(others) ? propertyTable(others, this.context) : jsonTree(others, this.context));
  }

  /** Items of another kind than the renderer's (a stream's leading "info" item): beside the summary. */
  private showExtra(item: unknown): void {
    this.extras += 1;
    if (this.extras > MAX_EXTRAS) {
      const note = this.summaryArea.querySelector('.extras-note') ?? this.summaryArea.appendChild(el('p', 'note extras-note'));
      note.textContent = `${this.extras - MAX_EXTRAS} more items of other kinds are in Raw JSON.`;
      return;
    }
    const box = el('div', 'extra-item');
    if (isFlatRow(item)) box.append(propertyTable(item, this.context));
    else if (typeof item === 'string') box.append(el('pre', 'text-view', item));
    else box.append(jsonTree(item, this.context));
    const note = this.summaryArea.querySelector('.extras-note');
    if (note) this.summaryArea.insertBefore(box, note);
    else this.summaryArea.append(box);
  }

  private showStatus(kind: 'error' | 'cancelled', text: string): void {
    this.statusLine.hidden = false;
    this.statusLine.className = `file-status ${kind}`;
    this.statusLine.textContent = text;
  }

  private toggleRaw(): void {
    const show = this.raw.hidden;
    this.raw.hidden = !show;
    this.rawButton.setAttribute('aria-pressed', String(show));
    this.rawButton.textContent = show ? 'Hide Raw JSON' : 'Raw JSON';
    if (!show) return;
    const text = JSON.stringify(this.items.length === 1 ? this.items[0] : this.items, null, 2) ?? '';
    this.raw.textContent = text.length > MAX_RAW_CHARS ? `${text.slice(0, MAX_RAW_CHARS)}\n… cut at ${MAX_RAW_CHARS.toLocaleString('en-US')} characters: Copy or Save has everything.` : text;
  }
}

function mediaElement(source: SourceMedia): HTMLMediaElement {
  const media = el(source.kind === 'video' ? 'video' : 'audio', 'source-media');
  media.controls = true;
  media.preload = 'metadata';
  media.src = source.uri;
  return media;
}

function openLink(path: string, resolver: PathResolver): HTMLElement {
  const link = el('a', 'open-link', 'open');
  link.href = '#';
  link.title = `Open ${path} in VS Code`;
  link.addEventListener('click', (event) => {
    event.preventDefault();
    resolver.open(path, '');
  });
  return link;
}

