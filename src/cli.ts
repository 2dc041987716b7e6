// `rpp`: the same core as the extension, from a terminal, for plugin authors and scripts.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PluginError, messageOf, type PluginErrorKind } from './core/errors';
import { pluginDirsFromEnv } from './core/manifestDiscovery';
import type { CallProgress } from './core/pluginCall';
import { PluginRegistry, type PluginCall, type RegistryOptions } from './core/registry';
import { runBatchCommand } from './cliBatch';

const USAGE = `Usage: rpp <command> [options]

Commands:
  list [--json]                      plugins with their state and manifest path
  run PLUGIN FILE [options]          initialize, execute on FILE, print the result
  run PLUGIN FILE... | --dir DIR [--jobs N] [--out results.jsonl] [--resume]
                                     run on many files through the plugin's queue: one JSON line per
                                     file as it finishes {"file","ok","result"|"error","ms"[,"cached"]}
  stream PLUGIN FILE [options]       execute_stream on FILE, one JSON line per item as it arrives
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

const EXIT_CODES: Record<PluginErrorKind, number> = {
  plugin: 1,
  cancelled: 1,
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

function printJson(value: unknown, pretty: boolean): void {
  process.stdout.write(JSON.stringify(value, null, pretty ? 2 : undefined) + '\n');
}

async function list(registry: PluginRegistry, options: Options): Promise<number> {
  const plugins = registry.list();
  if (options.json) {
    printJson(plugins.map((p) => ({ name: p.name, version: p.version, state: p.state, manifest: p.manifestPath, error: p.lastError?.message })), true);
    return 0;
  }
  if (plugins.length === 0) {
    process.stdout.write(`No plugins found. Looked in: ${registry.pluginDirs.join(', ')}\n`);
  }
  for (const p of plugins) {
    const head = `${p.name}${p.version ? ` ${p.version}` : ''}  [${p.state}]  ${p.manifestPath}`;
    process.stdout.write(p.lastError ? `${head}\n    ${p.lastError.message}\n` : `${head}\n`);
  }
  for (const dir of registry.missingPluginDirs) process.stderr.write(`warning: plugin folder not found: ${dir}\n`);
  return plugins.some((p) => p.state === 'broken') ? 2 : 0;
}

async function runOnFile(registry: PluginRegistry, options: Options, signal: AbortSignal, stream: boolean): Promise<number> {
  if (!stream && isBatch(options)) return runOnFiles(registry, options, signal);
  const [plugin, file] = requirePositionals(options, ['PLUGIN', 'FILE']);
  let cached: number | undefined;
  const onProgress = (progress: CallProgress) => {
    if (progress.kind === 'cached') cached = progress.savedMs;
    if (progress.kind === 'waiting') process.stderr.write(`rpp: ${plugin}: ${progress.reason}\n`);
  };
  const call: PluginCall = { file: { path: path.resolve(file) }, kwargs: options.kwargs, signal, onProgress };
  if (options.config) await registry.initialize(plugin, options.config);
  if (stream) {
    for await (const item of registry.executeStream(plugin, call)) printJson(item, false);
    if (cached !== undefined) noteCached(cached);
    return 0;
  }
  const result = await registry.execute(plugin, call);
  if (cached !== undefined) noteCached(cached);
  if (options.json) printJson(result, false);
  else if (typeof result === 'string') process.stdout.write(result.endsWith('\n') ? result : `${result}\n`);
  else printJson(result, true);
  return 0;
}

/** A cached result is marked on stderr, so that stdout stays the plugin's own output. */
function noteCached(savedMs: number): void {
  process.stderr.write(`rpp: result from the cache (it took ${(savedMs / 1000).toFixed(2)} s when it ran; --no-cache runs it again)\n`);
}

async function runOnFiles(registry: PluginRegistry, options: Options, signal: AbortSignal): Promise<number> {
  const [plugin, ...files] = options.positionals;
  if (plugin === undefined) throw usageError('"rpp run" takes PLUGIN FILE... or PLUGIN --dir DIR.');
  if (options.config) await registry.initialize(plugin, options.config);
  const command = { plugin, files, dir: options.dir, out: options.out, resume: options.resume, kwargs: options.kwargs, cache: !options.noCache };
  return runBatchCommand(registry, command, signal, (kind) => EXIT_CODES[kind]);
}

async function clearCache(registry: PluginRegistry): Promise<number> {
  const freed = await registry.clearCache();
  process.stdout.write(`Removed ${freed.entries} stored ${freed.entries === 1 ? 'result' : 'results'} (${Math.ceil(freed.bytes / 1024)} KB).\n`);
  return 0;
}

async function query(registry: PluginRegistry, options: Options): Promise<number> {
  const [plugin] = requirePositionals(options, ['PLUGIN']);
  await registry.start(plugin);
  const ask = { health: () => registry.health(plugin), stats: () => registry.stats(plugin), schema: () => registry.configSchema(plugin) }[options.command];
  printJson(await ask?.(), true);
  return 0;
}

/** --no-cache, and --jobs as the plugin's max instances for this run. */
function batchRegistryOptions(options: Options): Partial<RegistryOptions> {
  const plugin = options.positionals[0];
  return { cache: !options.noCache, ...(options.jobs !== undefined && plugin !== undefined ? { maxInstances: { [plugin]: options.jobs } } : {}) };
}

function reportError(error: unknown): number {
  if (!(error instanceof PluginError)) {
    process.stderr.write(`rpp: ${messageOf(error)}\n`);
    return 2;
  }
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
    process.stdout.write(`${USAGE}\n`);
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

  const registry = await PluginRegistry.create({ pluginDirs: options.pluginDirs, watch: false, idleTimeoutMs: 0, ...batchRegistryOptions(options) });
  if (options.verbose) registry.onLog((e) => process.stderr.write(`[${e.plugin}] ${e.message}\n`));
  const abort = new AbortController();
  // Ctrl-C: cancel the call in the worker, stop every worker, then exit with the conventional 130.
  // A closed stdout (`rpp stream … | head`) ends the call the same way, but is a success.
  const interrupted = new Promise<number>((resolve) => {
    process.once('SIGINT', () => {
      abort.abort();
      resolve(130);
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`rpp: internal error: ${messageOf(error)}\n`);
    process.exit(2);
  },
);
