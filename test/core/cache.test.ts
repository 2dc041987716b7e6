// The result cache with real workers: a repeated call returns the stored result without reaching the
// plugin (the plugin counts its calls), and a change of the file, the plugin's version, its
// configuration or the arguments is a miss; streams replay; opting out (call, manifest, registry) works.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import type { FileInput } from '../../src/core/fileInput';
import type { CallProgress } from '../../src/core/pluginCall';
import { PluginRegistry, type RegistryOptions } from '../../src/core/registry';
import { fixturePlugins, python } from '../helpers/python';

interface Result {
  pid: number;
  calls: number;
  content: string;
  config: Record<string, unknown>;
}

let dir: string;
let registry: PluginRegistry | undefined;
const folders: string[] = [];

async function writeManifest(name: string, fields: Record<string, unknown> = {}): Promise<void> {
  const manifest = { name, version: '1.0.0', python_path: python, module: 'batch_plugin', class: 'BatchPlugin', env_vars: { PYTHONPATH: fixturePlugins }, ...fields };
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify(manifest));
}

async function open(options: Partial<RegistryOptions> = {}): Promise<PluginRegistry> {
  registry = await PluginRegistry.create({ pluginDirs: [dir], includeDefaultDir: false, watch: false, storageDir: path.join(dir, 'storage'), ...options });
  return registry;
}

/** Runs the plugin on the file; returns the result and whether it came from the cache. */
async function run(reg: PluginRegistry, plugin: string, file: string | FileInput, extra: { kwargs?: Record<string, unknown>; cache?: boolean } = {}): Promise<{ result: Result; cached: boolean }> {
  let cached = false;
  const onProgress = (progress: CallProgress) => {
    if (progress.kind === 'cached') cached = true;
  };
  const input = typeof file === 'string' ? { path: file } : file;
  const result = (await reg.execute(plugin, { file: input, ...extra, onProgress })) as Result;
  return { result, cached };
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-cache-workers-'));
  folders.push(dir);
});
afterEach(async () => {
  await registry?.dispose();
  registry = undefined;
});
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

