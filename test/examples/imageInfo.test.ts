// The image-info example plugin through the real worker, on the committed sample images.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import type { PluginWorker } from '../../src/core/pluginWorker';
import { shapeOf } from '../../src/core/resultShapes';
import { collect, startExample, workspaceDir } from './exampleWorker';

let worker: PluginWorker;
let dir: string;

before(async () => {
  ({ worker } = await startExample('image-info'));
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-image-info-'));
});

after(async () => {
  await worker.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

/** What examples/make-samples.sh made, as ImageMagick's `identify` also reports them. */
const SAMPLES: Record<string, Record<string, unknown>> = {
  'icon.gif': { format: 'gif', width: 64, height: 48, mode: 'palette' },
  'logo.bmp': { format: 'bmp', width: 64, height: 48, mode: 'rgb', bit_depth: 24 },
  'overlay.png': { format: 'png', width: 64, height: 48, mode: 'rgba', bit_depth: 8 },
  'photo.jpg': { format: 'jpeg', width: 64, height: 48, mode: 'ycbcr', bit_depth: 8, progressive: false },
  'picture.webp': { format: 'webp', width: 64, height: 48, lossless: false },
  'text.png': { format: 'png', width: 452, height: 137, mode: 'grayscale', bit_depth: 8 },
};

function pick(info: Record<string, unknown>, expected: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(expected).map((key) => [key, info[key]]));
}

test('execute on each sample reports its format, size and colour type', async () => {
  for (const [name, expected] of Object.entries(SAMPLES)) {
    const file = path.join(workspaceDir, name);
    const info = (await worker.execute([file], {})) as Record<string, unknown>;
    assert.deepEqual(pick(info, expected), expected, name);
    assert.equal(info.file_size, (await fs.stat(file)).size);
  }
});

test('on a folder, execute returns the list and execute_stream one item per image, skipping other files', async () => {
  const names = Object.keys(SAMPLES); // sorted, as the plugin sorts
  const listed = (await worker.execute([workspaceDir], {})) as Record<string, unknown>[];
  assert.deepEqual(listed.map((info) => path.basename(info.file as string)), names, 'the WAV files are not images');
  const streamed = await collect(worker.executeStream([workspaceDir], {}));
  assert.deepEqual(streamed, listed);
  assert.equal(shapeOf(listed), 'table', 'flat rows: a sortable table in the panel, each file a thumbnail');
});

test('a damaged image in a folder becomes an item with its error; a non-image file alone is refused', async () => {
  const png = await fs.readFile(path.join(workspaceDir, 'text.png'));
  await fs.writeFile(path.join(dir, 'cut.png'), png.subarray(0, 20));
  await fs.writeFile(path.join(dir, 'readme.txt'), 'hello\n');
  const items = await collect(worker.executeStream([dir], {}));
  assert.equal(items.length, 1);
  assert.match(items[0].error as string, /cut\.png looks like a PNG file but its header is damaged or cut short/);
  const error = await worker.execute([path.join(dir, 'readme.txt')], {}).then(
    () => assert.fail('the call should fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof PluginError);
  assert.match(error.message, /^ValueError: .*readme\.txt is not an image this plugin knows: it reads PNG, JPEG, GIF, BMP and WebP files/);
});
