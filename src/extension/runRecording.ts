// Every run goes into the history as it happens: a ResultsView that passes each event on to the run's
// view (panel or output channel) and to the history's recorder.
import * as vscode from 'vscode';
import type { RunHistory, RunRecorder } from '../core/runHistory';
import type { FileOutcome, ResultsView, RunMode, RunSummary } from './resultsView';

export interface RecordingInit {
  plugin: string;
  pluginVersion?: string;
  mode: RunMode;
  targets: string[];
  config?: Record<string, unknown>;
  results?: string;
}

export class RecordedView implements ResultsView {
  readonly onDidRequestStop: vscode.Event<void>;

  private constructor(private readonly view: ResultsView, private readonly recorder: RunRecorder, private readonly log: vscode.LogOutputChannel) {
    this.onDidRequestStop = view.onDidRequestStop;
  }

  /** The view, recording into the history (or the view alone when the history keeps no runs). */
  static wrap(view: ResultsView, history: RunHistory | undefined, init: RecordingInit, log: vscode.LogOutputChannel): ResultsView {
    if (!history) return view;
    return new RecordedView(view, history.start(init), log);
  }

  beginFile(filePath: string): void {
    this.recorder.beginFile(filePath);
    this.view.beginFile(filePath);
  }

  append(item: unknown): void {
    this.recorder.append(item);
    this.view.append(item);
  }

  endFile(outcome: FileOutcome): void {
    this.recorder.endFile({ error: outcome.error?.message, cancelled: outcome.cancelled });
    this.view.endFile(outcome);
  }

  finish(summary: RunSummary): void {
    this.recorder.finish(summary.cancelled ? 'cancelled' : summary.errors > 0 ? 'failed' : 'done');
    if (this.recorder.writeError) this.log.warn(`The run of ${summary.plugin} could not be kept in the history: ${this.recorder.writeError}`);
    this.view.finish(summary);
  }
}
