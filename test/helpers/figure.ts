// A figure a test measured, printed for the log and the README ("[figure] label: value"); never asserted
// against time. The value must be computed from what the test observed, not typed in.
export function figure(label: string, value: string | number): void {
  console.log(`[figure] ${label}: ${value}`);
}