describe('result cache with real workers', () => {
  test('hit, then a miss for each change: the file, the arguments, the configuration, the version', async () => {
    await writeManifest('cached');
    const file = path.join(dir, 'a.txt');
    await writeFile(file, 'first text');
    const reg = await open();

    const miss = await run(reg, 'cached', file);
    assert.equal(miss.cached, false);
    assert.equal(miss.result.calls, 1);
    const hit = await run(reg, 'cached', file);
    assert.equal(hit.cached, true, 'the same call again is served from the cache');
    assert.deepEqual(hit.result, miss.result, 'with the stored result');

    await writeFile(file, 'other text'); // same path, new content
    const changed = await run(reg, 'cached', file);
    assert.equal(changed.cached, false);
    assert.equal(changed.result.content, 'other text');
    assert.equal(changed.result.calls, 2, 'the plugin ran only for the misses');

    const copy = path.join(dir, 'copy-of-a.txt');
    await writeFile(copy, 'other text');
    assert.equal((await run(reg, 'cached', copy)).cached, true, 'the same content at another path is the same work');

    assert.equal((await run(reg, 'cached', file, { kwargs: { tag: 'x' } })).cached, false, 'other arguments');
    assert.equal((await run(reg, 'cached', file, { kwargs: { tag: 'x' } })).cached, true);

    await reg.initialize('cached', { language: 'fr' });
    const reconfigured = await run(reg, 'cached', file);
    assert.equal(reconfigured.cached, false, 'another configuration');
    assert.deepEqual(reconfigured.result.config, { language: 'fr' });

    await writeManifest('cached', { version: '1.1.0' });
    await reg.reload();
    const upgraded = await run(reg, 'cached', file);
    assert.equal(upgraded.cached, false, 'another version of the plugin');
    assert.equal((await run(reg, 'cached', file)).cached, true);
    const usage = await reg.cacheUsage();
    assert.ok(usage.entries >= 5 && usage.bytes > 0, JSON.stringify(usage));
  });

  test('the cache survives a restart; Clear Cache empties it', async () => {
    await writeManifest('kept');
    const file = path.join(dir, 'b.txt');
    await writeFile(file, 'keep me');
    const first = await open();
    await run(first, 'kept', file);
    await first.dispose();
    const second = await open();
    assert.equal((await run(second, 'kept', file)).cached, true, 'a new registry (a new rpp, a reloaded window) finds it');
    assert.equal(second.get('kept')!.state, 'stopped', 'no worker was started for a cached result');
    const freed = await second.clearCache();
    assert.ok(freed.entries >= 1);
    assert.equal((await run(second, 'kept', file)).cached, false);
  });

  test('streams are replayed item by item from the cache', async () => {
    await writeManifest('streamer');
    const file = path.join(dir, 's.txt');
    await writeFile(file, 'stream me');
    const reg = await open();
    const collect = async () => {
      const items: unknown[] = [];
      let cached = false;
      for await (const item of reg.executeStream('streamer', { file: { path: file }, kwargs: { count: 4 }, onProgress: (p) => (cached ||= p.kind === 'cached') })) items.push(item);
      return { items, cached };
    };
    const first = await collect();
    const again = await collect();
    assert.equal(first.cached, false);
    assert.equal(again.cached, true);
    assert.deepEqual(again.items, first.items);
    assert.equal(again.items.length, 4);
    const partial: unknown[] = [];
    for await (const item of reg.executeStream('streamer', { file: { path: file }, kwargs: { count: 5 } })) {
      partial.push(item);
      if (partial.length === 2) break; // a stream that did not end whole is not stored
    }
    let replayed = false;
    for await (const _ of reg.executeStream('streamer', { file: { path: file }, kwargs: { count: 5 }, onProgress: (p) => (replayed ||= p.kind === 'cached') })) void _;
    assert.equal(replayed, false);
  });

  test('unsaved content is keyed by its bytes', async () => {
    await writeManifest('buffer');
    const reg = await open();
    const call = () => run(reg, 'buffer', { content: 'not on disk', name: 'Untitled-1.txt' });
    assert.equal((await call()).cached, false);
    assert.equal((await call()).cached, true);
  });

  test('opting out: the call (--no-cache), the manifest ("cache": false), the registry (the setting)', async () => {
    await writeManifest('normal');
    await writeManifest('random', { cache: false });
    const file = path.join(dir, 'c.txt');
    await writeFile(file, 'content');
    const reg = await open();
    await run(reg, 'normal', file);
    assert.equal((await run(reg, 'normal', file, { cache: false })).cached, false, 'the call bypasses it');
    await run(reg, 'random', file);
    assert.equal((await run(reg, 'random', file)).cached, false, 'a plugin that opted out is never cached');
    await reg.updateOptions({ cache: false });
    assert.equal((await run(reg, 'normal', file)).cached, false, 'the setting turns it off');
    await reg.updateOptions({ cache: true });
    assert.equal((await run(reg, 'normal', file)).cached, true);
  });
});

describe('the same work asked for twice at once', () => {
  test('two files with the same content in one batch run the plugin once', async () => {
    await writeManifest('twice', { max_instances: 2, resources: { memory_mb: 20 } });
    const a = path.join(dir, 'a.txt');
    const b = path.join(dir, 'b.txt');
    await writeFile(a, 'same content');
    await writeFile(b, 'same content');
    const reg = await open();
    const [first, second] = await Promise.all([run(reg, 'twice', a, { kwargs: { sleep_s: 0.5 } }), run(reg, 'twice', b, { kwargs: { sleep_s: 0.5 } })]);
    assert.deepEqual(first.result, second.result, 'one result for both');
    assert.equal([first, second].filter((outcome) => outcome.cached).length, 1, 'the second waited for the first and is marked cached');
    assert.equal(first.result.calls, 1);
  });
});
