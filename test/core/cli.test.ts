// The `rpp` CLI as users run it: the bundled dist/cli.js, real workers, exit codes, Ctrl-C.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RULE_CASES, RULE_PLUGINS, isFolderInput } from '../helpers/fileRuleCases';
import { fixturePlugins, projectRoot, python } from '../helpers/python';
import { waitFor } from '../helpers/waitFor';

const cli = path.join(projectRoot, 'dist', 'cli.js');
let dir: string;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function rpp(args: string[], options: { onSpawn?: (pid: number) => void; pluginsDir?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args, '--plugins-dir', options.pluginsDir ?? dir], {
      env: { ...process.env, HOME: dir, PYTHONPATH: fixturePlugins, RPP_PLUGIN_DIRS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    options.onSpawn?.(child.pid!);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  execFileSync(process.execPath, ['esbuild.mjs', '--only=cli'], { cwd: projectRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-cli-'));
  const manifest = { version: '2.0.0', python_path: python, module: 'lifecycle_plugin', class: 'LifecyclePlugin' };
  await writeFile(path.join(dir, 'life.json'), JSON.stringify({ ...manifest, name: 'life' }));
  await writeFile(path.join(dir, 'input.txt'), 'file content');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface PipedResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** The CLI's largest RSS seen (sampled every 50 ms from /proc), in MB. */
  peakRssMb: number;
}

/**
 * Runs rpp with stdout into a pipe whose reader does not read for `pauseMs` (as `| (sleep 8; wc -l)`
 * does), then reads everything; samples the CLI's memory meanwhile.
 */
function rppIntoSlowPipe(args: string[], pluginsDir: string, pauseMs: number): Promise<PipedResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args, '--plugins-dir', pluginsDir], {
      env: { ...process.env, HOME: pluginsDir, PYTHONPATH: fixturePlugins, RPP_PLUGIN_DIRS: '' },
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    let peakRssMb = 0;
    const sampler = setInterval(() => {
      const rss = /VmRSS:\s+(\d+)/.exec(readProcStatus(child.pid!))?.[1];
      if (rss) peakRssMb = Math.max(peakRssMb, Number(rss) / 1024);
    }, 50);
    child.stdout.pause();
    setTimeout(() => {
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.stdout.resume();
    }, pauseMs);
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearInterval(sampler);
      resolve({ code, stdout: Buffer.concat(chunks), stderr, peakRssMb });
    });
  });
}

function readProcStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return ''; // it has exited
  }
}

