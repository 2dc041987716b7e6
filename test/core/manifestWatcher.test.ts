// The watcher: add/change/remove each give a callback, a burst gives one, folders that appear later are
// picked up, and dispose() leaves no watcher or timer behind. Waits are bounded, never fixed sleeps.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { watchManifestDirs } from '../../src/core/manifestWatcher';
import { waitFor } from '../helpers/waitFor';

const WAIT_LIMIT_MS = 10_000;
let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-watch-'));
});
after(() => fs.rm(root, { recursive: true, force: true }));

/** Counts callbacks and lets a test wait for the next one, failing after a generous limit. */
function callbackCounter() {
  let count = 0;
  let waiters: Array<() => void> = [];
  return {
    get count() {
      return count;
    },
    onChange: () => {
      count++;
      const ready = waiters;
      waiters = [];
      for (const resolve of ready) resolve();
    },
    next(what: string): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no callback within ${WAIT_LIMIT_MS} ms after: ${what}`)), WAIT_LIMIT_MS);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** Handles and timers of this process, by type, to see that dispose() leaves nothing behind. */
function resources(): string[] {
  return process.getActiveResourcesInfo().filter((type) => type === 'FSEventWrap' || type === 'Timeout').sort();
}

test('a manifest added, changed and removed each give a callback', async (t) => {
  const dir = path.join(root, 'crud');
  await fs.mkdir(dir);
  const calls = callbackCounter();
  const watcher = watchManifestDirs([dir], calls.onChange, { debounceMs: 50 });
  t.after(() => watcher.dispose());
  const file = path.join(dir, 'p.json');

  let next = calls.next('add');
  await fs.writeFile(file, '{}');
  await next;
  next = calls.next('change');
  await fs.writeFile(file, '{"name": "p"}');
  await next;
  next = calls.next('remove');
  await fs.rm(file);
  await next;
  assert.ok(calls.count >= 3);
});

test('a burst of changes gives one callback', async (t) => {
  const dir = path.join(root, 'burst');
  await fs.mkdir(dir);
  const calls = callbackCounter();
  // A long quiet time, so that the burst (written in one go) is certainly inside it on a slow machine.
  const watcher = watchManifestDirs([dir], calls.onChange, { debounceMs: 1000 });
  t.after(() => watcher.dispose());

  let next = calls.next('burst');
  await Promise.all(Array.from({ length: 20 }, (_, i) => fs.writeFile(path.join(dir, `m${i}.json`), '{}')));
  await next;
  // A later change gives the second callback; a split burst would have given one more before it.
  next = calls.next('one more change');
  await fs.writeFile(path.join(dir, 'last.json'), '{}');
  await next;
  assert.equal(calls.count, 2);
});

test('files that are not manifests are ignored: the callback comes from the manifest only', async (t) => {
  const dir = path.join(root, 'others');
  await fs.mkdir(dir);
  const calls = callbackCounter();
  const watcher = watchManifestDirs([dir], calls.onChange, { debounceMs: 1000 });
  t.after(() => watcher.dispose());
  await fs.writeFile(path.join(dir, 'notes.txt'), 'x');
  await fs.writeFile(path.join(dir, '.hidden.json'), 'x');
  const next = calls.next('manifest after non-manifests');
  await fs.writeFile(path.join(dir, 'p.json'), '{}');
  await next;
  assert.equal(calls.count, 1);
});

test('a folder that appears later, and one that is removed and comes back, are watched', async (t) => {
  const dir = path.join(root, 'later');
  const calls = callbackCounter();
  const watcher = watchManifestDirs([dir], calls.onChange, { debounceMs: 20, recheckMs: 50 });
  t.after(() => watcher.dispose());

  let next = calls.next('folder created');
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'p.json'), '{}');
  await next;
  next = calls.next('manifest added in the new folder');
  await fs.writeFile(path.join(dir, 'q.json'), '{}');
  await next;

  next = calls.next('folder removed');
  await fs.rm(dir, { recursive: true });
  await next;
  next = calls.next('folder back');
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'r.json'), '{}');
  await next;
});

test('dispose closes every watcher and timer, also with a callback pending', async () => {
  const timeouts = (): number => resources().filter((type) => type === 'Timeout').length;
  const before = resources();
  const present = path.join(root, 'dispose');
  await fs.mkdir(present);
  let calls = 0;
  const watcher = watchManifestDirs([present, path.join(root, 'dispose-missing'), present], () => calls++, { debounceMs: 100_000 });
  const watching = timeouts();
  assert.ok(resources().length > before.length, 'watching holds resources');
  await fs.writeFile(path.join(present, 'p.json'), '{}');
  // Dispose once the event has arrived and its debounce timer is pending (polled, bounded).
  await waitFor(timeouts, { what: 'the debounce timer of the change event', timeoutMs: WAIT_LIMIT_MS, until: (n) => n > watching });
  watcher.dispose();
  watcher.dispose(); // twice is harmless
  assert.deepEqual(resources(), before);
  assert.equal(calls, 0);
});
