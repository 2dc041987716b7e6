// Regions on an image: the image with every box drawn over it (nested boxes, such as the words of a
// line, drawn thinner), and a list of the regions' texts. Hovering a box shows its text; hovering a text
// (or one of its words) highlights its box. Boxes may be in pixels or relative (0..1) to the image.
import {
  boxesAreRelative, childRegionsOf, isObject, labelOf, regionBoxOf, type Box, type JsonObject,
} from '../core/resultShapes';
import { el, scalarText, svg } from './dom';
import { LazyList } from './lazyList';
import type { Renderer, SectionContext } from './renderer';

const CONFIDENCE_KEYS = ['confidence', 'conf', 'score', 'probability', 'prob'];
const COLOURS = 8;

interface Region {
  item: JsonObject;
  box: Box;
  label: string;
  rect?: SVGRectElement;
  children: Region[];
}

export class RegionsView implements Renderer {
  readonly element = el('div', 'regions-view');
  private readonly stage = el('div', 'regions-stage');
  private readonly image = el('img', 'regions-image');
  private readonly overlay = svg('svg', 'regions-overlay');
  private readonly tip = el('div', 'regions-tip');
  private readonly regions: Region[] = [];
  private readonly list: LazyList;
  private drawn = 0;
  private relative = false;
  private size: { width: number; height: number } | undefined;
  private readonly labelColours = new Map<string, number>();

  constructor(context: SectionContext, imageUri?: string) {
    this.tip.hidden = true;
    this.overlay.setAttribute('preserveAspectRatio', 'none');
    this.stage.append(this.image, this.overlay, this.tip);
    const rows = el('div', 'region-rows');
    this.element.append(this.stage, rows);
    this.list = new LazyList({ container: rows, estimatedRowHeight: 26, renderRow: (index) => this.renderRow(index) });
    this.image.alt = context.sourcePath;
    this.image.addEventListener('load', () => this.onImage());
    this.image.addEventListener('error', () => this.onImage());
    this.setImage(imageUri ?? context.sourceImage);
  }

  /** The image to draw on, when it is named by the result rather than being the input file. */
  setImage(uri: string | undefined): void {
    if (!uri || this.image.getAttribute('src') === uri) return;
    this.image.src = uri;
  }

  add(item: unknown): void {
    if (!isObject(item)) return;
    this.regions.push(this.regionOf(item));
  }

  flush(): void {
    this.list.setCount(this.regions.length);
    if (!this.size && this.image.complete && !this.image.getAttribute('src')) this.onImage();
    this.drawBoxes();
  }

  dispose(): void {
    this.list.dispose();
  }

  private regionOf(item: JsonObject): Region {
    const label = labelOf(item) ?? '';
    return { item, box: regionBoxOf(item)!, label, children: childRegionsOf(item).map((child) => this.regionOf(child)) };
  }

  /** The image's pixel size once loaded; without an image, the extent of the boxes on a blank stage. */
  private onImage(): void {
    if (this.image.naturalWidth > 0) {
      this.size = { width: this.image.naturalWidth, height: this.image.naturalHeight };
      this.image.hidden = false;
      this.stage.classList.remove('no-image');
    } else {
      this.image.hidden = true;
      this.stage.classList.add('no-image');
      const boxes = this.regions.map((region) => region.box);
      const relative = boxesAreRelative(boxes);
      this.size = relative ? { width: 1000, height: 1000 } : {
        width: Math.max(1, ...boxes.map((box) => box.x + box.width)),
        height: Math.max(1, ...boxes.map((box) => box.y + box.height)),
      };
    }
    this.overlay.setAttribute('viewBox', `0 0 ${this.size.width} ${this.size.height}`);
    this.stage.style.aspectRatio = `${this.size.width} / ${this.size.height}`;
    this.redrawAll();
  }

  private redrawAll(): void {
    this.overlay.replaceChildren();
    for (const region of this.regions) region.rect = undefined;
    this.drawn = 0;
    this.drawBoxes();
  }

