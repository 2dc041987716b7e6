// The registry against real workers: discovery, shared starts, file inputs, crashes, crash loops,
// idle stops, live reload and dispose. Manifests are written into a temp folder per test.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { PluginInfo } from '../../src/core/pluginInfo';
import { PluginRegistry, type RegistryOptions } from '../../src/core/registry';
import { fixturePlugins, python } from '../helpers/python';
import { PAD_BEYOND_UNSENT_BOUND, assertOnlyLastMayBeLost, streamLosses } from '../helpers/streamLedger';
import { waitFor } from '../helpers/waitFor';

let dir: string;
let registry: PluginRegistry | undefined;
const folders: string[] = [];

async function writeManifest(file: string, fields: Record<string, unknown>): Promise<string> {
  const manifestPath = path.join(dir, file);
  await writeFile(manifestPath, JSON.stringify({ version: '1.0.0', python_path: python, module: 'lifecycle_plugin', class: 'LifecyclePlugin', ...fields }));
  return manifestPath;
}

async function open(options: Partial<RegistryOptions> = {}): Promise<PluginRegistry> {
  // storageDir: this test's own result cache and measured use, not the user's.
  registry = await PluginRegistry.create({ pluginDirs: [dir], includeDefaultDir: false, watch: false, storageDir: path.join(dir, 'storage'), ...options });
  return registry;
}

/** Generous: the machine may be loaded. */
const WAIT_MS = 30_000;

/** Waits until a plugin is in `wanted` state ('unlisted': the registry no longer lists it). */
function untilState(reg: PluginRegistry, name: string, wanted: PluginInfo['state'] | 'unlisted'): Promise<unknown> {
  return waitFor(() => reg.get(name)?.state ?? 'unlisted', { what: `plugin "${name}" to be ${wanted}`, timeoutMs: WAIT_MS, until: (s) => s === wanted });
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

function untilGone(pid: number, whose: string): Promise<unknown> {
  return waitFor(() => !alive(pid), { what: `${whose} (pid ${pid}) to be gone`, timeoutMs: WAIT_MS });
}

const state = (reg: PluginRegistry, name: string): PluginInfo['state'] | undefined => reg.get(name)?.state;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-registry-'));
  folders.push(dir);
  process.env.PYTHONPATH = fixturePlugins; // the fixture module lives outside the manifest folder
});

afterEach(async () => {
  await registry?.dispose();
  registry = undefined;
});

after(async () => {
  await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
});

