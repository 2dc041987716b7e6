// Time segments as a transcript: each row is its time span, its text or label, and its other fields.
// With the input file playing in the panel, clicking a row (or a word with its own times) seeks there and
// plays, and the segment under the playhead is highlighted and kept in view while it plays.
import { isObject, segmentOf, type JsonObject, type Segment } from '../core/resultShapes';
import { formatSeconds } from '../core/resultText';
import { el, scalarText } from './dom';
import { LazyList } from './lazyList';
import type { Renderer, SectionContext } from './renderer';

const SHOWN_ELSEWHERE = new Set(['start', 'end', 'start_time', 'end_time', 'text', 'label', 'words', 'type', 'index']);
/** After the user scrolls, the playhead stops pulling the list along for this long. */
const USER_SCROLL_GRACE_MS = 3000;

export class SegmentsView implements Renderer {
  readonly element = el('div', 'segments-view');
  private readonly items: JsonObject[] = [];
  private readonly segments: Segment[] = [];
  private readonly list: LazyList;
  private sorted = true;
  private current = -1;
  private lastUserScroll = 0;
  private readonly disposers: Array<() => void> = [];

  constructor(private readonly context: SectionContext) {
    const rows = el('div', 'segment-rows');
    rows.setAttribute('role', 'list');
    this.element.append(rows);
    this.list = new LazyList({ container: rows, estimatedRowHeight: 26, renderRow: (index) => this.renderRow(index) });
    const media = context.media;
    if (media) {
      this.element.classList.add('playable');
      const onTime = () => this.highlight(media.currentTime, !media.paused);
      media.addEventListener('timeupdate', onTime);
      media.addEventListener('seeked', onTime);
      this.disposers.push(() => {
        media.removeEventListener('timeupdate', onTime);
        media.removeEventListener('seeked', onTime);
      });
    }
    const onScroll = () => { this.lastUserScroll = performance.now(); };
    window.addEventListener('wheel', onScroll, { passive: true });
    window.addEventListener('keydown', onScroll, { passive: true });
    this.disposers.push(() => {
      window.removeEventListener('wheel', onScroll);
      window.removeEventListener('keydown', onScroll);
    });
  }

  add(item: unknown): void {
    const segment = segmentOf(item)!;
    const previous = this.segments.at(-1);
    if (previous && segment.start < previous.start) this.sorted = false;
    this.items.push(item as JsonObject);
    this.segments.push(segment);
  }

  flush(): void {
    this.list.setCount(this.items.length);
  }

  dispose(): void {
    this.list.dispose();
    for (const dispose of this.disposers) dispose();
  }

  private renderRow(index: number): HTMLElement {
    const item = this.items[index]!;
    const segment = this.segments[index]!;
    const row = el('div', 'segment');
    row.setAttribute('role', 'listitem');
    row.dataset.index = String(index);
    if (index === this.current) row.classList.add('current');
    const time = el('button', 'time', `${formatSeconds(segment.start)} – ${formatSeconds(segment.end)}`);
    time.type = 'button';
    time.title = this.context.media ? `Play from ${formatSeconds(segment.start)}` : `${segment.start} s to ${segment.end} s`;
    time.disabled = !this.context.media;
    row.append(time);
    const text = el('span', 'segment-text');
    const words = Array.isArray(item.words) ? item.words.filter(isObject) : [];
    const timedWords = words.map((word) => ({ word, segment: segmentOf(word) })).filter((entry) => entry.segment?.label !== undefined);
    if (timedWords.length > 0 && timedWords.length === words.length) {
      for (const { segment: wordSegment } of timedWords) {
        const word = el('span', 'word', wordSegment!.label);
        word.dataset.start = String(wordSegment!.start);
        word.title = `${formatSeconds(wordSegment!.start)} – ${formatSeconds(wordSegment!.end)}`;
        text.append(word, ' ');
      }
    } else {
      text.textContent = segment.label ?? '';
    }
    row.append(text);
    for (const [key, value] of Object.entries(item)) {
      if (SHOWN_ELSEWHERE.has(key) || (typeof value === 'object' && value !== null)) continue;
      row.append(el('span', 'chip', `${key} ${scalarText(value)}`));
    }
    row.addEventListener('click', (event) => {
      const target = event.target as HTMLElement;
      this.play(target.dataset.start !== undefined ? Number(target.dataset.start) : segment.start);
    });
    return row;
  }

  private play(seconds: number): void {
    const media = this.context.media;
    if (!media) return;
    media.currentTime = seconds;
    void media.play().catch(() => undefined); // no audio device, or the user paused meanwhile: the seek still counts
    this.lastUserScroll = 0;
    this.highlight(seconds, false);
  }

  private highlight(seconds: number, follow: boolean): void {
    const index = this.segmentAt(seconds);
    if (index === this.current) return;
    this.list.rowElement(this.current)?.classList.remove('current');
    this.current = index;
    if (index < 0) return;
    const row = follow && performance.now() - this.lastUserScroll > USER_SCROLL_GRACE_MS
      ? this.list.scrollToRow(index, 'smooth')
      : this.list.rowElement(index);
    row?.classList.add('current');
  }

  /** The segment that contains `seconds` (the latest-starting one when they overlap), or -1. */
  private segmentAt(seconds: number): number {
    const segments = this.segments;
    if (!this.sorted) {
      let found = -1;
      segments.forEach((segment, index) => {
        if (segment.start <= seconds && seconds < segment.end && (found < 0 || segment.start >= segments[found]!.start)) found = index;
      });
      return found;
    }
    let low = 0;
    let high = segments.length - 1;
    let last = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (segments[middle]!.start <= seconds) {
        last = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    for (let index = last; index >= 0 && index > last - 8; index--) {
      if (seconds < segments[index]!.end) return index;
    }
    return -1;
  }
}
