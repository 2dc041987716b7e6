// How many crashes a plugin may have before we stop restarting it (vscode-languageclient: 4 in 3 minutes).

export class RestartBudget {
  private crashes: number[] = [];

  constructor(
    private readonly maxCrashes: number,
    private readonly windowMs: number,
  ) {}

  /** Records a crash; returns false when the crashes within the window exceed the budget. */
  recordCrash(now = Date.now()): boolean {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    return this.crashes.length <= this.maxCrashes;
  }

  reset(): void {
    this.crashes = [];
  }
}
