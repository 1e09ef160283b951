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
  const everyMs = options.everyMs ?? 60_000;
  /** Kinds told within the window, with what came since. */
  const windows = new Map<string, { timer: NodeJS.Timeout; more: number; last: string; openedAt: number }>();
  let closed = false;

  const endWindow = (kind: string) => {
    const window = windows.get(kind);
    if (window === undefined) return;
    clearTimeout(window.timer);
    windows.delete(kind);
    if (window.more === 0) return;
    // The window's own length: close() before a hard exit ends one early.
    log(`${window.more} more like it in the last ${Math.max(1, Math.round((performance.now() - window.openedAt) / 1000))} s, the last: ${window.last}`);
    // Still coming: the next window starts now, so the next line is a window away too.
    if (!closed) openWindow(kind);
  };
  const openWindow = (kind: string) => {
    const timer = setTimeout(() => endWindow(kind), everyMs);
    // Never what keeps a stopping process alive.
    timer.unref();
    windows.set(kind, { timer, more: 0, last: '', openedAt: performance.now() });
  };

  return {
    report(error) {
      if (closed) return log(error.message);
      const kind = errorKind(error.message);
      const window = windows.get(kind);
      if (window !== undefined) {
        window.more++;
        window.last = error.message;
        return;
      }
      log(error.message);
      openWindow(kind);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const kind of [...windows.keys()]) endWindow(kind);
    },
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
