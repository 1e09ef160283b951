import { type Logger, createLogWindows } from '@gradcam/telemetry';
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
  const windows = createLogWindows<{ id: string; event: unknown; fields: unknown }>(
    everyMs,
    (why, { id, event, fields }) => log.warn({ id, event, excerpt: excerptOf(fields) }, `could not read an event of the queue's event stream (${why}); read past it, not counted`),
    (why, { more, last, seconds }) =>
      log.warn({ more, last: last.id, event: last.event }, `${more} more events of the queue's event stream read past, not counted, in the last ${seconds} s (${why})`),
  );
  return {
    tell: (id, event, fields, why) => windows.add(why, { id, event, fields }),
    close: () => windows.close(),
  };
}
