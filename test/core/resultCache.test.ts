// The result cache and the content hasher on a real file system: keys, hits, LRU eviction under the
// size cap, damaged entries, Clear Cache; the identity fast path, and re-hashing when a file changes.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContentHasher, hashBytes } from '../../src/core/contentHash';
import { canonicalJson } from '../../src/core/canonicalJson';
import { ResultCache, type CacheKeyParts } from '../../src/core/resultCache';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-cache-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

const parts: CacheKeyParts = { content: 'sha256:aa', plugin: 'p', version: '1.0.0', config: { a: 1, b: { c: 2, d: 3 } }, args: [], kwargs: {}, kind: 'execute' };

/** Sets a file's times into the past, as for a file that was written a while ago. */
async function age(file: string, seconds = 60): Promise<void> {
  const then = new Date(Date.now() - seconds * 1000);
  await fs.utimes(file, then, then);
}

describe('cache keys', () => {
  test('the same parts give the same key whatever the order of object keys', () => {
    assert.equal(ResultCache.keyOf(parts), ResultCache.keyOf({ ...parts, config: { b: { d: 3, c: 2 }, a: 1 } }));
    assert.equal(canonicalJson({ b: 1, a: [{ y: 1, x: 2 }] }), '{"a":[{"x":2,"y":1}],"b":1}');
  });

  test('each part changes the key', () => {
    const base = ResultCache.keyOf(parts);
    const changes: Array<Partial<CacheKeyParts>> = [
      { content: 'sha256:bb' },
      { plugin: 'q' },
      { version: '1.0.1' },
      { config: { a: 2, b: { c: 2, d: 3 } } },
      { args: [1] },
      { kwargs: { lang: 'en' } },
      { kind: 'stream' },
    ];
    const keys = changes.map((change) => ResultCache.keyOf({ ...parts, ...change }));
    assert.equal(new Set([base, ...keys]).size, changes.length + 1);
  });
});

describe('ResultCache', () => {
  test('miss, put, hit (also from a second instance on the same folder), damaged entry', async () => {
    const cacheDir = path.join(dir, 'hits');
    const cache = new ResultCache(cacheDir, 10 * 1024 * 1024);
    const key = ResultCache.keyOf(parts);
    assert.equal(await cache.get(key), undefined);
    assert.equal(await cache.put(key, { kind: 'execute', value: { text: 'hello' }, ms: 12, createdAt: 1 }), true);
    assert.deepEqual((await cache.get(key))?.value, { text: 'hello' });
    const other = new ResultCache(cacheDir, 10 * 1024 * 1024);
    assert.deepEqual((await other.get(key))?.value, { text: 'hello' }, 'another process sees the entry');
    assert.deepEqual(await other.usage(), { entries: 1, bytes: (await cache.usage()).bytes });

    const file = path.join(cacheDir, 'results', key.slice(0, 2), `${key}.json`);
    await fs.writeFile(file, '{"format": 1, "kind": "exe');
    assert.equal(await cache.get(key), undefined, 'a damaged entry is a miss');
    await assert.rejects(fs.stat(file), 'and is removed');
  });

  test('the size cap evicts the least recently used entries, and a hit counts as a use', async () => {
    const value = 'x'.repeat(1000); // each entry is a little over 1 KB
    const cache = new ResultCache(path.join(dir, 'lru'), 5 * 1024);
    const keys = [0, 1, 2, 3].map((i) => ResultCache.keyOf({ ...parts, args: [i] }));
    for (const key of keys) await cache.put(key, { kind: 'execute', value, ms: 1, createdAt: 1 });
    assert.ok(await cache.get(keys[0]), 'the first entry is used again, so it is now the most recent');
    const fifth = ResultCache.keyOf({ ...parts, args: [4] });
    await cache.put(fifth, { kind: 'execute', value, ms: 1, createdAt: 1 });
    const usage = await cache.usage();
    assert.ok(usage.bytes <= 5 * 1024, `total ${usage.bytes} bytes is within the cap`);
    assert.equal(await cache.get(keys[1]), undefined, 'the least recently used entry went');
    assert.ok(await cache.get(keys[0]), 'the entry used again stayed');
    assert.ok(await cache.get(fifth), 'the new entry is there');
  });

  test('an entry larger than a quarter of the cap is not stored; a cap of 0 stores nothing', async () => {
    const cache = new ResultCache(path.join(dir, 'big'), 4000);
    assert.equal(await cache.put('ab'.repeat(32), { kind: 'execute', value: 'y'.repeat(2000), ms: 1, createdAt: 1 }), false);
    cache.setMaxBytes(0);
    assert.equal(await cache.put('cd'.repeat(32), { kind: 'execute', value: 'small', ms: 1, createdAt: 1 }), false);
    assert.deepEqual(await cache.usage(), { entries: 0, bytes: 0 });
  });

  test('stream results keep their items in order; clear() removes everything and says how much', async () => {
    const cache = new ResultCache(path.join(dir, 'clear'), 1024 * 1024);
    const key = ResultCache.keyOf({ ...parts, kind: 'stream' });
    await cache.put(key, { kind: 'stream', items: [{ i: 0 }, { i: 1 }, 'two'], ms: 5, createdAt: 1 });
    assert.deepEqual((await cache.get(key))?.items, [{ i: 0 }, { i: 1 }, 'two']);
    const freed = await cache.clear();
    assert.equal(freed.entries, 1);
    assert.ok(freed.bytes > 0);
    assert.equal(await cache.get(key), undefined);
    assert.deepEqual(await cache.usage(), { entries: 0, bytes: 0 });
  });
});

