// What the admission reads: the machine's memory, a real process tree's memory (a Python process that
// holds 60 MB and a child that holds 40 MB), GPU figures from nvidia-smi, and the store of measured use.
// This machine has no GPU: a FAKE nvidia-smi (a shell script on PATH that prints what a real one prints
// for the same queries) stands in for it, to check the parsing and the mapping of GPU memory to a tree.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GpuMonitor, gpuBytesOf, parseComputeApps, parseGpuDevices, visibleDevices } from '../../src/core/gpuMemory';
import { processTree, processTreeMemory } from '../../src/core/processTree';
import { ResourceStore } from '../../src/core/resourceStore';
import { parseMeminfo, systemMemory } from '../../src/core/systemMemory';
import { writeFakeNvidiaSmi } from '../helpers/fakeNvidiaSmi';
import { python } from '../helpers/python';

const MB = 1024 * 1024;
let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-resources-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

describe('system memory', () => {
  test('parses /proc/meminfo, with and without MemAvailable', () => {
    assert.deepEqual(parseMeminfo('MemTotal:       16000 kB\nMemFree:   1000 kB\nMemAvailable:    8000 kB\nCached: 5000 kB\n'), {
      totalBytes: 16000 * 1024,
      availableBytes: 8000 * 1024,
    });
    assert.deepEqual(parseMeminfo('MemTotal: 16000 kB\nMemFree: 1000 kB\nCached: 5000 kB\n'), { totalBytes: 16000 * 1024, availableBytes: 6000 * 1024 });
    assert.equal(parseMeminfo('nothing'), undefined);
  });

  test('the machine has some memory available, less than its total', async () => {
    const memory = await systemMemory();
    assert.ok(memory.availableBytes > 0 && memory.availableBytes <= memory.totalBytes, JSON.stringify(memory));
  });
});

describe('process tree memory', () => {
  let parent: ChildProcess;
  let childPid: number;

  before(async () => {
    // The parent holds 60 MB and starts a child that holds 40 MB; both then sleep.
    const code = `
import subprocess, sys, time
held = bytearray(60 * 1024 * 1024)
child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(40 * 1024 * 1024); print(1, flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
child.stdout.readline()
print(child.pid, flush=True)
time.sleep(60)
`;
    parent = spawn(python, ['-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    childPid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the test processes did not start within 20 s')), 20_000);
      parent.stdout!.once('data', (data: Buffer) => {
        clearTimeout(timer);
        resolve(Number(data.toString().trim()));
      });
    });
  });
  after(() => {
    process.kill(childPid, 'SIGKILL');
    parent.kill('SIGKILL');
  });

  test('finds the child and sums the tree: at least the 100 MB held, peak not below the current', async () => {
    assert.deepEqual(await processTree(parent.pid!), [parent.pid, childPid]);
    const memory = await processTreeMemory(parent.pid!);
    assert.ok(memory, 'figures for a live tree');
    assert.deepEqual(memory.pids, [parent.pid, childPid]);
    assert.ok(memory.rssBytes >= 100 * MB, `tree RSS ${Math.round(memory.rssBytes / MB)} MB`);
    assert.ok(memory.peakBytes >= memory.rssBytes);
    const childOnly = await processTreeMemory(childPid);
    assert.ok(childOnly && childOnly.rssBytes >= 40 * MB && childOnly.rssBytes < memory.rssBytes);
  });

  test('a process that does not exist has no tree', async () => {
    assert.deepEqual(await processTree(2 ** 22 + 12345), []);
    assert.equal(await processTreeMemory(2 ** 22 + 12345), undefined);
  });
});

