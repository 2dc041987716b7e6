// A worker's stderr is the plugin's log: every line goes to a listener, and only a bounded tail is
// kept for error messages, so a chatty plugin cannot grow the host's memory.

export class StderrTail {
  private readonly lines: string[] = [];
  private chars = 0;
  private partial = '';

  constructor(
    private readonly onLine?: (line: string) => void,
    private readonly maxLines = 50,
    private readonly maxChars = 8192,
  ) {}

  /** Takes decoded text (the stream's setEncoding keeps multi-byte characters whole). */
  push(text: string): void {
    const pieces = (this.partial + text).split('\n');
    this.partial = pieces.pop() ?? '';
    for (const line of pieces) this.record(line.endsWith('\r') ? line.slice(0, -1) : line);
    // A line without end (a progress bar) still must not grow without bound.
    if (this.partial.length > this.maxChars) this.flush();
  }

  /** Records an unfinished last line, when the stream ends. */
  flush(): void {
    if (this.partial === '') return;
    const line = this.partial;
    this.partial = '';
    this.record(line);
  }

  text(): string {
    return this.partial === '' ? this.lines.join('\n') : [...this.lines, this.partial].join('\n');
  }

  private record(line: string): void {
    this.onLine?.(line);
    const kept = line.length > this.maxChars ? `…${line.slice(-this.maxChars)}` : line;
    this.lines.push(kept);
    this.chars += kept.length;
    while (this.lines.length > this.maxLines || (this.chars > this.maxChars && this.lines.length > 1)) {
      this.chars -= this.lines.shift()?.length ?? 0;
    }
  }
}
