// Validates a worker's real answers against the protocol's contract (schemas/protocol/*.schema.json).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { projectRoot } from './python';

export type ProtocolSchema =
  | 'ready-line'
  | 'health'
  | 'stats'
  | 'progress'
  | 'job-error'
  | 'cjm-health'
  | 'cjm-stats'
  | 'cjm-progress'
  | 'cjm-detail'
  | 'cjm-stream-error'
  | 'cjm-job-error';

const ajv = new Ajv({ allErrors: true });
const compiled = new Map<ProtocolSchema, Ajv.ValidateFunction>();

/** Fails the test, naming the schema and every violation, unless `value` is valid. */
export function assertMatchesSchema(name: ProtocolSchema, value: unknown): void {
  let validate = compiled.get(name);
  if (!validate) {
    const file = path.join(projectRoot, 'schemas', 'protocol', `${name}.schema.json`);
    validate = ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
    compiled.set(name, validate);
  }
  assert.ok(validate(value), `${name}.schema.json rejects ${JSON.stringify(value)}: ${ajv.errorsText(validate.errors)}`);
}
