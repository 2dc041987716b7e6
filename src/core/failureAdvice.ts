// What to tell the user about a failure and what to offer: one message that names the plugin and the
// input, and the actions that fit the kind of failure (Configure… for a configuration the plugin
// rejected, Open Manifest for manifest problems, Show Logs for crashes, Restart for crash loops, a hint
// about the input for a file the plugin could not read). The notification, the results panel's error
// row and the tree all take their buttons from here, so they agree.
import path from 'node:path';
import type { PluginError } from './errors';
import { describeAccepted } from './fileRule';

export type FailureAction = 'configure' | 'openManifest' | 'setInterpreter' | 'showLogs' | 'restart' | 'revealInput' | 'manageTrust';

export interface FailureContext {
  /** The plugin that failed (the error may not know it, e.g. an unexpected failure). */
  plugin?: string;
  /** The file or folder it ran on, when there was one. */
  input?: string;
  /** The plugin's normalised file types ([] = any file), for the hint about the input. */
  fileTypes?: readonly string[];
}

export interface FailureAdvice {
  /** One message for the user that names the plugin and the input. */
  message: string;
  /** What to offer, most useful first. */
  actions: FailureAction[];
}

/** Python exceptions that mean "this input could not be read", whatever the plugin. */
const UNREADABLE_INPUT_TYPES = new Set([
  'FileNotFoundError', 'IsADirectoryError', 'NotADirectoryError', 'PermissionError', 'UnicodeDecodeError', 'EOFError',
  'UnidentifiedImageError', 'DecodeError', 'BadZipFile', 'JSONDecodeError', 'ParseError',
]);
const UNREADABLE_INPUT_TEXT = /cannot (identify|decode|read|open|parse)|could not (identify|decode|read|open|parse)|unable to (decode|read|open|parse)|not a valid|invalid (data|header|file|format)|unsupported (file|format)|unknown format|corrupt|truncated|file does not start with/i;

export function adviseOn(error: PluginError, context: FailureContext = {}): FailureAdvice {
  const plugin = error.plugin ?? context.plugin;
  const input = context.input;
  const unreadable = error.kind === 'plugin' && input !== undefined && couldNotReadInput(error);
  let message = withNames(error.message, plugin, input);
  if (unreadable && plugin !== undefined) message += `${/[.!?]$/.test(message) ? '' : '.'} ${inputHint(plugin, input, context.fileTypes)}`;
  return { message, actions: actionsFor(error, unreadable) };
}

/** True when the plugin's error says it could not read its input (a damaged, empty or wrong kind of file). */
export function couldNotReadInput(error: PluginError): boolean {
  const type = error.job?.type;
  if (type !== undefined && UNREADABLE_INPUT_TYPES.has(type)) return true;
  return UNREADABLE_INPUT_TEXT.test(error.message);
}

function actionsFor(error: PluginError, unreadable: boolean): FailureAction[] {
  switch (error.kind) {
    case 'manifest':
      return /"python_path"/.test(error.message) ? ['setInterpreter', 'openManifest'] : ['openManifest'];
    case 'start':
      return interpreterTrouble(error) ? ['setInterpreter', 'showLogs', 'openManifest'] : ['showLogs', 'openManifest'];
    case 'config':
      return ['configure', 'showLogs'];
    case 'crash':
      return ['showLogs'];
    case 'crash-loop':
    case 'unresponsive':
      return ['restart', 'showLogs'];
    case 'plugin':
      return unreadable ? ['revealInput', 'showLogs'] : ['showLogs'];
    case 'protocol':
      return ['showLogs'];
    case 'untrusted':
      return ['manageTrust'];
    case 'usage':
    case 'cancelled':
      return [];
  }
}

/** A start that failed because of the interpreter: it is missing, or cannot import the plugin's module. */
function interpreterTrouble(error: PluginError): boolean {
  return /python_path|ModuleNotFoundError|ImportError|No module named|not executable|was not found/.test(`${error.message}\n${error.detail ?? ''}`);
}

/**
 * Puts the plugin's name and the input's file name into the message when it lacks them:
 * "ocr on text.png: TesseractError: …", or "Plugin "x" crashed … (on crash.txt)".
 */
function withNames(message: string, plugin: string | undefined, input: string | undefined): string {
  const file = input === undefined ? undefined : path.basename(input);
  const hasPlugin = plugin === undefined || message.includes(plugin);
  const hasFile = file === undefined || message.includes(file);
  if (!hasPlugin) return `${plugin}${file && !hasFile ? ` on ${file}` : ''}: ${message}`;
  if (!hasFile) return `${message} (on ${file})`;
  return message;
}

function inputHint(plugin: string, input: string, fileTypes: readonly string[] | undefined): string {
  const takes = fileTypes === undefined ? '' : ` (it takes ${describeAccepted(fileTypes)})`;
  return `Check the input: ${path.basename(input)} may be damaged, empty or not the kind of file ${plugin} reads${takes}.`;
}
