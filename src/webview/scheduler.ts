// Work in slices: the webview's main thread must keep answering clicks while 100,000 items arrive,
// so long loops run in slices of a few milliseconds with a yield to the event loop between them.

const SLICE_MS = 8;

/** Runs `step` until it returns false, in slices of about SLICE_MS; `done` after the last slice. */
export class SlicedWork {
  private scheduled = false;
  private readonly channel = new MessageChannel();

  constructor(private readonly step: (deadline: number) => boolean, private readonly done: () => void) {
    // A message on a MessageChannel runs sooner than setTimeout(0), which browsers clamp to 4 ms when nested.
    this.channel.port1.onmessage = () => this.run();
  }

  /** Asks for a run (several requests before it starts make one). */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.channel.port2.postMessage(undefined);
  }

  private run(): void {
    this.scheduled = false;
    const deadline = performance.now() + SLICE_MS;
    let more = true;
    while (more && performance.now() < deadline) more = this.step(deadline);
    this.done();
    if (more) this.request();
  }
}

/** Calls `draw` at most once per animation frame and at most every `minIntervalMs`. */
export class FrameThrottle {
  private frame: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last = 0;

  constructor(private readonly draw: () => void, public minIntervalMs = 0) {}

  request(): void {
    if (this.frame !== undefined || this.timer !== undefined) return;
    const wait = this.last + this.minIntervalMs - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => { this.timer = undefined; this.request(); }, wait);
      return;
    }
    this.frame = requestAnimationFrame(() => {
      this.frame = undefined;
      this.last = performance.now();
      this.draw();
    });
  }

  cancel(): void {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.frame = undefined;
    this.timer = undefined;
  }
}
