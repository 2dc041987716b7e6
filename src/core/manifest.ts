// A plugin manifest: the seed's JSON format (name, version, python_path, module, class, env_vars)
// plus optional fields, checked field by field. Every problem of a file is collected, each message
// names the file and the field and says what to do. Loading never throws: a broken file is a value.
import { constants as fsConstants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PluginError, messageOf } from './errors';
import { normaliseFileType } from './fileRule';
import { parseJson } from './jsonSyntax';

/** A plugin manifest: the seed's fields, optional new ones, and any unknown fields kept as they are. */
export interface Manifest {
  name: string;
  /** Defaults to "0.0.0", as in the seed. */
  version: string;
  python_path: string;
  module: string;
  class: string;
  /** Defaults to {}. */
  env_vars: Record<string, string>;
  description?: string;
  /** Extensions the plugin accepts, lower case with the dot: [".wav", ".mp3"], and "folder" for folders. None = any file (see fileRule.ts). */
  file_types?: string[];
  /** Pass the file as this keyword argument instead of the first positional argument. */
  file_arg?: string;
  idle_timeout_s?: number;
  startup_timeout_s?: number;
  /** Which worker to launch: the bundled one (default) or the seed's `cjm_plugin_system` worker. */
  worker?: 'rpp' | 'cjm';
  /** How many workers of this plugin may run in parallel (default 1; a setting may override it). */
  max_instances?: number;
  /** What one worker needs to start; the measured use replaces it once known. */
  resources?: ManifestResources;
  /** false: never cache this plugin's results (a non-deterministic plugin). Default true. */
  cache?: boolean;
  [unknownField: string]: unknown;
}

/** A manifest's `resources`: megabytes one worker needs; other keys are kept as they are. */
export interface ManifestResources {
  memory_mb?: number;
  gpu_memory_mb?: number;
  [unknownField: string]: unknown;
}

export interface ManifestProblem {
  /** The field at fault, e.g. "python_path" or "env_vars.CUDA_VISIBLE_DEVICES"; absent for file-level problems. */
  field?: string;
  /** What is wrong and what to do, starting with the manifest's path. */
  message: string;
  /** The same without the path, for lists under the file's name. */
  reason: string;
  /** Where a JSON syntax error is (1-based); field problems are placed by manifestPositions.ts. */
  at?: { line: number; column: number };
}

export type ManifestEntry =
  | { ok: true; path: string; manifest: Manifest; /** absolute, resolved interpreter */ pythonExecutable: string }
  | {
      ok: false;
      path: string;
      /** the manifest's name when readable, else the file's stem (made unique among the entries by discovery) */
      name: string;
      /** true when `name` is the manifest's own valid "name" field (so it takes part in duplicate detection) */
      nameFromManifest?: boolean;
      problems: ManifestProblem[];
      error: PluginError;
    };

/** Manifests are small; a bigger file is certainly something else and is not read. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** Names appear in settings keys, command arguments and the CLI, so they are kept to a safe alphabet. */
export const PLUGIN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A Python dotted module path and a Python identifier (Python allows non-ASCII letters in both). */
const PYTHON_IDENTIFIER = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;

/** A Python identifier, e.g. a class name or a keyword argument ("WhisperPlugin", "audio_path"). */
export function isPythonIdentifier(text: string): boolean {
  return PYTHON_IDENTIFIER.test(text);
}

/** A dotted Python module path ("my_pkg.plugin"). */
export function isPythonModuleName(text: string): boolean {
  return text.split('.').every(isPythonIdentifier);
}

const WORKERS = ['rpp', 'cjm'] as const;

/** A problem found while checking, before the file's path is put in front of it. */
interface Finding {
  field?: string;
  text: string;
  at?: { line: number; column: number };
}

/** Reads and checks one manifest file. Never throws, never blocks on a FIFO, never reads more than MAX_MANIFEST_BYTES + 1. */
export async function readManifest(manifestPath: string, env: NodeJS.ProcessEnv = process.env): Promise<ManifestEntry> {
  let read: Uint8Array | Finding;
  try {
    read = await readManifestFile(manifestPath);
  } catch (error) {
    const text = `cannot be read (${messageOf(error)}). Check that the file exists and that you may read it.`;
    return brokenEntry(manifestPath, undefined, [{ text }]);
  }
  if (!(read instanceof Uint8Array)) return brokenEntry(manifestPath, undefined, [read]);
  return checkManifestBytes(manifestPath, read, env);
}

