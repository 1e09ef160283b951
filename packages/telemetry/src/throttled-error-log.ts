import { createLogWindows } from './log-windows.ts';

export interface ThrottledErrorLogOptions {
  /** After a line of a kind, the others of that kind are counted for this long, then told in one line (60 s). */
  readonly everyMs?: number;
}

export interface ThrottledErrorLog {
  report(error: Error): void;
  /** Tells what is still untold at once, and stops. Safe twice. */
  close(): void;
}

/**
 * What makes two errors the same kind: the message with its numbers, job ids and parenthesised
 * lists blanked, so `connect ECONNRESET 127.0.0.1:6379` from every reconnect, or BullMQ's
 * `Missing lock for job <id>. moveToFinished` for every job held across a Redis outage, are one.
 */
export function errorKind(message: string): string {
  return message
    .replace(/\bjob \S+?\.(?=\s|$)/g, 'job ….')
    .replace(/\([^()]*\)/g, '(…)')
    .replace(/\d+/g, '#');
}

/**
 * The errors of connections and the queue (every failed reconnect of every Redis connection, a
 * lost lock per job held), which an outage repeats many times a second: the first of a kind is
 * logged at once, the rest of it counted and told in one line at the end of `everyMs` (60 s) with
 * the last of them, and so on while they last. A 10-minute Redis outage makes a few lines a
 * minute, not thousands.
 */
export function createThrottledErrorLog(log: (message: string) => void, options: ThrottledErrorLogOptions = {}): ThrottledErrorLog {
  const windows = createLogWindows<string>(
    options.everyMs ?? 60_000,
    (_kind, message) => log(message),
    (_kind, { more, last, seconds }) => log(`${more} more like it in the last ${seconds} s, the last: ${last}`),
  );
  return {
    report: (error) => windows.add(errorKind(error.message), error.message),
    close: () => windows.close(),
  };
}

/** What tellWhenAnsweringAgain needs of a connection (an ioredis `Redis`). */
export interface ClosingConnection {
  on(event: 'close' | 'ready', listener: () => void): unknown;
}

/**
 * Calls `tell` once each time `connection` is ready again after it closed: the end of an outage
 * whose errors a throttled log has been counting, told as soon as it comes rather than with the
 * count at the end of its minute.
 */
export function tellWhenAnsweringAgain(connection: ClosingConnection, tell: () => void): void {
  let lost = false;
  connection.on('close', () => {
    lost = true;
  });
  connection.on('ready', () => {
    if (lost) tell();
    lost = false;
  });
}
