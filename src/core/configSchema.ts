// A plugin's /config_schema as Configure… (and `rpp --config`) need it: the flat fields it can edit with
// quick inputs, and checks of values against the schema with messages that say what to enter.
// Pure logic, no vscode import, so the rules are easy to read and test.

export interface FieldSchema {
  type?: string | string[];
  enum?: unknown[];
  title?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

export interface Field {
  key: string;
  schema: FieldSchema;
  required: boolean;
}

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean']);

/** The schema's fields when every one is a scalar or an enum; undefined for nested schemas. */
export function flatFields(schema: Record<string, unknown>): Field[] | undefined {
  const properties = schema.properties;
  if (typeof properties !== 'object' || properties === null) return [];
  const required = Array.isArray(schema.required) ? schema.required.filter((key): key is string => typeof key === 'string') : [];
  const fields: Field[] = [];
  for (const [key, value] of Object.entries(properties as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null) return undefined;
    const field = value as FieldSchema;
    if (!Array.isArray(field.enum) && !typesOf(field).every((type) => SCALAR_TYPES.has(type))) return undefined;
    fields.push({ key, schema: field, required: required.includes(key) });
  }
  return fields;
}

/** Turns what the user typed into a value of the field's type, or says what is wrong. */
export function parseInput(field: Field, text: string): { value: unknown } | { error: string } {
  const types = typesOf(field.schema);
  let value: unknown = text;
  if (types.includes('integer') || types.includes('number')) {
    const number = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(number)) return { error: `${field.key} must be a number.` };
    value = number;
  } else if (types.includes('boolean')) {
    if (text !== 'true' && text !== 'false') return { error: `${field.key} must be true or false.` };
    value = text === 'true';
  }
  const problem = checkValue(field, value);
  return problem ? { error: problem } : { value };
}

/** Every problem of `values` against the fields: missing required ones, wrong types, out of range. */
export function checkValues(fields: Field[], values: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const field of fields) {
    const value = values[field.key];
    if (value === undefined) {
      if (field.required) problems.push(`${field.key} is required.`);
      continue;
    }
    const problem = checkValue(field, value);
    if (problem) problems.push(problem);
  }
  return problems;
}

function checkValue(field: Field, value: unknown): string | undefined {
  const { schema, key } = field;
  if (Array.isArray(schema.enum)) {
    return schema.enum.some((option) => option === value) ? undefined : `${key} must be one of ${schema.enum.map((o) => JSON.stringify(o)).join(', ')}.`;
  }
  const types = typesOf(schema);
  if (!types.some((type) => hasType(value, type))) return `${key} must be ${types.join(' or ')} (got ${JSON.stringify(value)}).`;
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${key} must be at least ${schema.minimum}.`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${key} must be at most ${schema.maximum}.`;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) return `${key} needs at least ${schema.minLength} characters.`;
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${key} allows at most ${schema.maxLength} characters.`;
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return `${key} must match ${schema.pattern}.`;
  }
  return undefined;
}

function typesOf(schema: FieldSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : ['string'];
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value);
  return typeof value === type;
}