describe('rpp CLI', () => {
  test('list shows the plugins with state and manifest path', async () => {
    const text = await rpp(['list']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /life 2\.0\.0 {2}\[stopped\] {2}.*life\.json/);
    const json = await rpp(['list', '--json']);
    const plugins = JSON.parse(json.stdout) as { name: string; state: string }[];
    assert.deepEqual(plugins.map((p) => [p.name, p.state]), [['life', 'stopped']]);
  });

  test('run passes the file first, --arg values parsed as JSON, --config to initialize', async () => {
    const file = path.join(dir, 'input.txt');
    const result = await rpp(['run', 'life', file, '--arg', 'n=3', '--arg', 'word=plain', '--arg', 'obj={"a":[1]}', '--config', '{"greeting":"hi"}', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const value = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual(value.args, [file]);
    assert.deepEqual(value.kwargs, { n: 3, word: 'plain', obj: { a: [1] } });
    assert.deepEqual(value.config, { greeting: 'hi' });
    assert.equal(value.content, 'file content');
  });

  test('stream prints one JSON line per item', async () => {
    const result = await rpp(['stream', 'life', path.join(dir, 'input.txt'), '--arg', 'count=4']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { i: number });
    assert.deepEqual(lines.map((l) => l.i), [0, 1, 2, 3]);
  });

  test('health, stats and schema print JSON', async () => {
    const health = await rpp(['health', 'life']);
    assert.equal(health.code, 0, health.stderr);
    assert.equal((JSON.parse(health.stdout) as { status: string }).status, 'ok');
    const stats = JSON.parse((await rpp(['stats', 'life'])).stdout) as { pid: number; rss_bytes: number };
    assert.ok(stats.pid > 0 && stats.rss_bytes > 0);
    const schema = JSON.parse((await rpp(['schema', 'life'])).stdout) as { properties: object };
    assert.ok('greeting' in schema.properties);
  });

  test('exit codes: 1 when the plugin raises (with traceback), 3 when the worker dies, 2 for usage', async () => {
    const raised = await rpp(['run', 'life', path.join(dir, 'input.txt'), '--arg', 'raise=the plugin says no']);
    assert.equal(raised.code, 1);
    assert.match(raised.stderr, /the plugin says no/);
    assert.match(raised.stderr, /Traceback[\s\S]*lifecycle_plugin\.py/);
    const crashed = await rpp(['run', 'life', path.join(dir, 'input.txt'), '--arg', 'crash=true']);
    assert.equal(crashed.code, 3);
    assert.match(crashed.stderr, /crashed: its worker exited with code 9\b[\s\S]*about to crash/);
    assert.equal((await rpp(['run', 'nope', 'x'])).code, 2);
    assert.equal((await rpp(['run', 'life'])).code, 2);
    assert.equal((await rpp(['frobnicate'])).code, 2);
    const wrongType = await rpp(['run', 'life', path.join(dir, 'input.txt'), '--config', '{"greeting": 5}']);
    assert.equal(wrongType.code, 2, 'a --config value the schema does not allow is a usage error, before the plugin sees it');
    assert.match(wrongType.stderr, /--config does not fit life's settings: greeting must be string \(got 5\)\./);
    const badConfig = await rpp(['run', 'life', 'x', '--config', '{oops']);
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /--config is not valid JSON/);
  });

  test('Ctrl-C cancels the call and leaves no worker behind', async () => {
    const pidFile = path.join(dir, 'hang.pid');
    let cliPid = 0;
    const done = rpp(['run', 'life', path.join(dir, 'input.txt'), '--arg', `hang_pidfile=${pidFile}`], { onSpawn: (pid) => (cliPid = pid) });
    const workerPid = Number(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8'), { what: `the plugin to write its pid into ${pidFile}`, timeoutMs: 30_000 }));
    process.kill(cliPid, 'SIGINT');
    const result = await done;
    assert.equal(result.code, 130);
    assert.ok(!existsSync(`/proc/${workerPid}`), 'the worker is gone');
  });
});

describe('rpp output into pipes (nothing lost, memory bounded)', () => {
  let outputDir: string;
  before(async () => {
    outputDir = await mkdtemp(path.join(os.tmpdir(), 'rpp-cli-pipes-'));
    const manifest = { version: '1.0.0', python_path: python };
    await writeFile(path.join(outputDir, 'big.json'), JSON.stringify({ ...manifest, name: 'big', module: 'reliability_plugin', class: 'ReliabilityPlugin' }));
    await writeFile(path.join(outputDir, 'fat.json'), JSON.stringify({ ...manifest, name: 'fat', module: 'bounds_plugin', class: 'BoundsPlugin' }));
    await writeFile(path.join(outputDir, 'input.txt'), 'x');
  });
  after(() => rm(outputDir, { recursive: true, force: true }));

  test('run --json of a 20 MB result into a pipe read 2 s later: every byte arrives', { timeout: 120_000 }, async () => {
    const size = 20 * 1024 * 1024;
    const result = await rppIntoSlowPipe(['run', 'big', path.join(outputDir, 'input.txt'), '--arg', 'action=huge', '--arg', `size=${size}`, '--json'], outputDir, 2000);
    assert.equal(result.code, 0, result.stderr);
    const value = JSON.parse(result.stdout.toString()) as { blob: string };
    assert.equal(value.blob.length, size);
    assert.equal(result.stdout.length, JSON.stringify(value).length + 1);
  });

  test('stream of 200,000 items into a pipe read 3 s later: every line, in order, exit code 0', { timeout: 120_000 }, async () => {
    const count = 200_000;
    const result = await rppIntoSlowPipe(['stream', 'big', path.join(outputDir, 'input.txt'), '--arg', `count=${count}`, '--arg', 'token=t'], outputDir, 3000);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.toString().trimEnd().split('\n');
    assert.equal(lines.length, count);
    lines.forEach((line, i) => i % 1000 === 0 && assert.deepEqual(JSON.parse(line), { token: 't', i }));
    assert.deepEqual(JSON.parse(lines[count - 1]), { token: 't', i: count - 1 });
  });

  test('a 400 MB stream into a pipe that is not read for 4 s: the CLI stays small (the plugin is slowed down)', { timeout: 180_000 }, async () => {
    const itemBytes = 20 * 1024;
    const count = (400 * 1024 * 1024) / itemBytes;
    const result = await rppIntoSlowPipe(['stream', 'fat', path.join(outputDir, 'input.txt'), '--arg', `count=${count}`, '--arg', `size=${itemBytes}`], outputDir, 4000);
    assert.equal(result.code, 0, result.stderr);
    let lines = 0;
    for (let at = result.stdout.indexOf(10); at !== -1; at = result.stdout.indexOf(10, at + 1)) lines++;
    assert.equal(lines, count);
    assert.ok(result.peakRssMb < 150, `the CLI grew to ${result.peakRssMb.toFixed(0)} MB`);
    console.log(`[figure] rpp stream of 400 MB into a pipe read after 4 s: CLI peak RSS ${result.peakRssMb.toFixed(0)} MB`);
  });

  test('a reader that goes away (| head -1): exit code 0 and no worker left', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [cli, 'stream', 'fat', path.join(outputDir, 'input.txt'), '--arg', 'size=100', '--arg', 'count=-1', '--plugins-dir', outputDir], {
      env: { ...process.env, HOME: outputDir, PYTHONPATH: fixturePlugins, RPP_PLUGIN_DIRS: '' },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const first = await new Promise<string>((resolve) => {
      child.stdout.once('data', (d: Buffer) => resolve(d.toString()));
      void closed.then(() => resolve(''));
    });
    assert.match(first, /^\{"i": ?0/, stderr);
    const workers = childPids(child.pid!);
    child.stdout.destroy();
    const code = await closed;
    assert.equal(code, 0, stderr);
    for (const pid of workers) assert.ok(!existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readProcStatus(pid)), `worker ${pid} is left`);
  });
});

/** The pids whose parent is `pid` (the CLI's workers). */
function childPids(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(name));
  }
  return found;
}

function readProcStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

describe('rpp run and the file rule (the shared cases of test/helpers/fileRuleCases.ts)', () => {
  let rules: string;
  before(async () => {
    rules = path.join(dir, 'rules');
    await mkdir(path.join(rules, 'inputs', 'in.wav'), { recursive: true });
    for (const plugin of RULE_PLUGINS) {
      await writeFile(path.join(rules, `${plugin.name}.json`), JSON.stringify({ ...plugin, python_path: python, module: 'echo_plugin', class: 'ExecuteOnlyPlugin' }));
    }
    for (const { input } of RULE_CASES) {
      const file = path.join(rules, 'inputs', input);
      if (isFolderInput(input)) await mkdir(file, { recursive: true });
      // Each its own content: the result cache keys a result by the file's content, and these plugins echo the path.
      else await writeFile(file, input);
    }
  });

  for (const { input, takers } of RULE_CASES) {
    test(`${input}: runs on ${takers.join(', ')}, refused by the others with the reason`, async () => {
      const file = path.join(rules, 'inputs', input.replace(/\/$/, ''));
      const results = await Promise.all(RULE_PLUGINS.map((plugin) => rpp(['run', plugin.name, file, '--json', '--plugins-dir', rules])));
      RULE_PLUGINS.forEach((plugin, index) => {
        const result = results[index]!;
        if (takers.includes(plugin.name)) {
          assert.equal(result.code, 0, `${plugin.name} should run on ${input}: ${result.stderr}`);
          assert.deepEqual(JSON.parse(result.stdout), { only: [file] });
        } else {
          assert.equal(result.code, 2, `${plugin.name} should refuse ${input}: ${result.stdout}`);
          assert.ok(result.stderr.startsWith(`rpp: ${plugin.name} does not take ${path.basename(file)}: it takes `), result.stderr);
          // The alternatives also list the CLI tests' own "life" plugin, which takes any file.
          const alternatives = /Plugins that take it: (.*)\.\n/.exec(result.stderr)?.[1]?.split(', ') ?? [];
          for (const taker of takers) assert.ok(alternatives.includes(taker), `${taker} missing from ${result.stderr}`);
        }
      });
    });
  }

  test('a missing file is a usage error that names it', async () => {
    const result = await rpp(['run', 'rule-any', path.join(dir, 'no-such-file.wav'), '--plugins-dir', rules]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no-such-file\.wav does not exist/);
  });
});