describe('ContentHasher', () => {
  test('hashes the content (sha256), large files streamed', async () => {
    const small = path.join(dir, 'small.bin');
    const large = path.join(dir, 'large.bin');
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 7);
    await fs.writeFile(small, 'hello');
    await fs.writeFile(large, bytes);
    const hasher = new ContentHasher(undefined);
    assert.equal(await hasher.hashFile(small), hashBytes('hello'));
    assert.equal(await hasher.hashFile(large), hashBytes(bytes));
    await assert.rejects(hasher.hashFile(path.join(dir, 'missing.bin')), /does not exist/);
    await assert.rejects(hasher.hashFile(dir), /is not a file/);
  });

  test('an unchanged file is not read again, also after a restart (the index is saved)', async () => {
    const file = path.join(dir, 'steady.txt');
    await fs.writeFile(file, 'steady content');
    await age(file);
    const indexFile = path.join(dir, 'steady-index.json');
    const first = new ContentHasher(indexFile);
    const hash = await first.hashFile(file);
    assert.equal(await first.hashFile(file), hash);
    assert.equal(first.readCount, 1, 'read once');
    await first.flush();
    const second = new ContentHasher(indexFile);
    assert.equal(await second.hashFile(file), hash);
    assert.equal(second.readCount, 0, 'a new process takes the hash from the saved index');
  });

  test('a change is seen: new content of the same size with the old mtime, a replaced file, a fresh file', async () => {
    const file = path.join(dir, 'changing.txt');
    await fs.writeFile(file, 'version A');
    await age(file);
    const hasher = new ContentHasher(undefined);
    const a = await hasher.hashFile(file);
    // Same size, and the mtime put back: ctime still changes, so the file is read again.
    const { mtime, atime } = await fs.stat(file);
    await fs.writeFile(file, 'version B');
    await fs.utimes(file, atime, mtime);
    const b = await hasher.hashFile(file);
    assert.notEqual(b, a);
    assert.equal(b, hashBytes('version B'));
    // Replaced by rename (a new inode), as editors save.
    await fs.writeFile(`${file}.new`, 'version C');
    await fs.rename(`${file}.new`, file);
    assert.equal(await hasher.hashFile(file), hashBytes('version C'));
    // A file written just now is read every time until it has been quiet for a moment.
    const reads = hasher.readCount;
    await hasher.hashFile(file);
    assert.equal(hasher.readCount, reads + 1, 'a fresh file is hashed again (same-tick writes keep mtime and size)');
  });
});