/** O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer (and hold a thread of libuv's pool). */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * A manifest's bytes, from a regular file only (a symlink is followed): a FIFO, a device such as
 * /dev/zero or a folder is a Finding instead. The size limit is enforced while reading, so a file that
 * grows (or lies about its size) is never read past it.
 */
async function readManifestFile(manifestPath: string): Promise<Uint8Array | Finding> {
  const stat = await fs.stat(manifestPath);
  if (!stat.isFile()) return notAFile(stat);
  if (stat.size > MAX_MANIFEST_BYTES) return tooBig(stat.size);
  const handle = await fs.open(manifestPath, OPEN_FLAGS);
  try {
    const opened = await handle.stat(); // it may have been replaced since the first look
    if (!opened.isFile()) return notAFile(opened);
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= MAX_MANIFEST_BYTES) {
      const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, MAX_MANIFEST_BYTES + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
    }
    return total > MAX_MANIFEST_BYTES ? tooBig(total, 'at least ') : Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

function notAFile(stat: Stats): Finding {
  if (stat.isDirectory()) {
    return { text: 'is a folder, not a manifest file. Names ending in .json in a plugin folder are read as manifests: rename the folder or move it elsewhere.' };
  }
  const kind = stat.isFIFO() ? 'a named pipe (FIFO)' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isSocket() ? 'a socket' : 'not a regular file';
  return { text: `is ${kind}, not a regular file; manifests are read only from regular files. Replace it with the plugin's JSON manifest, or remove it.` };
}

/** Checks a manifest file's content; `manifestPath` is where it came from (messages name it, relative paths start there). */
export async function checkManifestBytes(manifestPath: string, bytes: Uint8Array, env: NodeJS.ProcessEnv = process.env): Promise<ManifestEntry> {
  if (bytes.length > MAX_MANIFEST_BYTES) return brokenEntry(manifestPath, undefined, [tooBig(bytes.length)]);
  let text: string;
  try {
    // fatal: a manifest with broken bytes must be reported, not silently patched with U+FFFD; the BOM is dropped.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return brokenEntry(manifestPath, undefined, [{ text: 'is not UTF-8 text. Save it as UTF-8 JSON.' }]);
  }
  if (text.trim() === '') {
    return brokenEntry(manifestPath, undefined, [{ text: `is empty. Write a manifest such as ${EXAMPLE}.` }]);
  }
  const parsed = parseJson(text);
  if (!parsed.ok) {
    const { line, column, reason } = parsed.error;
    return brokenEntry(manifestPath, undefined, [{ text: `is not valid JSON at line ${line}, column ${column}: ${reason}.`, at: { line, column } }]);
  }
  return checkManifestValue(manifestPath, parsed.value, env);
}

const EXAMPLE = '{"name": "my-plugin", "python_path": "/path/to/env/bin/python", "module": "my_pkg.plugin", "class": "MyPlugin"}';

function tooBig(size: number, atLeast = ''): Finding {
  const mb = (size / (1024 * 1024)).toFixed(1);
  return { text: `is ${atLeast}${mb} MB; a manifest is a small JSON file (at most 1 MB). Check that this is the right file.` };
}

/** Checks a parsed manifest value: every field, then the interpreter on disk. */
export async function checkManifestValue(manifestPath: string, value: unknown, env: NodeJS.ProcessEnv = process.env): Promise<ManifestEntry> {
  if (!isPlainObject(value)) {
    return brokenEntry(manifestPath, undefined, [{ text: `is not a JSON object (found ${describe(value)}). A manifest looks like ${EXAMPLE}.` }]);
  }
  const findings: Finding[] = [];
  const fields = checkFields(value, findings);
  const declaredName = typeof value.name === 'string' && PLUGIN_NAME_PATTERN.test(value.name) ? value.name : undefined;
  let pythonExecutable: string | undefined;
  if (fields.python_path?.includes('\0')) {
    findings.push({ field: 'python_path', text: '"python_path" contains a NUL character (\\u0000), which no file path can hold. Remove it.' });
    fields.python_path = undefined;
  }
  if (fields.python_path !== undefined) {
    const resolved = await resolvePythonExecutable(fields.python_path, path.dirname(manifestPath), env);
    if ('problem' in resolved) findings.push({ field: 'python_path', text: resolved.problem });
    else pythonExecutable = resolved.path;
  }
  if (findings.length > 0 || pythonExecutable === undefined) return brokenEntry(manifestPath, declaredName, findings);
  return { ok: true, path: manifestPath, manifest: { ...value, ...fields } as Manifest, pythonExecutable };
}

/** The checked and normalised known fields; a field with a problem is left out (and a Finding recorded). */
function checkFields(raw: Record<string, unknown>, findings: Finding[]): Partial<Manifest> {
  const fields: Partial<Manifest> = {
    name: requiredString(raw, 'name', "the plugin's name", '"whisper-local"', findings),
    version: optionalString(raw, 'version', findings) ?? '0.0.0',
    python_path: requiredString(raw, 'python_path', "the Python interpreter of the plugin's environment", '"/home/me/envs/whisper/bin/python"', findings),
    module: requiredString(raw, 'module', 'the Python module that defines the plugin class', '"my_pkg.plugin"', findings),
    class: requiredString(raw, 'class', 'the plugin class in that module', '"WhisperPlugin"', findings),
    env_vars: checkEnvVars(raw.env_vars, findings),
    worker: checkWorker(raw.worker, findings),
  };
  checkName(fields.name, findings);
  checkModule(fields.module, findings);
  checkIdentifier('class', fields.class, 'a Python class name such as "WhisperPlugin"', findings);
  const description = optionalString(raw, 'description', findings);
  if (description !== undefined) fields.description = description;
  const fileTypes = checkFileTypes(raw.file_types, findings);
  if (fileTypes !== undefined) fields.file_types = fileTypes;
  const fileArg = optionalString(raw, 'file_arg', findings);
  if (checkIdentifier('file_arg', fileArg, 'the name of a keyword argument of the plugin\'s execute(), such as "audio_path"', findings)) fields.file_arg = fileArg;
  for (const field of ['idle_timeout_s', 'startup_timeout_s'] as const) {
    const seconds = checkSeconds(field, raw[field], findings);
    if (seconds !== undefined) fields[field] = seconds;
  }
  Object.assign(fields, checkSchedulingFields(raw, findings));
  return stripUndefined(fields);
}

function requiredString(raw: Record<string, unknown>, field: string, purpose: string, example: string, findings: Finding[]): string | undefined {
  const value = raw[field];
  if (value === undefined) {
    findings.push({ field, text: `${q(field)} is missing. Add ${purpose}, e.g. ${q(field)}: ${example}.` });
    return undefined;
  }
  if (typeof value !== 'string') {
    findings.push({ field, text: `${q(field)} must be a string, found ${describe(value)}. Write ${purpose}, e.g. ${example}.` });
    return undefined;
  }
  if (value.trim() === '') {
    findings.push({ field, text: `${q(field)} is empty. Write ${purpose}, e.g. ${example}.` });
    return undefined;
  }
  return value;
}

function optionalString(raw: Record<string, unknown>, field: string, findings: Finding[]): string | undefined {
  const value = raw[field];
  if (value === undefined || typeof value === 'string') return value;
  findings.push({ field, text: `${q(field)} must be a string, found ${describe(value)}. Write it in double quotes, or remove it.` });
  return undefined;
}

function checkName(name: string | undefined, findings: Finding[]): void {
  if (name === undefined || PLUGIN_NAME_PATTERN.test(name)) return;
  findings.push({
    field: 'name',
    text: `"name": ${show(name)} cannot be used as a plugin name (it appears in settings and commands). Use up to 100 letters, digits, '-', '_' or '.', starting with a letter or digit, e.g. "whisper-local".`,
  });
}

function checkModule(module: string | undefined, findings: Finding[]): void {
  if (module === undefined || isPythonModuleName(module)) return;
  const hint = /[\\/]|\.py$/.test(module)
    ? 'It looks like a file path: give the import name instead (the manifest\'s folder is on sys.path, so "plugin.py" beside it is "plugin").'
    : 'Give the dotted import name, e.g. "my_pkg.plugin".';
  findings.push({ field: 'module', text: `"module": ${show(module)} is not a Python module name. ${hint}` });
}

/** Returns true when the value is present and a valid identifier. */
function checkIdentifier(field: string, value: string | undefined, what: string, findings: Finding[]): boolean {
  if (value === undefined) return false;
  if (isPythonIdentifier(value)) return true;
  findings.push({ field, text: `${q(field)}: ${show(value)} is not a Python identifier. Write ${what}.` });
  return false;
}

function checkEnvVars(value: unknown, findings: Finding[]): Record<string, string> | undefined {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    findings.push({ field: 'env_vars', text: `"env_vars" must be an object of strings like {"CUDA_VISIBLE_DEVICES": "0"}, found ${describe(value)}.` });
    return undefined;
  }
  const envVars: Record<string, string> = {};
  let valid = true;
  for (const [key, item] of Object.entries(value)) {
    const field = `env_vars.${key}`;
    if (key === '' || key.includes('=') || key.includes('\0')) {
      findings.push({ field: 'env_vars', text: `"env_vars" has the variable name ${show(key)}, which cannot be used: a name must not be empty or contain '=' or a NUL character. Rename or remove it.` });
      valid = false;
    } else if (typeof item !== 'string') {
      const fix = typeof item === 'number' || typeof item === 'boolean' ? `write it in quotes: ${JSON.stringify(String(item))}` : 'write the value as a string';
      findings.push({ field, text: `${q(field)} must be a string, found ${describe(item)}. Environment variables are text: ${fix}.` });
      valid = false;
    } else if (item.includes('\0')) {
      // The operating system cannot pass it: a process's environment is a list of NUL-terminated strings.
      findings.push({ field, text: `${q(field)} contains a NUL character (\\u0000), which no environment variable can hold. Remove it from the value.` });
      valid = false;
    } else {
      envVars[key] = item;
    }
  }
  return valid ? envVars : undefined;
}

