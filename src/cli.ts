// `rpp`: the same core as the extension, from a terminal, for plugin authors and scripts.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { checkValues, flatFields } from './core/configSchema';
import { PluginError, asPluginError, messageOf, type PluginErrorKind } from './core/errors';
import type { RunTarget } from './core/fileRule';
import { pluginDirsFromEnv } from './core/manifestDiscovery';
import type { CallProgress } from './core/pluginCall';
import type { PluginCall, PluginRegistry, RegistryOptions } from './core/registry';
import { runBatchCommand } from './cliBatch';

// undici's HTTP parser is WebAssembly. V8 also recompiles it with its optimizing compiler on a background
// thread, and a process cannot exit before that compile ends: 0.1-0.2 s added to every `rpp run`, seconds on
// a busy machine. A one-shot process is better served by the baseline compiler's code alone.
setFlagsFromString('--liftoff-only');

const USAGE = `Usage: rpp <command> [options]

Commands:
  list [--json]                      plugins with their state and manifest path
  run PLUGIN FILE [options]          initialize, execute on FILE, print the result
  run PLUGIN FILE... | --dir DIR [--jobs N] [--out results.jsonl] [--resume]
                                     run on many files through the plugin's queue: one JSON line per
                                     file as it finishes {"file","ok","result"|"error","ms"[,"cached"]}
  stream PLUGIN FILE [options]       execute_stream on FILE, one JSON line per item as it arrives
                                     (FILE may be a folder for plugins whose file_types has "folder";
                                     a file the plugin does not take is refused, with the reason)
  health PLUGIN | stats PLUGIN | schema PLUGIN
                                     start the worker, print JSON, stop it
  clear-cache                        remove every stored result (shared with the editor)

Options:
  --plugins-dir DIR    a folder of manifests (repeatable; also RPP_PLUGIN_DIRS; ~/.cjm/plugins always)
  --arg KEY=VALUE      a keyword argument (repeatable; VALUE is parsed as JSON when it is valid JSON)
  --config JSON        configuration passed to initialize() before the call
  --json               print JSON (run: the result on one line; list: the plugins)
  --dir DIR            run: every file under DIR that the plugin's file_types accept (hidden ones skipped)
  --jobs N             run: up to N workers of the plugin in parallel (default: its max_instances)
  --out FILE           run: write the JSON lines to FILE (line by line) instead of stdout
  --resume             run: skip files with a successful line in --out; run the rest, append to it
  --no-cache           do not reuse stored results, nor store new ones
  --verbose, -v        also print the worker's log (stderr) to stderr
  --help, -h           this text

Exit codes: 0 success, 1 the plugin raised (for many files: any file failed), 2 usage or manifest error,
3 the worker failed to start or died.`;

/** The shell's code for a process ended by Ctrl-C (128 + SIGINT). */
const INTERRUPTED = 130;

const EXIT_CODES: Record<PluginErrorKind, number> = {
  plugin: 1,
  cancelled: 1,
  config: 1,
  usage: 2,
  manifest: 2,
  untrusted: 2,
  start: 3,
  crash: 3,
  'crash-loop': 3,
  unresponsive: 3,
  protocol: 3,
};

interface Options {
  command: string;
  positionals: string[];
  pluginDirs: string[];
  kwargs: Record<string, unknown>;
  config?: Record<string, unknown>;
  json: boolean;
  verbose: boolean;
  dir?: string;
  jobs?: number;
  out?: string;
  resume: boolean;
  noCache: boolean;
}

function usageError(message: string): PluginError {
  return new PluginError('usage', `${message}\nRun "rpp --help" for usage.`);
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'plugins-dir': { type: 'string', multiple: true, default: [] },
      arg: { type: 'string', multiple: true, default: [] },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      dir: { type: 'string' },
      jobs: { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'no-cache': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length === 0) return 'help';
  const [command, ...rest] = positionals;
  return {
    command,
    positionals: rest,
    pluginDirs: [...values['plugins-dir'].map((dir) => path.resolve(dir)), ...pluginDirsFromEnv(process.env)],
    kwargs: Object.fromEntries(values.arg.map(parseKeyValue)),
    config: values.config === undefined ? undefined : parseConfig(values.config),
    json: values.json,
    verbose: values.verbose,
    dir: values.dir,
    jobs: values.jobs === undefined ? undefined : parseJobs(values.jobs),
    out: values.out,
    resume: values.resume,
    noCache: values['no-cache'],
  };
}

function parseJobs(text: string): number {
  const jobs = Number(text);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw usageError(`--jobs takes a whole number from 1 to 64, got "${text}".`);
  return jobs;
}

/** Many files (several FILEs, --dir, --out, --resume, --jobs) run as a batch; one FILE alone prints its result. */
function isBatch(options: Options): boolean {
  return options.command === 'run' && (options.positionals.length > 2 || options.dir !== undefined || options.out !== undefined || options.resume || options.jobs !== undefined);
}

