/** What a window of a kind gathered: how many more came after the line that opened it, the last of them. */
export interface LogWindowTally<T> {
  readonly more: number;
  readonly last: T;
  /** The window's own length in whole seconds (at least 1): close() before a hard exit ends one early. */
  readonly seconds: number;
}

export interface LogWindows<T> {
  /**
   * `item` of `kind`: told at once (`first`) when no window of its kind is open, then a window of
   * `everyMs` opens; counted into it otherwise. After close(), every item is told at once.
   */
  add(kind: string, item: T): void;
  /** Tells what is still untold at once, and stops. Safe twice. */
  close(): void;
}

/**
 * The throttle of logs that a fault may repeat many times a second (every reconnect of every
 * connection, an event of every job): the first of a kind is told at once, the others of that kind
 * are counted and told in one line (`more`) at the end of `everyMs`, and a new window opens while
 * they still come, so that the next line is a window away too.
 */
export function createLogWindows<T>(everyMs: number, first: (kind: string, item: T) => void, more: (kind: string, tally: LogWindowTally<T>) => void): LogWindows<T> {
  const windows = new Map<string, { timer: NodeJS.Timeout; more: number; last: T | undefined; openedAt: number }>();
  let closed = false;

  const endWindow = (kind: string) => {
    const window = windows.get(kind);
    if (window === undefined) return;
    clearTimeout(window.timer);
    windows.delete(kind);
    if (window.more === 0) return;
    more(kind, { more: window.more, last: window.last as T, seconds: Math.max(1, Math.round((performance.now() - window.openedAt) / 1000)) });
    if (!closed) openWindow(kind);
  };
  const openWindow = (kind: string) => {
    const timer = setTimeout(() => endWindow(kind), everyMs);
    // Never what keeps a stopping process alive.
    timer.unref();
    windows.set(kind, { timer, more: 0, last: undefined, openedAt: performance.now() });
  };

  return {
    add(kind, item) {
      const window = closed ? undefined : windows.get(kind);
      if (window !== undefined) {
        window.more++;
        window.last = item;
        return;
      }
      first(kind, item);
      if (!closed) openWindow(kind);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const kind of [...windows.keys()]) endWindow(kind);
    },
  };
}
