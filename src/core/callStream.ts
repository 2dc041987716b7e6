// The results of one /execute_stream call as an async iterator. Each network chunk is decoded into
// an array of values in one go and handed out from that array, so an item costs one resolved
// promise, not a stream read. The next chunk is read only when the consumer has taken every value
// of the previous one: with the socket's own buffering, that is the backpressure.
import { fromCjmStreamError, fromJobError, isCjmStreamError, isJobError } from './errors';
import { NdjsonDecoder } from './ndjson';
import type { CjmStreamError } from './workerProtocol';

export interface StreamSource {
  /** The response body's chunks; `return()` on it releases the connection. */
  chunks: AsyncIterator<Uint8Array>;
  /** Turns a read failure into the error the caller should see (crash, cancelled, protocol). */
  failure(error: unknown): Promise<Error>;
  /** Called exactly once when the stream is over, however it ended (failed: it ended with an error). */
  finished(early: boolean, failed: boolean): void;
}

export class CallStream implements AsyncIterableIterator<unknown> {
  private readonly decoder = new NdjsonDecoder();
  private items: unknown[] = [];
  private index = 0;
  private pendingError: Error | undefined;
  private ended = false;
  private closed = false;
  /** On a cjm worker: a last line {"error": ...} held back until the stream shows whether anything follows. */
  private heldErrorLine: CjmStreamError | undefined;

  constructor(
    private readonly source: Promise<StreamSource>,
    private readonly plugin: string,
    /** cjm's early worker ends a failed stream with {"error": "<message>"} instead of a _job_error. */
    private readonly cjmErrorLine = false,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.index < this.items.length) {
      const value = this.items[this.index++];
      if (!isJobError(value)) return Promise.resolve({ value, done: false });
      return this.fail(fromJobError(value._job_error, this.plugin));
    }
    return this.refill();
  }

  async return(): Promise<IteratorResult<unknown>> {
    await this.close(true);
    return { value: undefined, done: true };
  }

  private async refill(): Promise<IteratorResult<unknown>> {
    if (this.pendingError) return this.fail(this.pendingError);
    if (this.ended) {
      await this.close(false);
      return { value: undefined, done: true };
    }
    this.items = [];
    this.index = 0;
    const source = await this.source.catch((error: Error) => error);
    if (source instanceof Error) return this.fail(source);
    while (this.items.length === 0 && !this.ended && !this.pendingError) {
      try {
        const chunk = await source.chunks.next();
        if (chunk.done) {
          this.ended = true;
          this.decoder.end(this.items);
        } else {
          this.decoder.push(chunk.value, this.items);
        }
        if (this.cjmErrorLine) this.settleErrorLine();
      } catch (error) {
        // Values before the bad line (or before the crash) are still delivered, then the error.
        this.releaseHeldLine();
        this.pendingError = await source.failure(error);
      }
    }
    return this.next();
  }

  /**
   * An {"error": "..."} line is cjm's stream error only when the stream ends right after it; followed
   * by more items it was a plugin's own item, and is delivered in its place (one chunk late).
   */
  private settleErrorLine(): void {
    if (this.items.length > 0) this.releaseHeldLine();
    const last = this.items[this.items.length - 1];
    if (isCjmStreamError(last)) {
      this.items.pop();
      this.heldErrorLine = last;
    }
    if (this.ended && this.heldErrorLine) {
      this.pendingError = fromCjmStreamError(this.heldErrorLine, this.plugin);
      this.heldErrorLine = undefined;
    }
  }

  private releaseHeldLine(): void {
    if (this.heldErrorLine) this.items.unshift(this.heldErrorLine);
    this.heldErrorLine = undefined;
  }

  private async fail(error: Error): Promise<never> {
    await this.close(false, true);
    throw error;
  }

  private async close(early: boolean, failed = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.items = [];
    const source = await this.source.catch(() => undefined);
    if (!source) return;
    source.finished(early, failed);
    await source.chunks.return?.().catch(() => undefined);
  }
}
