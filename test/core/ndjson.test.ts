import assert from 'node:assert/strict';
import { constants } from 'node:buffer';
import { test } from 'node:test';
import { MAX_LINE_BYTES, NdjsonDecoder, NdjsonError } from '../../src/core/ndjson';

const encoder = new TextEncoder();

function decodeInPieces(bytes: Uint8Array, cuts: number[]): unknown[] {
  const decoder = new NdjsonDecoder();
  const out: unknown[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.push(bytes.subarray(from, cut), out);
    from = cut;
  }
  decoder.end(out);
  return out;
}

const values = [{ text: 'héllo wörld 🎤', n: 1 }, '日本語', [1, 2, { deep: null }], 42, true, { empty: '' }];
const stream = encoder.encode(values.map((v) => JSON.stringify(v)).join('\n') + '\n');

test('a stream split at every single byte position decodes to the same values', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    assert.deepEqual(decodeInPieces(stream, [cut]), values, `cut at byte ${cut}`);
  }
});

test('a stream fed one byte at a time (every multi-byte character split) decodes correctly', () => {
  const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(decodeInPieces(stream, cuts), values);
});

test('a missing final newline still yields the last value at end()', () => {
  const bytes = encoder.encode('{"a":1}\n{"b":2}');
  const decoder = new NdjsonDecoder();
  const out: unknown[] = [];
  decoder.push(bytes, out);
  assert.deepEqual(out, [{ a: 1 }]);
  decoder.end(out);
  assert.deepEqual(out, [{ a: 1 }, { b: 2 }]);
});

test('blank lines and CRLF line ends are accepted', () => {
  assert.deepEqual(decodeInPieces(encoder.encode('1\r\n\n2\r\n\r\n'), []), [1, 2]);
});

test('a malformed line throws an error naming its line, after the values before it', () => {
  const decoder = new NdjsonDecoder();
  const out: unknown[] = [];
  assert.throws(
    () => decoder.push(encoder.encode('1\n2\n{oops\n3\n'), out),
    (error: unknown) => error instanceof NdjsonError && error.line === 3 && /line 3 .*not valid JSON.*\{oops/.test(error.message),
  );
  assert.deepEqual(out, [1, 2]);
});

test('the line number counts across chunks', () => {
  const decoder = new NdjsonDecoder();
  const out: unknown[] = [];
  decoder.push(encoder.encode('1\n2\n'), out);
  decoder.push(encoder.encode('3\nnot'), out);
  assert.throws(() => decoder.push(encoder.encode(' json\n'), out), /line 4 /);
});

test('invalid UTF-8 inside a string becomes U+FFFD instead of crashing the reader', () => {
  const bytes = new Uint8Array([...encoder.encode('{"t":"a'), 0xff, 0xc3, ...encoder.encode('b"}\n')]);
  const out = decodeInPieces(bytes, [8]);
  assert.equal(out.length, 1);
  assert.match((out[0] as { t: string }).t, /^a\uFFFD+b$/);
});

test('invalid UTF-8 outside a string is a clear per-line error, not a crash', () => {
  const bytes = new Uint8Array([0xff, 0xfe, 0x0a]);
  assert.throws(() => decodeInPieces(bytes, []), /line 1 .*not valid JSON/);
});

test('a huge line split in many chunks decodes (8 MB string)', () => {
  const big = 'x'.repeat(8 * 1024 * 1024);
  const bytes = encoder.encode(JSON.stringify({ big }) + '\n' + '7\n');
  const cuts = Array.from({ length: 127 }, (_, i) => Math.floor(((i + 1) * bytes.length) / 128));
  const out = decodeInPieces(bytes, cuts);
  assert.equal(out.length, 2);
  assert.equal((out[0] as { big: string }).big.length, big.length);
  assert.equal(out[1], 7);
});

test('a line over maxLineBytes is an error that says so', () => {
  const decoder = new NdjsonDecoder({ maxLineBytes: 100 });
  const out: unknown[] = [];
  decoder.push(encoder.encode('1\n'), out);
  assert.throws(() => decoder.push(new Uint8Array(200).fill(0x20), out), /line 2 .*longer than 100 bytes/);
});

test('a line over maxLineBytes is "too large" (its reason), a line that is not JSON a syntax error', () => {
  assert.throws(
    () => new NdjsonDecoder({ maxLineBytes: 100 }).push(encoder.encode(`"${'a'.repeat(150)}"\n`), []),
    (error: unknown) => error instanceof NdjsonError && error.reason === 'too-large' && error.line === 1 && /the item is too large/.test(error.message),
  );
  assert.throws(
    () => new NdjsonDecoder().push(encoder.encode('{oops\n'), []),
    (error: unknown) => error instanceof NdjsonError && error.reason === 'syntax',
  );
});

test('the default limit is V8\'s longest string, and the message says so', () => {
  assert.equal(MAX_LINE_BYTES, constants.MAX_STRING_LENGTH);
  const decoder = new NdjsonDecoder();
  const piece = new Uint8Array(64 * 1024 * 1024).fill(0x61); // the same 64 MB, pushed until over the limit
  assert.throws(
    () => {
      for (let i = 0; i < 9; i++) decoder.push(piece, []);
    },
    (error: unknown) => error instanceof NdjsonError && error.reason === 'too-large' && /longer than \d+ MB, the longest text this host can hold/.test(error.message),
  );
});

test('the unfinished line is decoded apart from the chunk that completes it; line numbers stay right', () => {
  const decoder = new NdjsonDecoder();
  const out: unknown[] = [];
  decoder.push(encoder.encode('{"a": "'), out);
  assert.throws(() => decoder.push(encoder.encode('x"}\n{"b": 2}\n{oops}\n'), out), (e: unknown) => e instanceof NdjsonError && e.line === 3);
  assert.deepEqual(out, [{ a: 'x' }, { b: 2 }]);
});
