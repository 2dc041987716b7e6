// The first step of `npm test` and `npm start`, so that a fresh clone needs nothing else: installs the npm
// dependencies when node_modules is missing or does not match package-lock.json, and (with --bench) the
// real-VS-Code bench on first use. It says what it does, and does nothing when everything is in place.
//
// Plain Node with node: built-ins only: it runs before any dependency is installed.
// Usage: node scripts/ensure-setup.mjs [--bench]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (message) => console.error(`[setup] ${message}`);

class SetupError extends Error {}

/** The oldest Node the project supports (package.json "engines"); older ones fail later with obscure errors. */
function checkNode() {
  const wanted = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).engines?.node ?? '';
  const minimum = /(\d+)\.(\d+)\.(\d+)/.exec(wanted);
  if (!minimum) return;
  const have = process.versions.node.split('.').map(Number);
  const need = minimum.slice(1).map(Number);
  const older = have[0] - need[0] || have[1] - need[1] || have[2] - need[2];
  if (older < 0) throw new SetupError(`Node ${process.versions.node} is too old: the project needs Node ${wanted} (package.json "engines").`);
}

/**
 * Why node_modules does not match package-lock.json, or undefined when it does. npm records what it
 * installed in node_modules/.package-lock.json; every locked package must be there in the locked version
 * (optional ones only if installed: they are platform-specific), nothing else may be, and each folder must exist.
 */
function whyDependenciesAreStale() {
  const installedFile = path.join(root, 'node_modules', '.package-lock.json');
  if (!fs.existsSync(path.join(root, 'node_modules'))) return 'node_modules is missing';
  if (!fs.existsSync(installedFile)) return 'node_modules was not installed from package-lock.json';
  const locked = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')).packages ?? {};
  const installed = JSON.parse(fs.readFileSync(installedFile, 'utf8')).packages ?? {};
  for (const [name, entry] of Object.entries(locked)) {
    if (name === '') continue; // the project itself
    const have = installed[name];
    if (!have) {
      if (entry.optional) continue;
      return `${name} is not installed`;
    }
    if (have.version !== entry.version || have.integrity !== entry.integrity) {
      return `${name} is ${have.version}, package-lock.json wants ${entry.version}`;
    }
  }
  for (const name of Object.keys(installed)) {
    if (!(name in locked)) return `${name} is installed but not in package-lock.json`;
    if (!fs.existsSync(path.join(root, name, 'package.json'))) return `${name} is missing from node_modules`;
  }
  return undefined;
}

/** Runs npm itself: the one running this script (`npm test`), else the npm on PATH. */
function npm(args) {
  const viaNpm = process.env.npm_execpath;
  const [command, argv] = viaNpm && /\.[cm]?js$/.test(viaNpm) ? [process.execPath, [viaNpm, ...args]] : ['npm', args];
  return spawnSync(command, argv, { cwd: root, stdio: 'inherit' });
}

function ensureDependencies() {
  const why = whyDependenciesAreStale();
  if (!why) return;
  say(`installing the npm dependencies with \`npm ci\` (${why}); about 15 s`);
  const started = Date.now();
  const result = npm(['ci', '--no-audit', '--no-fund']);
  if (result.error) throw new SetupError(`could not run npm (${result.error.message}); install npm and try again`);
  if (result.status !== 0) throw new SetupError(`\`npm ci\` failed (exit ${result.status}); see its messages above`);
  const still = whyDependenciesAreStale();
  if (still) throw new SetupError(`after \`npm ci\`, node_modules still does not match package-lock.json: ${still}`);
  say(`npm dependencies installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** scripts/vscode-bench/setup.sh installs the bench on first use and returns at once when it is there. */
function ensureBench() {
  const setup = path.join(root, 'scripts', 'vscode-bench', 'setup.sh');
  const result = spawnSync('bash', [setup], { cwd: root, stdio: 'inherit' });
  if (result.error) throw new SetupError(`could not run bash (${result.error.message})`);
  if (result.status !== 0) throw new SetupError(`the VS Code bench could not be installed (exit ${result.status}); see the messages above`);
}

function main() {
  checkNode();
  ensureDependencies();
  if (process.argv.includes('--bench')) ensureBench();
}

try {
  main();
} catch (error) {
  if (!(error instanceof SetupError)) throw error;
  say(error.message);
  process.exitCode = 1;
}
