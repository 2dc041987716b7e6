// One LogOutputChannel per plugin, "Plugin: <name>", created the first time the plugin logs (its
// first start): the worker's stderr, the host's start/stop/exit events, errors with tracebacks.
import * as vscode from 'vscode';
import type { PluginError } from '../core/errors';
import type { LogEvent } from '../core/logEvent';

export class PluginLogs implements vscode.Disposable {
  private readonly channels = new Map<string, vscode.LogOutputChannel>();

  channelName(plugin: string): string {
    return `Plugin: ${plugin}`;
  }

  append(event: LogEvent): void {
    const channel = this.channel(event.plugin);
    const line = event.source === 'stderr' ? `[stderr] ${event.message}` : event.message;
    switch (event.level) {
      case 'error':
        channel.error(line);
        break;
      case 'warn':
        channel.warn(line);
        break;
      case 'trace':
        channel.trace(line);
        break;
      default:
        channel.info(line);
    }
  }

  /** A failed call: the user's message, then the long detail (traceback, stderr tail) for whoever debugs it. */
  appendError(plugin: string, error: PluginError): void {
    const channel = this.channel(plugin);
    channel.error(`${error.kind}: ${error.message}`);
    if (error.detail) channel.error(error.detail);
  }

  show(plugin: string): void {
    this.channel(plugin).show(true);
  }

  dispose(): void {
    for (const channel of this.channels.values()) channel.dispose();
    this.channels.clear();
  }

  private channel(plugin: string): vscode.LogOutputChannel {
    let channel = this.channels.get(plugin);
    if (!channel) {
      channel = vscode.window.createOutputChannel(this.channelName(plugin), { log: true });
      this.channels.set(plugin, channel);
    }
    return channel;
  }
}
