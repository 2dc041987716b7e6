// What the registry tells the UI about a plugin beyond running it: a start that failed stays visible as
// "failed" with its reason until a start succeeds; whether the plugin streams (asked from the real
// worker); a configuration the plugin rejects is a 'config' error; which files it takes.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import { PluginRegistry } from '../../src/core/registry';
import { fixturePlugins, python } from '../helpers/python';

let dir: string;
let registry: PluginRegistry | undefined;
const folders: string[] = [];

async function open(manifests: Record<string, Record<string, unknown>>): Promise<PluginRegistry> {
  for (const [name, fields] of Object.entries(manifests)) {
    await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ name, python_path: python, module: 'lifecycle_plugin', class: 'LifecyclePlugin', ...fields }));
  }
  registry = await PluginRegistry.create({ pluginDirs: [dir], includeDefaultDir: false, watch: false });
  return registry;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rpp-states-'));
  folders.push(dir);
  process.env.PYTHONPATH = fixturePlugins;
});
afterEach(async () => {
  await registry?.dispose();
  registry = undefined;
});
after(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

describe('plugin states', () => {
  test('a failed start shows "failed" with the reason and the output, until a start succeeds', async () => {
    const reg = await open({ late: { module: 'late_module', class: 'Late' } });
    assert.equal(reg.get('late')?.state, 'stopped');
    await assert.rejects(reg.start('late'), (error: PluginError) => error.kind === 'start');
    const failed = reg.get('late')!;
    assert.equal(failed.state, 'failed');
    assert.match(failed.lastError!.message, /did not start.*ModuleNotFoundError: No module named 'late_module'/);
    assert.match(failed.lastError!.detail ?? '', /Traceback|ModuleNotFoundError/);
    // The module appears beside the manifest (its folder is on sys.path): the next use starts it.
    await writeFile(path.join(dir, 'late_module.py'), 'class Late:\n    def execute(self, *args, **kwargs):\n        return "ok"\n');
    assert.equal(await reg.execute('late', {}), 'ok');
    assert.equal(reg.get('late')?.state, 'ready');
    assert.equal(reg.get('late')?.lastError, undefined);
  });

  test('streams() asks the worker whether the class has execute_stream', async () => {
    const reg = await open({ streaming: {}, single: { module: 'echo_plugin', class: 'ExecuteOnlyPlugin' } });
    assert.equal(await reg.streams('streaming'), true);
    assert.equal(await reg.streams('single'), false);
    assert.equal(reg.get('single')?.state, 'ready', 'asking started the worker, which stays warm for the run');
  });

  test('progress() never starts a worker', async () => {
    const reg = await open({ idle: {} });
    assert.equal(await reg.progress('idle'), undefined);
    assert.equal(reg.get('idle')?.state, 'stopped');
  });

  test('a configuration the plugin rejects is a "config" error in its own words', async () => {
    const reg = await open({ picky: {} });
    await assert.rejects(
      reg.initialize('picky', { reject: 'bad value' }),
      (error: PluginError) => error.kind === 'config' && /^picky rejected its configuration: .*config rejected/.test(error.message) && error.job !== undefined,
    );
    assert.equal(reg.get('picky')?.state, 'ready', 'the worker keeps running with its previous configuration');
  });

  test('refusal() applies the file rule and names the plugins that would take the file', async () => {
    const reg = await open({ audio: { file_types: ['.wav'] }, any: {} });
    assert.equal(reg.refusal('audio', { path: '/x/a.WAV', isFolder: false }), undefined);
    assert.equal(reg.refusal('audio', { path: '/x/a.png', isFolder: false }), 'audio does not take a.png: it takes .wav files, not .png files. Plugins that take it: any.');
    assert.throws(() => reg.refusal('nope', { path: '/x/a.png', isFolder: false }), /No plugin named "nope"/);
  });
});
