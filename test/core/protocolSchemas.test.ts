// The worker protocol has one contract: schemas/protocol/*.schema.json. This checks that the host's
// TypeScript declarations of those messages agree with it, key by key: the same keys, the same
// required ones, and TypeScript types that accept every JSON type (and literal) the schema allows.
// The workers' real answers are validated against the same schemas in test/worker/protocol.test.ts
// and test/core/pluginWorker.cjm.test.ts.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import ts from 'typescript';
import { projectRoot } from '../helpers/python';

interface PropertySchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
}
interface ObjectSchema {
  required?: string[];
  properties: Record<string, PropertySchema>;
}

const schemaDir = path.join(projectRoot, 'schemas', 'protocol');

/** Each declaration and the schema(s) it must agree with (a JSON pointer to the object inside). */
const DECLARATIONS: Array<{ file: string; name: string; schemas: Array<[file: string, pointer: string]> }> = [
  { file: 'src/core/workerProtocol.ts', name: 'ReadyLine', schemas: [['ready-line', '']] },
  { file: 'src/core/workerProtocol.ts', name: 'RppHealth', schemas: [['health', '']] },
  { file: 'src/core/workerProtocol.ts', name: 'CjmHealth', schemas: [['cjm-health', '']] },
  { file: 'src/core/workerProtocol.ts', name: 'RppProgress', schemas: [['progress', '']] },
  { file: 'src/core/workerProtocol.ts', name: 'CjmProgress', schemas: [['cjm-progress', '']] },
  { file: 'src/core/workerProtocol.ts', name: 'CjmStats', schemas: [['cjm-stats', '']] },
  { file: 'src/core/workerProtocol.ts', name: 'CjmDetail', schemas: [['cjm-detail', '']] },
  { file: 'src/core/workerProtocol.ts', name: 'CjmStreamError', schemas: [['cjm-stream-error', '']] },
  { file: 'src/core/workerStats.ts', name: 'WorkerStats', schemas: [['stats', '']] },
  {
    file: 'src/core/errors.ts',
    name: 'JobError',
    schemas: [
      ['job-error', '/properties/_job_error'],
      ['cjm-job-error', '/properties/_job_error'],
    ],
  },
];

function readSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(schemaDir, `${name}.schema.json`), 'utf8')) as Record<string, unknown>;
}

function at(schema: Record<string, unknown>, pointer: string): ObjectSchema {
  let node: unknown = schema;
  for (const part of pointer.split('/').filter(Boolean)) node = (node as Record<string, unknown>)[part];
  return node as ObjectSchema;
}

type JsonTypes = Set<string> | 'any';
interface Member {
  optional: boolean;
  types: JsonTypes;
  literals: unknown[] | undefined;
}

/** The members of `type X = {...}` or `interface X {...}` in a source file. */
function membersOf(file: string, name: string): Map<string, Member> {
  const source = ts.createSourceFile(file, readFileSync(path.join(projectRoot, file), 'utf8'), ts.ScriptTarget.Latest, true);
  let elements: ts.NodeArray<ts.TypeElement> | undefined;
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) elements = node.members;
    if (ts.isTypeAliasDeclaration(node) && node.name.text === name && ts.isTypeLiteralNode(node.type)) elements = node.type.members;
  });
  assert.ok(elements, `${name} is declared in ${file}`);
  const members = new Map<string, Member>();
  for (const element of elements) {
    if (!ts.isPropertySignature(element) || !element.type) continue; // index signatures are not keys
    const key = element.name.getText(source);
    members.set(key, { optional: Boolean(element.questionToken), types: jsonTypes(element.type), literals: literals(element.type) });
  }
  return members;
}

