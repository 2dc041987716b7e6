// JSON parsing that says where the text is broken: Node 20's JSON.parse often reports only
// "Unexpected token 'x'" without a position, and a user fixing a manifest needs the line and column.

export interface JsonSyntaxError {
  /** 1-based line and column (in UTF-16 code units) of the first character that is wrong. */
  line: number;
  column: number;
  /** What was expected there, e.g. "expected ',' or '}' after a property value". */
  reason: string;
}

export type JsonParseResult = { ok: true; value: unknown } | { ok: false; error: JsonSyntaxError };

export function parseJson(text: string): JsonParseResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    const located = locateJsonError(text);
    // The locator follows the JSON grammar, so it finds the error JSON.parse found; the fallback only guards against a gap.
    return { ok: false, error: located ?? { ...lineAndColumn(text, 0), reason: String(error) } };
  }
}

type Expect = 'value' | 'valueOrClose' | 'key' | 'keyOrClose' | 'colon' | 'commaOrClose' | 'end';

const EXPECTED: Record<Expect, string> = {
  value: 'expected a value',
  valueOrClose: "expected a value or ']'",
  key: 'expected a property name in double quotes',
  keyOrClose: "expected a property name in double quotes or '}'",
  colon: "expected ':' after the property name",
  commaOrClose: '', // depends on the container, see expectedAfterValue
  end: 'expected nothing more after the JSON value',
};

/** Finds the first syntax error by walking the grammar with an explicit stack (deep nesting must not overflow the call stack). */
export function locateJsonError(text: string): JsonSyntaxError | undefined {
  const stack: Array<'[' | '{'> = [];
  let expect: Expect = 'value';
  let i = 0;
  const fail = (offset: number, reason: string): JsonSyntaxError => ({ ...lineAndColumn(text, offset), reason });
  const afterValue = (): Expect => (stack.length === 0 ? 'end' : 'commaOrClose');
  for (;;) {
    i = skipWhitespace(text, i);
    if (i >= text.length) {
      return expect === 'end' ? undefined : fail(i, `${expectedText(expect, stack)}, found the end of the file`);
    }
    const c = text[i];
    const found = `found ${JSON.stringify(c)}`;
    switch (expect) {
      case 'end':
        return fail(i, `${EXPECTED.end}, ${found}`);
      case 'colon':
        if (c !== ':') return fail(i, `${EXPECTED.colon}, ${found}`);
        expect = 'value';
        i++;
        break;
      case 'commaOrClose': {
        const top = stack[stack.length - 1];
        if (c === ',') expect = top === '{' ? 'key' : 'value';
        else if (c === closerOf(top)) {
          stack.pop();
          expect = afterValue();
        } else return fail(i, `${expectedText(expect, stack)}, ${found}`);
        i++;
        break;
      }
      case 'key':
      case 'keyOrClose': {
        if (expect === 'keyOrClose' && c === '}') {
          stack.pop();
          expect = afterValue();
          i++;
          break;
        }
        if (c !== '"') return fail(i, `${EXPECTED[expect]}, ${found}`);
        const end = scanString(text, i);
        if (typeof end !== 'number') return fail(end.offset, end.reason);
        i = end;
        expect = 'colon';
        break;
      }
      case 'value':
      case 'valueOrClose': {
        if (expect === 'valueOrClose' && c === ']') {
          stack.pop();
          expect = afterValue();
          i++;
          break;
        }
        if (c === '{' || c === '[') {
          stack.push(c);
          expect = c === '{' ? 'keyOrClose' : 'valueOrClose';
          i++;
          break;
        }
        const end = scanScalar(text, i);
        if (typeof end !== 'number') return fail(end.offset, end.reason);
        i = end;
        expect = afterValue();
        break;
      }
    }
  }
}

function expectedText(expect: Expect, stack: Array<'[' | '{'>): string {
  if (expect !== 'commaOrClose') return EXPECTED[expect];
  return stack[stack.length - 1] === '{' ? "expected ',' or '}' after a property value" : "expected ',' or ']' after a list item";
}

function closerOf(open: '[' | '{' | undefined): string {
  return open === '{' ? '}' : ']';
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

interface ScanError {
  offset: number;
  reason: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERALS = ['true', 'false', 'null'];

function scanScalar(text: string, i: number): number | ScanError {
  if (text[i] === '"') return scanString(text, i);
  for (const literal of LITERALS) if (text.startsWith(literal, i)) return i + literal.length;
  NUMBER.lastIndex = i;
  if (NUMBER.test(text)) return NUMBER.lastIndex;
  return { offset: i, reason: `expected a value (a string in double quotes, a number, true, false, null, an object or a list), found ${JSON.stringify(text[i])}` };
}

const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

function scanString(text: string, start: number): number | ScanError {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return i + 1;
    if (c < ' ') return { offset: i, reason: `a control character (${JSON.stringify(c)}) inside a string; write it as an escape such as \\n` };
    if (c === '\\') {
      const next = text[i + 1];
      if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 5;
      else if (next !== undefined && ESCAPES.has(next)) i += 1;
      else return { offset: i, reason: 'an invalid escape in a string; a backslash must be written as \\\\ (on Windows paths, or use /)' };
    }
  }
  return { offset: start, reason: 'a string that is never closed; add the closing double quote' };
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** A stretch of the text, as offsets (end exclusive). */
export interface TextSpan {
  start: number;
  end: number;
}

/** Where one property (or list item) of a JSON text is: its key (absent for list items and the root) and its value. */
export interface PropertySpan {
  key?: TextSpan;
  value: TextSpan;
}

/**
 * Where every property and list item of a valid JSON text is, keyed the way manifest problems name
 * fields: "name", "env_vars.HOME", "file_types[0]"; "" is the root value. Undefined for invalid JSON.
 * Walks with an explicit stack, like locateJsonError, so deep nesting cannot overflow the call stack.
 */
export function propertySpans(text: string): Map<string, PropertySpan> | undefined {
  if (locateJsonError(text) !== undefined) return undefined;
  const spans = new Map<string, PropertySpan>();
  const stack: Array<{ open: '{' | '['; path: string; start: number; key?: TextSpan; items: number }> = [];
  let pending: { path: string; key?: TextSpan } | undefined = { path: '' };
  let i = 0;
  for (;;) {
    i = skipWhitespace(text, i);
    if (i >= text.length) return spans;
    const c = text[i];
    if (pending) {
      const { path, key } = pending;
      pending = undefined;
      if (c === '{' || c === '[') {
        stack.push({ open: c, path, start: i, key, items: 0 });
        i++;
        continue;
      }
      const end = scanScalar(text, i) as number;
      spans.set(path, { key, value: { start: i, end } });
      i = end;
      continue;
    }
    const top = stack[stack.length - 1];
    if (!top) return spans;
    if (c === ',') {
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      spans.set(top.path, { key: top.key, value: { start: top.start, end: i + 1 } });
      i++;
    } else if (top.open === '{') {
      const keyEnd = scanString(text, i) as number;
      const name = JSON.parse(text.slice(i, keyEnd)) as string;
      const key = { start: i, end: keyEnd };
      i = skipWhitespace(text, keyEnd) + 1; // past the ':'
      pending = { path: top.path === '' ? name : `${top.path}.${name}`, key };
    } else {
      pending = { path: `${top.path}[${top.items++}]` };
    }
  }
}

/** The 1-based line and column of an offset. */
export function positionAt(text: string, offset: number): { line: number; column: number } {
  return lineAndColumn(text, offset);
}
