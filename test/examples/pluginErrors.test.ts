// What a user sees when a plugin raises: the plugin's own message; the log gets the traceback with the
// plugin's file and line. Also the example manifests as discovery loads them.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import { takes } from '../../src/core/fileRule';
import { discoverManifests } from '../../src/core/manifestDiscovery';
import { waitFor } from '../helpers/waitFor';
import { exampleDir, startExample, workspaceDir } from './exampleWorker';

const EXAMPLES = ['audio-levels', 'image-info', 'ocr', 'speech-commands'];

/** The 1-based line of the only line in `file` that contains `text`. */
async function lineOf(file: string, text: string): Promise<number> {
  const lines = (await fs.readFile(file, 'utf8')).split('\n');
  const matches = lines.flatMap((line, index) => (line.includes(text) ? [index + 1] : []));
  assert.equal(matches.length, 1, `exactly one line of ${file} contains ${text}`);
  return matches[0];
}

test('a plugin that raises shows its own message; the traceback names its file and line', async () => {
  const { worker, log } = await startExample('audio-levels');
  try {
    const image = path.join(workspaceDir, 'text.png');
    const error = await worker.execute([image], {}).then(
      () => assert.fail('the call should fail'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof PluginError);
    assert.equal(error.kind, 'plugin');
    assert.equal(error.plugin, 'audio-levels');
    assert.match(error.message, /^ValueError: \S*text\.png is not a WAV file\. Audio levels reads 16-bit PCM WAV/);

    const source = path.join(exampleDir('audio-levels'), 'rpp_audio_levels.py');
    const line = await lineOf(source, 'is not a WAV file. Audio levels reads');
    const where = `File "${source}", line ${line}`;
    assert.ok(error.detail?.includes(where), `the traceback names ${where}:\n${error.detail}`);
    // Stderr lines arrive on their own pipe, possibly after the HTTP answer.
    await waitFor(() => log.some((logLine) => logLine.includes(where)), { what: `the log to show the traceback line ${where}`, timeoutMs: 30_000 });
  } finally {
    await worker.dispose();
  }
});

test('every example manifest loads, with python3 from PATH and file types for its files', async () => {
  const { entries, missingDirs } = await discoverManifests(EXAMPLES.map(exampleDir));
  assert.deepEqual(missingDirs, []);
  const loaded = entries.map((entry) => {
    assert.ok(entry.ok, entry.ok ? '' : entry.problems.map((problem) => problem.message).join('; '));
    return entry.manifest;
  });
  assert.deepEqual(loaded.map((manifest) => manifest.name), EXAMPLES);
  for (const manifest of loaded) {
    assert.equal(manifest.python_path, 'python3');
    assert.ok((manifest.description ?? '').length > 20, `${manifest.name} has a description`);
  }
  const accepting = (file: string): string[] => loaded.filter((manifest) => takes(manifest.file_types ?? [], { path: file, isFolder: false }).takes).map((manifest) => manifest.name);
  assert.deepEqual(accepting('/x/talk.wav'), ['audio-levels', 'speech-commands']);
  assert.deepEqual(accepting('/x/scan.PNG'), ['image-info', 'ocr']);
  assert.deepEqual(accepting('/x/page.tiff'), ['ocr']);
  assert.deepEqual(accepting('/x/notes.txt'), []);
});