function jsonTypes(node: ts.TypeNode): JsonTypes {
  if (ts.isParenthesizedTypeNode(node)) return jsonTypes(node.type);
  if (ts.isUnionTypeNode(node)) {
    const all = new Set<string>();
    for (const member of node.types) {
      const types = jsonTypes(member);
      if (types === 'any') return 'any';
      for (const type of types) all.add(type);
    }
    return all;
  }
  switch (node.kind) {
    case ts.SyntaxKind.UnknownKeyword:
    case ts.SyntaxKind.AnyKeyword:
      return 'any';
    case ts.SyntaxKind.NumberKeyword:
      return new Set(['number']);
    case ts.SyntaxKind.StringKeyword:
      return new Set(['string']);
    case ts.SyntaxKind.BooleanKeyword:
      return new Set(['boolean']);
  }
  if (ts.isLiteralTypeNode(node)) {
    const literal = node.literal;
    if (literal.kind === ts.SyntaxKind.NullKeyword) return new Set(['null']);
    if (ts.isNumericLiteral(literal)) return new Set(['number']);
    if (ts.isStringLiteral(literal)) return new Set(['string']);
    return new Set(['boolean']);
  }
  if (ts.isArrayTypeNode(node)) return new Set(['array']);
  if (ts.isTypeLiteralNode(node) || (ts.isTypeReferenceNode(node) && node.typeName.getText() === 'Record')) return new Set(['object']);
  throw new Error(`protocolSchemas.test.ts cannot read the type ${node.getText()}: extend jsonTypes()`);
}

/** The values of a union of literals ('a' | 'b' | 1), or undefined for any other type. */
function literals(node: ts.TypeNode): unknown[] | undefined {
  const parts = ts.isUnionTypeNode(node) ? [...node.types] : [node];
  const values: unknown[] = [];
  for (const part of parts) {
    if (!ts.isLiteralTypeNode(part) || part.literal.kind === ts.SyntaxKind.NullKeyword) return undefined;
    const literal = part.literal;
    if (ts.isStringLiteral(literal)) values.push(literal.text);
    else if (ts.isNumericLiteral(literal)) values.push(Number(literal.text));
    else values.push(literal.kind === ts.SyntaxKind.TrueKeyword);
  }
  return values;
}

function schemaTypes(property: PropertySchema): JsonTypes {
  const values = property.const !== undefined ? [property.const] : property.enum;
  if (values) return new Set(values.map((value) => (value === null ? 'null' : typeof value)));
  if (property.type === undefined) return 'any';
  const types = Array.isArray(property.type) ? property.type : [property.type];
  return new Set(types.map((type) => (type === 'integer' ? 'number' : type)));
}

function describe(types: JsonTypes): string {
  return types === 'any' ? 'any' : [...types].sort().join('|');
}

for (const declaration of DECLARATIONS) {
  test(`${declaration.name} (${declaration.file}) agrees with ${declaration.schemas.map(([file]) => `${file}.schema.json`).join(' and ')}`, () => {
    const members = membersOf(declaration.file, declaration.name);
    const schemas = declaration.schemas.map(([file, pointer]) => at(readSchema(file), pointer));
    const schemaKeys = new Set(schemas.flatMap((schema) => Object.keys(schema.properties)));
    assert.deepEqual([...members.keys()].sort(), [...schemaKeys].sort(), 'the same keys');
    for (const [key, member] of members) {
      // A key the host may rely on (not optional) must be required by every schema it reads.
      const requiredByAll = schemas.every((schema) => (schema.required ?? []).includes(key));
      assert.equal(!member.optional, requiredByAll, `${key}: ${member.optional ? 'optional' : 'required'} in TypeScript, ${requiredByAll ? '' : 'not '}required by the schema`);
      for (const schema of schemas) {
        const property = schema.properties[key];
        if (!property) continue;
        const allowed = schemaTypes(property);
        const accepted = member.types;
        const fits = accepted === 'any' || (allowed !== 'any' && [...allowed].every((type) => accepted.has(type)));
        assert.ok(fits, `${key}: TypeScript ${describe(accepted)} must accept the schema's ${describe(allowed)}`);
        const values = property.const !== undefined ? [property.const] : property.enum;
        if (member.literals || values) assert.deepEqual([...(member.literals ?? [])].sort(), [...(values ?? [])].sort(), `${key}: the same literal values`);
      }
    }
  });
}

test('every protocol schema is draft-07, compiles, and has a TypeScript declaration', () => {
  const ajv = new Ajv({ allErrors: true });
  const files = readdirSync(schemaDir).filter((file) => file.endsWith('.schema.json'));
  const covered = new Set(DECLARATIONS.flatMap((declaration) => declaration.schemas.map(([file]) => `${file}.schema.json`)));
  assert.deepEqual(files.sort(), [...covered].sort());
  for (const file of files) {
    const schema = readSchema(file.replace('.schema.json', ''));
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#', file);
    assert.equal(typeof schema.description, 'string', `${file} says what it is`);
    ajv.compile(schema);
  }
});
