import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PluginError } from '../../src/core/errors';
import { materializeFileInput, withFileInput } from '../../src/core/fileInput';

test('a path stays a path (made absolute) and release leaves the file alone', async () => {
  const file = await materializeFileInput({ path: 'package.json' });
  assert.equal(file.path, path.resolve('package.json'));
  assert.equal(file.temporary, false);
  await file.release();
  assert.ok(existsSync(file.path));
});

test('a file: URI becomes its path, also with spaces and non-ASCII', async () => {
  const target = '/tmp/a dir/résumé #1.wav';
  const file = await materializeFileInput({ uri: pathToFileURL(target).href });
  assert.equal(file.path, target);
});

test('a non-file URI is refused with a message saying what to do', async () => {
  await assert.rejects(
    materializeFileInput({ uri: 'untitled:Untitled-1' }),
    (error: unknown) => error instanceof PluginError && error.kind === 'usage' && /only file: URIs.*pass its content/.test(error.message),
  );
});

test('content goes to a 0600 file in a 0700 folder and is removed on release (twice is fine)', async () => {
  const file = await materializeFileInput({ content: 'héllo', name: 'Untitled-1.txt' });
  assert.equal(file.temporary, true);
  assert.equal(path.basename(file.path), 'Untitled-1.txt');
  assert.equal(statSync(file.path).mode & 0o777, 0o600);
  assert.equal(statSync(path.dirname(file.path)).mode & 0o777, 0o700);
  assert.equal(await readFile(file.path, 'utf8'), 'héllo');
  await file.release();
  await file.release();
  assert.equal(existsSync(path.dirname(file.path)), false);
});

test('binary content is written byte for byte; a hostile name cannot leave the folder', async () => {
  const bytes = new Uint8Array([0, 255, 1, 254]);
  await withFileInput({ content: bytes, name: '../../etc/passwd' }, async (filePath) => {
    assert.equal(path.basename(filePath), 'passwd');
    assert.ok(path.dirname(filePath).startsWith(path.join(os.tmpdir(), 'rpp-input-')));
    assert.deepEqual(new Uint8Array(await readFile(filePath)), bytes);
  });
});

test('withFileInput removes the temp file when the use fails', async () => {
  let seen = '';
  await assert.rejects(
    withFileInput({ content: 'x', name: 'a.wav' }, async (filePath) => {
      seen = filePath;
      throw new Error('plugin failed');
    }),
    /plugin failed/,
  );
  assert.ok(seen.endsWith('a.wav'));
  assert.equal(existsSync(path.dirname(seen)), false);
});
