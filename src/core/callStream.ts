// The results of one /execute_stream call as an async iterator. Each network chunk is decoded into
// an array of values in one go and handed out from that array, so an item costs one resolved
// promise, not a stream read. The next chunk is read only when the consumer has taken every value
// of the previous one: with the socket's own buffering, that is the backpressure.
import { fromJobError, isJobError } from './errors';
import { NdjsonDecoder } from './ndjson';

export interface StreamSource {
  /** The response body's chunks; `return()` on it releases the connection. */
  chunks: AsyncIterator<Uint8Array>;
  /** Turns a read failure into the error the caller should see (crash, cancelled, protocol). */
  failure(error: unknown): Promise<Error>;
  /** Called exactly once when the stream is over, however it ended. */
  finished(early: boolean): void;
}

export class CallStream implements AsyncIterableIterator<unknown> {
  private readonly decoder = new NdjsonDecoder();
  private items: unknown[] = [];
  private index = 0;
  private pendingError: Error | undefined;
  private ended = false;
  private closed = false;

  constructor(
    private readonly source: Promise<StreamSource>,
    private readonly plugin: string,
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
      } catch (error) {
        // Values before the bad line (or before the crash) are still delivered, then the error.
        this.pendingError = await source.failure(error);
      }
    }
    return this.next();
  }

  private async fail(error: Error): Promise<never> {
    await this.close(false);
    throw error;
  }

  private async close(early: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.items = [];
    const source = await this.source.catch(() => undefined);
    if (!source) return;
    source.finished(early);
    await source.chunks.return?.().catch(() => undefined);
  }
}
