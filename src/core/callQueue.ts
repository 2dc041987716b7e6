// The calls waiting for a plugin's worker, first in, first out. A waiting call can be cancelled before
// it starts (it leaves the queue at once), and a caller that asks is told its place in the line as it
// moves up. Hand-outs and cancellations are O(1); only callers that listen pay for position updates.

export interface QueueEntry<T> {
  readonly seq: number;
  resolve(value: T): void;
  reject(error: Error): void;
  /** 1-based place in the line, kept up to date only for entries with a listener. */
  position: number;
  onPosition?: (position: number, length: number) => void;
  done: boolean;
}

/** Above this many handed-out entries at the front, the array is compacted. */
const COMPACT_AT = 1024;

export class CallQueue<T> {
  private entries: Array<QueueEntry<T>> = [];
  private head = 0;
  private waiting = 0;
  private seq = 0;
  /** Entries with a position listener, in queue order. */
  private watched: Array<QueueEntry<T>> = [];

  /** `cancelled` makes the error a waiting call gets when its signal aborts; `onCancel` is told after it left. */
  constructor(
    private readonly cancelled: () => Error,
    private readonly onCancel: () => void = () => undefined,
  ) {}

  get length(): number {
    return this.waiting;
  }

  /** Waits for the call's turn: resolves with what dispatch() hands it, rejects when `signal` aborts first. */
  wait(signal?: AbortSignal, onPosition?: (position: number, length: number) => void): Promise<T> {
    if (signal?.aborted) return Promise.reject(this.cancelled());
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => this.remove(entry, this.cancelled());
      const entry: QueueEntry<T> = {
        seq: this.seq++,
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
        position: 0,
        onPosition,
        done: false,
      };
      this.entries.push(entry);
      this.waiting++;
      if (onPosition) {
        entry.position = this.waiting;
        this.watched.push(entry);
        onPosition(entry.position, this.waiting);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hands `value` to the call at the head of the line; false when nobody waits. */
  dispatch(value: T): boolean {
    const entry = this.shift();
    if (!entry) return false;
    entry.resolve(value);
    return true;
  }

  /** Fails every waiting call (the plugin stopped, cannot start, or crashed too often). */
  rejectAll(error: Error): void {
    for (let entry = this.shift(); entry; entry = this.shift()) entry.reject(error);
  }

  private shift(): QueueEntry<T> | undefined {
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head++]!;
      if (entry.done) continue;
      this.finish(entry);
      this.compact();
      return entry;
    }
    return undefined;
  }

  private remove(entry: QueueEntry<T>, error: Error): void {
    if (entry.done) return;
    this.finish(entry);
    entry.reject(error);
    this.onCancel();
  }

  /** Marks the entry gone and moves the listeners behind it one place up. */
  private finish(entry: QueueEntry<T>): void {
    entry.done = true;
    this.waiting--;
    if (this.watched.length === 0) return;
    this.watched = this.watched.filter((other) => other !== entry);
    for (const other of this.watched) {
      if (other.seq > entry.seq) other.position--;
      other.onPosition?.(other.position, this.waiting);
    }
  }

  private compact(): void {
    if (this.head < COMPACT_AT || this.head < this.entries.length / 2) return;
    this.entries = this.entries.slice(this.head).filter((entry) => !entry.done);
    this.head = 0;
  }
}