  private drawBoxes(): void {
    if (!this.size) return;
    const relative = boxesAreRelative(this.regions.slice(0, 500).map((region) => region.box));
    if (relative !== this.relative && this.drawn > 0) {
      this.relative = relative;
      return this.redrawAll();
    }
    this.relative = relative;
    for (; this.drawn < this.regions.length; this.drawn++) {
      const index = this.drawn;
      const region = this.regions[index]!;
      this.drawRegion(region, index, false);
      for (const child of region.children) this.drawRegion(child, index, true);
    }
  }

  private drawRegion(region: Region, row: number, nested: boolean): void {
    const { width, height } = this.size!;
    const scaleX = this.relative ? width : 1;
    const scaleY = this.relative ? height : 1;
    const rect = svg('rect', nested ? 'region nested' : `region colour-${this.colourOf(region)}`);
    rect.setAttribute('x', String(region.box.x * scaleX));
    rect.setAttribute('y', String(region.box.y * scaleY));
    rect.setAttribute('width', String(region.box.width * scaleX));
    rect.setAttribute('height', String(region.box.height * scaleY));
    rect.setAttribute('vector-effect', 'non-scaling-stroke');
    rect.dataset.row = String(row);
    rect.addEventListener('mouseenter', (event) => this.showTip(region, event));
    rect.addEventListener('mousemove', (event) => this.moveTip(event));
    rect.addEventListener('mouseleave', () => this.hideTip(region));
    region.rect = rect;
    this.overlay.append(rect);
  }

  /** Detector classes get a colour each; text regions (OCR) all share one. */
  private colourOf(region: Region): number {
    const label = typeof region.item.label === 'string' ? region.item.label : typeof region.item.class === 'string' ? region.item.class : '';
    if (!label) return 0;
    let colour = this.labelColours.get(label);
    if (colour === undefined) {
      colour = this.labelColours.size % COLOURS;
      this.labelColours.set(label, colour);
    }
    return colour;
  }

  private showTip(region: Region, event: MouseEvent): void {
    const confidence = confidenceOf(region.item);
    this.tip.textContent = [region.label || '(no text)', confidence].filter(Boolean).join(' · ');
    this.tip.hidden = false;
    this.moveTip(event);
    region.rect?.classList.add('hot');
    const row = Number(region.rect?.dataset.row);
    this.list.rowElement(row)?.classList.add('hot');
  }

  private moveTip(event: MouseEvent): void {
    const stage = this.stage.getBoundingClientRect();
    this.tip.style.left = `${event.clientX - stage.left + 12}px`;
    this.tip.style.top = `${event.clientY - stage.top + 12}px`;
  }

  private hideTip(region: Region): void {
    this.tip.hidden = true;
    region.rect?.classList.remove('hot');
    this.list.rowElement(Number(region.rect?.dataset.row))?.classList.remove('hot');
  }

  private renderRow(index: number): HTMLElement {
    const region = this.regions[index]!;
    const row = el('div', 'region-row');
    const text = el('span', 'region-text');
    if (region.children.length > 0 && region.children.every((child) => child.label)) {
      for (const child of region.children) {
        const word = el('span', 'word', child.label);
        word.addEventListener('mouseenter', () => child.rect?.classList.add('hot'));
        word.addEventListener('mouseleave', () => child.rect?.classList.remove('hot'));
        text.append(word, ' ');
      }
    } else {
      text.textContent = region.label || `${region.box.width}×${region.box.height} at ${region.box.x}, ${region.box.y}`;
    }
    row.append(text);
    const confidence = confidenceOf(region.item);
    if (confidence) row.append(el('span', 'chip', confidence));
    row.addEventListener('mouseenter', () => region.rect?.classList.add('hot'));
    row.addEventListener('mouseleave', () => region.rect?.classList.remove('hot'));
    return row;
  }
}

function confidenceOf(item: JsonObject): string | undefined {
  const key = CONFIDENCE_KEYS.find((candidate) => typeof item[candidate] === 'number');
  return key ? `${key} ${scalarText(item[key])}` : undefined;
}
