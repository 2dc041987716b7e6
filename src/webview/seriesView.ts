// Series over time as a line plot (uPlot): one line per numeric field, growing as points arrive. The
// legend shows the values under the cursor and hides or shows a field on click; dragging zooms, a double
// click zooms out; a click seeks the input file's media, whose playhead is drawn as a line.
import uPlot from 'uplot';
import { isObject, scalesOf, seriesFieldsOf, timeKeyOf, type JsonObject, type SeriesField } from '../core/resultShapes';
import { formatSeconds } from '../core/resultText';
import { sampleSeries } from '../core/seriesSampling';
import { el, formatNumber } from './dom';
import type { Renderer, SectionContext } from './renderer';
import { FrameThrottle } from './scheduler';

const HEIGHT = 300;
/** Fields are chosen from the first points; a new field later rebuilds the plot. */
const FIELD_SAMPLE = 50;
const PALETTE = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const FALLBACK_COLOURS = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'];

export class SeriesView implements Renderer {
  readonly element = el('div', 'series-view');
  private readonly points: JsonObject[] = [];
  private fields: SeriesField[] = [];
  private readonly fieldIndex = new Map<string, number>();
  private xs: number[] = [];
  private ys: Array<Array<number | null>> = [];
  private sorted = true;
  private plot: uPlot | undefined;
  private readonly playhead = el('div', 'playhead');
  private readonly draw = new FrameThrottle(() => this.redraw());
  private readonly resize: ResizeObserver;
  private zoomed = false;
  /** True while the view itself sets the plot's data (its scale hook then is no zoom). */
  private settingData = false;
  /** A point brought a numeric field the plot does not have: rebuild it at the next draw. */
  private rebuildSoon = false;
  private readonly disposers: Array<() => void> = [];