function checkWorker(value: unknown, findings: Finding[]): Manifest['worker'] {
  if (value === undefined) return 'rpp';
  if (typeof value === 'string' && (WORKERS as readonly string[]).includes(value)) return value as Manifest['worker'];
  findings.push({ field: 'worker', text: `"worker" must be "rpp" (the bundled worker, the default) or "cjm" (the seed's cjm_plugin_system worker), found ${describe(value)}.` });
  return undefined;
}

function checkFileTypes(value: unknown, findings: Finding[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    const fix = typeof value === 'string' ? ` Write it as a list: [${JSON.stringify(value)}].` : ' Write a list such as [".wav", ".mp3"].';
    findings.push({ field: 'file_types', text: `"file_types" must be a list of extensions, found ${describe(value)}.${fix}` });
    return undefined;
  }
  const normalised = new Set<string>();
  value.forEach((item: unknown, index) => {
    const field = `file_types[${index}]`;
    if (typeof item !== 'string') {
      findings.push({ field, text: `${q(field)} must be a string such as ".wav", found ${describe(item)}.` });
      return;
    }
    const extension = normaliseFileType(item);
    if (extension === undefined) {
      findings.push({ field, text: `${q(field)}: ${show(item)} is not a file extension. Write an extension such as ".wav" or ".tar.gz", or "folder" for folders.` });
      return;
    }
    normalised.add(extension);
  });
  return [...normalised];
}

