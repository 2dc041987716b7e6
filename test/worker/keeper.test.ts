// worker/rpp_keeper.py on its own: its lines to the host, the lifeline (end of file = SIGKILL of the
// whole tree, `stop MS`, `kill`), the subreaper, the exit status it reports, the interpreter flags it
// passes on, a stdin that is not a pipe, and a wrapper that does not exec.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { projectRoot, python } from '../helpers/python';

const KEEPER = path.join(projectRoot, 'worker', 'rpp_keeper.py');
const WRAPPER = path.join(projectRoot, 'test', 'fixtures', 'wrappers', 'python-no-exec.sh');
const TOKEN = 'test-token';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'rpp-keeper-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Kept {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves with the keeper's first line. */
  started: Promise<{ keeper: number; worker: number }>;
  /** Resolves with the keeper's report and its own exit once it has exited. */
  ended: Promise<{ report: { code: number | null; signal: string | null } | undefined; code: number | null; signal: string | null }>;
  /** Lines the worker printed on stdout (the keeper's own are taken out). */
  lines: string[];
}

/** Starts the keeper with a Python command line (what follows the interpreter) for the worker. */
function keep(pythonArgs: string[], options: { interpreter?: string[]; env?: Record<string, string> } = {}): Kept {
  const [command, ...flags] = options.interpreter ?? [python];
  const proc = spawn(command, [...flags, KEEPER, '--host-pid', String(process.pid), '--', ...pythonArgs], {
    env: { ...process.env, RPP_KEEPER_TOKEN: TOKEN, ...options.env },
    detached: true,
  });
  const lines: string[] = [];
  let report: { code: number | null; signal: string | null } | undefined;
  let onStart: (pids: { keeper: number; worker: number }) => void = () => undefined;
  const started = new Promise<{ keeper: number; worker: number }>((resolve) => (onStart = resolve));
  let partial = '';
  proc.stdout.setEncoding('utf8').on('data', (text: string) => {
    const pieces = (partial + text).split('\n');
    partial = pieces.pop() ?? '';
    for (const line of pieces) {
      if (!line.startsWith(`rpp-keeper ${TOKEN} `)) {
        lines.push(line);
        continue;
      }
      const message = JSON.parse(line.slice(`rpp-keeper ${TOKEN} `.length)) as Record<string, unknown>;
      if ('worker' in message) onStart(message as { keeper: number; worker: number });
      else report = message as { code: number | null; signal: string | null };
    }
  });
  proc.stderr.resume();
  const ended = new Promise<Awaited<Kept['ended']>>((resolve) => proc.once('close', (code, signal) => resolve({ report, code, signal })));
  return { proc, started, ended, lines };
}