  constructor(private readonly context: SectionContext) {
    this.playhead.hidden = true;
    this.resize = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT }));
    this.resize.observe(this.element);
    const media = context.media;
    if (media) {
      const onTime = () => this.movePlayhead();
      media.addEventListener('timeupdate', onTime);
      media.addEventListener('seeked', onTime);
      this.disposers.push(() => {
        media.removeEventListener('timeupdate', onTime);
        media.removeEventListener('seeked', onTime);
      });
    }
  }

  add(item: unknown): void {
    if (!isObject(item)) return;
    const point = item;
    this.points.push(point);
    if (this.plot !== undefined) this.push(point); // before the plot exists, build() takes every point

  }

  flush(): void {
    if (!this.plot) {
      if (this.points.length < 2) return;
      this.build();
    }
    // The plot draws at most a few thousand points (sampled), but collecting them scans the whole series.
    this.draw.minIntervalMs = this.xs.length > 20_000 ? 200 : 50;
    this.draw.request();
  }

  dispose(): void {
    this.draw.cancel();
    this.resize.disconnect();
    this.plot?.destroy();
    for (const dispose of this.disposers) dispose();
  }

  private push(point: JsonObject): void {
    const time = point[timeKeyOf(point) ?? 'time'] as number;
    const last = this.xs.at(-1);
    if (last !== undefined && time < last) this.sorted = false;
    this.xs.push(time);
    for (const [index, field] of this.fields.entries()) {
      const value = point[field.key];
      this.ys[index]!.push(typeof value === 'number' && Number.isFinite(value) ? value : null);
    }
    for (const key of Object.keys(point)) {
      if (!this.fieldIndex.has(key) && typeof point[key] === 'number' && timeKeyOf(point) !== key) this.rebuildSoon = true;
    }
  }

  private build(): void {
    this.fields = seriesFieldsOf(this.points, Math.max(FIELD_SAMPLE, this.points.length));
    this.fieldIndex.clear();
    this.fields.forEach((field, index) => this.fieldIndex.set(field.key, index));
    this.xs = [];
    this.ys = this.fields.map(() => []);
    this.rebuildSoon = false;
    for (const point of this.points) this.push(point);
    this.rebuildSoon = false;
    this.plot?.destroy();
    this.plot = new uPlot(this.options(), this.data(), this.element);
    this.element.classList.add('plot');
    this.plot.over.append(this.playhead);
    this.plot.over.addEventListener('click', () => this.seekToCursor());
    this.element.dataset.fields = this.fields.map((field) => field.key).join(',');
  }

  private redraw(): void {
    if (!this.plot) return;
    if (this.rebuildSoon) {
      this.build();
    } else {
      this.settingData = true;
      this.plot.setData(this.data(), !this.zoomed);
      this.settingData = false;
    }
    this.element.dataset.points = String(this.xs.length);
    this.movePlayhead();
  }

  /** What the plot draws: every point, or for a long series each bucket's min and max (see seriesSampling). */
  private data(): uPlot.AlignedData {
    let series = { xs: this.xs as readonly number[], ys: this.ys as ReadonlyArray<ReadonlyArray<number | null>> };
    if (!this.sorted) {
      const order = this.xs.map((_, index) => index).sort((a, b) => this.xs[a]! - this.xs[b]!);
      series = { xs: order.map((index) => this.xs[index]!), ys: this.ys.map((ys) => order.map((index) => ys[index]!)) };
    }
    const scale = this.plot?.scales.x;
    const range = this.zoomed && scale?.min !== undefined && scale.max !== undefined ? { min: scale.min, max: scale.max } : undefined;
    const sampled = sampleSeries(series, Math.max(500, this.width()), range);
    return [sampled.xs as number[], ...(sampled.ys as Array<Array<number | null>>)];
  }

  private options(): uPlot.Options {
    const style = getComputedStyle(document.body);
    const colour = (index: number) => style.getPropertyValue(PALETTE[index % PALETTE.length]!).trim() || FALLBACK_COLOURS[index % FALLBACK_COLOURS.length]!;
    const foreground = style.getPropertyValue('--vscode-foreground').trim() || '#ccc';
    const grid = style.getPropertyValue('--vscode-editorWidget-border').trim() || 'rgba(128,128,128,0.25)';
    const ranges = this.fields.map((field, index) => {
      const values = this.ys[index]!.filter((value): value is number => value !== null);
      const sample = values.slice(0, 5000);
      return { key: field.key, hidden: field.hidden, min: sample.length ? Math.min(...sample) : NaN, max: sample.length ? Math.max(...sample) : NaN };
    });
    const scales = scalesOf(ranges);
    const usesRight = Object.values(scales).includes('y2');
    const axis = (scale: string, side: 0 | 1 | 2 | 3, label?: string): uPlot.Axis => ({
      scale, side, stroke: foreground, label, labelSize: label ? 20 : 0,
      grid: { show: side !== 1, stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
    });
    const shown = this.fields.filter((field) => !field.hidden);
    const leftLabel = shown.filter((field) => scales[field.key] !== 'y2').map((field) => field.key).slice(0, 3).join(', ');
    const rightLabel = shown.filter((field) => scales[field.key] === 'y2').map((field) => field.key).slice(0, 3).join(', ');
    return {
      width: this.width(),
      height: HEIGHT,
      scales: { x: { time: false } },
      cursor: { drag: { x: true, y: false, setScale: true } },
      legend: { live: true },
      hooks: {
        setScale: [(plot, key) => {
          if (key !== 'x') return;
          const [min, max] = [plot.scales.x.min, plot.scales.x.max];
          const first = this.xs.length ? Math.min(this.xs[0]!, this.xs.at(-1)!) : 0;
          const last = this.xs.length ? Math.max(this.xs[0]!, this.xs.at(-1)!) : 0;
          this.zoomed = min !== undefined && max !== undefined && (min > first || max < last);
          // A zoom (not our own setData) draws the new range in detail.
          if (!this.settingData && this.xs.length > this.width() * 2) this.draw.request();
          this.movePlayhead();
        }],
      },
      axes: [
        { ...axis('x', 2), values: (_plot, ticks) => ticks.map((tick) => formatSeconds(tick)) },
        axis('y', 3, leftLabel),
        ...(usesRight ? [axis('y2', 1, rightLabel)] : []),
      ],
      series: [
        { label: 'time', value: (_plot, value) => (value === null || value === undefined ? '' : formatSeconds(value)) },
        ...this.fields.map((field, index): uPlot.Series => ({
          label: field.key,
          scale: scales[field.key],
          show: !field.hidden,
          stroke: colour(index),
          width: 1.5,
          points: { show: false },
          value: (_plot, value) => (value === null || value === undefined ? '—' : formatNumber(value)),
        })),
      ],
    };
  }

  private width(): number {
    return Math.max(240, Math.floor(this.element.clientWidth || this.element.parentElement?.clientWidth || 600));
  }

  private seekToCursor(): void {
    const media = this.context.media;
    const plot = this.plot;
    if (!media || !plot || plot.cursor.left === undefined || plot.cursor.left < 0) return;
    const seconds = plot.posToVal(plot.cursor.left, 'x');
    if (!Number.isFinite(seconds)) return;
    media.currentTime = Math.max(0, seconds);
    void media.play().catch(() => undefined);
  }

  private movePlayhead(): void {
    const media = this.context.media;
    const plot = this.plot;
    if (!media || !plot || (media.currentTime === 0 && media.paused)) {
      this.playhead.hidden = true;
      return;
    }
    const left = plot.valToPos(media.currentTime, 'x');
    this.playhead.hidden = !(left >= 0 && left <= plot.over.clientWidth);
    this.playhead.style.left = `${left}px`;
  }
}
