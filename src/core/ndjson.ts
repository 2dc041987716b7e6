// NDJSON decoding: bytes in, JSON values out, one value per line.
//
// Splitting happens on the newline *byte* before decoding: 0x0A never occurs inside a multi-byte
// UTF-8 sequence, so a chunk boundary anywhere (even inside a character) cannot corrupt a line.
// Each chunk's complete lines are decoded with one TextDecoder call and parsed in one loop, so the
// cost per item is one JSON.parse and one array push (the stream benchmark needs > 340k items/s).

import { constants } from 'node:buffer';

const NEWLINE = 0x0a;

/**
 * The longest line that can be decoded at all: V8's longest string (~512 MB on 64-bit). A line of
 * that many bytes decodes to at most that many UTF-16 units; a longer one could not be held.
 */
export const MAX_LINE_BYTES = constants.MAX_STRING_LENGTH;

/** A line that is not JSON, or a line longer than allowed; says which line. */
export class NdjsonError extends Error {
  override readonly name = 'NdjsonError';
  constructor(
    message: string,
    /** 1-based number of the offending line in the stream. */
    readonly line: number,
    /** 'too-large': the line is longer than maxLineBytes; 'syntax': it is not JSON. */
    readonly reason: 'syntax' | 'too-large' = 'syntax',
  ) {
    super(message);
  }
}

export interface NdjsonDecoderOptions {
  /** A line longer than this is an error instead of unbounded memory. Default (and most) MAX_LINE_BYTES. */
  maxLineBytes?: number;
}

export class NdjsonDecoder {
  // Invalid UTF-8 becomes U+FFFD instead of throwing: a plugin's bad bytes must not kill the reader.
  private readonly text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private readonly maxLineBytes: number;
  /** Bytes of the unfinished last line, kept as a list of pieces so a huge line is not re-copied per chunk. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private linesSeen = 0;

  constructor(options: NdjsonDecoderOptions = {}) {
    this.maxLineBytes = Math.min(options.maxLineBytes ?? MAX_LINE_BYTES, MAX_LINE_BYTES);
  }

  /**
   * Decodes the complete lines in `chunk` and appends their values to `out`.
   * On a malformed line it throws NdjsonError, after the values of the lines before it were appended.
   */
  push(chunk: Uint8Array, out: unknown[]): void {
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline === -1) {
      this.keep(chunk);
      return;
    }
    let from = 0;
    if (this.pendingBytes > 0) {
      // The unfinished line is decoded on its own: with the chunk's other lines it could pass V8's string limit.
      from = chunk.indexOf(NEWLINE) + 1;
      this.keep(chunk.subarray(0, from - 1), false);
      this.parseLines(this.text.decode(this.takePending()), out);
    }
    if (from <= lastNewline) {
      const lines = chunk.subarray(from, lastNewline);
      if (lines.length > this.maxLineBytes) this.checkLineLengths(lines);
      this.parseLines(this.text.decode(lines), out);
    }
    const rest = chunk.subarray(lastNewline + 1);
    if (rest.length > 0) this.keep(rest);
  }

  /** Decodes a last line that had no final newline. Call once when the byte stream ends. */
  end(out: unknown[]): void {
    if (this.pendingBytes === 0) return;
    this.parseLines(this.text.decode(this.takePending()), out);
  }

  /** Adds bytes to the unfinished line; `copy`: the caller may reuse the chunk's memory after push() returns. */
  private keep(bytes: Uint8Array, copy = true): void {
    this.pendingBytes += bytes.length;
    if (this.pendingBytes > this.maxLineBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      throw this.tooLarge(this.linesSeen + 1);
    }
    this.pending.push(copy ? bytes.slice() : bytes);
  }

  /** Only for a chunk larger than the limit (a caller feeding huge buffers): finds a line that is too long. */
  private checkLineLengths(lines: Uint8Array): void {
    let start = 0;
    for (let line = this.linesSeen + 1; start <= lines.length; line++) {
      const stop = lines.indexOf(NEWLINE, start);
      const end = stop === -1 ? lines.length : stop;
      if (end - start > this.maxLineBytes) throw this.tooLarge(line);
      start = end + 1;
    }
  }

  private tooLarge(line: number): NdjsonError {
    const limit = this.maxLineBytes >= 1024 * 1024 ? `${Math.floor(this.maxLineBytes / (1024 * 1024))} MB` : `${this.maxLineBytes} bytes`;
    const why = this.maxLineBytes === MAX_LINE_BYTES ? ', the longest text this host can hold' : '';
    return new NdjsonError(
      `line ${line} of the stream is longer than ${limit}${why}: the item is too large. The plugin should yield smaller items or pass large data by file path`,
      line,
      'too-large',
    );
  }

  private takePending(): Uint8Array {
    const whole = this.pending.length === 1 ? this.pending[0] : new Uint8Array(this.pendingBytes);
    if (whole !== this.pending[0]) {
      let offset = 0;
      for (const piece of this.pending) {
        whole.set(piece, offset);
        offset += piece.length;
      }
    }
    this.pending = [];
    this.pendingBytes = 0;
    return whole;
  }

  private parseLines(text: string, out: unknown[]): void {
    let start = 0;
    while (start <= text.length) {
      let stop = text.indexOf('\n', start);
      if (stop === -1) stop = text.length;
      this.linesSeen += 1;
      this.parseLine(text, start, stop, out);
      start = stop + 1;
    }
  }

  private parseLine(text: string, start: number, stop: number, out: unknown[]): void {
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop -= 1; // tolerate CRLF
    if (stop === start) return; // blank lines carry nothing, as in the seed's reader
    const line = text.slice(start, stop);
    try {
      out.push(JSON.parse(line));
    } catch (error) {
      if (line.trim() === '') return;
      const shown = line.length > 120 ? `${line.slice(0, 120)}…` : line;
      throw new NdjsonError(
        `line ${this.linesSeen} of the stream is not valid JSON (${(error as Error).message}): ${shown}`,
        this.linesSeen,
      );
    }
  }
}
