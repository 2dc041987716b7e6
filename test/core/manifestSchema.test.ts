// The shipped JSON Schema agrees with the loader: same required fields, same name rule, every field described,
// and (validated with ajv, draft-07) the sample manifests pass or fail as the loader says.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import { PLUGIN_NAME_PATTERN } from '../../src/core/manifest';
import { projectRoot } from '../helpers/python';

interface PropertySchema {
  description?: string;
  markdownDescription?: string;
  pattern?: string;
}
interface ManifestSchema {
  $schema: string;
  required: string[];
  additionalProperties: boolean;
  properties: Record<string, PropertySchema>;
}

const schemaPath = path.join(projectRoot, 'schemas', 'manifest.schema.json');
const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests');

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
}

test('draft-07, the four required fields, unknown fields allowed, every field described', async () => {
  const schema = (await readJson(schemaPath)) as ManifestSchema;
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.deepEqual(schema.required, ['name', 'python_path', 'module', 'class']);
  assert.equal(schema.additionalProperties, true);
  assert.deepEqual(Object.keys(schema.properties).sort(), ['class', 'description', 'env_vars', 'file_arg', 'file_types', 'idle_timeout_s', 'module', 'name', 'python_path', 'results', 'startup_timeout_s', 'version', 'worker']);
  for (const [field, property] of Object.entries(schema.properties)) {
    assert.ok(property.description && property.description.length > 20, `${field} has a description`);
    assert.ok(property.markdownDescription && property.markdownDescription.length > 20, `${field} has a markdownDescription`);
  }
  assert.equal(schema.properties.name.pattern, PLUGIN_NAME_PATTERN.source, 'the schema and the loader accept the same names');
});

test('ajv (draft-07) accepts the good samples and rejects the broken field samples', async () => {
  const ajv = new Ajv({ allErrors: true });
  const validate = ajv.compile((await readJson(schemaPath)) as object);
  for (const file of ['minimal.json', 'whisper-local.json']) {
    assert.equal(validate(await readJson(path.join(fixtures, 'good', file))), true, `${file}: ${ajv.errorsText(validate.errors)}`);
  }
  for (const file of ['no-fields.json', 'wrong-types.json', 'bad-name.json']) {
    assert.equal(validate(await readJson(path.join(fixtures, 'broken', file))), false, file);
  }
  assert.equal(validate({ name: 'a', python_path: 'p', module: 'm', class: 'C', env_vars: { A: 1 } }), false, 'env_vars values are strings');
  assert.equal(validate({ name: 'a', python_path: 'p', module: 'm', class: 'C', idle_timeout_s: 0 }), false, 'timeouts are positive');
  assert.equal(validate({ name: 'a', python_path: 'p', module: 'm', class: 'C', anything: [1] }), true, 'unknown fields are allowed');
});