describe('PluginRegistry', () => {
  test('lists good and broken manifests with their states', async () => {
    await writeManifest('good.json', { name: 'good' });
    await writeFile(path.join(dir, 'broken.json'), '{"name": "broken", "module": 3}');
    const reg = await open();
    const byName = Object.fromEntries(reg.list().map((p) => [p.name, p]));
    assert.equal(byName.good.state, 'stopped');
    assert.equal(byName.broken.state, 'broken');
    assert.ok(byName.broken.lastError instanceof PluginError);
    assert.match(byName.broken.lastError.message, /broken\.json/);
    await assert.rejects(reg.execute('broken', {}), (e: PluginError) => e.kind === 'manifest');
    await assert.rejects(reg.execute('nope', {}), (e: PluginError) => e.kind === 'usage' && /Known plugins/.test(e.message));
  });

  test('concurrent first calls share one worker, which then stays warm', async () => {
    await writeManifest('good.json', { name: 'good' });
    const reg = await open();
    const results = (await Promise.all([1, 2, 3, 4].map((i) => reg.execute('good', { args: [i] })))) as { pid: number; args: number[] }[];
    assert.equal(new Set(results.map((r) => r.pid)).size, 1);
    assert.deepEqual(results.map((r) => r.args[0]), [1, 2, 3, 4]);
    assert.equal(state(reg, 'good'), 'ready');
    assert.equal(reg.get('good')?.pid, results[0].pid);
    const again = (await reg.execute('good', {})) as { pid: number };
    assert.equal(again.pid, results[0].pid);
  });

  test('a file goes first among the arguments, or as file_arg; content goes through a temp file that is removed', async () => {
    await writeManifest('pos.json', { name: 'pos' });
    await writeManifest('kw.json', { name: 'kw', file_arg: 'audio' });
    const reg = await open();
    const file = path.join(dir, 'input.txt');
    await writeFile(file, 'hello file');
    const pos = (await reg.execute('pos', { file: { path: file }, args: ['x'], kwargs: { k: 1 } })) as { args: string[]; kwargs: object; content: string };
    assert.deepEqual(pos.args, [file, 'x']);
    assert.equal(pos.content, 'hello file');
    const kw = (await reg.execute('kw', { file: { uri: `file://${file}` } })) as { args: string[]; kwargs: Record<string, string> };
    assert.deepEqual(kw.args, []);
    assert.equal(kw.kwargs.audio, file);
    const unsaved = (await reg.execute('pos', { file: { content: 'not on disk', name: 'Untitled-1.txt' } })) as { args: string[]; content: string };
    assert.equal(unsaved.content, 'not on disk');
    assert.ok(!existsSync(unsaved.args[0]), 'temp file removed after the call');
    assert.ok(!existsSync(path.dirname(unsaved.args[0])), 'temp folder removed after the call');
  });

  test('a crash fails the call with the exit code and stderr, and the next call restarts the worker', async () => {
    await writeManifest('good.json', { name: 'good' });
    const reg = await open();
    const first = (await reg.execute('good', {})) as { pid: number };
    await assert.rejects(reg.execute('good', { kwargs: { crash: true } }), (e: PluginError) => {
      assert.equal(e.kind, 'crash');
      assert.match(e.message, /its worker exited with code 9\b/);
      assert.match(e.detail ?? '', /about to crash/);
      return true;
    });
    await untilState(reg, 'good', 'crashed');
    assert.equal(reg.get('good')?.lastError?.kind, 'crash');
    const next = (await reg.execute('good', {})) as { pid: number };
    assert.notEqual(next.pid, first.pid);
    assert.equal(state(reg, 'good'), 'ready');
  });

  test('a crash loop stops restarting until the user restarts', async () => {
    await writeManifest('good.json', { name: 'good' });
    const reg = await open({ maxRestarts: 1 });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(reg.execute('good', { kwargs: { crash: true } }));
      await untilState(reg, 'good', 'crashed');
    }
    await assert.rejects(reg.execute('good', {}), (e: PluginError) => e.kind === 'crash-loop' && /Restart/.test(e.message));
    await reg.restart('good');
    assert.equal(state(reg, 'good'), 'ready');
    const result = (await reg.execute('good', {})) as { pid: number };
    assert.ok(alive(result.pid));
  });

  test('a stream marks the plugin busy while it runs, and a crash mid-stream fails it', async () => {
    await writeManifest('good.json', { name: 'good' });
    const reg = await open();
    const items: unknown[] = [];
    for await (const item of reg.executeStream('good', { kwargs: { count: 3 } })) {
      items.push(item);
      assert.equal(state(reg, 'good'), 'busy');
    }
    assert.equal(items.length, 3);
    assert.equal(state(reg, 'good'), 'ready');
    // The plugin dies the moment it is resumed after item 1; items are larger than what the worker may
    // hold unsent, so item 0 was sent by then and must arrive (item 1 may be lost).
    const ledger = path.join(dir, 'ledger');
    const seen: Array<{ i: number }> = [];
    await assert.rejects(async () => {
      for await (const item of reg.executeStream('good', { kwargs: { count: 5, crash_at: 2, ledger, pad: PAD_BEYOND_UNSENT_BOUND } })) seen.push(item as { i: number });
    }, (e: PluginError) => e.kind === 'crash');
    const { yielded, lost } = streamLosses(seen, ledger);
    assert.deepEqual(yielded, [0, 1]);
    assertOnlyLastMayBeLost(lost);
  });

  test('saved configuration is applied when the worker starts; a rejected one is reported and the plugin still runs', async () => {
    await writeManifest('good.json', { name: 'good' });
    await writeManifest('picky.json', { name: 'picky' });
    const configs: Record<string, Record<string, unknown>> = { good: { greeting: 'hi' }, picky: { reject: 'nope' } };
    const reg = await open({ configFor: (name) => configs[name] });
    const result = (await reg.execute('good', {})) as { config: Record<string, unknown> };
    assert.deepEqual(result.config, { greeting: 'hi' });
    assert.deepEqual(await reg.config('good'), { greeting: 'hi' });
    const picky = (await reg.execute('picky', {})) as { config: Record<string, unknown> };
    assert.deepEqual(picky.config, {});
    assert.match(reg.get('picky')?.lastError?.message ?? '', /config rejected/);
  });

  test('no call reaches a starting worker before its saved configuration is applied', async () => {
    await writeManifest('good.json', { name: 'good' });
    // A 30 MB saved configuration takes a while to send: a call made meanwhile used to overtake it.
    const config = { greeting: 'hi', padding: 'x'.repeat(30 * 1024 * 1024) };
    const reg = await open({ configFor: () => config });
    const starting = reg.start('good');
    await waitFor(() => reg.get('good')?.pid, { what: 'the worker of "good" to be spawned', timeoutMs: WAIT_MS });
    const result = (await reg.execute('good', {})) as { config: Record<string, unknown> };
    await starting;
    assert.equal(result.config.greeting, 'hi', 'the call ran before the saved configuration was applied');
  });

  test('a new maxRestarts reaches plugins that already exist', async () => {
    await writeManifest('good.json', { name: 'good' });
    const reg = await open({ maxRestarts: 1 });
    await reg.updateOptions({ maxRestarts: 3 });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(reg.execute('good', { kwargs: { crash: true } }), (e: PluginError) => e.kind === 'crash');
      await untilState(reg, 'good', 'crashed');
    }
    assert.ok(((await reg.execute('good', {})) as { pid: number }).pid > 0, 'three crashes are within the new limit of 3');
    await reg.updateOptions({ maxRestarts: 0 });
    await assert.rejects(reg.execute('good', { kwargs: { crash: true } }));
    await untilState(reg, 'good', 'crashed');
    await assert.rejects(reg.execute('good', {}), (e: PluginError) => e.kind === 'crash-loop' && /more than 0 times/.test(e.message));
  });

  test('an idle worker is stopped after the idle timeout', async () => {
    await writeManifest('good.json', { name: 'good', idle_timeout_s: 0.3 });
    const reg = await open();
    const { pid } = (await reg.execute('good', {})) as { pid: number };
    await untilState(reg, 'good', 'stopped');
    assert.equal(reg.get('good')?.pid, undefined);
    await untilGone(pid, 'the idle worker');
  });

  test('manifests added, changed and removed on disk are picked up without a restart', async () => {
    await writeManifest('a.json', { name: 'a' });
    const reg = await open({ watch: true });
    const { pid } = (await reg.execute('a', {})) as { pid: number };
    await writeManifest('b.json', { name: 'b' });
    await waitFor(() => reg.get('b'), { what: 'plugin "b" to be listed', timeoutMs: WAIT_MS });
    assert.equal(reg.get('a')?.pid, pid, 'an unchanged plugin keeps its warm worker');
    await rm(path.join(dir, 'a.json'));
    await untilState(reg, 'a', 'unlisted');
    await untilGone(pid, "the removed plugin's worker");
  });

  test('dispose stops every worker', async (t) => {
    for (const name of ['a', 'b', 'c']) await writeManifest(`${name}.json`, { name });
    const reg = await open();
    const pids = await Promise.all(['a', 'b', 'c'].map(async (name) => ((await reg.execute(name, {})) as { pid: number }).pid));
    const started = Date.now();
    await reg.dispose();
    registry = undefined;
    t.diagnostic(`dispose of 3 idle workers took ${Date.now() - started} ms (VS Code gives deactivate 5 s)`);
    for (const pid of pids) assert.ok(!alive(pid), `worker ${pid} is gone`);
  });
});