function checkSeconds(field: string, value: unknown, findings: Finding[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') {
    const fix = typeof value === 'string' && Number(value) > 0 ? ` Write ${value.trim()} without quotes.` : '';
    findings.push({ field, text: `${q(field)} must be a number of seconds, found ${describe(value)}.${fix}` });
    return undefined;
  }
  if (!Number.isFinite(value) || value <= 0) {
    findings.push({ field, text: `${q(field)} must be a positive number of seconds, found ${show(value)}. Write e.g. 60, or remove it for the default.` });
    return undefined;
  }
  return value;
}

/** Upper bound of max_instances: more workers than this is certainly a typo (and would exhaust the machine). */
export const MAX_INSTANCES_LIMIT = 64;

/** `max_instances`, `resources` and `cache`: how the queue, the admission and the result cache treat the plugin. */
function checkSchedulingFields(raw: Record<string, unknown>, findings: Finding[]): Pick<Manifest, 'max_instances' | 'resources' | 'cache'> {
  const fields: Pick<Manifest, 'max_instances' | 'resources' | 'cache'> = {};
  const instances = raw.max_instances;
  if (instances !== undefined) {
    if (typeof instances === 'number' && Number.isInteger(instances) && instances >= 1 && instances <= MAX_INSTANCES_LIMIT) fields.max_instances = instances;
    else findings.push({ field: 'max_instances', text: `"max_instances" must be a whole number from 1 to ${MAX_INSTANCES_LIMIT} (how many workers may run in parallel), found ${describe(instances)}. Write e.g. 2, or remove it for 1.` });
  }
  const resources = checkResources(raw.resources, findings);
  if (resources !== undefined) fields.resources = resources;
  if (raw.cache !== undefined) {
    if (typeof raw.cache === 'boolean') fields.cache = raw.cache;
    else findings.push({ field: 'cache', text: `"cache" must be true or false (false: never reuse this plugin's results), found ${describe(raw.cache)}.` });
  }
  return fields;
}

