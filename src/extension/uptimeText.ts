// How long a worker has been running, for the Plugins tree: "42 s", "3 min 5 s", "2 h 10 min".

/** Rounds to whole seconds first, then splits: 59.6 s is "1 min 0 s", never "60 s" or "0 min 60 s". */
export function formatUptime(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}
