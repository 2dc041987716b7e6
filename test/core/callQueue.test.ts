// The FIFO queue and the instance pool as logic: order, cancellation before the start, positions,
// dispatch to idle instances (most recently used), starts only while calls wait and withdrawn when they
// no longer do, failed starts, idle time-outs. The instances here are plain objects; the registry's
// tests run the same code with real workers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CallQueue } from '../../src/core/callQueue';
import { InstancePool, type PoolHooks } from '../../src/core/instancePool';

const cancelledError = () => new Error('cancelled');
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Waits (bounded) until the condition holds; says what it waited for. */
async function until(what: string, condition: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('CallQueue', () => {
  test('hands out in arrival order', async () => {
    const queue = new CallQueue<string>(cancelledError);
    const got: string[] = [];
    const waits = ['a', 'b', 'c'].map((name) => queue.wait().then((value) => got.push(`${name}:${value}`)));
    assert.equal(queue.length, 3);
    queue.dispatch('1');
    queue.dispatch('2');
    queue.dispatch('3');
    await Promise.all(waits);
    assert.deepEqual(got, ['a:1', 'b:2', 'c:3']);
    assert.equal(queue.dispatch('4'), false, 'nobody waits');
  });

  test('a cancelled call leaves the line at once, and those behind move up', async () => {
    const queue = new CallQueue<string>(cancelledError);
    const positions: Array<[number, number]> = [];
    const abort = new AbortController();
    const first = queue.wait();
    const second = queue.wait(abort.signal);
    const third = queue.wait(undefined, (position, length) => positions.push([position, length]));
    assert.deepEqual(positions, [[3, 3]]);
    abort.abort();
    await assert.rejects(second, /cancelled/);
    assert.equal(queue.length, 2);
    queue.dispatch('x');
    assert.equal(await first, 'x');
    queue.dispatch('y');
    assert.equal(await third, 'y', 'the cancelled call was skipped');
    assert.deepEqual(positions, [[3, 3], [2, 2], [1, 1]]);
    await assert.rejects(queue.wait(abort.signal), /cancelled/, 'an aborted signal never queues');
  });

  test('rejectAll fails every waiting call; a long line compacts and keeps its order', async () => {
    const queue = new CallQueue<number>(cancelledError);
    const many = Array.from({ length: 5000 }, () => queue.wait());
    for (let i = 0; i < 3000; i++) queue.dispatch(i);
    assert.deepEqual(await Promise.all(many.slice(0, 3000)), Array.from({ length: 3000 }, (_, i) => i));
    queue.rejectAll(new Error('plugin stopped'));
    const rest = await Promise.allSettled(many.slice(3000));
    assert.ok(rest.every((result) => result.status === 'rejected'));
    assert.equal(queue.length, 0);
  });
});

interface Fake {
  id: number;
}

/** A pool over plain objects whose starts the test releases by hand. */
function fakePool(options: { max?: number; idleMs?: number; parallel?: boolean } = {}) {
  const launches: Array<{ first: boolean; signal: AbortSignal; keep: () => void; resolve: () => void; reject: (error: Error) => void }> = [];
  const stopped: number[] = [];
  let next = 0;
  const settings = { max: options.max ?? 2, idleMs: options.idleMs ?? 0, parallel: options.parallel ?? true };
  const hooks: PoolHooks<Fake> = {
    launch: (first, signal, keep) =>
      new Promise<Fake>((resolve, reject) => {
        const instance = { id: ++next };
        launches.push({ first, signal, keep, resolve: () => resolve(instance), reject });
        signal.addEventListener('abort', () => reject(new Error('withdrawn')), { once: true });
      }),
    shutDown: async (instance) => {
      stopped.push(instance.id);
    },
    alive: () => true,
    maxInstances: () => settings.max,
    idleTimeoutMs: () => settings.idleMs,
    parallelStarts: () => settings.parallel,
    cancelledError,
    changed: () => undefined,
  };
  return { pool: new InstancePool(hooks), launches, stopped, settings };
}

describe('InstancePool', () => {
  test('starts up to max_instances while calls wait, and dispatches each call to an idle instance', async () => {
    const { pool, launches } = fakePool({ max: 2 });
    const calls = [1, 2, 3].map(() => pool.acquire());
    assert.equal(launches.length, 2, 'two starts for three waiting calls with max 2');
    assert.deepEqual(launches.map((l) => l.first), [true, false]);
    assert.deepEqual(pool.counts(), { live: 0, busy: 0, starting: 2, queued: 3 });
    launches[1]!.resolve();
    const firstServed = await calls[0]!;
    assert.equal(firstServed.id, 2, 'the first call takes the first instance ready, whichever it is');
    launches[0]!.resolve();
    const secondServed = await calls[1]!;
    assert.equal(secondServed.id, 1);
    assert.deepEqual(pool.counts(), { live: 2, busy: 2, starting: 0, queued: 1 });
    pool.release(secondServed);
    assert.equal((await calls[2]!).id, 1, 'the third call waited for an instance to come back');
  });

  test('an idle instance is reused before a new one starts; the most recently used one first', async () => {
    const { pool, launches } = fakePool({ max: 3 });
    const a = pool.acquire();
    const b = pool.acquire();
    launches[0]!.resolve();
    launches[1]!.resolve();
    const [x, y] = await Promise.all([a, b]);
    pool.release(x);
    await tick();
    pool.release(y);
    const again = await pool.acquire();
    assert.equal(again, y, 'most recently used');
    assert.equal(launches.length, 2, 'no third start: an instance was idle');
  });

  test('one start at a time while the memory need is unknown', async () => {
    const { pool, launches, settings } = fakePool({ max: 3, parallel: false });
    const calls = [1, 2, 3].map(() => pool.acquire());
    assert.equal(launches.length, 1);
    launches[0]!.resolve();
    await calls[0];
    assert.equal(launches.length, 2, 'the next start begins when the first is done');
    settings.parallel = true;
    launches[1]!.resolve();
    await calls[1];
    assert.equal(launches.length, 3);
  });

  test('starts no longer needed are withdrawn when waiting calls are cancelled', async () => {
    const { pool, launches } = fakePool({ max: 2 });
    const aborts = [new AbortController(), new AbortController()];
    const calls = aborts.map((abort) => pool.acquire(abort.signal));
    assert.equal(launches.length, 2);
    aborts[1]!.abort();
    await assert.rejects(calls[1]!, /cancelled/);
    assert.equal(launches[1]!.signal.aborted, true, 'the newest start was withdrawn');
    assert.equal(launches[0]!.signal.aborted, false);
    aborts[0]!.abort();
    await assert.rejects(calls[0]!, /cancelled/);
    assert.equal(launches[0]!.signal.aborted, true);
    await until('the withdrawn starts to settle', () => pool.counts().starting === 0);
    assert.deepEqual(pool.counts(), { live: 0, busy: 0, starting: 0, queued: 0 });
  });

  test('a start its owner keeps (a first worker already importing) is not withdrawn when its call is cancelled; Stop ends it', async () => {
    const { pool, launches } = fakePool({ max: 2 });
    const abort = new AbortController();
    const call = pool.acquire(abort.signal);
    launches[0]!.keep();
    abort.abort();
    await assert.rejects(call, /cancelled/);
    assert.equal(launches[0]!.signal.aborted, false, 'the kept start goes on');
    assert.equal(pool.counts().starting, 1);
    const stopping = pool.stopAll();
    assert.equal(launches[0]!.signal.aborted, true, 'Stop withdrew it');
    await stopping;
    assert.deepEqual(pool.counts(), { live: 0, busy: 0, starting: 0, queued: 0 });
  });

  test('a failed first start fails the waiting calls; a failed extra start leaves them to the others', async () => {
    const { pool, launches } = fakePool({ max: 2 });
    const lone = pool.acquire();
    launches[0]!.reject(new Error('ModuleNotFoundError'));
    await assert.rejects(lone, /ModuleNotFoundError/);

    const calls = [1, 2].map(() => pool.acquire());
    assert.equal(launches.length, 3);
    launches[1]!.resolve();
    const served = await calls[0]!;
    launches[2]!.reject(new Error('out of memory'));
    await tick();
    pool.release(served);
    assert.equal(await calls[1]!, served, 'the second call ran on the instance that did start');
  });

  test('any() shares one start and is never withdrawn; idle instances stop after the idle time-out', async () => {
    const { pool, launches, stopped } = fakePool({ max: 2, idleMs: 30 });
    const both = [pool.any(), pool.any()];
    assert.equal(launches.length, 1);
    launches[0]!.resolve();
    const [p, q] = await Promise.all(both);
    assert.equal(p, q);
    await until('the idle time-out to stop the instance', () => stopped.length === 1);
    assert.deepEqual(pool.counts(), { live: 0, busy: 0, starting: 0, queued: 0 });
  });

  test('stopAll with an error fails the queue; without one (a restart) the queue gets a new instance', async () => {
    const { pool, launches, stopped } = fakePool({ max: 1 });
    const first = pool.acquire();
    launches[0]!.resolve();
    const instance = await first;
    const waiting = pool.acquire();
    await pool.stopAll();
    assert.deepEqual(stopped, [instance.id]);
    assert.equal(launches.length, 2, 'a restart starts a new instance for the waiting call');
    launches[1]!.resolve();
    const fresh = await waiting;
    assert.notEqual(fresh, instance);
    const queued = pool.acquire();
    await pool.stopAll(new Error('plugin stopped'));
    await assert.rejects(queued, /plugin stopped/);
  });
});
