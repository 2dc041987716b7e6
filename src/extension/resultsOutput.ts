// Results in the "Plugin Results" output channel: a header per file, one line per item as it
// arrives, a footer per run. The channel is shared by all runs and owned by the extension.
import * as vscode from 'vscode';
import { formatDuration, itemAsText } from '../core/resultText';
import type { FileOutcome, ResultsView, RunMode, RunSummary } from './resultsView';

export const RESULTS_CHANNEL_NAME = 'Plugin Results';

export class ResultsOutput implements ResultsView {
  // The output channel has no Stop button: cancelling goes through the progress notification.
  readonly onDidRequestStop: vscode.Event<void> = () => ({ dispose: () => {} });

  constructor(
    private readonly channel: vscode.OutputChannel,
    private readonly plugin: string,
    private readonly mode: RunMode,
  ) {
    channel.show(true);
  }

  beginFile(filePath: string): void {
    this.channel.appendLine(`── ${this.plugin}: ${this.mode === 'stream' ? 'Stream' : 'Run'} on ${filePath} ──`);
  }

  append(item: unknown): void {
    this.channel.appendLine(itemAsText(item));
  }

  endFile(outcome: FileOutcome): void {
    if (outcome.cancelled) this.channel.appendLine('── cancelled ──');
    else if (outcome.error) this.channel.appendLine(`── failed: ${outcome.error.message} ──`);
  }

  finish(summary: RunSummary): void {
    const files = summary.files === 1 ? '' : ` from ${summary.files} files`;
    const errors = summary.errors === 0 ? '' : `, ${summary.errors} failed`;
    this.channel.appendLine(`── ${summary.items} item${summary.items === 1 ? '' : 's'}${files} in ${formatDuration(summary.durationMs)}${errors}${summary.cancelled ? ', cancelled' : ''} ──`);
    this.channel.appendLine('');
  }
}