function running(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

function statField(pid: number, index: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ')[index]);
}

async function until(what: string, condition: () => boolean, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A worker that prints its own facts, starts helpers the hard way, then waits. */
const HELPERS_WORKER = `
import os, subprocess, sys, time
subprocess.Popen(["sleep", "311"])
session = subprocess.Popen(["sleep", "312"], start_new_session=True)
subprocess.run(["sh", "-c", "setsid sleep 313 >/dev/null 2>&1 </dev/null & echo $! > " + sys.argv[1]], check=True)
print("facts", os.getpid(), os.getpgrp(), os.getppid(), os.environ.get("RPP_KEEPER_TOKEN"), os.environ.get("RPP_KEEPER_PID"), session.pid, flush=True)
time.sleep(300)
`;

async function helpersAlive(kept: Kept, pidFile: string): Promise<number[]> {
  await until('the worker printed its facts', () => kept.lines.some((l) => l.startsWith('facts ')));
  await until('the daemon wrote its pid', () => {
    try {
      return readFileSync(pidFile, 'utf8').trim().length > 0;
    } catch {
      return false;
    }
  });
  const facts = kept.lines.find((l) => l.startsWith('facts '))?.split(' ') ?? [];
  const worker = Number(facts[1]);
  const daemon = Number(readFileSync(pidFile, 'utf8'));
  const session = Number(facts[6]);
  return [worker, session, daemon];
}

test('announces both pids; the worker is its child, in a group of its own, without the token', async () => {
  const pidFile = path.join(tmp, 'daemon-1.pid');
  const kept = keep(['-c', HELPERS_WORKER, pidFile]);
  const { keeper, worker } = await kept.started;
  assert.equal(keeper, kept.proc.pid);
  await helpersAlive(kept, pidFile);
  const facts = kept.lines.find((l) => l.startsWith('facts '))?.split(' ') ?? [];
  assert.deepEqual(facts.slice(1, 6), [String(worker), String(worker), String(keeper), 'None', String(keeper)]);
  kept.proc.stdin.end();
  await kept.ended;
});

test('end of file on the lifeline: the whole tree is SIGKILLed at once, new sessions and a daemon included', async () => {
  const pidFile = path.join(tmp, 'daemon-2.pid');
  const kept = keep(['-c', HELPERS_WORKER, pidFile]);
  const tree = await helpersAlive(kept, pidFile);
  const daemon = tree[2];
  await until('the daemon, orphaned at birth, is adopted by the keeper (subreaper)', () => statField(daemon, 1) === kept.proc.pid);
  await until('the daemon has left the worker’s session', () => statField(daemon, 3) !== statField(tree[0], 3));
  kept.proc.stdin.end(); // what the host's death does
  const { report, signal } = await kept.ended;
  assert.deepEqual(report, { code: null, signal: 'SIGKILL' });
  assert.equal(signal, null, 'the keeper exits on its own');
  assert.deepEqual(tree.filter(running), [], 'nothing of the tree runs when the keeper has exited');
});

test('`stop MS`: SIGTERM first; a worker that ignores it gets SIGKILL after MS', async () => {
  const kept = keep(['-c', 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print("ready", flush=True); time.sleep(300)']);
  await until('the worker is ready', () => kept.lines.includes('ready'));
  const asked = Date.now();
  kept.proc.stdin.write('stop 300\n');
  const { report } = await kept.ended;
  const took = Date.now() - asked;
  assert.deepEqual(report, { code: null, signal: 'SIGKILL' });
  assert.ok(took >= 300, `SIGKILL came after the grace (${took} ms)`);
});

test('`stop MS`: a worker that exits on SIGTERM ends the stop at once', async () => {
  const kept = keep(['-c', 'import time; print("ready", flush=True); time.sleep(300)']);
  await until('the worker is ready', () => kept.lines.includes('ready'));
  kept.proc.stdin.write('stop 60000\n');
  const { report } = await kept.ended;
  assert.deepEqual(report, { code: null, signal: 'SIGTERM' });
});

test('the worker’s exit code is reported and is the keeper’s own; what it left behind is ended', async () => {
  const kept = keep(['-c', 'import os, subprocess; p = subprocess.Popen(["sleep", "314"]); print("child", p.pid, flush=True); os._exit(7)']);
  const { report, code } = await kept.ended;
  assert.deepEqual(report, { code: 7, signal: null });
  assert.equal(code, 7);
  const child = Number(kept.lines.find((l) => l.startsWith('child '))?.split(' ')[1]);
  assert.equal(running(child), false);
});

test('an exec’d worker gets the interpreter’s flags; a script runs in the keeper’s own interpreter', async () => {
  const flags = keep(['-c', 'import sys; print("dev_mode", sys.flags.dev_mode, flush=True)'], { interpreter: [python, '-X', 'dev'] });
  await flags.ended;
  assert.ok(flags.lines.includes('dev_mode True'), flags.lines.join('\n'));
  const script = path.join(projectRoot, 'test', 'fixtures', 'plugins', 'echo_plugin.py');
  const inProcess = keep([script]); // a module that defines a class and exits: nothing to run
  const { report } = await inProcess.ended;
  assert.deepEqual(report, { code: 0, signal: null });
});

test('a stdin that is not a pipe: the keeper watches the host’s pid instead', async () => {
  const fakeHost = spawn('sleep', ['300'], { stdio: 'ignore' });
  const proc = spawn(python, [KEEPER, '--host-pid', String(fakeHost.pid), '--', '-c', 'import time; time.sleep(300)'], {
    env: { ...process.env, RPP_KEEPER_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
  await until('the keeper announced the worker', () => out.includes('"worker"'));
  const worker = Number(/"worker": (\d+)/.exec(out)?.[1]);
  assert.ok(running(worker));
  fakeHost.kill('SIGKILL');
  await new Promise((resolve) => proc.once('close', resolve));
  assert.equal(running(worker), false);
  assert.match(out, /"signal": "SIGKILL"/);
});

test('behind a wrapper that does not exec, the keeper ends the wrapper too', async () => {
  const kept = keep(['-c', 'import time; print("ready", flush=True); time.sleep(300)'], { interpreter: [WRAPPER], env: { RPP_REAL_PYTHON: python } });
  const { keeper, worker } = await kept.started;
  const wrapper = kept.proc.pid as number;
  assert.notEqual(keeper, wrapper, 'the keeper is the wrapper’s child');
  assert.equal(statField(keeper, 1), wrapper);
  await until('the worker is ready', () => kept.lines.includes('ready'));
  kept.proc.stdin.end();
  const { report } = await kept.ended;
  assert.deepEqual(report, { code: null, signal: 'SIGKILL' });
  // The wrapper dies of the keeper's last SIGKILL, at the moment the pipes close: give the kernel that moment.
  await until('wrapper, keeper and worker are gone', () => [wrapper, keeper, worker].filter(running).length === 0, 2000);
});
