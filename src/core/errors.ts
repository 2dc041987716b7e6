// Errors are values with a message for the user and details for the log, made in one place.

/** What kind of failure, so that the UI and the CLI can choose what to offer and which exit code. */
export type PluginErrorKind =
  | 'manifest' // the manifest is broken: open it and fix the field
  | 'start' // the worker did not start (bad interpreter, import error, start-up timeout)
  | 'crash' // the worker died during a call
  | 'crash-loop' // too many crashes: no automatic restart until the user restarts it
  | 'plugin' // the plugin raised: its own message, traceback in the log
  | 'config' // the plugin rejected its configuration (initialize raised): change it with Configure…
  | 'cancelled' // the call was cancelled by the user
  | 'unresponsive' // the process is alive but does not answer
  | 'protocol' // the worker answered something that is not the protocol
  | 'untrusted' // refused: the workspace is not trusted
  | 'usage'; // the caller asked for something that does not exist

/** The worker's structured error, after the peer project's JobError (see docs/protocol.md). */
export interface JobError {
  category: 'user_input' | 'transient' | 'resource' | 'fatal';
  type?: string;
  message: string;
  retriable: boolean;
  original_exc_repr?: string;
  traceback?: string;
  plugin_name?: string;
  occurred_at?: string;
}

export class PluginError extends Error {
  override readonly name = 'PluginError';
  constructor(
    readonly kind: PluginErrorKind,
    /** One or two sentences for the user: what went wrong and what to do. */
    message: string,
    readonly options: {
      plugin?: string;
      /** Long details for the log: traceback, stderr tail, exit code. */
      detail?: string;
      job?: JobError;
      exitCode?: number | null;
      signal?: string | null;
      manifestPath?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }

  get plugin(): string | undefined {
    return this.options.plugin;
  }
  get detail(): string | undefined {
    return this.options.detail;
  }
  get job(): JobError | undefined {
    return this.options.job;
  }
}

export function isJobError(value: unknown): value is { _job_error: JobError } {
  if (typeof value !== 'object' || value === null || !('_job_error' in value)) return false;
  const job = (value as { _job_error: unknown })._job_error;
  return typeof job === 'object' && job !== null && typeof (job as JobError).message === 'string';
}

/** Turns the worker's JobError into a PluginError whose message is the plugin's own. */
export function fromJobError(job: JobError, plugin: string): PluginError {
  const kind = job.type === 'Cancelled' ? 'cancelled' : 'plugin';
  const type = job.type && job.type !== 'Cancelled' ? `${job.type}: ` : '';
  return new PluginError(kind, `${type}${job.message}`, { plugin, job, detail: job.traceback });
}

/** Anything thrown, as a PluginError: ours as they are, anything else as an unexpected failure with its stack for the log. */
export function asPluginError(plugin: string | undefined, error: unknown): PluginError {
  if (error instanceof PluginError) return error;
  return new PluginError('protocol', `Unexpected failure: ${messageOf(error)}`, { plugin, cause: error, detail: error instanceof Error ? error.stack : undefined });
}

/** The message of anything thrown, for places that must not throw again while reporting. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