describe('GPU memory (FAKE nvidia-smi: this machine has no GPU)', () => {
  const gpus = '0, GPU-aaaa-1111, 24576, 20000\n1, GPU-bbbb-2222, 12288, [N/A]\n2, GPU-cccc-3333, 12288, 1024\n';

  test('parses the GPUs and the compute apps, skipping unreadable rows', () => {
    assert.deepEqual(parseGpuDevices(gpus), [
      { index: 0, uuid: 'GPU-aaaa-1111', totalBytes: 24576 * MB, freeBytes: 20000 * MB },
      { index: 2, uuid: 'GPU-cccc-3333', totalBytes: 12288 * MB, freeBytes: 1024 * MB },
    ]);
    assert.deepEqual(parseComputeApps('4242, GPU-aaaa-1111, 3000\n[N/A], GPU-aaaa-1111, 10\n77, GPU-cccc-3333, [N/A]\n\n'), [
      { pid: 4242, gpuUuid: 'GPU-aaaa-1111', usedBytes: 3000 * MB },
    ]);
  });

  test('CUDA_VISIBLE_DEVICES picks the GPUs a plugin may use (index, UUID prefix, -1 hides all)', () => {
    const snapshot = { devices: parseGpuDevices(gpus), processes: [] };
    assert.deepEqual(visibleDevices(snapshot, undefined).map((d) => d.index), [0, 2]);
    assert.deepEqual(visibleDevices(snapshot, '2').map((d) => d.index), [2]);
    assert.deepEqual(visibleDevices(snapshot, 'GPU-cccc,0').map((d) => d.index), [2, 0]);
    assert.deepEqual(visibleDevices(snapshot, '-1').map((d) => d.index), []);
  });

  test('runs nvidia-smi from PATH and maps per-process GPU memory to a process tree', async () => {
    const fake = path.join(dir, 'fake-gpu');
    await writeFakeNvidiaSmi(fake, gpus, `${process.pid}, GPU-aaaa-1111, 3000\n999999, GPU-aaaa-1111, 500\n`);
    const monitor = new GpuMonitor('nvidia-smi', { ...process.env, PATH: `${fake}${path.delimiter}${process.env.PATH}` });
    const snapshot = await monitor.snapshot();
    assert.ok(snapshot, 'the fake nvidia-smi was found on PATH');
    assert.equal(snapshot.devices.length, 2);
    assert.equal(gpuBytesOf(snapshot, [process.pid]), 3000 * MB, 'only the processes of the tree count');
  });

  test('without nvidia-smi there are no GPU figures', async () => {
    const empty = path.join(dir, 'empty-path');
    await fs.mkdir(empty, { recursive: true });
    assert.equal(await new GpuMonitor('nvidia-smi', { PATH: empty }).snapshot(), undefined);
  });
});

describe('ResourceStore', () => {
  test('remembers the peak of the last lives per key, across instances (restarts)', async () => {
    const file = path.join(dir, 'resources.json');
    const key = ResourceStore.keyOf('whisper', '1.0.0', { model: 'base' });
    assert.equal(key, ResourceStore.keyOf('whisper', '1.0.0', { model: 'base' }));
    assert.notEqual(key, ResourceStore.keyOf('whisper', '1.0.0', { model: 'large' }), 'the configuration is part of the key');
    assert.notEqual(key, ResourceStore.keyOf('whisper', '1.1.0', { model: 'base' }), 'the version is part of the key');
    const store = new ResourceStore(file);
    await store.load();
    assert.equal(store.get(key), undefined);
    await store.record(key, 900 * MB, 0);
    await store.record(key, 1200 * MB, 2000 * MB);
    await store.record(key, 1000 * MB, 0, { replaceLast: true }); // a running life's figure replaced by a later one
    await store.flush();
    const again = new ResourceStore(file);
    await again.load();
    const use = again.get(key);
    assert.ok(use);
    assert.equal(use.memoryBytes, 1000 * MB);
    assert.equal(use.gpuMemoryBytes, 0);
    assert.equal(use.lives, 2);
    for (let i = 0; i < 5; i++) await again.record(key, 300 * MB, 0);
    assert.equal(again.get(key)?.memoryBytes, 300 * MB, 'only the last five lives count');
  });
});