function checkResources(value: unknown, findings: Finding[]): ManifestResources | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    findings.push({ field: 'resources', text: `"resources" must be an object such as {"memory_mb": 4000, "gpu_memory_mb": 6000}, found ${describe(value)}.` });
    return undefined;
  }
  let valid = true;
  for (const key of ['memory_mb', 'gpu_memory_mb'] as const) {
    const amount = value[key];
    if (amount === undefined || (typeof amount === 'number' && Number.isFinite(amount) && amount >= 0)) continue;
    findings.push({ field: `resources.${key}`, text: `"resources.${key}" must be a number of megabytes (0 or more), found ${describe(amount)}. Write e.g. 4000.` });
    valid = false;
  }
  return valid ? { ...value } : undefined;
}

/**
 * Resolves python_path as the worker will be started with it: absolute, `~/…`, relative to the manifest's
 * folder, or a bare command looked up on PATH. Symlinks are kept (a venv's python is a symlink, and the venv
 * is only active through that path).
 */
export async function resolvePythonExecutable(
  pythonPath: string,
  manifestDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ path: string } | { problem: string }> {
  const expanded = expandHome(pythonPath);
  if (!path.isAbsolute(expanded) && !hasSeparator(expanded)) return findOnPath(pythonPath, env);
  const candidate = path.resolve(manifestDir, expanded);
  const origin = candidate === pythonPath ? '' : ` (from ${show(pythonPath)})`;
  const shown = `${show(candidate)}${origin}`;
  const problem = await executableProblem(candidate);
  if (problem === undefined) return { path: candidate };
  const fixes: Record<ExecutableProblem, string> = {
    missing: `does not exist. Point it at the Python interpreter of the plugin's environment (e.g. <env>/bin/python).`,
    folder: `is a folder, not an interpreter. Point it at the interpreter inside it (e.g. ${show(path.join(candidate, 'bin', 'python'))}).`,
    'not-executable': `is not executable. Make it executable (chmod +x) or point it at the environment's Python interpreter.`,
  };
  return { problem: `"python_path": ${shown} ${fixes[problem]}` };
}

type ExecutableProblem = 'missing' | 'folder' | 'not-executable';

async function executableProblem(file: string): Promise<ExecutableProblem | undefined> {
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) return 'folder';
    if (!stat.isFile()) return 'not-executable';
    // On Windows X_OK is only an existence check; the extension (.exe) decides there.
    await fs.access(file, fsConstants.X_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'not-executable';
  }
}

