// Discovery: folders in order, files sorted, missing folders reported, duplicates named, RPP_PLUGIN_DIRS.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ManifestEntry } from '../../src/core/manifest';
import { defaultPluginDir, discoverManifests, pluginDirsFromEnv } from '../../src/core/manifestDiscovery';
import { projectRoot, python } from '../helpers/python';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests');
let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-discovery-'));
});
after(() => fs.rm(root, { recursive: true, force: true }));

function manifest(name: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ name, python_path: python, module: 'm', class: 'C', ...extra });
}

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(root, name);
  await fs.mkdir(dir, { recursive: true });
  await Promise.all(Object.entries(files).map(([file, content]) => fs.writeFile(path.join(dir, file), content)));
  return dir;
}

const nameOf = (entry: ManifestEntry): string => (entry.ok ? entry.manifest.name : entry.name);

describe('discoverManifests', () => {
  test('reads every *.json of each folder once, folders in the given order, files sorted by name', async () => {
    const a = await folder('order-a', { 'zeta.json': manifest('zeta'), 'Alpha.json': manifest('Alpha'), 'beta.JSON': manifest('beta'), 'notes.txt': 'x', '.backup.json': manifest('hidden') });
    await fs.mkdir(path.join(a, 'folder.json'));
    const b = await folder('order-b', { 'alpha.json': manifest('alpha-b') });
    const { entries, missingDirs } = await discoverManifests([b, a, `${a}/`, b], { quietDirs: [] });
    assert.deepEqual(entries.map((e) => path.relative(root, e.path)), [
      path.join('order-b', 'alpha.json'),
      path.join('order-a', 'Alpha.json'),
      path.join('order-a', 'beta.JSON'),
      path.join('order-a', 'folder.json'),
      path.join('order-a', 'zeta.json'),
    ]);
    // A folder named like a manifest is shown as broken with the reason, not skipped in silence.
    const notAFile = entries[3];
    assert.ok(!notAFile.ok && /folder\.json: is a folder, not a manifest file/.test(notAFile.error.message), JSON.stringify(notAFile));
    assert.ok(entries.filter((e) => e !== notAFile).every((e) => e.ok));
    assert.deepEqual(missingDirs, []);
  });

  test('folders named explicitly that do not exist are reported; quiet ones (the default) are not', async () => {
    const present = await folder('present', { 'p.json': manifest('p') });
    const absent = path.join(root, 'absent');
    const quiet = path.join(root, 'quiet-absent');
    const aFile = path.join(present, 'p.json');
    const { entries, missingDirs } = await discoverManifests([quiet, absent, present, aFile], { quietDirs: [quiet] });
    assert.deepEqual(missingDirs, [absent, aFile]);
    assert.deepEqual(entries.map(nameOf), ['p']);
  });

  test('the default folder is quiet unless told otherwise', async () => {
    const { missingDirs } = await discoverManifests([defaultPluginDir()]);
    assert.deepEqual(missingDirs, []);
  });

  test('a duplicate name: the first file keeps it, the later one is broken and names the first', async () => {
    const first = await folder('dup-1', { 'b.json': manifest('whisper'), 'a.json': manifest('other') });
    const second = await folder('dup-2', { 'a.json': manifest('whisper', { version: '2' }) });
    const { entries } = await discoverManifests([first, second], { quietDirs: [] });
    const [other, whisper, duplicate] = entries;
    assert.equal(other.ok && whisper.ok, true);
    assert.equal(nameOf(whisper), 'whisper');
    assert.equal(whisper.path, path.join(first, 'b.json'));
    assert.equal(duplicate.ok, false);
    if (duplicate.ok) return;
    assert.equal(duplicate.name, 'whisper (2)', 'names stay unique, so the registry can show both');
    assert.equal(
      duplicate.problems[0].message,
      `${path.join(second, 'a.json')}: "name": "whisper" is already used by ${path.join(first, 'b.json')}. Rename one of the two plugins: names must be unique.`,
    );
    assert.equal(duplicate.error.kind, 'manifest');
    assert.equal(duplicate.error.options.manifestPath, path.join(second, 'a.json'));
  });

  test('a broken manifest with a duplicate name gets the duplicate problem too', async () => {
    const dir = await folder('dup-broken', { 'a.json': manifest('same'), 'b.json': manifest('same', { module: '' }) });
    const { entries } = await discoverManifests([dir], { quietDirs: [] });
    const later = entries[1];
    assert.equal(later.ok, false);
    if (later.ok) return;
    assert.deepEqual(later.problems.map((p) => p.field), ['module', 'name']);
  });

  test('a broken file named like another plugin gets a unique name, and the plugin keeps its own', async () => {
    const dir = await folder('stem-clash', { 'a.json': '{', 'b.json': manifest('a') });
    const { entries } = await discoverManifests([dir], { quietDirs: [] });
    assert.deepEqual(entries.map(nameOf), ['a (2)', 'a']);
    assert.equal(entries[1].ok, true);
  });

  test('a broken file never stops the others', async () => {
    const dir = await folder('mixed', { 'a.json': '{"name": }', 'b.json': manifest('fine'), 'c.json': '', 'd.json': '[]' });
    const { entries } = await discoverManifests([dir], { quietDirs: [] });
    assert.deepEqual(entries.map((e) => e.ok), [false, true, false, false]);
  });

  test('the sample manifests: good ones load with the relative interpreter, broken ones explain themselves', async () => {
    const good = await discoverManifests([path.join(fixtures, 'good')], { quietDirs: [] });
    assert.deepEqual(good.entries.map((e) => [nameOf(e), e.ok]), [['minimal', true], ['whisper-local', true]]);
    const whisper = good.entries[1];
    assert.ok(whisper.ok);
    assert.equal(whisper.pythonExecutable, path.join(fixtures, 'good', 'bin', 'python'));
    assert.deepEqual(whisper.manifest.file_types, ['.wav', '.mp3', '.flac']);
    assert.equal(whisper.manifest.homepage, 'https://example.invalid/whisper');

    const bad = await discoverManifests([path.join(fixtures, 'broken')], { quietDirs: [] });
    const fields = Object.fromEntries(bad.entries.map((e) => [path.basename(e.path), e.ok ? [] : e.problems.map((p) => p.field ?? '(file)')]));
    assert.deepEqual(fields, {
      'bad-name.json': ['name', 'module'],
      'empty.json': ['(file)'],
      'list.json': ['(file)'],
      'no-fields.json': ['name', 'python_path', 'module', 'class'],
      'python-missing.json': ['python_path'],
      'python-not-executable.json': ['python_path'],
      'trailing-comma.json': ['(file)'],
      'wrong-types.json': ['name', 'version', 'python_path', 'module', 'class', 'env_vars.CUDA_VISIBLE_DEVICES', 'worker', 'file_types', 'idle_timeout_s', 'startup_timeout_s'],
    });
  });
});

describe('pluginDirsFromEnv', () => {
  test('splits RPP_PLUGIN_DIRS by the path delimiter, drops empty parts, expands ~ and resolves', () => {
    const value = ['/a/plugins', '', ' ~/more ', 'relative/dir'].join(path.delimiter);
    assert.deepEqual(pluginDirsFromEnv({ RPP_PLUGIN_DIRS: value }), [
      path.resolve('/a/plugins'),
      path.join(os.homedir(), 'more'),
      path.resolve('relative/dir'),
    ]);
  });
  test('unset or empty means no extra folders', () => {
    assert.deepEqual(pluginDirsFromEnv({}), []);
    assert.deepEqual(pluginDirsFromEnv({ RPP_PLUGIN_DIRS: '' }), []);
  });
  test('the default folder is ~/.cjm/plugins', () => {
    assert.equal(defaultPluginDir(), path.join(os.homedir(), '.cjm', 'plugins'));
  });
});
