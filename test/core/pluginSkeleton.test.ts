// The plugin skeleton that `Plugins: Create Plugin…` writes: it loads, runs as-is through the real
// worker on a real file, streams two items, and never overwrites anything.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import { readManifest } from '../../src/core/manifest';
import { pythonClassName, pythonModuleName, writePluginSkeleton } from '../../src/core/pluginSkeleton';
import { PluginWorker } from '../../src/core/pluginWorker';
import { python, workerScript } from '../helpers/python';
import { waitFor } from '../helpers/waitFor';

let dir: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-skeleton-'));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('module and class names come from the plugin name and cannot shadow the standard library', () => {
  assert.equal(pythonModuleName('word-count'), 'word_count_plugin');
  assert.equal(pythonClassName('word-count'), 'WordCountPlugin');
  assert.equal(pythonModuleName('json'), 'json_plugin');
  assert.equal(pythonClassName('my.ocr_plugin'), 'MyOcrPlugin');
  assert.equal(pythonModuleName('3d-scan'), 'p3d_scan_plugin');
  assert.equal(pythonClassName('3d-scan'), 'P3dScanPlugin');
});

test('the skeleton loads as a manifest, runs as-is and streams two items; print() goes to the log', async () => {
  const folder = path.join(dir, 'new', 'word-count'); // created on the way
  const files = await writePluginSkeleton({ folder, name: 'word-count', pythonPath: python });
  assert.deepEqual(files, { manifestPath: path.join(folder, 'word-count.json'), modulePath: path.join(folder, 'word_count_plugin.py') });

  const entry = await readManifest(files.manifestPath);
  assert.ok(entry.ok, entry.ok ? '' : entry.problems.map((problem) => problem.message).join('; '));
  assert.deepEqual([entry.manifest.module, entry.manifest.class, entry.pythonExecutable], ['word_count_plugin', 'WordCountPlugin', python]);

  const input = path.join(dir, 'input.txt');
  const content = 'one two three\n'.repeat(1000);
  await fs.writeFile(input, content);
  const log: string[] = [];
  const worker = await PluginWorker.start({
    manifest: entry.manifest,
    manifestPath: entry.path,
    pythonExecutable: entry.pythonExecutable,
    workerScript,
    startupTimeoutMs: 60_000,
    onStderrLine: (line) => log.push(line),
  });
  try {
    const items: unknown[] = [];
    for await (const item of worker.executeStream([input], {})) items.push(item);
    const digest = createHash('sha256').update(content).digest('hex');
    assert.deepEqual(items, [
      { type: 'info', file: input, size_bytes: content.length },
      { type: 'done', algorithm: 'sha256', digest },
    ]);
    await worker.initialize({ algorithm: 'md5' });
    const result = await worker.execute([input], {});
    assert.deepEqual(result, { file: input, size_bytes: content.length, algorithm: 'md5', digest: createHash('md5').update(content).digest('hex') });
    const schema = (await worker.configSchema()) as { properties: { algorithm: { default: string } } };
    assert.equal(schema.properties.algorithm.default, 'sha256');
    await waitFor(() => log.some((line) => line.includes(`word-count: reading ${input}`)), { what: `the plugin's log line "word-count: reading ${input}"`, timeoutMs: 30_000 });
  } finally {
    await worker.dispose();
  }
});

test('an existing file is never overwritten, and the error names it', async () => {
  const folder = path.join(dir, 'taken');
  await fs.mkdir(folder);
  const modulePath = path.join(folder, 'taken_plugin.py');
  await fs.writeFile(modulePath, '# mine\n');
  await assert.rejects(
    writePluginSkeleton({ folder, name: 'taken', pythonPath: 'python3' }),
    (error: unknown) => error instanceof PluginError && error.kind === 'usage' && error.message === `${modulePath} already exists; the skeleton never overwrites a file. Choose another name or folder.`,
  );
  assert.equal(await fs.readFile(modulePath, 'utf8'), '# mine\n');
  assert.deepEqual(await fs.readdir(folder), ['taken_plugin.py'], 'no manifest was written either');
});

test('a bad name or an empty interpreter is refused with what to do', async () => {
  await assert.rejects(
    writePluginSkeleton({ folder: dir, name: 'my plugin!', pythonPath: 'python3' }),
    /"my plugin!" cannot be a plugin name: use letters, digits, "\.", "_" and "-"/,
  );
  await assert.rejects(writePluginSkeleton({ folder: dir, name: '42', pythonPath: 'python3' }), /needs at least one letter/);
  await assert.rejects(writePluginSkeleton({ folder: dir, name: 'fine', pythonPath: ' ' }), /Choose the Python interpreter the plugin runs with/);
});
