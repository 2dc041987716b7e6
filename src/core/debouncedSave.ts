// A save that many changes share: the first change schedules it after a delay, later changes before
// it runs join it, and saves never overlap (each waits for the one before). For indexes and figures
// written often but cheap to lose: a timer that does not keep the process alive, and flush() at dispose.
export class DebouncedSave {
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly save: () => Promise<void>,
    private readonly delayMs: number,
  ) {}

  /** Saves within delayMs (once, however many changes come meanwhile). */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueue();
    }, this.delayMs);
    this.timer.unref();
  }

  /** Saves now what a scheduled save would have saved, and waits for every save to end. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.enqueue();
    }
    await this.saving;
  }

  private enqueue(): void {
    this.saving = this.saving.then(() => this.save());
  }
}
