// What every part of the bench shares: a figure (a value against a baseline measured in the same run),
// a section (a group of figures that it promises to produce), and small statistics.

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  ratio: number;
}

export interface BenchContext {
  /** --quick: fewer runs and smaller inputs (CI checks that every figure is produced, not how fast). */
  quick: boolean;
  /** The real interpreter (not a pyenv shim), the same for every figure. */
  python: string;
  record(name: string, value: number, unit: string, baseline: string, baselineValue: number): void;
  /** Extra lines under a figure: what it means, or values that are not figures. */
  note(text: string): void;
}

export interface Section {
  title: string;
  /** The names of the figures this section records in this mode; a run that misses one fails. */
  figures(quick: boolean): string[];
  run(context: BenchContext): Promise<void>;
}

export const round = (x: number): number => Math.round(x * 1000) / 1000;
export const now = (): number => performance.now();
export const median = (xs: number[]): number => quantile(xs, 0.5);

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Runs `call` n times one after another; returns each duration in ms. */
export async function timeCalls(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await call();
    times.push(now() - t);
  }
  return times;
}