function parseKeyValue(pair: string): [string, unknown] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw usageError(`--arg takes KEY=VALUE, got "${pair}".`);
  const raw = pair.slice(eq + 1);
  try {
    return [pair.slice(0, eq), JSON.parse(raw)];
  } catch {
    return [pair.slice(0, eq), raw]; // not JSON: the plain string
  }
}

function parseConfig(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`--config is not valid JSON: ${messageOf(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw usageError('--config must be a JSON object, e.g. \'{"model": "base"}\'.');
  return value as Record<string, unknown>;
}

function requirePositionals(options: Options, names: string[]): string[] {
  if (options.positionals.length !== names.length) {
    throw usageError(`"rpp ${options.command}" takes ${names.join(' ')}.`);
  }
  return options.positionals;
}

/**
 * Writes to stdout and, when its buffer is full, waits until the reader has taken it ('drain'): a slow
 * reader (`| less`, `| (sleep 8; wc -l)`) then slows the stream down, back to the plugin, instead of
 * growing this process. A pipe that breaks meanwhile ('error', 'close') ends the wait too; main turns
 * EPIPE into the end of the run.
 */
function write(text: string): Promise<void> | undefined {
  if (process.stdout.write(text)) return undefined;
  return new Promise((resolve) => {
    const done = (): void => {
      process.stdout.off('drain', done).off('error', done).off('close', done);
      resolve();
    };
    process.stdout.on('drain', done).on('error', done).on('close', done);
  });
}

async function printJson(value: unknown, pretty: boolean): Promise<void> {
  await write(JSON.stringify(value, null, pretty ? 2 : undefined) + '\n');
}

async function list(registry: PluginRegistry, options: Options): Promise<number> {
  const plugins = registry.list();
  if (options.json) {
    await printJson(plugins.map((p) => ({ name: p.name, version: p.version, state: p.state, manifest: p.manifestPath, error: p.lastError?.message })), true);
    return 0;
  }
  if (plugins.length === 0) {
    await write(`No plugins found. Looked in: ${registry.pluginDirs.join(', ')}\n`);
  }
  for (const p of plugins) {
    const head = `${p.name}${p.version ? ` ${p.version}` : ''}  [${p.state}]  ${p.manifestPath}`;
    await write(p.lastError ? `${head}\n    ${p.lastError.message}\n` : `${head}\n`);
  }
  for (const dir of registry.missingPluginDirs) process.stderr.write(`warning: plugin folder not found: ${dir}\n`);
  return plugins.some((p) => p.state === 'broken') ? 2 : 0;
}

async function runOnFile(registry: PluginRegistry, options: Options, signal: AbortSignal, stream: boolean): Promise<number> {
  if (!stream && isBatch(options)) return runOnFiles(registry, options, signal);
  const [plugin, file] = requirePositionals(options, ['PLUGIN', 'FILE']);
  const target = await runTarget(file);
  // An unknown plugin is reported first (refusal() throws for it), then a file it does not take, then a missing file.
  const refused = registry.refusal(plugin, target);
  if (refused) throw new PluginError('usage', refused, { plugin });
  if (!target.exists) throw new PluginError('usage', `${target.path} does not exist. Check the path.`, { plugin });
  let cached: number | undefined;
  const onProgress = (progress: CallProgress) => {
    if (progress.kind === 'cached') cached = progress.savedMs;
    if (progress.kind === 'waiting') process.stderr.write(`rpp: ${plugin}: ${progress.reason}\n`);
  };
  const call: PluginCall = { file: { path: target.path }, kwargs: options.kwargs, signal, onProgress };
  if (options.config) await configure(registry, plugin, options.config);
  if (stream) {
    for await (const item of registry.executeStream(plugin, call)) {
      const full = write(JSON.stringify(item) + '\n');
      if (full) await full; // only a full pipe costs an await: a stream may have a million items
    }
    if (cached !== undefined) noteCached(cached);
    return 0;
  }
  const result = await registry.execute(plugin, call);
  if (cached !== undefined) noteCached(cached);
  if (options.json) await printJson(result, false);
  else if (typeof result === 'string') await write(result.endsWith('\n') ? result : `${result}\n`);
  else await printJson(result, true);
  return 0;
}

/** --config, checked against the plugin's /config_schema first (as Configure… does), then applied. */
async function configure(registry: PluginRegistry, plugin: string, config: Record<string, unknown>): Promise<void> {
  const fields = flatFields(await registry.configSchema(plugin));
  const problems = fields ? checkValues(fields, config) : [];
  if (problems.length > 0) throw usageError(`--config does not fit ${plugin}'s settings: ${problems.join(' ')}`);
  await registry.initialize(plugin, config);
}

