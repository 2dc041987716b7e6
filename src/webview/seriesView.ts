// Series over time as a line plot (uPlot): one line per numeric field, growing as points arrive. The
// legend shows the values under the cursor and hides or shows a field on click; dragging zooms, a double
// click zooms out; a click seeks the input file's media, whose playhead is drawn as a line.
import uPlot from 'uplot';
import { TIME_KEYS, isObject, scalesOf, seriesFieldsOf, timeKeyOf, type JsonObject, type SeriesField } from '../core/resultShapes';
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

/**
 * A growing column of numbers in a typed array (NaN where a point has no value): 100,000 points cost no
 * boxed numbers for the garbage collector to trace, and appending does not copy the series.
 */
class NumberColumn {
  private values = new Float64Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }

  at(index: number): number {
    return this.values[index]!;
  }

  /** The values so far (a view, not a copy). */
  view(): Float64Array {
    return this.values.subarray(0, this.length);
  }
}

export class SeriesView implements Renderer {
  readonly element = el('div', 'series-view');
  private readonly points: JsonObject[] = [];
  private fields: SeriesField[] = [];
  private readonly fieldIndex = new Map<string, number>();
  private xs = new NumberColumn();
  private ys: NumberColumn[] = [];
  private sorted = true;
  private plot: uPlot | undefined;
  private readonly playhead = el('div', 'playhead');
  private readonly draw = new FrameThrottle(() => this.redraw());
  private readonly resize: ResizeObserver;
  /** The element's width as the ResizeObserver last reported it (reading clientWidth at each redraw would force a layout). */
  private observedWidth = 0;
  private zoomed = false;
  /** True while the view itself sets the plot's data (its scale hook then is no zoom). */
  private settingData = false;
  /** A point brought a numeric field the plot does not have: rebuild it at the next draw. */
  private rebuildSoon = false;
  private readonly disposers: Array<() => void> = [];

  constructor(private readonly context: SectionContext) {
    this.playhead.hidden = true;
    this.resize = new ResizeObserver((entries) => {
      const width = entries.at(-1)?.contentRect.width ?? 0;
      if (width <= 0 || width === this.observedWidth) return;
      this.observedWidth = width;
      this.plot?.setSize({ width: this.width(), height: HEIGHT });
    });
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
    const timeKey = timeKeyOf(point) ?? 'time';
    const time = point[timeKey] as number;
    if (this.xs.length > 0 && time < this.xs.at(this.xs.length - 1)) this.sorted = false;
    this.xs.push(time);
    for (let index = 0; index < this.fields.length; index++) {
      const value = point[this.fields[index]!.key];
      this.ys[index]!.push(typeof value === 'number' && Number.isFinite(value) ? value : NaN);
    }
    if (this.rebuildSoon) return;
    // As seriesFieldsOf chooses fields: a number that is no time key (a second time key would ask for a rebuild at every draw).
    for (const key in point) {
      const value = point[key];
      if (typeof value === 'number' && Number.isFinite(value) && !this.fieldIndex.has(key) && !TIME_KEYS.includes(key)) this.rebuildSoon = true;
    }
  }

  private build(): void {
    this.fields = seriesFieldsOf(this.points, Math.max(FIELD_SAMPLE, this.points.length));
    this.fieldIndex.clear();
    this.fields.forEach((field, index) => this.fieldIndex.set(field.key, index));
    this.xs = new NumberColumn();
    this.ys = this.fields.map(() => new NumberColumn());
    this.rebuildSoon = false;
    for (const point of this.points) this.push(point);
    this.rebuildSoon = false;
    this.plot?.destroy();
    // The plot's first drawing is a task of its own: creating it and sampling the series in one would be a long one.
    this.settingData = true;
    this.plot = new uPlot(this.options(), [[], ...this.fields.map(() => [])], this.element);
    this.settingData = false;
    this.zoomed = false;
    this.draw.request();
    this.element.classList.add('plot');
    this.plot.over.append(this.playhead);
    this.plot.over.addEventListener('click', () => this.seekToCursor());
    this.element.dataset.fields = this.fields.map((field) => field.key).join(',');
  }

  private redraw(): void {
    if (!this.plot) return;
    // A rebuild asks for the drawing of the new plot.
    if (this.rebuildSoon) return this.build();
    this.settingData = true;
    this.plot.setData(this.data(), !this.zoomed);
    this.settingData = false;
    this.element.dataset.points = String(this.xs.length);
    this.movePlayhead();
  }

  /** What the plot draws: every point, or for a long series each bucket's min and max (see seriesSampling). */
  private data(): uPlot.AlignedData {
    let series = { xs: this.xs.view(), ys: this.ys.map((column) => column.view()) };
    if (!this.sorted) {
      const xs = series.xs;
      const order = Uint32Array.from(xs.keys()).sort((a, b) => xs[a]! - xs[b]!);
      const gather = (column: Float64Array) => Float64Array.from(order, (index) => column[index]!);
      series = { xs: gather(xs), ys: series.ys.map(gather) };
    }
    const scale = this.plot?.scales.x;
    const range = this.zoomed && scale?.min !== undefined && scale.max !== undefined ? { min: scale.min, max: scale.max } : undefined;
    const sampled = sampleSeries(series, Math.max(500, this.width()), range);
    // A short series comes back as it is kept: uPlot takes arrays, with null for a missing value.
    const plain = (column: ArrayLike<number | null>) => Array.from(column, (value) => (value === null || Number.isNaN(value) ? null : value));
    return [Array.from(sampled.xs), ...sampled.ys.map(plain)];
  }

  private options(): uPlot.Options {
    const style = getComputedStyle(document.body);
    const colour = (index: number) => style.getPropertyValue(PALETTE[index % PALETTE.length]!).trim() || FALLBACK_COLOURS[index % FALLBACK_COLOURS.length]!;
    const foreground = style.getPropertyValue('--vscode-foreground').trim() || '#ccc';
    const grid = style.getPropertyValue('--vscode-editorWidget-border').trim() || 'rgba(128,128,128,0.25)';
    const ranges = this.fields.map((field, index) => ({ key: field.key, hidden: field.hidden, ...rangeOf(this.ys[index]!, 5000) }));
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
          const xs = this.xs;
          const first = xs.length ? Math.min(xs.at(0), xs.at(xs.length - 1)) : 0;
          const last = xs.length ? Math.max(xs.at(0), xs.at(xs.length - 1)) : 0;
          this.zoomed = min !== undefined && min !== null && max !== undefined && max !== null && (min > first || max < last);
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
    return Math.max(240, Math.floor(this.observedWidth || this.element.clientWidth || this.element.parentElement?.clientWidth || 600));
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

/** The smallest and largest of the first `limit` values a column has (NaN for both when it has none). */
function rangeOf(column: NumberColumn, limit: number): { min: number; max: number } {
  let min = NaN;
  let max = NaN;
  let seen = 0;
  for (let index = 0; index < column.length && seen < limit; index++) {
    const value = column.at(index);
    if (Number.isNaN(value)) continue;
    seen += 1;
    if (!(value >= min)) min = value;
    if (!(value <= max)) max = value;
  }
  return { min, max };
}
