// The Python interpreters a plugin could run with, found the way a user would look for them: the
// environments another tool already knows (the Python extension's, passed in by the caller), virtual
// environments in the workspace (.venv, venv, env), conda environments (`conda env list --json` when
// conda exists) and python3/python on PATH. Each is run once to read its version; one that does not
// run is left out, so what is offered works.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { findExecutableOnPath, isExecutableFile } from './manifest';

export type InterpreterSource = 'python-extension' | 'workspace' | 'conda' | 'path';

export interface InterpreterCandidate {
  /** The interpreter to put in python_path (a venv's own bin/python, not what it links to). */
  path: string;
  source: InterpreterSource;
  /** A short name: the environment's name or folder, or the command. */
  name: string;
}

export interface Interpreter extends InterpreterCandidate {
  /** "3.11.4", read by running the interpreter. */
  version: string;
}

export interface InterpreterSearch {
  /** Folders whose .venv, venv and env are looked at (the workspace folders). */
  workspaceFolders: readonly string[];
  /** Environments known to the caller, e.g. from the Python extension; listed first. */
  known?: readonly InterpreterCandidate[];
  env?: NodeJS.ProcessEnv;
  /** How long one interpreter may take to print its version, and conda to list its environments. */
  timeoutMs?: number;
}

/** Folder names that hold a virtual environment by convention. */
export const VENV_FOLDERS = ['.venv', 'venv', 'env'];

const VERSION_SCRIPT = 'import sys; print("%d.%d.%d" % sys.version_info[:3])';

/** Every interpreter found, each once (by path), in the order: known, workspace, conda, PATH. */
export async function discoverInterpreters(search: InterpreterSearch): Promise<Interpreter[]> {
  const env = search.env ?? process.env;
  const timeoutMs = search.timeoutMs ?? 10_000;
  const found = await Promise.all([workspaceVenvs(search.workspaceFolders), condaEnvironments(env, timeoutMs), pathInterpreters(env)]);
  const candidates = uniqueByPath([...(search.known ?? []), ...found.flat()]);
  const versions = await Promise.all(candidates.map((candidate) => pythonVersion(candidate.path, env, timeoutMs)));
  return candidates.flatMap((candidate, index) => {
    const version = versions[index];
    return version === undefined ? [] : [{ ...candidate, version }];
  });
}

/** The interpreter inside an environment folder (bin/python, or Scripts\python.exe on Windows). */
export function environmentInterpreter(environment: string): string {
  return process.platform === 'win32' ? path.join(environment, 'Scripts', 'python.exe') : path.join(environment, 'bin', 'python');
}

async function workspaceVenvs(folders: readonly string[]): Promise<InterpreterCandidate[]> {
  const candidates = folders.flatMap((folder) =>
    VENV_FOLDERS.map((name) => ({ path: environmentInterpreter(path.join(folder, name)), source: 'workspace' as const, name: `${path.basename(folder)}/${name}` })),
  );
  const present = await Promise.all(candidates.map((candidate) => isExecutableFile(candidate.path)));
  return candidates.filter((_, index) => present[index]);
}

async function condaEnvironments(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<InterpreterCandidate[]> {
  const conda = env.CONDA_EXE && (await isExecutableFile(env.CONDA_EXE)) ? env.CONDA_EXE : await findExecutableOnPath('conda', env);
  if (conda === undefined) return [];
  const output = await run(conda, ['env', 'list', '--json'], env, timeoutMs);
  let environments: unknown;
  try {
    environments = output === undefined ? undefined : (JSON.parse(output) as { envs?: unknown }).envs;
  } catch {
    return []; // conda printed something else (an error, a banner): no environments from it
  }
  if (!Array.isArray(environments)) return [];
  const candidates = environments
    .filter((item): item is string => typeof item === 'string')
    .map((prefix) => ({ path: environmentInterpreter(prefix), source: 'conda' as const, name: condaName(prefix) }));
  const present = await Promise.all(candidates.map((candidate) => isExecutableFile(candidate.path)));
  return candidates.filter((_, index) => present[index]);
}

/** Environments live in <root>/envs/<name>; the root itself is "base". */
function condaName(prefix: string): string {
  return path.basename(path.dirname(prefix)) === 'envs' ? path.basename(prefix) : 'base';
}

async function pathInterpreters(env: NodeJS.ProcessEnv): Promise<InterpreterCandidate[]> {
  const commands = ['python3', 'python'];
  const found = await Promise.all(commands.map((command) => findExecutableOnPath(command, env)));
  const real = await Promise.all(found.map((file) => (file === undefined ? undefined : fs.realpath(file).catch(() => file))));
  const seen = new Set<string>();
  const candidates: InterpreterCandidate[] = [];
  commands.forEach((command, index) => {
    const file = found[index];
    const target = real[index];
    // `python` is often a link to `python3`: offer it once.
    if (file === undefined || target === undefined || seen.has(target)) return;
    seen.add(target);
    candidates.push({ path: file, source: 'path', name: command });
  });
  return candidates;
}

function uniqueByPath(candidates: readonly InterpreterCandidate[]): InterpreterCandidate[] {
  const seen = new Set<string>();
  return candidates.filter((candidate) => {
    const key = path.resolve(candidate.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** "3.11.4", or undefined when the interpreter does not run (a broken venv, a stale link). */
export async function pythonVersion(interpreter: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 10_000): Promise<string | undefined> {
  const output = await run(interpreter, ['-c', VERSION_SCRIPT], env, timeoutMs);
  const version = output?.trim();
  return version && /^\d+\.\d+\.\d+$/.test(version) ? version : undefined;
}

/** The program's stdout, or undefined when it cannot be run, fails or takes longer than the timeout. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (error, stdout) => {
      resolve(error ? undefined : stdout);
    });
  });
}
