// Drawing 100,000 points costs a plot a hundred milliseconds and more on a slow machine, and a screen has
// a few thousand pixel columns: a long series is drawn as the minimum and maximum of each bucket of points
// (peaks survive), finely over the range on screen and coarsely around it, so zooming out still works.
// Plain TypeScript without Node APIs: the results webview bundles it.

export type Column = ReadonlyArray<number | null>;

/** xs ascending; ys[field][i] belongs to xs[i]. */
export interface Series {
  xs: readonly number[];
  ys: readonly Column[];
}

/** A series as it is kept, e.g. in typed arrays (a missing value is null or NaN). */
export interface SeriesInput {
  xs: ArrayLike<number>;
  ys: ReadonlyArray<ArrayLike<number | null>>;
}

/**
 * At most about 2 × (buckets + buckets / 2) points: min and max of each bucket, `buckets` of them over
 * `range` (the visible x range; all of it by default) and a quarter as many on each side of it.
 * Short series come back as they are.
 */
export function sampleSeries<S extends SeriesInput>(series: S, buckets: number, range?: { min: number; max: number }): S | Series {
  const { xs } = series;
  const n = xs.length;
  if (n <= buckets * 2) return series;
  const from = range ? lowerBound(xs, range.min) : 0;
  const to = range ? upperBound(xs, range.max) : n;
  const outX: number[] = [];
  const outY: Array<Array<number | null>> = series.ys.map(() => []);
  const coarse = Math.max(1, Math.floor(buckets / 4));
  appendBuckets(series, 0, from, coarse, outX, outY);
  appendBuckets(series, from, to, buckets, outX, outY);
  appendBuckets(series, to, n, coarse, outX, outY);
  return { xs: outX, ys: outY };
}

function appendBuckets(series: SeriesInput, from: number, to: number, buckets: number, outX: number[], outY: Array<Array<number | null>>): void {
  const count = to - from;
  if (count <= 0) return;
  if (count <= buckets * 2) {
    for (let i = from; i < to; i++) {
      outX.push(series.xs[i]!);
      series.ys.forEach((column, field) => outY[field]!.push(valueAt(column, i)));
    }
    return;
  }
  for (let bucket = 0; bucket < buckets; bucket++) {
    const a = from + Math.floor((bucket * count) / buckets);
    const b = from + Math.floor(((bucket + 1) * count) / buckets);
    if (b <= a) continue;
    outX.push(series.xs[a]!, series.xs[b - 1]!);
    for (let field = 0; field < series.ys.length; field++) {
      const column = series.ys[field]!;
      let min = 0;
      let max = 0;
      let minAt = -1;
      let maxAt = -1;
      // A plain loop without calls: it runs over every point of a long series at each redraw.
      for (let i = a; i < b; i++) {
        const value = column[i];
        if (value === null || value === undefined || value !== value) continue;
        if (minAt < 0 || value < min) { min = value; minAt = i; }
        if (maxAt < 0 || value > max) { max = value; maxAt = i; }
      }
      // In the order they occur, so a rising bucket still rises.
      if (minAt < 0) outY[field]!.push(null, null);
      else if (minAt <= maxAt) outY[field]!.push(min, max);
      else outY[field]!.push(max, min);
    }
  }
}

function valueAt(column: ArrayLike<number | null>, index: number): number | null {
  const value = column[index];
  return value === null || value === undefined || Number.isNaN(value) ? null : value;
}

/** First index whose x ≥ value. */
function lowerBound(xs: ArrayLike<number>, value: number): number {
  let low = 0;
  let high = xs.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (xs[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** First index whose x > value. */
function upperBound(xs: ArrayLike<number>, value: number): number {
  let low = 0;
  let high = xs.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (xs[middle]! <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}
