// The progress notification of one run: "Starting <plugin>… (first run loads the model)" with the
// elapsed time until the first item arrives, then what runs on which file with the item count, where its
// call waits (its place in the plugin's queue, the memory it waits for) or that its result came from the
// cache, and a percentage when the plugin reports progress (a `progress` field in items, or /progress, polled).
import path from 'node:path';
import type * as vscode from 'vscode';
import type { CallProgress } from '../core/pluginCall';
import { itemProgress, overallFraction, type ProgressReport } from '../core/progress';
import type { RunMode } from './resultsView';

const TICK_MS = 1000;
const POLL_MS = 500;

type Phase = { kind: 'starting' } | { kind: 'running'; mode: RunMode; file: string; index: number };

export class RunProgress {
  private phase: Phase = { kind: 'starting' };
  private phaseStarted = performance.now();
  private items = 0;
  private fraction = 0;
  private note: string | undefined;
  /** Where the file's call is before it runs (queue, memory), or that its result came from the cache. */
  private callNote: string | undefined;
  /** Percent already given to VS Code, which adds up increments. */
  private reportedPercent = 0;
  private readonly ticker: NodeJS.Timeout;
  private poller: NodeJS.Timeout | undefined;
  private cold = false;

  constructor(
    private readonly progress: vscode.Progress<{ message?: string; increment?: number }>,
    private readonly plugin: string,
    private readonly files: number,
    /** Asks the worker how far the running call is (never starts one). */
    private readonly poll: () => Promise<ProgressReport | undefined>,
  ) {
    this.ticker = setInterval(() => this.show(), TICK_MS);
  }

  /** The worker is not running yet: the notification says it starts, and that the first run loads the model. */
  starting(): void {
    this.cold = true;
    this.phase = { kind: 'starting' };
    this.phaseStarted = performance.now();
    this.show();
  }

  /** A file begins; on a cold start the "Starting…" line stays until its first item. */
  file(index: number, filePath: string, mode: RunMode): void {
    this.phase = { kind: 'running', mode, file: path.basename(filePath), index };
    this.fraction = 0;
    this.note = undefined;
    this.callNote = undefined;
    if (!this.cold) this.phaseStarted = performance.now();
    clearInterval(this.poller);
    this.poller = setInterval(() => void this.poll().then((report) => report && this.reported(report), () => undefined), POLL_MS);
    this.show();
  }

  /** The call of the current file moved: queued, waiting for memory, started, or answered from the cache. */
  call(event: CallProgress): void {
    this.callNote = describeCall(event);
    this.show();
  }

  /** While the worker starts: why it does not start yet ("waiting for 4.0 GB of memory; 2.1 GB free"), or undefined. */
  waitingFor(reason: string | undefined): void {
    if (reason === this.callNote) return;
    this.callNote = reason;
    this.show();
  }

  item(item: unknown): void {
    this.items += 1;
    if (this.cold) {
      this.cold = false;
      this.phaseStarted = performance.now();
    }
    const report = itemProgress(item);
    if (report) this.reported(report);
    else this.show();
  }

  fileDone(): void {
    clearInterval(this.poller);
    this.poller = undefined;
    this.cold = false;
    if (this.phase.kind === 'running') this.advance(overallFraction(this.phase.index, this.files, 1));
  }

  dispose(): void {
    clearInterval(this.ticker);
    clearInterval(this.poller);
  }

  private reported(report: ProgressReport): void {
    if (report.message !== undefined) this.note = report.message;
    if (report.fraction !== undefined && this.phase.kind === 'running') {
      this.fraction = report.fraction;
      this.advance(overallFraction(this.phase.index, this.files, report.fraction));
      return;
    }
    this.show();
  }

  /** VS Code's bar only moves forward, by increments: give it the difference to the new total. */
  private advance(total: number): void {
    const percent = Math.floor(total * 100);
    const increment = percent - this.reportedPercent;
    if (increment > 0) this.reportedPercent = percent;
    this.progress.report({ message: this.message(), ...(increment > 0 ? { increment } : {}) });
  }

  private show(): void {
    this.progress.report({ message: this.message() });
  }

  private message(): string {
    const elapsed = `${Math.round((performance.now() - this.phaseStarted) / 1000)} s`;
    if (this.phase.kind === 'starting' || this.cold) return [`Starting ${this.plugin}… (first run loads the model)`, this.callNote, elapsed].filter(Boolean).join(' · ');
    const { mode, file, index } = this.phase;
    const count = this.files > 1 ? ` (${index + 1} of ${this.files})` : '';
    const parts = [`${mode === 'stream' ? 'streaming' : 'running'} on ${file}${count}`];
    if (mode === 'stream') parts.push(`${this.items} item${this.items === 1 ? '' : 's'}`);
    if (this.fraction > 0) parts.push(`${Math.floor(this.fraction * 100)}%`);
    if (this.callNote) parts.push(this.callNote);
    if (this.note) parts.push(this.note);
    parts.push(elapsed);
    return parts.join(' · ');
  }
}

/** Where a call is, in the notification's words: its place in the queue, why it waits, or "cached". */
function describeCall(event: CallProgress): string | undefined {
  switch (event.kind) {
    case 'queued':
      return event.position > 1 ? `waiting in the queue: ${event.position} of ${event.length}` : 'next in the queue';
    case 'waiting':
      return event.reason;
    case 'cached':
      return 'result from the cache';
    case 'started':
      return undefined;
  }
}
