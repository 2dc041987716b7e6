// Admission as logic, with memory figures the test controls (no machine's memory is assumed): a need
// above what is free waits with the reason, and starts when memory frees; the budget caps it; workers
// admitted but still growing count; first workers go before extra ones; idle workers of other plugins
// are evicted least recently used first, unless turned off; impossible needs fail at once; GPU needs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Admission, formatMemory, type IdleWorker, type ResourceNeed } from '../../src/core/admission';
import type { GpuSnapshot } from '../../src/core/gpuMemory';

const MB = 1024 * 1024;
const GB = 1024 * MB;

function machine(availableBytes: number, totalBytes = 16 * GB, gpus?: GpuSnapshot) {
  const figures = { availableBytes, totalBytes, gpus };
  return { figures, probe: { memory: async () => ({ availableBytes: figures.availableBytes, totalBytes: figures.totalBytes }), gpus: async () => figures.gpus } };
}

const need = (memoryMb: number, gpuMb = 0): ResourceNeed => ({ memoryBytes: memoryMb * MB, gpuMemoryBytes: gpuMb * MB });

async function until(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('Admission', () => {
  test('a need above what is free waits, says why, and starts once memory frees', async () => {
    const { figures, probe } = machine(2.1 * GB);
    const admission = new Admission({ evictIdle: true }, probe, () => []);
    const reasons: Array<string | undefined> = [];
    let admitted = false;
    const waiting = admission.admit({ plugin: 'whisper', need: need(4096), essential: true, onWaiting: (reason) => reasons.push(reason) }).then((r) => {
      admitted = true;
      return r;
    });
    await until('the reason to be given', () => reasons.length > 0);
    assert.deepEqual(reasons, ['waiting for 4.0 GB of memory; 2.1 GB free']);
    assert.equal(admitted, false);
    figures.availableBytes = 6 * GB; // another program ended
    const reservation = await waiting;
    assert.deepEqual(reasons, ['waiting for 4.0 GB of memory; 2.1 GB free', undefined], 'the reason is cleared when admitted');
    reservation.release();
    admission.dispose();
  });

  test('the budget caps what all workers may take, and admitted workers count with their need until measured', async () => {
    const { probe } = machine(64 * GB);
    const admission = new Admission({ evictIdle: false, memoryBudgetBytes: 1000 * MB }, probe, () => []);
    const first = await admission.admit({ plugin: 'a', need: need(600), essential: true });
    const reasons: Array<string | undefined> = [];
    const second = admission.admit({ plugin: 'b', need: need(500), essential: true, onWaiting: (r) => reasons.push(r) });
    await until('b to wait', () => reasons.length > 0);
    assert.equal(reasons[0], 'waiting for 500 MB of memory; 400 MB free');
    first.update({ memoryBytes: 800 * MB, gpuMemoryBytes: 0 }); // measured above its need: counts as measured
    assert.deepEqual(admission.booked(), { workers: 1, usage: { memoryBytes: 800 * MB, gpuMemoryBytes: 0 } });
    first.release();
    (await second).release();
    await assert.rejects(
      admission.admit({ plugin: 'huge', need: need(2000), essential: true }),
      (error: Error) => /needs 2\.0 GB of memory to start, but the memory budget is 1000 MB/.test(error.message),
      'a need above the budget can never fit: it fails at once',
    );
    admission.dispose();
  });

  test('a worker still growing into its need holds that room: two 3 GB starts do not both fit in 5 GB', async () => {
    const { probe } = machine(5 * GB);
    const admission = new Admission({ evictIdle: false }, probe, () => []);
    const first = await admission.admit({ plugin: 'a', need: need(3072), essential: true });
    const reasons: Array<string | undefined> = [];
    const second = admission.admit({ plugin: 'a', need: need(3072), essential: false, onWaiting: (r) => reasons.push(r) });
    await until('the second start to wait', () => reasons.length > 0);
    assert.equal(reasons[0], 'waiting for 3.0 GB of memory; 2.0 GB free');
    const abort = new AbortController();
    const cancelled = admission.admit({ plugin: 'a', need: need(3072), essential: false, signal: abort.signal });
    abort.abort();
    await assert.rejects(cancelled, /cancelled while it waited for memory/);
    first.release();
    (await second).release();
    admission.dispose();
  });

  test("first workers go before extra ones; an extra worker that does not fit blocks nobody", async () => {
    const { figures, probe } = machine(1 * GB);
    const admission = new Admission({ evictIdle: false }, probe, () => []);
    const extraReasons: Array<string | undefined> = [];
    const extra = admission.admit({ plugin: 'batch', need: need(2048), essential: false, onWaiting: (r) => extraReasons.push(r) });
    await until('the extra worker to wait', () => extraReasons.length > 0);
    const small = await admission.admit({ plugin: 'ocr', need: need(200), essential: true });
    assert.ok(small, 'a small first worker of another plugin starts although an extra worker waits');
    figures.availableBytes = 8 * GB;
    (await extra).release();
    small.release();
    admission.dispose();
  });

  test('idle workers of other plugins are stopped, least recently used first, to make room; not with the setting off', async () => {
    const { figures, probe } = machine(1 * GB);
    const stopped: string[] = [];
    const idle: IdleWorker[] = [
      { plugin: 'recent', idleSince: 3000, usage: { memoryBytes: 2 * GB, gpuMemoryBytes: 0 }, stop: async () => void stopped.push('recent') },
      { plugin: 'oldest', idleSince: 1000, usage: { memoryBytes: 2 * GB, gpuMemoryBytes: 0 }, stop: async () => void stopped.push('oldest') },
      { plugin: 'whisper', idleSince: 0, usage: { memoryBytes: 4 * GB, gpuMemoryBytes: 0 }, stop: async () => void stopped.push('whisper') },
    ];
    const off = new Admission({ evictIdle: false }, probe, () => idle);
    const reasons: Array<string | undefined> = [];
    const waiting = off.admit({ plugin: 'whisper', need: need(2500), essential: true, onWaiting: (r) => reasons.push(r) });
    await until('a reason with eviction off', () => reasons.length > 0);
    assert.equal(stopped.length, 0, 'nothing is stopped with the setting off');
    off.dispose();
    await assert.rejects(waiting, /cancelled/);

    const on = new Admission({ evictIdle: true }, {
      memory: async () => ({ availableBytes: figures.availableBytes + stopped.length * 2 * GB, totalBytes: 16 * GB }),
      gpus: async () => undefined,
    }, () => idle.filter((worker) => !stopped.includes(worker.plugin)));
    const reservation = await on.admit({ plugin: 'whisper', need: need(2500), essential: true });
    assert.deepEqual(stopped, ['oldest'], 'the least recently used idle worker of another plugin, and only as many as needed');
    reservation.release();
    on.dispose();
  });

  test('GPU memory: waits for room on a visible GPU; more than the largest GPU fails at once; without nvidia-smi it is not checked', async () => {
    const gpus: GpuSnapshot = {
      devices: [
        { index: 0, uuid: 'GPU-a', totalBytes: 24 * GB, freeBytes: 2 * GB },
        { index: 1, uuid: 'GPU-b', totalBytes: 8 * GB, freeBytes: 7 * GB },
      ],
      processes: [],
    };
    const { figures, probe } = machine(32 * GB, 64 * GB, gpus);
    const admission = new Admission({ evictIdle: false }, probe, () => []);
    (await admission.admit({ plugin: 'small', need: need(100, 6000), essential: true })).release();
    const reasons: Array<string | undefined> = [];
    const onGpu0 = admission.admit({ plugin: 'big', need: { ...need(100, 6000), cudaVisibleDevices: '0' }, essential: true, onWaiting: (r) => reasons.push(r) });
    await until('the GPU reason', () => reasons.length > 0);
    assert.equal(reasons[0], 'waiting for 5.9 GB of GPU memory; 2.0 GB free');
    gpus.devices[0]!.freeBytes = 20 * GB;
    (await onGpu0).release();
    await assert.rejects(admission.admit({ plugin: 'huge', need: need(100, 30_000), essential: true }), /needs 29\.3 GB of GPU memory, but its largest GPU has 24\.0 GB/);
    figures.gpus = undefined;
    const logged: string[] = [];
    const blind = new Admission({ evictIdle: false }, probe, () => [], (_plugin, message) => logged.push(message));
    (await blind.admit({ plugin: 'cuda', need: need(100, 6000), essential: true })).release();
    assert.match(logged[0] ?? '', /nvidia-smi was not found, so GPU memory is not checked/);
    admission.dispose();
    blind.dispose();
  });

  test('formatMemory', () => {
    assert.equal(formatMemory(4000 * MB), '3.9 GB');
    assert.equal(formatMemory(512 * MB), '512 MB');
  });
});
