// CI's smoke test of `npm start`, run exactly as the README writes it: it must serve the VS Code page, then
// stop with no process left, both when Ctrl-C reaches the terminal's process group (SIGINT to every process
// of `npm start`) and when a supervisor sends SIGTERM to the npm process alone. Every process that
// `npm start` starts carries a marker in its environment; afterwards /proc must hold none of them.
// Plain Node with node: built-ins only.
// Usage: node scripts/smoke-start.mjs
/* global fetch */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MARK = 'RPP_START_SMOKE';
/** The first `npm start` on a machine may install the bench (a few minutes); later ones take seconds. */
const SERVE_DEADLINE_MS = 15 * 60_000;
const STOP_DEADLINE_MS = 20_000;
/** The workers' own parent watch takes up to 1.5 s; the server's helpers are killed with its group. */
const GONE_DEADLINE_MS = 10_000;

const say = (message) => console.log(`[start smoke] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline that does not keep the process alive once everything else is done. */
const deadline = (ms, value) => new Promise((resolve) => setTimeout(resolve, ms, value).unref());

/** Pids and command lines of live processes whose environment carries the marker (zombies have none). */
function markedProcesses(mark) {
  const needle = `${MARK}=${mark}`;
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(needle)) continue;
      found.push(`${entry} ${fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').replaceAll('\0', ' ').trim()}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Polls until the condition holds or the deadline passes; returns whether it held. */
async function waitUntil(condition, ms) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/** Starts `npm start` as the leader of a new process group, like a shell starts a foreground job. */
function startNpm(mark) {
  const env = { ...process.env, [MARK]: mark };
  delete env.PORT; // start.ts would use it instead of a free port
  const child = spawn('npm', ['start'], {
    cwd: root,
    detached: true,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const urlSeen = new Promise((resolve, reject) => {
    const onText = (chunk, stream) => {
      const text = chunk.toString();
      output += text;
      stream.write(text.replace(/^(?=.)/gm, '  | '));
      const url = /http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+/.exec(output)?.[0];
      if (url) resolve(url);
    };
    child.stdout.on('data', (chunk) => onText(chunk, process.stdout));
    child.stderr.on('data', (chunk) => onText(chunk, process.stderr));
    child.once('exit', (code, signal) => reject(new Error(`npm start ended (${code ?? signal}) before it printed the URL`)));
    setTimeout(() => reject(new Error(`npm start printed no URL within ${SERVE_DEADLINE_MS / 60_000} min`)), SERVE_DEADLINE_MS).unref();
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, urlSeen, exited };
}

/** The page a user opens: VS Code's workbench HTML. */
async function checkPage(url) {
  const response = await fetch(url);
  const html = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  if (!/<html/i.test(html) || !/workbench/i.test(html)) throw new Error(`GET ${url} did not return the VS Code workbench:\n${html.slice(0, 400)}`);
  return html.length;
}

async function portClosed(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch {
    return true;
  }
}

/** One round: start, check the page, stop with `how`, check that nothing is left. Returns its timings. */
async function round(how) {
  const mark = randomBytes(8).toString('hex');
  const started = performance.now();
  const npm = startNpm(mark);
  try {
    const url = await npm.urlSeen;
    const served = performance.now();
    const bytes = await checkPage(url);
    say(`VS Code page served (${bytes} bytes) ${((served - started) / 1000).toFixed(1)} s after \`npm start\``);
    const stopping = performance.now();
    if (how === 'SIGINT to the process group') process.kill(-npm.child.pid, 'SIGINT');
    else process.kill(npm.child.pid, 'SIGTERM');
    const code = await Promise.race([npm.exited, deadline(STOP_DEADLINE_MS, 'still running')]);
    if (code === 'still running') throw new Error(`npm start did not end within ${STOP_DEADLINE_MS / 1000} s of ${how}`);
    const gone = await waitUntil(() => markedProcesses(mark).length === 0, GONE_DEADLINE_MS);
    const left = markedProcesses(mark);
    if (!gone) throw new Error(`after ${how}, processes of npm start are still running:\n  ${left.join('\n  ')}`);
    if (!(await portClosed(url))) throw new Error(`after ${how}, the VS Code server still answers on ${new URL(url).host}`);
    const stopped = (performance.now() - stopping) / 1000;
    say(`${how}: npm ended (${code}); no process left after ${stopped.toFixed(1)} s; the port is closed`);
    return { how, servedS: (served - started) / 1000, stoppedS: stopped };
  } finally {
    for (const line of markedProcesses(mark)) {
      try {
        process.kill(Number(line.split(' ')[0]), 'SIGKILL'); // a failed round must not leave its server behind
      } catch {
        // gone meanwhile
      }
    }
  }
}

try {
  const results = [];
  for (const how of ['SIGINT to the process group', 'SIGTERM to npm alone']) results.push(await round(how));
  for (const r of results) say(`${r.how}: served after ${r.servedS.toFixed(1)} s, stopped in ${r.stoppedS.toFixed(1)} s`);
} catch (error) {
  say(`FAILED: ${error.message}`);
  process.exitCode = 1;
}
