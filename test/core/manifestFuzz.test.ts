// Property-based: whatever a manifest file holds, the loader never throws, and a broken one always has a
// message naming the file (and, for an object with a bad field, that field). Prints how many cases ran.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { checkManifestBytes, checkManifestValue, type ManifestEntry } from '../../src/core/manifest';
import { discoverManifests } from '../../src/core/manifestDiscovery';
import { python } from '../helpers/python';

const RUNS = 2000;
let dir: string;
let manifestPath: string;
const valid = { name: 'fuzz', python_path: python, module: 'pkg.plugin', class: 'Plugin' };
const KNOWN_FIELDS = ['name', 'version', 'python_path', 'module', 'class', 'env_vars', 'description', 'file_types', 'file_arg', 'idle_timeout_s', 'startup_timeout_s', 'worker'];

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-fuzz-'));
  manifestPath = path.join(dir, 'fuzzed manifest.json');
});
after(() => fs.rm(dir, { recursive: true, force: true }));

/** The invariant of every entry: ok, or broken with every message (and the summary) naming the file, on one line. */
function assertExplained(entry: ManifestEntry, file: string): void {
  if (entry.ok) return;
  assert.ok(entry.problems.length > 0);
  for (const problem of entry.problems) assert.ok(problem.message.startsWith(`${file}: `), problem.message);
  assert.ok(entry.error.message.startsWith(`${file}: `), entry.error.message);
  assert.ok(!entry.error.message.includes('\n'), entry.error.message);
  assert.equal(entry.error.kind, 'manifest');
  assert.ok(entry.name.length > 0);
}

test('arbitrary JSON values as manifest files', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (value) => {
      assertExplained(await checkManifestBytes(manifestPath, Buffer.from(JSON.stringify(value))), manifestPath);
    }),
    { numRuns: RUNS },
  );
  t.diagnostic(`tried ${RUNS} arbitrary JSON values`);
});

test('arbitrary bytes as manifest files', async (t) => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    // Near-JSON text finds the syntax-error paths more often than random bytes.
    fc.string({ unit: fc.constantFrom(...'{}[]":,. 0123456789-+eEtrufalsn\\/\n\tabc'.split('')), maxLength: 60 }).map((s) => Buffer.from(s)),
  );
  await fc.assert(
    fc.asyncProperty(bytes, async (content) => {
      const entry = await checkManifestBytes(manifestPath, content);
      assertExplained(entry, manifestPath);
      const syntax = entry.ok ? undefined : /line (\d+), column (\d+)/.exec(entry.problems[0].message);
      if (syntax) assert.ok(Number(syntax[1]) <= Buffer.from(content).toString().split('\n').length, 'the line is inside the file');
    }),
    { numRuns: RUNS },
  );
  t.diagnostic(`tried ${RUNS} arbitrary byte strings`);
});

test('a valid manifest with one field replaced or removed: a problem names that field', async (t) => {
  const mutation = fc.record({
    field: fc.constantFrom(...KNOWN_FIELDS),
    value: fc.option(fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary' })), { nil: undefined }),
  });
  let broken = 0;
  await fc.assert(
    fc.asyncProperty(mutation, async ({ field, value }) => {
      const manifest: Record<string, unknown> = { ...valid, [field]: value };
      if (value === undefined) delete manifest[field];
      const entry = await checkManifestValue(manifestPath, manifest);
      assertExplained(entry, manifestPath);
      if (entry.ok) return;
      broken++;
      // The rest is valid, so every problem is about the changed field.
      for (const problem of entry.problems) {
        assert.ok(problem.field?.startsWith(field), `${field}: ${JSON.stringify(problem)}`);
        assert.ok(problem.message.includes(JSON.stringify(field).slice(0, -1)), problem.message);
      }
    }),
    { numRuns: RUNS },
  );
  t.diagnostic(`tried ${RUNS} field mutations, ${broken} of them broken`);
});

test('arbitrary extra fields are kept and do not break a valid manifest', async (t) => {
  const extras = fc.dictionary(fc.string().filter((key) => !KNOWN_FIELDS.includes(key)), fc.jsonValue(), { maxKeys: 5 });
  await fc.assert(
    fc.asyncProperty(extras, async (extra) => {
      const entry = await checkManifestValue(manifestPath, { ...extra, ...valid });
      assert.ok(entry.ok, JSON.stringify(entry));
      for (const key of Object.keys(extra)) assert.deepEqual(entry.manifest[key], extra[key]);
    }),
    { numRuns: 500 },
  );
  t.diagnostic('tried 500 sets of unknown fields');
});

test('extreme inputs: deep nesting, a huge string, a million-element list', async () => {
  const contents = [
    '['.repeat(200_000),
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `{"name": "${'x'.repeat(900_000)}"}`,
    `[${'0,'.repeat(400_000)}0]`,
  ];
  for (const content of contents) assertExplained(await checkManifestBytes(manifestPath, Buffer.from(content)), manifestPath);
});

test('through real files: arbitrary bytes in several files never stop discovery', async (t) => {
  const runs = 100;
  let round = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 100 }), { minLength: 1, maxLength: 4 }), async (files) => {
      const folder = path.join(dir, `round-${round++}`);
      await fs.mkdir(folder);
      await Promise.all(files.map((content, i) => fs.writeFile(path.join(folder, `m${i}.json`), content)));
      await fs.writeFile(path.join(folder, 'zz-valid.json'), JSON.stringify({ ...valid, name: 'zz-valid' }));
      const { entries } = await discoverManifests([folder], { quietDirs: [] });
      assert.equal(entries.length, files.length + 1);
      entries.forEach((entry) => assertExplained(entry, entry.path));
      assert.ok(entries[entries.length - 1].ok, 'the valid manifest loads whatever its neighbours hold');
    }),
    { numRuns: runs },
  );
  t.diagnostic(`tried ${runs} folders of arbitrary files`);
});
