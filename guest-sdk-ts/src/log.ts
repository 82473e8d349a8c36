/**
 * Writing to the host's log. In a module the lines go to the host (the `log` import), tagged
 * with the module's name; in native tests they go to stderr.
 */

/** How much a log line matters. */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

type Sink = (level: Level, message: string) => void;

let sink: Sink = (level, message) => {
  console.error(`[${level}] ${message}`);
};

/** Writes `message` to the host's log at `level`. */
export function log(level: Level, message: string): void {
  sink(level, message);
}

/** Sends log lines to `next`: the module's exports set the host's `log` import here. */
export function setLogSink(next: Sink): void {
  sink = next;
}
