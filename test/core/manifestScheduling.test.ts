// The manifest fields of the queue, the admission and the result cache: max_instances, resources, cache.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkManifestValue, type ManifestEntry } from '../../src/core/manifest';
import { python } from '../helpers/python';

let dir: string;
const valid = { name: 'demo', python_path: python, module: 'demo_pkg.plugin', class: 'DemoPlugin' };

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-manifest-scheduling-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

const check = (value: Record<string, unknown>) => checkManifestValue(path.join(dir, 'demo.json'), { ...valid, ...value });

function problem(entry: ManifestEntry, field: string): string {
  assert.equal(entry.ok, false, 'expected a broken entry');
  const found = (entry as Extract<ManifestEntry, { ok: false }>).problems.find((p) => p.field === field);
  assert.ok(found, `no problem about ${field}`);
  return found.message;
}

describe('max_instances, resources and cache', () => {
  test('are kept when valid, absent when not given', async () => {
    const entry = await check({ max_instances: 3, resources: { memory_mb: 4000, gpu_memory_mb: 6000, note: 'kept' }, cache: false });
    assert.ok(entry.ok);
    assert.equal(entry.manifest.max_instances, 3);
    assert.deepEqual(entry.manifest.resources, { memory_mb: 4000, gpu_memory_mb: 6000, note: 'kept' });
    assert.equal(entry.manifest.cache, false);
    const plain = await check({});
    assert.ok(plain.ok);
    assert.equal(plain.manifest.max_instances, undefined);
    assert.equal(plain.manifest.resources, undefined);
    assert.equal(plain.manifest.cache, undefined);
  });

  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['max_instances zero', { max_instances: 0 }, 'max_instances', /"max_instances" must be a whole number from 1 to 64 .*found a number \(0\)/],
    ['max_instances a fraction', { max_instances: 1.5 }, 'max_instances', /whole number/],
    ['max_instances a string', { max_instances: '2' }, 'max_instances', /found a string \("2"\)/],
    ['max_instances too many', { max_instances: 1000 }, 'max_instances', /from 1 to 64/],
    ['resources a number', { resources: 4000 }, 'resources', /"resources" must be an object such as \{"memory_mb": 4000/],
    ['resources.memory_mb negative', { resources: { memory_mb: -1 } }, 'resources.memory_mb', /"resources\.memory_mb" must be a number of megabytes/],
    ['resources.gpu_memory_mb a string', { resources: { gpu_memory_mb: '6 GB' } }, 'resources.gpu_memory_mb', /found a string \("6 GB"\)/],
    ['cache a string', { cache: 'false' }, 'cache', /"cache" must be true or false/],
  ];
  for (const [label, change, field, expected] of cases) {
    test(label, async () => {
      const message = problem(await check(change), field);
      assert.ok(message.startsWith(path.join(dir, 'demo.json')), message);
      assert.match(message, expected);
    });
  }
});
