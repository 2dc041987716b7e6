// Polls /stats of running workers, and only while someone looks at them (the Plugins view is
// visible): no timer runs when the view is hidden or no worker runs. One owner for the timer.
import * as vscode from 'vscode';
import { messageOf } from '../core/errors';
import type { WorkerStats } from '../core/workerStats';
import type { PluginRegistry } from '../core/registry';

export class StatsPoller implements vscode.Disposable {
  private readonly latest = new Map<string, WorkerStats>();
  private readonly updated = new vscode.EventEmitter<void>();
  private timer: NodeJS.Timeout | undefined;
  private visible = false;
  private polling = false;

  /** Fired after each round of polling that changed something. */
  readonly onDidUpdate = this.updated.event;

  constructor(
    private readonly registry: PluginRegistry,
    private intervalMs: number,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The last figures of a running plugin; undefined when it is not running or not polled yet. */
  get(plugin: string): WorkerStats | undefined {
    return this.latest.get(plugin);
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    this.reschedule(0);
  }

  setInterval(intervalMs: number): void {
    this.intervalMs = intervalMs;
    this.reschedule(0);
  }

  /** A plugin's state changed: poll at once a worker that has no figures yet, forget stopped ones. */
  pluginChanged(): void {
    const unseen = this.runningPlugins().some((name) => !this.latest.has(name));
    if (unseen || this.timer === undefined) this.reschedule(unseen ? 0 : this.intervalMs);
    else this.forgetStopped();
  }

  dispose(): void {
    this.visible = false;
    this.clearTimer();
    this.updated.dispose();
  }

  private runningPlugins(): string[] {
    return this.registry
      .list()
      .filter((plugin) => plugin.state === 'ready' || plugin.state === 'busy')
      .map((plugin) => plugin.name);
  }

  private reschedule(delayMs: number): void {
    this.clearTimer();
    this.forgetStopped();
    if (!this.visible || this.runningPlugins().length === 0 || this.polling) return;
    this.timer = setTimeout(() => void this.poll(), delayMs);
  }

  private forgetStopped(): void {
    const running = this.runningPlugins();
    const stopped = [...this.latest.keys()].filter((name) => !running.includes(name));
    for (const name of stopped) this.latest.delete(name);
    if (stopped.length > 0) this.updated.fire();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    this.polling = true;
    try {
      await Promise.all(this.runningPlugins().map((name) => this.pollOne(name)));
    } finally {
      this.polling = false;
    }
    this.updated.fire();
    this.reschedule(this.intervalMs);
  }

  private async pollOne(name: string): Promise<void> {
    try {
      const stats = await this.registry.stats(name);
      if (stats) this.latest.set(name, stats);
      else this.latest.delete(name);
    } catch (error) {
      // A worker that stops between list() and stats() is normal; anything else is worth a trace.
      this.latest.delete(name);
      this.log.trace(`stats of ${name}: ${messageOf(error)}`);
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