/** The file or folder as given on the command line. */
async function runTarget(file: string): Promise<RunTarget & { exists: boolean }> {
  const absolute = path.resolve(file);
  const stats = await stat(absolute).catch(() => undefined);
  return { path: absolute, isFolder: stats?.isDirectory() ?? false, exists: stats !== undefined };
}

/** A cached result is marked on stderr, so that stdout stays the plugin's own output. */
function noteCached(savedMs: number): void {
  process.stderr.write(`rpp: result from the cache (it took ${(savedMs / 1000).toFixed(2)} s when it ran; --no-cache runs it again)\n`);
}

async function runOnFiles(registry: PluginRegistry, options: Options, signal: AbortSignal): Promise<number> {
  const [plugin, ...files] = options.positionals;
  if (plugin === undefined) throw usageError('"rpp run" takes PLUGIN FILE... or PLUGIN --dir DIR.');
  if (options.config) await configure(registry, plugin, options.config);
  const command = { plugin, files, dir: options.dir, out: options.out, resume: options.resume, kwargs: options.kwargs, cache: !options.noCache };
  return runBatchCommand(registry, command, signal, (kind) => EXIT_CODES[kind]);
}

async function clearCache(registry: PluginRegistry): Promise<number> {
  const freed = await registry.clearCache();
  await write(`Removed ${freed.entries} stored ${freed.entries === 1 ? 'result' : 'results'} (${Math.ceil(freed.bytes / 1024)} KB).\n`);
  return 0;
}

async function query(registry: PluginRegistry, options: Options): Promise<number> {
  const [plugin] = requirePositionals(options, ['PLUGIN']);
  await registry.start(plugin);
  const ask = { health: () => registry.health(plugin), stats: () => registry.stats(plugin), schema: () => registry.configSchema(plugin) }[options.command];
  await printJson(await ask?.(), true);
  return 0;
}

/** --no-cache, and --jobs as the plugin's max instances for this run. */
function batchRegistryOptions(options: Options): Partial<RegistryOptions> {
  const plugin = options.positionals[0];
  return { cache: !options.noCache, ...(options.jobs !== undefined && plugin !== undefined ? { maxInstances: { [plugin]: options.jobs } } : {}) };
}

function reportError(thrown: unknown): number {
  const error = asPluginError(undefined, thrown);
  process.stderr.write(`rpp: ${error.message}\n`);
  if (error.detail) process.stderr.write(`${error.detail.trimEnd()}\n`);
  return EXIT_CODES[error.kind];
}

async function main(argv: string[]): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions(argv);
  } catch (error) {
    return reportError(error instanceof PluginError ? error : usageError(messageOf(error)));
  }
  if (options === 'help') {
    await write(`${USAGE}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const commands: Record<string, (r: PluginRegistry, o: Options, s: AbortSignal) => Promise<number>> = {
    list,
    run: (r, o, s) => runOnFile(r, o, s, false),
    stream: (r, o, s) => runOnFile(r, o, s, true),
    health: query,
    stats: query,
    schema: query,
    'clear-cache': clearCache,
  };
  const command = commands[options.command];
  if (!command) return reportError(usageError(`Unknown command "${options.command}".`));

  // Loaded only for a command: `rpp --help` and usage errors never load the registry (nor, through it, the
  // libraries that start and call workers, which load when a worker starts).
  const { PluginRegistry } = await import('./core/registry');
  const registry = await PluginRegistry.create({ pluginDirs: options.pluginDirs, watch: false, idleTimeoutMs: 0, ...batchRegistryOptions(options) });
  if (options.verbose) registry.onLog((e) => process.stderr.write(`[${e.plugin}] ${e.message}\n`));
  const abort = new AbortController();
  // Ctrl-C: cancel the call in the worker, stop every worker, then exit with the conventional 130.
  // A closed stdout (`rpp stream … | head`) ends the call the same way, but is a success.
  const interrupted = new Promise<number>((resolve) => {
    process.once('SIGINT', () => {
      abort.abort();
      resolve(INTERRUPTED);
    });
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      abort.abort();
      resolve(error.code === 'EPIPE' ? 0 : 1);
    });
  });
  try {
    return await Promise.race([command(registry, options, abort.signal), interrupted]);
  } catch (error) {
    return reportError(error);
  } finally {
    await registry.dispose();
  }
}

/**
 * The process ends by itself once stdout and stderr are flushed: process.exit() would drop what a pipe
 * has not taken yet (`rpp stream … | (sleep 8; wc -l)` lost all but 64 lines). Ctrl-C still exits at once.
 * Should anything else keep the process alive after the output is out, it is ended a second later.
 */
function finish(code: number): void {
  process.exitCode = code;
  if (code === INTERRUPTED) process.exit(code);
  process.stdout.write('', () => setTimeout(() => process.exit(), 1000).unref());
}

main(process.argv.slice(2)).then(finish, (error: unknown) => {
  process.stderr.write(`rpp: internal error: ${messageOf(error)}\n`);
  finish(2);
});
