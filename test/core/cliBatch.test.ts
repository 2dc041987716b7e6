// `rpp run` over many files, as users run it (the bundled dist/cli.js, real workers): a folder with one
// failing file (exit 1, one JSON line per file), --jobs, the cache on a re-run ("cached": true) and
// --no-cache, --resume after fixing the failing file, and usage errors.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixturePlugins, projectRoot, python } from '../helpers/python';

/**
 * `rpp` bundled by esbuild.mjs into a folder of this test's own (cli.test.ts rebuilds dist/ meanwhile),
 * inside the project, where the bundle finds worker/ as the installed one does.
 */
const bundleDir = path.join(projectRoot, 'node_modules', '.cache', `rpp-cli-batch-${process.pid}`);
const cli = path.join(bundleDir, 'cli.js');
let dir: string;

interface Line {
  file: string;
  ok: boolean;
  result?: { pid: number; content: string };
  error?: { kind: string; message: string };
  ms: number;
  cached?: boolean;
}

function rpp(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args, '--plugins-dir', path.join(dir, 'plugins')], {
      cwd: dir,
      env: { ...process.env, HOME: dir, XDG_CACHE_HOME: path.join(dir, 'cache-home'), RPP_PLUGIN_DIRS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rpp ${args.join(' ')} did not finish within 90 s`));
    }, 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (text: string): Line[] => text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Line);

before(async () => {
  execFileSync(process.execPath, ['esbuild.mjs', '--only=cli', `--outdir=${bundleDir}`], { cwd: projectRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-cli-batch-'));
  await mkdir(path.join(dir, 'plugins'));
  const manifest = { name: 'reader', version: '1.0.0', python_path: python, module: 'batch_plugin', class: 'BatchPlugin', env_vars: { PYTHONPATH: fixturePlugins }, file_types: ['.txt'], resources: { memory_mb: 50 } };
  await writeFile(path.join(dir, 'plugins', 'reader.json'), JSON.stringify(manifest));
  await mkdir(path.join(dir, 'scans', 'more'), { recursive: true });
  for (let i = 1; i <= 5; i++) await writeFile(path.join(dir, 'scans', i > 3 ? 'more' : '', `page ${i}.txt`), `page ${i}`);
  await writeFile(path.join(dir, 'scans', 'broken.txt'), 'FAIL');
  await writeFile(path.join(dir, 'scans', 'photo.jpg'), 'not for this plugin');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(bundleDir, { recursive: true, force: true });
});

describe('rpp run on many files', () => {
  test('--dir with one failing file: a line per accepted file, the failure in its line, exit 1', async () => {
    const run = await rpp(['run', 'reader', '--dir', 'scans', '--out', 'results.jsonl', '--jobs', '2', '--arg', 'sleep_s=0.3']);
    assert.equal(run.code, 1, run.stderr);
    const written = lines(await readFile(path.join(dir, 'results.jsonl'), 'utf8'));
    assert.deepEqual(written.map((line) => line.file).sort(), ['scans/broken.txt', 'scans/more/page 4.txt', 'scans/more/page 5.txt', 'scans/page 1.txt', 'scans/page 2.txt', 'scans/page 3.txt']);
    const failed = written.filter((line) => !line.ok);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.file, 'scans/broken.txt');
    assert.deepEqual(Object.keys(failed[0]!).sort(), ['error', 'file', 'ms', 'ok']);
    assert.match(failed[0]!.error!.message, /it says FAIL/);
    const ok = written.filter((line) => line.ok);
    assert.ok(ok.every((line) => Object.keys(line).sort().join() === 'file,ms,ok,result' && line.ms >= 0));
    assert.equal(new Set(ok.map((line) => line.result!.pid)).size, 2, '--jobs 2: two workers');
    assert.match(run.stderr, /6 of 6 files: 5 ok, 1 failed in [\d.]+ s; results in results\.jsonl/);
    assert.equal(run.stdout, '', 'with --out, stdout stays empty');
  });

  test('named files to stdout; a re-run is marked "cached"; --no-cache runs them again', async () => {
    const files = ['scans/page 1.txt', 'scans/page 2.txt'];
    const first = await rpp(['run', 'reader', ...files, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const firstLines = lines(first.stdout);
    assert.deepEqual(firstLines.map((line) => line.file).sort(), files);
    assert.ok(firstLines.every((line) => line.cached === undefined), 'the first test passed other arguments (sleep_s): not the same call');
    const second = await rpp(['run', 'reader', ...files, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.ok(lines(second.stdout).every((line) => line.cached === true), 'the same call again comes from the cache');
    const fresh = await rpp(['run', 'reader', ...files, '--no-cache']);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.ok(lines(fresh.stdout).every((line) => line.cached === undefined && line.ok));
    const single = await rpp(['run', 'reader', files[0]!, '--json']);
    assert.equal(single.code, 0);
    assert.equal((JSON.parse(single.stdout) as { content: string }).content, 'page 1', 'one file alone prints its result as before');
    assert.match(single.stderr, /rpp: result from the cache \(it took [\d.]+ s when it ran; --no-cache runs it again\)/);
    const cleared = await rpp(['clear-cache']);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /^Removed \d+ stored results \(\d+ KB\)\.$/m);
    const after = await rpp(['run', 'reader', ...files]);
    assert.ok(lines(after.stdout).every((line) => line.cached === undefined), 'nothing cached after clear-cache');
  });

  test('--resume runs only the files without a successful line, and appends', async () => {
    await writeFile(path.join(dir, 'scans', 'broken.txt'), 'fixed now');
    const resumed = await rpp(['run', 'reader', '--dir', 'scans', '--out', 'results.jsonl', '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /5 of 6 files already done in results\.jsonl; running 1\./);
    const written = lines(await readFile(path.join(dir, 'results.jsonl'), 'utf8'));
    assert.equal(written.length, 7, 'one line appended');
    assert.deepEqual(written.at(-1)!.file, 'scans/broken.txt');
    assert.equal(written.at(-1)!.ok, true);
    const again = await rpp(['run', 'reader', '--dir', 'scans', '--out', 'results.jsonl', '--resume']);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /6 of 6 files already done/);
  });

  test('usage errors exit 2 with what to do', async () => {
    const noOut = await rpp(['run', 'reader', '--dir', 'scans', '--resume']);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /--resume needs --out FILE/);
    const missing = await rpp(['run', 'reader', '--dir', 'nowhere']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot read the folder .*nowhere.*it does not exist/);
    const jobs = await rpp(['run', 'reader', '--dir', 'scans', '--jobs', '0']);
    assert.equal(jobs.code, 2);
    assert.match(jobs.stderr, /--jobs takes a whole number from 1 to 64/);
    const none = await rpp(['run', 'reader', '--dir', 'plugins']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /No file in "plugins" is for plugin "reader" \(it takes \.txt files; 1 files looked at\)/);
    const refused = await rpp(['run', 'reader', 'scans/page 1.txt', 'scans/photo.jpg']);
    assert.equal(refused.code, 2, 'a named file the plugin does not take: the file rule, before anything runs');
    assert.match(refused.stderr, /reader does not take photo\.jpg: it takes \.txt files, not \.jpg files/);
  });
});
