// A plugin's /config_schema as Configure… (and rpp) use it: flat fields, typed input, checks with messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkValues, flatFields, parseInput } from '../../src/core/configSchema';

const schema = {
  type: 'object',
  required: ['model'],
  properties: {
    model: { type: 'string', enum: ['base', 'large'] },
    psm: { type: 'integer', minimum: 0, maximum: 13 },
    word: { type: 'string', minLength: 1, pattern: '^\\p{L}+$' },
    loud: { type: 'boolean' },
  },
};

test('flat schemas give fields; nested ones are left to settings.json', () => {
  assert.deepEqual(flatFields(schema)?.map((field) => [field.key, field.required]), [['model', true], ['psm', false], ['word', false], ['loud', false]]);
  assert.equal(flatFields({ properties: { nested: { type: 'object' } } }), undefined);
  assert.deepEqual(flatFields({}), []);
});

test('typed input and checks say what to enter', () => {
  const fields = flatFields(schema)!;
  const psm = fields.find((field) => field.key === 'psm')!;
  assert.deepEqual(parseInput(psm, ' 6 '), { value: 6 });
  assert.deepEqual(parseInput(psm, 'six'), { error: 'psm must be a number.' });
  assert.deepEqual(parseInput(psm, '14'), { error: 'psm must be at most 13.' });
  assert.deepEqual(parseInput(fields.find((field) => field.key === 'loud')!, 'yes'), { error: 'loud must be true or false.' });
  assert.deepEqual(checkValues(fields, { psm: 1.5, word: 'née' }), ['model is required.', 'psm must be integer (got 1.5).']);
  assert.deepEqual(checkValues(fields, { model: 'huge', word: 'a1' }), ['model must be one of "base", "large".', 'word must match ^\\p{L}+$.']);
});
