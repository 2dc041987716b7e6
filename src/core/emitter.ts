// A minimal typed event: listeners subscribe and get a Disposable back, the owner fires.
export interface Disposable {
  dispose(): void;
}

export class Emitter<T> {
  private readonly listeners = new Set<(value: T) => void>();

  /** Subscribes; the returned Disposable unsubscribes. */
  readonly event = (listener: (value: T) => void): Disposable => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch {
        // A faulty listener must not stop the others or the registry.
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
