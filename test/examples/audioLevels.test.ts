// The audio-levels example plugin through the real worker, on WAV files the test writes itself.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { PluginWorker } from '../../src/core/pluginWorker';
import { shapeOf } from '../../src/core/resultShapes';
import { collect, startExample } from './exampleWorker';

const RATE = 8000;
const AMPLITUDE = 16384; // half of full scale: peak -6.02 dBFS, RMS of the sine -9.03 dBFS

/** 0.5 s of digital silence, then 0.5 s of 440 Hz (220 whole periods, 44 per 100 ms chunk). */
function silenceThenTone(): number[] {
  const silence = new Array<number>(RATE / 2).fill(0);
  const tone = Array.from({ length: RATE / 2 }, (_, n) => Math.round(AMPLITUDE * Math.sin((2 * Math.PI * 440 * n) / RATE)));
  return [...silence, ...tone];
}

/** A canonical WAV: RIFF header, a 16-byte fmt chunk, the data chunk. */
function wavFile(frames: number[][], bits: 16 | 24): Buffer {
  const channels = frames[0].length;
  const bytesPerSample = bits / 8;
  const data = Buffer.alloc(frames.length * channels * bytesPerSample);
  frames.flat().forEach((sample, i) => data.writeIntLE(bits === 24 ? sample * 256 : sample, i * bytesPerSample, bytesPerSample));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(RATE, 24);
  header.writeUInt32LE(RATE * channels * bytesPerSample, 28);
  header.writeUInt16LE(channels * bytesPerSample, 32);
  header.writeUInt16LE(bits, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

let worker: PluginWorker;
let dir: string;
let mono: string;

before(async () => {
  ({ worker } = await startExample('audio-levels'));
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-audio-levels-'));
  mono = path.join(dir, 'silence-then-tone.wav');
  await fs.writeFile(mono, wavFile(silenceThenTone().map((s) => [s]), 16));
});

after(async () => {
  await worker.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

const SILENT = { rms: 0, dbfs: null, peak: 0, peak_dbfs: null };
const TONE = { rms: 0.353553, dbfs: -9.03, peak: 0.5, peak_dbfs: -6.02 };

test('execute returns the file info and overall levels', async () => {
  const { chunks, ...result } = (await worker.execute([mono], {})) as Record<string, unknown>;
  const streamed = (await collect(worker.executeStream([mono], {}))).filter((item) => item.type === 'chunk');
  assert.deepEqual(chunks, streamed.map(({ type: _type, ...chunk }) => chunk), 'the levels over time, as the stream yields them (a series the panel plots)');
  assert.equal(shapeOf(chunks as unknown[]), 'series');
  assert.deepEqual(result, {
    file: mono,
    channels: 1,
    sample_rate: RATE,
    bits_per_sample: 16,
    frames: RATE,
    duration_s: 1,
    channel: 'mix',
    // half the samples silent: RMS = 0.5 / sqrt(2) / sqrt(2) = 0.25 (to the rounding of the samples), -12.04 dBFS
    rms: 0.249998,
    dbfs: -12.04,
    peak: 0.5,
    peak_dbfs: -6.02,
  });
});

test('execute_stream yields info, one item per 100 ms chunk (silence as null dBFS), then done', async () => {
  const items = await collect(worker.executeStream([mono], {}));
  assert.equal(items.length, 12);
  assert.equal(items[0].type, 'info');
  assert.deepEqual(items.at(-1), { type: 'done', chunks: 10, duration_s: 1, rms: 0.249998, dbfs: -12.04, peak: 0.5, peak_dbfs: -6.02 });
  items.slice(1, 11).forEach((chunk, index) => {
    const expectedLevels = index < 5 ? SILENT : TONE;
    const { rms, dbfs, peak, peak_dbfs } = chunk;
    assert.deepEqual({ type: chunk.type, index: chunk.index, time: chunk.time, end: chunk.end }, { type: 'chunk', index, time: index / 10, end: (index + 1) / 10 });
    assert.ok(Math.abs((rms as number) - expectedLevels.rms) < 1e-5, `chunk ${index} rms ${rms}`);
    assert.deepEqual({ dbfs, peak, peak_dbfs }, { dbfs: expectedLevels.dbfs, peak: expectedLevels.peak, peak_dbfs: expectedLevels.peak_dbfs });
  });
});

test('chunk_ms from initialize and a channel from the call choose what is measured', async () => {
  const stereo = path.join(dir, 'tone-left-silence-right.wav');
  await fs.writeFile(stereo, wavFile(silenceThenTone().map((s) => [s, 0]), 16));
  await worker.initialize({ chunk_ms: 250 });
  try {
    const items = await collect(worker.executeStream([stereo], { channel: 1 }));
    assert.deepEqual(
      items.filter((item) => item.type === 'chunk').map((item) => [item.time, item.dbfs]),
      [[0, null], [0.25, null], [0.5, null], [0.75, null]],
    );
    const left = (await worker.execute([stereo], { channel: 0 })) as Record<string, unknown>;
    assert.deepEqual([left.channels, left.peak_dbfs, left.dbfs], [2, -6.02, -12.04]);
    const mix = (await worker.execute([stereo], {})) as Record<string, unknown>;
    assert.equal(mix.peak_dbfs, -12.04, 'the mix averages the channels: half the amplitude, 6.02 dB lower');
    assert.deepEqual(await worker.config(), { chunk_ms: 250, channel: 'mix' });
  } finally {
    await worker.initialize({ chunk_ms: 100 });
  }
});

test('the config schema gives every option a default and a description', async () => {
  const schema = (await worker.configSchema()) as { properties: Record<string, { default: unknown; description: string }> };
  assert.deepEqual(Object.keys(schema.properties), ['chunk_ms', 'channel']);
  assert.equal(schema.properties.chunk_ms.default, 100);
  assert.equal(schema.properties.channel.default, 'mix');
  for (const option of Object.values(schema.properties)) assert.ok(option.description.length > 10);
});

async function pluginError(args: unknown[], kwargs: Record<string, unknown> = {}): Promise<PluginError> {
  const error = await worker.execute(args, kwargs).then(
    () => assert.fail('the call should fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof PluginError, String(error));
  return error;
}

test('a 24-bit WAV gets an error that says what is supported and how to convert', async () => {
  const deep = path.join(dir, 'deep.wav');
  await fs.writeFile(deep, wavFile(silenceThenTone().map((s) => [s]), 24));
  const error = await pluginError([deep]);
  assert.equal(error.kind, 'plugin');
  assert.equal(error.job?.category, 'user_input');
  assert.match(error.message, /^ValueError: .*deep\.wav is a 24-bit PCM WAV; audio levels reads 16-bit PCM WAV .* only\. Convert it with `sox deep\.wav -b 16 -e signed-integer out\.wav`\.$/);
});

test('a file that is not a WAV, a folder and a bad channel get clear errors', async () => {
  const text = path.join(dir, 'notes.txt');
  await fs.writeFile(text, 'not audio\n');
  assert.match((await pluginError([text])).message, /notes\.txt is not a WAV file\. Audio levels reads 16-bit PCM WAV.*convert it first, e\.g\. `sox/);
  assert.match((await pluginError([dir])).message, /^IsADirectoryError: .* is a folder/);
  assert.match((await pluginError([mono], { channel: 1 })).message, /channel 1 does not exist: the file has 1 channel\(s\)/);
  assert.match((await pluginError([mono], { chunk_ms: 0 })).message, /chunk_ms must be a whole number of milliseconds from 1 to 60000, not 0/);
});
