// Errors are values with a message for the user and details for the log, made in one place.
import type { CjmDetail, CjmStreamError } from './workerProtocol';

/** What kind of failure, so that the UI and the CLI can choose what to offer and which exit code. */
export type PluginErrorKind =
  | 'manifest' // the manifest is broken: open it and fix the field
  | 'start' // the worker did not start (bad interpreter, import error, start-up timeout)
  | 'crash' // the worker died during a call
  | 'crash-loop' // too many crashes: no automatic restart until the user restarts it
  | 'plugin' // the plugin raised: its own message, traceback in the log
  | 'cancelled' // the call was cancelled by the user
  | 'unresponsive' // the process is alive but does not answer
  | 'protocol' // the worker answered something that is not the protocol
  | 'untrusted' // refused: the workspace is not trusted
  | 'usage'; // the caller asked for something that does not exist

/**
 * A worker's structured error, after the peer project's JobError: schemas/protocol/job-error.schema.json
 * (the bundled worker) and cjm-job-error.schema.json (cjm's current worker, which names the exception
 * type only inside original_exc_repr and sends a few more keys).
 */
export interface JobError {
  category: 'user_input' | 'transient' | 'resource' | 'fatal';
  type?: string;
  message: string;
  retriable: boolean;
  original_exc_repr: string;
  traceback?: string | null;
  plugin_name?: string | null;
  occurred_at?: string | null;
  retry_after_seconds?: number | null;
  fields_invalid?: string[] | null;
  resource_shortfall?: Record<string, unknown> | null;
  plugin_instance_id?: string | null;
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
  const type = job.type ?? typeFromRepr(job.original_exc_repr);
  const cancelled = type === 'Cancelled' || type === 'PluginCancelledError';
  const prefix = type && !cancelled ? `${type}: ` : '';
  return new PluginError(cancelled ? 'cancelled' : 'plugin', `${prefix}${job.message}`, { plugin, job, detail: job.traceback ?? undefined });
}

/** "ValueError('bad')" → "ValueError"; cjm's JobError has the type only there. */
function typeFromRepr(repr: string): string | undefined {
  return /^([A-Za-z_][\w.]*)\(/.exec(repr)?.[1];
}

/**
 * cjm's worker reports a plugin's exception as FastAPI does: {"detail": ...} with HTTP 400 (a failed
 * /initialize), 500 (/execute) or 409 (the current worker: the plugin raised PluginCancelledError).
 * The plugin's own message becomes a PluginError; anything else is undefined (not a plugin error).
 */
export function fromDetailAnswer(status: number, body: unknown, plugin: string): PluginError | undefined {
  if (!isCjmDetail(body) || ![400, 409, 500].includes(status)) return undefined;
  const detail = body.detail;
  if (status === 409) return new PluginError('cancelled', `The call to plugin "${plugin}" was cancelled: ${detail}`, { plugin });
  return new PluginError('plugin', detail || `Plugin "${plugin}" failed without a message (HTTP ${status}).`, { plugin });
}

function isCjmDetail(value: unknown): value is CjmDetail {
  return typeof value === 'object' && value !== null && typeof (value as { detail?: unknown }).detail === 'string';
}

/**
 * cjm's early worker ends a failed stream with one last line {"error": "<message>"} (HTTP 200). Only a
 * line of exactly that shape qualifies; CallStream also requires that nothing follows it.
 */
export function isCjmStreamError(value: unknown): value is CjmStreamError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'error' && typeof (value as { error: unknown }).error === 'string';
}

export function fromCjmStreamError(line: CjmStreamError, plugin: string): PluginError {
  return new PluginError('plugin', line.error || `Plugin "${plugin}" ended its stream with an error without a message.`, { plugin });
}

/** The message of anything thrown, for places that must not throw again while reporting. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
