// A plugin written for cjm-plugin-system, run with `rpp` on cjm's own worker (both generations) and on
// the bundled worker: its errors are plugin errors (exit 1, its own message), and `rpp stats` prints the
// project's one stats shape whichever worker answered.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as esbuild from 'esbuild';
import { assertMatchesSchema } from '../helpers/protocol';
import { projectRoot } from '../helpers/python';
import { cjmPython, cjmPythonPath, writeCjmStylePlugin } from './cjmWorkerFixture';

let dir: string;
let input: string;
let cli: string;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `rpp` bundled as esbuild.mjs does, into a file of this test's own (cli.test.ts rebuilds dist/cli.js meanwhile). */
async function bundleCli(): Promise<string> {
  const outfile = path.join(projectRoot, 'node_modules', '.cache', 'rpp-cjm-test', `cli-${process.pid}.js`);
  await esbuild.build({
    entryPoints: [path.join(projectRoot, 'src', 'cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: "const importMetaUrl = require('url').pathToFileURL(__filename).href;" },
  });
  return outfile;
}

/** Runs `rpp`; killed if it outlives 60 s. */
function rpp(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args, '--plugins-dir', dir], {
      cwd: projectRoot,
      env: { ...process.env, HOME: dir, RPP_PLUGIN_DIRS: '' },
    });
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    });
  });
}

const PLUGINS = ['cjm-early', 'cjm-current', 'bundled'] as const;

before(async () => {
  cli = await bundleCli();
  dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-cjm-'));
  writeCjmStylePlugin(dir);
  input = path.join(dir, 'input.wav');
  await writeFile(input, 'RIFF');
  const base = { version: '1.2.3', python_path: cjmPython, module: 'cjm_style_plugin', class: 'CjmStylePlugin' };
  const env = (generation?: string) => ({ PYTHONPATH: cjmPythonPath(dir), ...(generation ? { CJM_WORKER_GENERATION: generation } : {}) });
  await writeFile(path.join(dir, 'cjm-early.json'), JSON.stringify({ ...base, name: 'cjm-early', worker: 'cjm', env_vars: env('early') }));
  await writeFile(path.join(dir, 'cjm-current.json'), JSON.stringify({ ...base, name: 'cjm-current', worker: 'cjm', env_vars: env('current') }));
  await writeFile(path.join(dir, 'bundled.json'), JSON.stringify({ ...base, name: 'bundled', env_vars: env() }));
});
after(() => Promise.all([rm(dir, { recursive: true, force: true }), rm(cli, { force: true })]));

for (const plugin of PLUGINS) {
  test(`${plugin}: rpp run, a rejected --config and a failed call exit 1 with the plugin's message`, async () => {
    const ok = await rpp(['run', plugin, input, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual((JSON.parse(ok.stdout) as { args: unknown[] }).args, [input]);

    const config = await rpp(['run', plugin, input, '--config', '{"model": "huge"}']);
    assert.equal(config.code, 1, config.stderr);
    assert.match(config.stderr, /^rpp: (ValueError: )?unknown model 'huge': choose tiny or base$/m);

    const failed = await rpp(['run', plugin, input, '--arg', 'action=raise', '--arg', 'why=speaker']);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /^rpp: (KeyError: )?'speaker'$/m);
  });

  test(`${plugin}: rpp stream prints the items, then the plugin's error, and exits 1`, async () => {
    const result = await rpp(['stream', plugin, input, '--arg', 'items=[{"i":0},{"i":1}]', '--arg', 'fail=decoder lost sync']);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown), [{ i: 0 }, { i: 1 }]);
    assert.match(result.stderr, /^rpp: (RuntimeError: )?decoder lost sync$/m);
  });

  test(`${plugin}: rpp stats prints the one stats shape`, async () => {
    const result = await rpp(['stats', plugin]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /NaN|undefined/);
    const stats = JSON.parse(result.stdout) as { rss_bytes: number | null };
    assertMatchesSchema('stats', stats);
    assert.ok(stats.rss_bytes !== null && stats.rss_bytes > 1_000_000, `memory of the worker's tree: ${stats.rss_bytes}`);
  });
}
