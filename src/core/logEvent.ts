// One line of a plugin's log: its worker's stderr, or an event of the host (start, stop, exit code).
export interface LogEvent {
  plugin: string;
  level: 'info' | 'warn' | 'error' | 'trace';
  /** 'stderr' lines come from the worker; 'event' lines are the host's (start, stop, exit code). */
  source: 'stderr' | 'event';
  message: string;
}
