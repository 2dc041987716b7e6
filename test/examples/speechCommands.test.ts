// The speech-commands example plugin through the real worker, running pocketsphinx on a committed WAV.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { PluginWorker } from '../../src/core/pluginWorker';
import { shapeOf } from '../../src/core/resultShapes';
import { collect, missingProgram, startExample, workspaceDir } from './exampleWorker';

const skip = missingProgram('pocketsphinx_continuous', 'pocketsphinx pocketsphinx-en-us');
// espeak-ng saying "open file", "next slide", "stop recording" with pauses (examples/make-samples.sh).
const speech = path.join(workspaceDir, 'speech-commands.wav');
const SPEECH_SECONDS = 6.9;

let worker: PluginWorker;

before(async () => {
  ({ worker } = await startExample('speech-commands')); // the plugin itself starts without pocketsphinx
});

after(async () => {
  await worker?.dispose();
});

test('execute_stream yields each spoken command with its time span', { skip }, async () => {
  const items = await collect(worker.executeStream([speech], {}));
  assert.deepEqual(items.map((item) => [item.type, item.index, item.text]), [
    ['command', 0, 'open file'],
    ['command', 1, 'next slide'],
    ['command', 2, 'stop recording'],
  ]);
  assert.equal(shapeOf(items), 'segments', 'time segments: a transcript that plays the audio in the panel');
  let previousEnd = 0;
  for (const item of items) {
    const [start, end] = [item.start as number, item.end as number];
    assert.ok(previousEnd < start && start < end && end < SPEECH_SECONDS, `${item.text}: ${start}–${end} s after ${previousEnd} s`);
    const words = item.words as { word: string; start: number; end: number }[];
    assert.equal(words.map((word) => word.word).join(' '), item.text, 'alternative pronunciations such as next(2) are folded');
    previousEnd = end;
  }
});

test('execute returns the commands as a list', { skip }, async () => {
  const result = (await worker.execute([speech], {})) as { commands: { text: string }[] };
  assert.deepEqual(result.commands.map((command) => command.text), ['open file', 'next slide', 'stop recording']);
});

test('a WAV in another format gets an error that says how to convert it, before pocketsphinx runs', async () => {
  const tone = path.join(workspaceDir, 'tone.wav'); // 8 kHz
  const error = await worker.execute([tone], {}).then(
    () => assert.fail('the call should fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof PluginError);
  assert.match(error.message, /tone\.wav is a 16-bit WAV with 1 channel\(s\) at 8000 Hz; speech commands needs 16 kHz mono 16-bit PCM, so convert it with `sox input\.wav -r 16000 -c 1 -b 16 output\.wav`/);
});
