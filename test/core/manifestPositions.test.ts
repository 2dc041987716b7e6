// Where each manifest problem is in the text (for the Problems panel and Open Manifest): a JSON syntax
// error at its line and column, a bad field at its value, a missing field at the opening brace.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { propertySpans } from '../../src/core/jsonSyntax';
import { checkManifestBytes, type ManifestProblem } from '../../src/core/manifest';
import { problemRanges } from '../../src/core/manifestPositions';
import { python } from '../helpers/python';

const file = path.join('/tmp', 'positions', 'm.json');

async function problemsOf(text: string): Promise<ManifestProblem[]> {
  const entry = await checkManifestBytes(file, new TextEncoder().encode(text));
  assert.equal(entry.ok, false, 'the manifest should be broken');
  return entry.ok ? [] : entry.problems;
}

/** The text a range covers, to assert on what a user would see underlined. */
function covered(text: string, range: { start: { line: number; column: number }; end: { line: number; column: number } }): string {
  const lines = text.split('\n');
  if (range.start.line !== range.end.line) return lines.slice(range.start.line - 1, range.end.line).join('\n');
  return lines[range.start.line - 1]!.slice(range.start.column - 1, range.end.column - 1);
}

describe('problemRanges', () => {
  test('a JSON syntax error is placed at its line and column', async () => {
    const text = '{\n  "name": "x",\n  "module": "m",,\n}\n';
    const problems = await problemsOf(text);
    const [range] = problemRanges(text, problems);
    assert.deepEqual(range!.start, { line: 3, column: 17 });
    assert.equal(covered(text, range!), ',');
  });

  test('a bad field is underlined at its value, a missing one at the opening brace', async () => {
    const text = `{\n  "name": "ok",\n  "python_path": ${JSON.stringify(python)},\n  "module": "my-module",\n  "file_types": [".wav", "a b"]\n}\n`;
    const problems = await problemsOf(text);
    const ranges = problemRanges(text, problems);
    const byField = new Map(problems.map((problem, index) => [problem.field, ranges[index]!]));
    assert.equal(covered(text, byField.get('module')!), '"my-module"');
    assert.equal(covered(text, byField.get('file_types[1]')!), '"a b"');
    assert.deepEqual(byField.get('class')!.start, { line: 1, column: 1 }, '"class" is missing: the opening brace');
    assert.equal(covered(text, byField.get('class')!), '{');
  });

  test('a nested field (env_vars.X) is found, and a field in a one-line manifest too', async () => {
    const text = `{"name": "n", "python_path": ${JSON.stringify(python)}, "module": "m", "class": "C", "env_vars": {"A": 1}}`;
    const problems = await problemsOf(text);
    const [range] = problemRanges(text, problems);
    assert.equal(problems[0]!.field, 'env_vars.A');
    assert.equal(covered(text, range!), '1');
  });
});

describe('propertySpans', () => {
  test('keys and values of nested objects and lists; undefined for invalid JSON', () => {
    const text = '{"a": {"b": [1, {"c": "x"}]}, "d": null}';
    const spans = propertySpans(text)!;
    const slice = (key: string) => text.slice(spans.get(key)!.value.start, spans.get(key)!.value.end);
    assert.equal(slice('a.b[1].c'), '"x"');
    assert.equal(slice('a.b'), '[1, {"c": "x"}]');
    assert.equal(slice('d'), 'null');
    assert.equal(slice(''), text);
    assert.equal(text.slice(spans.get('d')!.key!.start, spans.get('d')!.key!.end), '"d"');
    assert.equal(propertySpans('{"a": }'), undefined);
  });
  test('deep nesting does not overflow the stack', () => {
    const depth = 100_000;
    const text = '['.repeat(depth) + ']'.repeat(depth);
    assert.equal(propertySpans(text)!.get('')!.value.end, text.length);
  });
});