async function findOnPath(command: string, env: NodeJS.ProcessEnv): Promise<{ path: string } | { problem: string }> {
  const found = await findExecutableOnPath(command, env);
  if (found !== undefined) return { path: found };
  return {
    problem: `"python_path": ${show(command)} was not found on PATH. Give the interpreter's full path (e.g. /home/me/envs/whisper/bin/python), or a path relative to the manifest's folder such as ./venv/bin/python.`,
  };
}

/** The first executable file named `command` in PATH's folders (with PATHEXT's extensions on Windows), as a shell would find it. */
export async function findExecutableOnPath(command: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const dirs = (envValue(env, 'PATH') ?? '').split(path.delimiter).filter((dir) => dir !== '');
  const names = commandNames(command, env);
  for (const dir of dirs) {
    for (const name of names) {
      const candidate = path.resolve(dir, name);
      if ((await executableProblem(candidate)) === undefined) return candidate;
    }
  }
  return undefined;
}

/** True when the file exists and may be executed (what python_path needs). */
export async function isExecutableFile(file: string): Promise<boolean> {
  return (await executableProblem(file)) === undefined;
}

/** On Windows a command is found with any of PATHEXT's extensions unless it already has one. */
function commandNames(command: string, env: NodeJS.ProcessEnv): string[] {
  if (process.platform !== 'win32') return [command];
  const extensions = (envValue(env, 'PATHEXT') ?? '.COM;.EXE;.BAT;.CMD').split(';').filter((ext) => ext !== '');
  const hasExtension = extensions.some((ext) => command.toLowerCase().endsWith(ext.toLowerCase()));
  return hasExtension ? [command] : extensions.map((ext) => command + ext);
}

/** Windows spells PATH as "Path"; environment names are case-insensitive there. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  if (process.platform !== 'win32') return env[name];
  const key = Object.keys(env).find((k) => k.toUpperCase() === name);
  return key === undefined ? undefined : env[key];
}

function hasSeparator(text: string): boolean {
  return text.includes('/') || (process.platform === 'win32' && text.includes('\\'));
}

/** `~` and `~/…` mean the user's home folder, as in a shell. */
export function expandHome(text: string): string {
  if (text === '~') return os.homedir();
  if (text.startsWith('~/') || (process.platform === 'win32' && text.startsWith('~\\'))) return path.join(os.homedir(), text.slice(2));
  return text;
}

/** A broken entry whose error summarises every problem on one line; the name falls back to the file's stem. */
function brokenEntry(manifestPath: string, declaredName: string | undefined, findings: Finding[]): ManifestEntry {
  const file = show(manifestPath, Infinity);
  const problems = findings.map(({ field, text, at }) => ({
    ...(field === undefined ? {} : { field }),
    message: `${file}: ${text}`,
    reason: text,
    ...(at === undefined ? {} : { at }),
  }));
  const summary = problems.length === 1 ? problems[0].message : `${file}: ${problems.length} problems: ${findings.map((f) => f.text).join(' ')}`;
  const name = declaredName ?? path.basename(manifestPath, path.extname(manifestPath));
  const error = new PluginError('manifest', summary, { plugin: name, manifestPath, detail: problems.map((p) => p.message).join('\n') });
  return { ok: false, path: manifestPath, name, nameFromManifest: declaredName !== undefined, problems, error };
}

/** Adds one more problem to an entry (used for duplicate names, which only discovery can see). */
export function withProblem(entry: ManifestEntry, field: string, text: string, name: string): ManifestEntry {
  const findings: Finding[] = entry.ok ? [] : entry.problems.map((p) => ({ field: p.field, text: p.reason, at: p.at }));
  return brokenEntry(entry.path, name, [...findings, { field, text }]);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a JSON value is, for "found …" in messages: kind and a short preview. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value} (${preview(value)})`;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** A field name in quotes, escaped so that a message stays on one line whatever the key. */
function q(field: string): string {
  return JSON.stringify(field);
}

/**
 * A user-supplied text or path, shown as is unless it has control characters (which would break the
 * one-line message); long values are cut so that a message stays readable.
 */
function show(value: string | number, maxLength = 300): string {
  if (typeof value === 'number') return String(value);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
  const text = /[\u0000-\u001f\u007f]/.test(value) ? JSON.stringify(value) : value;
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
