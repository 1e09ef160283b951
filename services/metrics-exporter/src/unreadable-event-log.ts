import type { Logger } from '@gradcam/telemetry';
import { excerptOf } from './stream-entry.ts';

/** After an event read past is told, the others of the same kind are counted for this long, then told in one line. */
export const unreadableLogEveryMs = 60_000;

export interface UnreadableEventLog {
  /** An event of the stream read past without being counted, `why` its kind. */
  tell(id: string, event: unknown, fields: unknown, why: string): void;
  /** Tells what is still untold at once, and stops. Safe twice. */
  close(): void;
}

/**
 * The log of the events read past without being counted (see startEventStream). Workers of
 * another version (a rolling upgrade) may write such an event for every job: the first of each
 * kind is told at once with its id and an excerpt, to find what wrote it; the rest of that kind are
 * counted and told in one line at the end of `everyMs` (`more`, with the last one's id), and so on
 * while they come. gradcam_exporter_events_unreadable_total counts each one.
 */
export function createUnreadableEventLog(log: Logger, everyMs = unreadableLogEveryMs): UnreadableEventLog {
  const windows = new Map<string, { timer: NodeJS.Timeout; more: number; last: string; event: unknown; openedAt: number }>();
  let closed = false;

  const endWindow = (why: string) => {
    const window = windows.get(why);
    if (window === undefined) return;
    clearTimeout(window.timer);
    windows.delete(why);
    if (window.more === 0) return;
    const seconds = Math.max(1, Math.round((performance.now() - window.openedAt) / 1000));
    log.warn({ more: window.more, last: window.last, event: window.event }, `${window.more} more events of the queue's event stream read past, not counted, in the last ${seconds} s (${why})`);
    if (!closed) openWindow(why);
  };
  const openWindow = (why: string) => {
    const timer = setTimeout(() => endWindow(why), everyMs);
    // Never what keeps a stopping process alive.
    timer.unref();
    windows.set(why, { timer, more: 0, last: '', event: undefined, openedAt: performance.now() });
  };

  return {
    tell(id, event, fields, why) {
      const window = closed ? undefined : windows.get(why);
      if (window !== undefined) {
        window.more++;
        window.last = id;
        window.event = event;
        return;
      }
      log.warn({ id, event, excerpt: excerptOf(fields) }, `could not read an event of the queue's event stream (${why}); read past it, not counted`);
      if (!closed) openWindow(why);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const why of [...windows.keys()]) endWindow(why);
    },
  };
}
